/**
 * The real PreprocessingService (services/preprocessing's `openPreprocessing`) in this
 * process on a real gRPC server, with `prepareCsv` doing what a user does: ImportDataset (the CSV
 * streamed in chunks) then PrepareDataset.
 */
import { readFileSync } from 'node:fs';
import {
  DataFormat,
  ImportDatasetRequest,
  PrepareDatasetRequest,
  PreprocessingServiceService,
  Task,
  type PreparedDataset,
} from '@aimaas/proto';
import { createGrpcServer } from '@aimaas/runtime';
import { openPreprocessing } from '@aimaas/preprocessing';
import { createClients } from '@aimaas/sdk';
import { connectNats } from '@aimaas/storage';
import { createLogger } from '@aimaas/telemetry';

/** Options of {@link PreprocessingUnderTest.prepareCsv}. */
export interface PrepareCsvOptions {
  id: string;
  /** The imported dataset's name (lineage). */
  name: string;
  target: string;
  /** @default 'classification' */
  task?: 'classification' | 'regression';
  seed?: number;
  /** k-fold instead of train/validation/test. */
  kfold?: number;
  /** Train/validation/test fractions. @default [0.7, 0.15, 0.15] */
  split?: [number, number, number];
}

/** The preprocessing service the training tests prepare their datasets with. */
export interface PreprocessingUnderTest {
  address: string;
  /** Imports a CSV file and prepares it; resolves the prepared dataset. */
  prepareCsv(path: string, options: PrepareCsvOptions): Promise<PreparedDataset>;
  close(): Promise<void>;
}

/** Starts the real preprocessing service in this process, on a real gRPC server (port 0). */
export async function startServicePreprocessing(natsUrl: string): Promise<PreprocessingUnderTest> {
  const logger = createLogger('preprocessing-test', process.env.LOG_LEVEL ?? 'silent');
  const nc = await connectNats(natsUrl, { name: 'preprocessing-test' });
  const preprocessing = await openPreprocessing(nc, { logger });
  const server = createGrpcServer({
    serviceName: 'preprocessing',
    logger,
    metricsAddr: 'off',
    shutdownGraceMs: 500,
  }).add(PreprocessingServiceService, preprocessing.handlers);
  const address = `127.0.0.1:${await server.listen('127.0.0.1:0')}`;
  const clients = createClients({ addresses: { preprocessing: address }, tls: false, tracing: false });
  return {
    address,
    async prepareCsv(path, options) {
      const bytes = readFileSync(path);
      async function* parts(): AsyncGenerator<ImportDatasetRequest> {
        yield ImportDatasetRequest.fromPartial({ header: { name: options.name, format: DataFormat.DATA_FORMAT_CSV } });
        for (let i = 0; i < bytes.length; i += 64 * 1024) yield { chunk: bytes.subarray(i, i + 64 * 1024) };
      }
      const dataset = await clients.preprocessing.importDataset(parts());
      const [train, validation, test] = options.split ?? [0.7, 0.15, 0.15];
      return clients.preprocessing.prepareDataset(
        PrepareDatasetRequest.fromPartial({
          dataset: { name: dataset.name, version: dataset.version },
          target: options.target,
          task: options.task === 'regression' ? Task.TASK_REGRESSION : Task.TASK_CLASSIFICATION,
          ...(options.kfold ? { kfold: { folds: options.kfold } } : { split: { train, validation, test } }),
          seed: options.seed ?? 7,
        }),
      );
    },
    async close() {
      clients.close();
      await server.shutdown({ graceMs: 500 });
      await preprocessing.close();
      await nc.drain();
    },
  };
}

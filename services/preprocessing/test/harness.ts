import { credentials, type ServiceError } from '@grpc/grpc-js';
import {
  DataFormat,
  DeleteDatasetRequest,
  GetDatasetRequest,
  GetPreparedDatasetRequest,
  ImportDatasetRequest,
  ImportHeader,
  ListDatasetsRequest,
  PrepareDatasetRequest,
  PreprocessingServiceClient,
  PreprocessingServiceService,
  ReadSplitRequest,
  TransformRecordsRequest,
  type Dataset,
  type DeleteDatasetResponse,
  type ListDatasetsResponse,
  type PreparedDataset,
  type ReadSplitResponse,
  type TransformRecordsResponse,
} from '@aimaas/proto';
import { createGrpcServer, type GrpcServer } from '@aimaas/runtime';
import { connectNats, type KvStore, type ObjectStore, type NatsConnection } from '@aimaas/storage';
import { createLogger } from '@aimaas/telemetry';
import { startNatsServer, type TestNatsServer } from '@aimaas/testing';
import { openPreprocessing, type PreprocessingOptions } from '../src/index.js';

/** A request with every field optional, nested ones too. */
export type DeepPartial<T> = T extends Buffer | Date | Uint8Array
  ? T
  : T extends Array<infer U>
    ? DeepPartial<U>[]
    : T extends object
      ? { [K in keyof T]?: DeepPartial<T[K]> }
      : T;

/** The NATS connection type, as the storage library returns it. */
type Nats = NatsConnection;

/** Starts a nats-server for a suite. */
export function startNats(): Promise<TestNatsServer> {
  return startNatsServer();
}

/** One running service: the way main.ts wires it, on a real gRPC server on port 0. */
export interface Running {
  nc: Nats;
  kv: KvStore<unknown>;
  objects: ObjectStore;
  server: GrpcServer;
  client: PreprocessingServiceClient;
  api: ReturnType<typeof preprocessingApi>;
  close(): Promise<void>;
}

/** Starts the service against `natsUrl` with `options`. */
export async function startService(natsUrl: string, options: PreprocessingOptions = {}): Promise<Running> {
  const logger = createLogger('preprocessing-test', process.env.LOG_LEVEL ?? 'silent');
  const nc = await connectNats(natsUrl, { name: 'preprocessing-test' });
  const preprocessing = await openPreprocessing(nc, { logger, options });
  const { kv, objects } = preprocessing;
  const server = createGrpcServer({
    serviceName: 'preprocessing',
    logger,
    metricsAddr: 'off',
    shutdownGraceMs: 1_000,
  }).add(PreprocessingServiceService, preprocessing.handlers);
  const port = await server.listen('127.0.0.1:0');
  const client = new PreprocessingServiceClient(`127.0.0.1:${port}`, credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });
  return {
    nc,
    kv,
    objects,
    server,
    client,
    api: preprocessingApi(client),
    async close() {
      client.close();
      await server.shutdown({ graceMs: 1_000 });
      await preprocessing.close();
      await nc.drain();
    },
  };
}

type Callback<Res> = (error: ServiceError | null, response: Res) => void;
type Unary<Req, Res> = (request: Req, callback: Callback<Res>) => unknown;

function unary<Req, Res>(
  client: PreprocessingServiceClient,
  method: Unary<Req, Res>,
  fns: { fromPartial(object: any): Req },
) {
  return (request: DeepPartial<Req>): Promise<Res> =>
    new Promise((resolve, reject) => {
      method.call(client, fns.fromPartial(request), (error, response) => (error ? reject(error) : resolve(response)));
    });
}

/** Import options of the test client. */
interface ImportOptions {
  /** Bytes per chunk message. @default 65536 */
  chunkSize?: number;
}

/** Promise-returning wrappers over the grpc-js client, taking partial requests. */
function preprocessingApi(client: PreprocessingServiceClient) {
  return {
    /** Streams `data` after `header` in chunks, honouring flow control. */
    importDataset(
      header: DeepPartial<ImportHeader>,
      data: Uint8Array | string,
      options: ImportOptions = {},
    ): Promise<Dataset> {
      const bytes =
        typeof data === 'string'
          ? Buffer.from(data, 'utf8')
          : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      const chunkSize = options.chunkSize ?? 65_536;
      return new Promise<Dataset>((resolve, reject) => {
        let done = false;
        const call = client.importDataset((error, response) => {
          done = true;
          if (error) reject(error);
          else resolve(response);
        });
        const write = async () => {
          call.write(
            ImportDatasetRequest.fromPartial({
              header: ImportHeader.fromPartial({ format: DataFormat.DATA_FORMAT_CSV, ...header }),
            }),
          );
          for (let at = 0; at < bytes.length && !done; at += chunkSize) {
            const ok = call.write({ chunk: bytes.subarray(at, at + chunkSize) });
            if (!ok) await new Promise<void>((drained) => call.once('drain', drained));
          }
          call.end();
        };
        write().catch(() => undefined);
      });
    },
    getDataset: unary<GetDatasetRequest, Dataset>(client, client.getDataset, GetDatasetRequest),
    listDatasets: unary<ListDatasetsRequest, ListDatasetsResponse>(client, client.listDatasets, ListDatasetsRequest),
    deleteDataset: unary<DeleteDatasetRequest, DeleteDatasetResponse>(
      client,
      client.deleteDataset,
      DeleteDatasetRequest,
    ),
    prepareDataset: unary<PrepareDatasetRequest, PreparedDataset>(client, client.prepareDataset, PrepareDatasetRequest),
    getPreparedDataset: unary<GetPreparedDatasetRequest, PreparedDataset>(
      client,
      client.getPreparedDataset,
      GetPreparedDatasetRequest,
    ),
    transformRecords: unary<TransformRecordsRequest, TransformRecordsResponse>(
      client,
      client.transformRecords,
      TransformRecordsRequest,
    ),
    /** Every message of a ReadSplit call. */
    readSplit(request: DeepPartial<ReadSplitRequest>): Promise<ReadSplitResponse[]> {
      return new Promise((resolve, reject) => {
        const out: ReadSplitResponse[] = [];
        const call = client.readSplit(ReadSplitRequest.fromPartial(request));
        call.on('data', (message: ReadSplitResponse) => out.push(message));
        call.on('error', reject);
        call.on('end', () => resolve(out));
      });
    },
  };
}

/** Features (and labels) of a whole split, read in batches of `batchSize`. */
export async function readWholeSplit(
  api: Running['api'],
  id: string,
  split: string,
  extra: DeepPartial<ReadSplitRequest> = {},
) {
  const batches = await api.readSplit({ preparedDatasetId: id, split, batchSize: 64, ...extra });
  const rows = batches.reduce((sum, b) => sum + b.rows, 0);
  const width = batches.length > 0 ? batches[0]!.features!.shape[1]! : 0;
  const features = new Float32Array(rows * width);
  const labels = new Float32Array(rows);
  let at = 0;
  for (const batch of batches) {
    features.set(toFloat32(batch.features!.raw), at * width);
    if (batch.labels) labels.set(toFloat32(batch.labels.raw), at);
    at += batch.rows;
  }
  return { batches, rows, width, features, labels };
}

/** The float32 values of little-endian tensor bytes. */
export function toFloat32(raw: Uint8Array): Float32Array {
  const copy = new Uint8Array(raw);
  return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
}

/** Object names in the datasets object store. */
export async function objectNames(objects: ObjectStore): Promise<string[]> {
  return (await objects.list()).map((info) => info.name);
}

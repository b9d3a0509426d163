import { wholeNumberSetting } from '@aimaas/runtime';
import { createEventPublisher, createJobQueue, ensureStreams } from '@aimaas/events';
import { ensureBuckets, type NatsConnection } from '@aimaas/storage';
import type { PreprocessingClient, RegistryClient } from '@aimaas/sdk';
import type { Logger } from '@aimaas/telemetry';
import { CheckpointStore, JOBS_BUCKET } from '@aimaas/training';
import { createCompressionService, type CompressionServiceHandlers } from './compression-service.js';
import type { RunnerDeps } from './compression-runner.js';
import { CompressionJobStore } from './job-store.js';
import { runCompressionWorker, type CompressionWorkerOptions } from './worker.js';

/** The object store holding compression fine-tune checkpoints (owned by this service). */
export const COMPRESSION_CHECKPOINTS_BUCKET = 'aimaas_compression_checkpoints';

/** Options of {@link openCompression}. */
export interface CompressionOpenOptions {
  registry: RegistryClient;
  preprocessing: PreprocessingClient;
  logger: Logger;
  /** The worker pulling jobs in this process, or `false` for a replica that only serves RPCs. @default {} */
  worker?: CompressionWorkerOptions | false;
  /** Latency runs per measurement. @default { batch1: 100, batch256: 10 } */
  latencyRuns?: RunnerDeps['latencyRuns'];
}

/** A compression replica wired onto a NATS connection. */
export interface CompressionReplica {
  handlers: CompressionServiceHandlers;
  store: CompressionJobStore;
  /** Stops the worker (a running job is handed back at its next batch). The connection stays open. */
  close(): Promise<void>;
}

/** Applies the worker defaults, naming a bad setting. */
function compileWorkerOptions(options: CompressionWorkerOptions = {}): Required<CompressionWorkerOptions> {
  const compiled = {
    workerId: options.workerId ?? `compression-${process.pid}`,
    ackWaitMs: options.ackWaitMs ?? 30_000,
    maxDeliver: options.maxDeliver ?? 5,
    progressIntervalMs: options.progressIntervalMs ?? 1_000,
  };
  for (const key of ['ackWaitMs', 'maxDeliver', 'progressIntervalMs'] as const) {
    if (!(Number.isInteger(compiled[key]) && compiled[key] > 0))
      throw new TypeError(`${key}: expected a positive integer, got ${compiled[key]}`);
  }
  return compiled;
}

/**
 * The worker settings of a compression process from its environment: `AIMAAS_COMPRESSION_WORKER_ID`,
 * `AIMAAS_COMPRESSION_ACK_WAIT_MS`, `AIMAAS_COMPRESSION_MAX_DELIVER`,
 * `AIMAAS_COMPRESSION_PROGRESS_INTERVAL_MS` (unset: the defaults of {@link compileWorkerOptions}).
 */
export function workerOptionsFromEnv(env: NodeJS.ProcessEnv): CompressionWorkerOptions {
  const number = (name: string): number | undefined => wholeNumberSetting(name, env);
  const options: CompressionWorkerOptions = {
    ...(env.AIMAAS_COMPRESSION_WORKER_ID && { workerId: env.AIMAAS_COMPRESSION_WORKER_ID }),
    ...(number('AIMAAS_COMPRESSION_ACK_WAIT_MS') !== undefined && {
      ackWaitMs: number('AIMAAS_COMPRESSION_ACK_WAIT_MS')!,
    }),
    ...(number('AIMAAS_COMPRESSION_MAX_DELIVER') !== undefined && {
      maxDeliver: number('AIMAAS_COMPRESSION_MAX_DELIVER')!,
    }),
    ...(number('AIMAAS_COMPRESSION_PROGRESS_INTERVAL_MS') !== undefined && {
      progressIntervalMs: number('AIMAAS_COMPRESSION_PROGRESS_INTERVAL_MS')!,
    }),
  };
  compileWorkerOptions(options); // a bad setting stops the process at start, naming it
  return options;
}

/**
 * Everything a compression replica needs on one NATS connection: the event and job streams, the
 * `aimaas_jobs` bucket (records under `compression.jobs.`), its checkpoint object store, the event
 * publisher, the handlers, and (unless `worker: false`) a worker pulling `AIMAAS_JOBS_COMPRESSION`.
 * `main.ts`, tests, the CLI's e2e stack and the benchmark all wire a replica this one way.
 *
 * @example
 * const compression = await openCompression(nc, { registry: clients.registry, preprocessing: clients.preprocessing, logger });
 * server.add(CompressionServiceService, compression.handlers).onShutdown(() => compression.close());
 */
export async function openCompression(
  nc: NatsConnection,
  options: CompressionOpenOptions,
): Promise<CompressionReplica> {
  const { logger } = options;
  const worker = options.worker === false ? undefined : compileWorkerOptions(options.worker);
  const consumer = { ackWaitMs: worker?.ackWaitMs ?? 30_000, maxDeliver: worker?.maxDeliver ?? 5 };
  await ensureStreams(nc, { jobs: consumer });
  const { kv, objects } = await ensureBuckets(nc, {
    kv: { [JOBS_BUCKET]: { history: 1, description: 'AIMaaS jobs: training and compression job records' } },
    objects: {
      [COMPRESSION_CHECKPOINTS_BUCKET]: {
        description: 'AIMaaS compression fine-tune checkpoints (one per running job)',
      },
    },
  });
  const store = new CompressionJobStore(kv[JOBS_BUCKET]!);
  const checkpoints = new CheckpointStore(objects[COMPRESSION_CHECKPOINTS_BUCKET]!);
  const events = createEventPublisher(nc, { source: '/aimaas/compression', logger });
  const queue = createJobQueue(nc, 'compression', { ...consumer, logger, retryBaseMs: 1_000 });
  const handlers = createCompressionService({
    store,
    queue,
    events,
    registry: options.registry,
    preprocessing: options.preprocessing,
    logger,
  });
  const stop = new AbortController();
  const working = worker
    ? runCompressionWorker(
        {
          store,
          queue,
          events,
          logger,
          options: worker,
          checkpoints,
          registry: options.registry,
          preprocessing: options.preprocessing,
          ...(options.latencyRuns && { latencyRuns: options.latencyRuns }),
        },
        stop.signal,
      ).catch((err: unknown) => logger.error({ err }, 'compression worker stopped'))
    : Promise.resolve();
  return {
    handlers,
    store,
    async close() {
      stop.abort();
      await working;
    },
  };
}

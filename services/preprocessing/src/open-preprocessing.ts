import { createEventPublisher, ensureStreams } from '@aimaas/events';
import type { PreprocessingServiceService } from '@aimaas/proto';
import type { ServiceImplementation } from '@aimaas/runtime';
import { startOrphanSweeper, type KvStore, type NatsConnection, type ObjectStore } from '@aimaas/storage';
import type { Logger } from '@aimaas/telemetry';
import { openDatasetBuckets, WRITER_LEASES } from './dataset-store.js';
import { compilePreprocessingOptions, type PreprocessingOptions } from './preprocessing-options.js';
import { createPreprocessingService } from './preprocessing-service.js';

/** A preprocessing replica wired onto a NATS connection; see {@link openPreprocessing}. */
export interface PreprocessingReplica {
  /** The handlers to add for `PreprocessingServiceService`. */
  handlers: ServiceImplementation<typeof PreprocessingServiceService>;
  /** The `aimaas_datasets` KV bucket and object store. */
  kv: KvStore<unknown>;
  objects: ObjectStore;
  /** Stops the orphan sweeper. The connection stays open: its owner drains it. */
  close(): Promise<void>;
}

/**
 * Everything a preprocessing replica needs on one NATS connection: the event streams, the
 * dataset buckets, the event publisher, the handlers, and the sweeper of what dead imports and
 * prepares left behind (at start and every 2 × `importIdleMs`). `main.ts`, the tests, the CLI's
 * test stack and the benchmarks all wire a replica this one way.
 *
 * @example
 * const preprocessing = await openPreprocessing(nc, { logger, options: preprocessingOptionsFromEnv() });
 * server.add(PreprocessingServiceService, preprocessing.handlers).onShutdown(() => preprocessing.close());
 */
export async function openPreprocessing(
  nc: NatsConnection,
  config: { logger: Logger; options?: PreprocessingOptions },
): Promise<PreprocessingReplica> {
  const { logger, options = {} } = config;
  const { importIdleMs } = compilePreprocessingOptions(options);
  await ensureStreams(nc);
  const { kv, objects } = await openDatasetBuckets(nc);
  const events = createEventPublisher(nc, { source: '/aimaas/preprocessing', logger });
  const handlers = createPreprocessingService({ kv, objects, events, logger, options });
  const stopSweeper = startOrphanSweeper(
    { kv, objects, leasePrefix: WRITER_LEASES },
    { idleMs: 2 * importIdleMs, logger },
  );
  return { handlers, kv, objects, close: stopSweeper };
}

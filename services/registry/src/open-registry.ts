import { createEventPublisher, ensureStreams } from '@aimaas/events';
import { startOrphanSweeper, type NatsConnection } from '@aimaas/storage';
import type { Logger } from '@aimaas/telemetry';
import { openRegistryStores, type RegistryStores } from './registry-buckets.js';
import type { RegistryServiceHandlers } from './registry-context.js';
import { createRegistryService, UPLOAD_IDLE_MS } from './registry-service.js';
import { UPLOAD_LEASES } from './model-store.js';
import { startVersionIndex, type VersionIndex } from './version-index.js';

/** A registry replica wired onto a NATS connection; see {@link openRegistry}. */
export interface RegistryReplica extends RegistryStores {
  /** The handlers to add for `RegistryServiceService`. */
  handlers: RegistryServiceHandlers;
  /** The watch-fed index of models and versions. */
  index: VersionIndex;
  /** Stops the index watch and the orphan sweeper. The connection stays open: its owner drains it. */
  close(): Promise<void>;
}

/**
 * Everything a registry replica needs on one NATS connection: the event streams, the KV bucket and
 * artifact store, the version index (started and caught up), the event publisher and the handlers.
 * `main.ts`, tests and benchmarks all wire a replica this one way.
 *
 * @example
 * const registry = await openRegistry(nc, { logger });
 * server.add(RegistryServiceService, registry.handlers).onShutdown(() => registry.close());
 */
export async function openRegistry(
  nc: NatsConnection,
  options: {
    logger: Logger;
    /** See `RegistryServiceDeps.uploadIdleMs`; the orphan sweep runs at start and every 2× this. */
    uploadIdleMs?: number;
  },
): Promise<RegistryReplica> {
  const { logger, uploadIdleMs = UPLOAD_IDLE_MS } = options;
  await ensureStreams(nc);
  const stores = await openRegistryStores(nc);
  const index = await startVersionIndex(stores.kv, {
    onError: (err) => logger.warn({ err }, 'version index watch failed; resuming'),
  });
  const events = createEventPublisher(nc, { source: '/aimaas/registry', logger });
  const stopSweeper = startOrphanSweeper(
    { kv: stores.kv, objects: stores.artifacts, leasePrefix: UPLOAD_LEASES },
    { idleMs: 2 * uploadIdleMs, logger },
  );
  return {
    ...stores,
    index,
    handlers: createRegistryService({ ...stores, index, events, logger, uploadIdleMs }),
    async close() {
      await stopSweeper();
      await index.stop();
    },
  };
}

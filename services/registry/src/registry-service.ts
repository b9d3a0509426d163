import type { KvStore, ObjectStore } from '@aimaas/storage';
import { createLogger, type Logger } from '@aimaas/telemetry';
import { aliasHandlers } from './alias-handlers.js';
import { ArtifactStore } from './artifact-store.js';
import { ModelStore } from './model-store.js';
import { modelHandlers } from './model-handlers.js';
import { VersionAllocator } from './version-allocator.js';
import { versionHandlers } from './version-handlers.js';
import type { VersionIndex } from './version-index.js';
import { VersionSearch } from './version-search.js';
import type { RegistryContext, RegistryServiceHandlers } from './registry-context.js';
import { RegistryEvents, type RegistryEventPublisher } from './registry-events.js';

/**
 * What the registry service needs: its two buckets, a started version index over the KV bucket,
 * and an event publisher. All state lives in NATS, so any number of replicas can share them.
 */
export interface RegistryServiceDeps {
  /** The `aimaas_registry` KV bucket (models, versions, alias history). */
  kv: KvStore<unknown>;
  /** The `aimaas_artifacts` object store (version files). */
  artifacts: ObjectStore;
  /** A started index over `kv` (see `startVersionIndex`); serves searches and listings. */
  index: VersionIndex;
  /** Publishes `registry.*` events after each committed change. */
  events: RegistryEventPublisher;
  /** @default createLogger('registry') */
  logger?: Logger;
  /** The clock, for tests. @default () => new Date() */
  now?: () => Date;
  /**
   * How long an upload may go without a message before it is ended (DEADLINE_EXCEEDED) and
   * cleaned up; its lease is renewed at a third of it. @default UPLOAD_IDLE_MS (5 minutes)
   */
  uploadIdleMs?: number;
}

/** The default of {@link RegistryServiceDeps.uploadIdleMs}: `AIMAAS_REGISTRY_UPLOAD_IDLE_MS`. */
export const UPLOAD_IDLE_MS = 300_000;

/**
 * Creates the RegistryService handlers: registered models, versions with streamed, checksummed
 * artifacts, aliases with history, search and lineage, over the registry KV bucket and the
 * artifact object store. Every write this process commits is applied to `deps.index` at once, so
 * a replica reads its own writes; other replicas' writes reach the index through its KV watch.
 *
 * @example
 * const index = await startVersionIndex(kv);
 * server.add(RegistryServiceService, createRegistryService({ kv, artifacts, index, events }));
 */
export function createRegistryService(deps: RegistryServiceDeps): RegistryServiceHandlers {
  const store = new ModelStore(deps.kv, (key, value, revision) => deps.index.apply(key, value, revision));
  const logger = deps.logger ?? createLogger('registry');
  const context: RegistryContext = {
    store,
    artifacts: new ArtifactStore(deps.artifacts),
    allocator: new VersionAllocator(store),
    index: deps.index,
    search: new VersionSearch(deps.index),
    events: new RegistryEvents(deps.events, logger),
    logger,
    now: deps.now ?? (() => new Date()),
    uploadIdleMs: deps.uploadIdleMs ?? UPLOAD_IDLE_MS,
  };
  return {
    ...modelHandlers(context),
    ...versionHandlers(context),
    ...aliasHandlers(context),
  };
}

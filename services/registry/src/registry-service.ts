import type { AliasChange, ModelVersion, RegisteredModel, RegistryServiceService } from '@aimaas/proto';
import type { EventPublisher } from '@aimaas/events';
import type { ServiceImplementation } from '@aimaas/runtime';
import { ensureBuckets, type KvStore, type ObjectStore } from '@aimaas/storage';
import { createLogger, type Logger } from '@aimaas/telemetry';
import { aliasHandlers } from './alias-history.js';
import { ArtifactStore } from './artifact-store.js';
import { ModelStore } from './model-store.js';
import { modelHandlers } from './model-handlers.js';
import { VersionAllocator } from './version-allocator.js';
import { versionHandlers } from './version-handlers.js';
import type { VersionIndex } from './version-index.js';
import { VersionSearch } from './version-search.js';

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

/** The handlers of `aimaas.v1.RegistryService`, ready for `server.add(RegistryServiceService, …)`. */
export type RegistryServiceHandlers = ServiceImplementation<typeof RegistryServiceService>;

/** Everything the handlers share, built once from the deps. */
export interface RegistryContext {
  store: ModelStore;
  artifacts: ArtifactStore;
  allocator: VersionAllocator;
  index: VersionIndex;
  search: VersionSearch;
  events: RegistryEvents;
  logger: Logger;
  now: () => Date;
  uploadIdleMs: number;
}

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

/** The KV bucket of models, versions and alias history. */
export const REGISTRY_BUCKET = 'aimaas_registry';
/** The object store of version artifacts. */
export const ARTIFACTS_BUCKET = 'aimaas_artifacts';

/** The registry's two buckets. */
export interface RegistryStores {
  kv: KvStore<unknown>;
  artifacts: ObjectStore;
}

/**
 * Opens (creating when absent) the registry's KV bucket and artifact object store. Safe to run
 * from every replica at start.
 */
export async function openRegistryStores(nc: Parameters<typeof ensureBuckets>[0]): Promise<RegistryStores> {
  const { kv, objects } = await ensureBuckets(nc, {
    kv: { [REGISTRY_BUCKET]: { history: 1, description: 'AIMaaS registry: models, versions, alias history' } },
    // 256 KiB chunks match the default download message, so a chunk is sent without re-slicing.
    objects: { [ARTIFACTS_BUCKET]: { description: 'AIMaaS model artifacts', chunkSize: 256 * 1024 } },
  });
  return { kv: kv[REGISTRY_BUCKET]!, artifacts: objects[ARTIFACTS_BUCKET]! };
}

/** The part of `@aimaas/events`' publisher the registry uses. */
export type RegistryEventPublisher = Pick<EventPublisher, 'publish'>;

/**
 * Publishes the registry's events after each change is committed. The ce-id is derived from the
 * change (model incarnation, version, revision), so a repeated publish is stored once. A failed
 * publish is logged, not thrown: the change is already committed and the caller must not retry it.
 */
export class RegistryEvents {
  readonly #publisher: RegistryEventPublisher;
  readonly #logger: Pick<Logger, 'warn'>;

  constructor(publisher: RegistryEventPublisher, logger: Pick<Logger, 'warn'>) {
    this.#publisher = publisher;
    this.#logger = logger;
  }

  /** registry.model.created / registry.model.deleted */
  model(type: 'created' | 'deleted', model: RegisteredModel, changeId: string): Promise<void> {
    return this.#send(`registry.model.${type}`, { model }, model.name, changeId);
  }

  /** registry.version.created / updated / deleted */
  version(type: 'created' | 'updated' | 'deleted', version: ModelVersion, changeId: string): Promise<void> {
    return this.#send(`registry.version.${type}`, { version }, `${version.name}@${version.version}`, changeId);
  }

  /** registry.alias.set / registry.alias.deleted */
  alias(type: 'set' | 'deleted', change: AliasChange, changeId: string): Promise<void> {
    return this.#send(`registry.alias.${type}`, { change }, `${change.name}@${change.alias}`, changeId);
  }

  async #send(
    type: `registry.${'model' | 'version' | 'alias'}.${string}`,
    payload: object,
    subject: string,
    changeId: string,
  ): Promise<void> {
    const id = `${type}:${changeId}`;
    try {
      // The payload matches the catalog entry of `type`; the template type cannot say so.
      await this.#publisher.publish(type as 'registry.model.created', payload as never, { id, subject });
    } catch (error) {
      this.#logger.warn({ err: error, type, id }, 'event not published; the change itself is committed');
    }
  }
}

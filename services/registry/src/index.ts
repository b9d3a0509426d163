/**
 * @aimaas/registry: the model registry of AIMaaS. Registered models, numbered versions with
 * streamed, SHA-256-checked artifacts, aliases with history, search with a small filter language,
 * lineage, and `registry.*` events, all kept in NATS JetStream (KV `aimaas_registry`, object
 * store `aimaas_artifacts`) so any number of replicas can serve.
 *
 * @example
 * const registry = await openRegistry(nc, { logger });
 * server.add(RegistryServiceService, registry.handlers).onShutdown(() => registry.close());
 */
export { createRegistryService } from './registry-service.js';
export { openRegistry } from './open-registry.js';
export type { RegistryReplica } from './open-registry.js';
export type { RegistryServiceDeps } from './registry-service.js';
export type { RegistryServiceHandlers } from './registry-context.js';
export { startVersionIndex, VersionIndex } from './version-index.js';
export type { IndexedVersion, IndexErrorHandler } from './version-index.js';
export type { RegistryEventPublisher } from './registry-events.js';
export { parseFilter, parseOrderBy } from './filter-parser.js';
export type { Comparison, FilterKey, FilterOperator, OrderKey, AttributeName } from './filter-parser.js';
export { compileFilter, compileOrder, likeMatcher } from './filter-eval.js';
export type { SearchRecord, Predicate } from './filter-eval.js';
export { KEYS as REGISTRY_KEYS } from './model-store.js';
export { MODEL_NAME_PATTERN, ALIAS_PATTERN } from './validation.js';
export { REGISTRY_BUCKET, ARTIFACTS_BUCKET, openRegistryStores } from './registry-buckets.js';
export type { RegistryStores } from './registry-buckets.js';

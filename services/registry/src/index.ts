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
export { openRegistry } from './open-registry.js';
export type { RegistryReplica } from './open-registry.js';
export type { RegistryServiceDeps } from './registry-service.js';
export { VersionIndex } from './version-index.js';
export { parseFilter, parseOrderBy } from './filter-parser.js';
export { compileFilter, compileOrder, likeMatcher } from './filter-eval.js';
export type { SearchRecord } from './filter-eval.js';
export { KEYS as REGISTRY_KEYS } from './model-store.js';
export { openRegistryStores } from './registry-buckets.js';

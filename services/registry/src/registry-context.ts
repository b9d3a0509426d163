import type { RegistryServiceService } from '@aimaas/proto';
import type { ServiceImplementation } from '@aimaas/runtime';
import type { Logger } from '@aimaas/telemetry';
import type { ArtifactStore } from './artifact-store.js';
import type { ModelStore } from './model-store.js';
import type { RegistryEvents } from './registry-events.js';
import type { VersionAllocator } from './version-allocator.js';
import type { VersionIndex } from './version-index.js';
import type { VersionSearch } from './version-search.js';

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

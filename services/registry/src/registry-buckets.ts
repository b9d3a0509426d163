import { ensureBuckets, type KvStore, type ObjectStore } from '@aimaas/storage';

/** The KV bucket of models, versions and alias history. */
const REGISTRY_BUCKET = 'aimaas_registry';
/** The object store of version artifacts. */
const ARTIFACTS_BUCKET = 'aimaas_artifacts';

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

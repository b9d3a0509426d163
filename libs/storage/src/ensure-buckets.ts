import type { NatsConnection } from '@nats-io/transport-node';
import { type KvStore, openKv } from './kv-store.js';
import type { KvStoreOptions, ObjectStoreOptions } from './bucket-options.js';
import { type ObjectStore, openObjectStore } from './object-store.js';

/** Buckets to make sure of, by name, with the options to create each with. */
export interface BucketSpec {
  kv?: Record<string, KvStoreOptions>;
  objects?: Record<string, ObjectStoreOptions>;
}

/** The stores {@link ensureBuckets} opened, by bucket name. */
export interface EnsuredBuckets {
  kv: Record<string, KvStore<unknown>>;
  objects: Record<string, ObjectStore>;
}

/**
 * Create (or open) every bucket in `spec` at once, e.g. at service start so the first request
 * does not pay for it and a misconfigured server fails fast. Idempotent and safe to run from
 * several replicas at the same time.
 *
 * @example
 * const { kv, objects } = await ensureBuckets(nc, {
 *   kv: { aimaas_registry: { history: 5 } },
 *   objects: { aimaas_artifacts: {} },
 * });
 */
export async function ensureBuckets(nc: NatsConnection, spec: BucketSpec): Promise<EnsuredBuckets> {
  const kvEntries = Object.entries(spec.kv ?? {});
  const objectEntries = Object.entries(spec.objects ?? {});
  const [kvStores, objectStores] = await Promise.all([
    Promise.all(kvEntries.map(([name, opts]) => openKv<unknown>(nc, name, opts))),
    Promise.all(objectEntries.map(([name, opts]) => openObjectStore(nc, name, opts))),
  ]);
  return {
    kv: Object.fromEntries(kvEntries.map(([name], i) => [name, kvStores[i]!])),
    objects: Object.fromEntries(objectEntries.map(([name], i) => [name, objectStores[i]!])),
  };
}

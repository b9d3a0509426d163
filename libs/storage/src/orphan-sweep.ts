import type { KvStore } from './kv-store.js';
import type { ConnectionLogger } from './nats-connection.js';
import type { ObjectStore } from './object-store.js';
import { listWriterLeases } from './writer-lease.js';

/** Where a sweep looks: the KV bucket whose records reference objects, and their object store. */
export interface SweepTarget {
  kv: KvStore<unknown>;
  objects: ObjectStore;
  /** The KV key part the writers' leases live under (see {@link WriterLease}). */
  leasePrefix: string;
}

/** What one sweep removed. */
export interface SweepResult {
  /** Chunk sets of puts whose writer died before the object's meta was written. */
  orphanChunkSets: number;
  /** Complete objects that no record references, of writers that died before committing. */
  orphanObjects: number;
  /** Bytes given back: the purged chunk sets and the removed objects. */
  bytes: number;
}

/** Every string held by a field named `object` anywhere in `value`: the objects a record references. */
function collectObjects(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) collectObjects(item, into);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === 'object' && typeof item === 'string') into.add(item);
      else collectObjects(item, into);
    }
  }
}

/**
 * Removes what interrupted writers left in `objects`: chunk sets no object names and nobody
 * wrote to for `idleMs`, and objects older than `idleMs` that no record of `kv` references (a
 * field named `object`, at any depth) and whose name is under no live lease. A living writer
 * holds a lease it renews, and writes a chunk at least once per `idleMs` (its service ends one
 * that stalls longer), so only the leftovers of writers that died are taken. Safe on every replica
 * at once.
 */
export async function sweepOrphans(target: SweepTarget, idleMs: number): Promise<SweepResult> {
  const { kv, objects, leasePrefix } = target;
  // Leases first, records second: a writer that commits in between has its record seen (it
  // releases the lease only after the commit), one that has not is still leased.
  const now = Date.now();
  const leases = await listWriterLeases(kv, leasePrefix);
  const referenced = new Set<string>();
  for (const entry of await kv.list()) collectObjects(entry.value, referenced);
  const chunks = await objects.sweepOrphanChunks({ idleMs });
  const live = leases.filter((lease) => now - Date.parse(lease.record.activeAt) < idleMs);
  const livePrefixes = live.map((lease) => lease.record.prefix);
  let orphanObjects = 0;
  let bytes = chunks.bytes;
  for (const object of await objects.list()) {
    if (referenced.has(object.name) || now - object.mtime.getTime() < idleMs) continue;
    if (livePrefixes.some((prefix) => object.name.startsWith(prefix))) continue;
    await objects.delete(object.name, { leaveNoTrace: true }).catch(() => undefined);
    orphanObjects++;
    bytes += object.size;
  }
  for (const lease of leases) if (!live.includes(lease)) await kv.delete(lease.key).catch(() => undefined);
  return { orphanChunkSets: chunks.objects, orphanObjects, bytes };
}

/**
 * Sweeps at once and then every `idleMs`, logging what each sweep removed; a failed sweep is
 * logged and tried again next time. Returns the function that stops it.
 */
export function startOrphanSweeper(
  target: SweepTarget,
  options: { idleMs: number; logger: ConnectionLogger },
): () => Promise<void> {
  const { idleMs, logger } = options;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const sweep = (): void => {
    running = sweepOrphans(target, idleMs).then(
      (result) => {
        if (result.orphanChunkSets + result.orphanObjects > 0)
          logger.info(result, 'removed what interrupted writers left behind');
      },
      (err: unknown) => logger.warn({ err }, 'orphan sweep failed; trying again later'),
    );
    void running.then(() => {
      if (!stopped) timer = setTimeout(sweep, idleMs).unref();
    });
  };
  sweep();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}

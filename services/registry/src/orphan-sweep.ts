import type { KvStore, ObjectStore } from '@aimaas/storage';
import type { Logger } from '@aimaas/telemetry';
import { listUploadLeases } from './upload-lease.js';

/** What one sweep removed. */
export interface SweepResult {
  /** Chunk sets of puts whose writer died before the object's meta was written. */
  orphanChunkSets: number;
  /** Complete files of uploads whose version was never committed (the writer died in between). */
  orphanObjects: number;
  /** Bytes given back: the purged chunk sets and the removed objects. */
  bytes: number;
}

/**
 * Removes what interrupted uploads left in the artifact store: chunk sets no object names and
 * nobody wrote to for `idleMs`, and objects no version names whose upload holds no live lease
 * (see {@link UploadLease}). A living upload renews its lease and writes a chunk at least once
 * per upload idle time (the registry ends an upload that stalls longer), so `idleMs`, twice that,
 * only catches writers that died. Safe on every replica at once.
 */
export async function sweepOrphans(stores: { kv: KvStore<unknown>; artifacts: ObjectStore }, idleMs: number): Promise<SweepResult> {
  // Leases first, versions second: an upload that commits in between has its version seen (it
  // releases the lease only after the commit), one that has not is still leased.
  const now = Date.now();
  const leases = await listUploadLeases(stores.kv);
  const referenced = new Set<string>();
  for (const entry of await stores.kv.list()) {
    const files = (entry.value as { files?: Array<{ object?: unknown }> } | undefined)?.files;
    if (Array.isArray(files)) for (const file of files) if (typeof file.object === 'string') referenced.add(file.object);
  }
  const chunks = await stores.artifacts.sweepOrphanChunks({ idleMs });
  const live = leases.filter((lease) => now - Date.parse(lease.record.activeAt) < idleMs);
  const livePrefixes = live.map((lease) => `${lease.record.model}/${lease.uploadId}/`);
  let orphanObjects = 0;
  let bytes = chunks.bytes;
  for (const object of await stores.artifacts.list()) {
    if (referenced.has(object.name) || now - object.mtime.getTime() < idleMs) continue;
    if (livePrefixes.some((prefix) => object.name.startsWith(prefix))) continue;
    await stores.artifacts.delete(object.name, { leaveNoTrace: true }).catch(() => undefined);
    orphanObjects++;
    bytes += object.size;
  }
  for (const lease of leases) if (!live.includes(lease)) await stores.kv.delete(lease.key).catch(() => undefined);
  return { orphanChunkSets: chunks.objects, orphanObjects, bytes };
}

/**
 * Sweeps at once and then every `idleMs`, logging what each sweep removed; a failed sweep is
 * logged and tried again next time. Returns the function that stops it.
 */
export function startOrphanSweeper(stores: { kv: KvStore<unknown>; artifacts: ObjectStore }, options: { idleMs: number; logger: Logger }): () => Promise<void> {
  const { idleMs, logger } = options;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const sweep = (): void => {
    running = sweepOrphans(stores, idleMs).then(
      (result) => {
        if (result.orphanChunkSets + result.orphanObjects > 0) logger.info(result, 'removed what interrupted uploads left behind');
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

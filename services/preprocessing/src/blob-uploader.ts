/**
 * Uploads the blobs of one import or preparation (dataset shards, tensor shards) while the work
 * that produces them goes on, a bounded number at a time, and removes all of them again when the
 * operation fails: nothing half-written is left behind.
 */
import type { DatasetStore, StoredObject } from './dataset-store.js';

/**
 * Numbered uploads under one prefix: `<prefix>/000000`, `<prefix>/000001`, …
 *
 * @example
 * const uploads = new BlobUploader(store, `datasets/${importId}`, 2, ctx.signal);
 * uploads.add(encodeShard(rows, columns), rows);
 * await uploads.ready();            // between pieces of work: back-pressure, and failures surface
 * const shards = await uploads.finish();
 * // on any failure: await uploads.discard();
 */
export class BlobUploader {
  private readonly pending = new Set<Promise<void>>();
  private readonly stored: StoredObject[] = [];
  private failure: { error: unknown } | undefined;
  private next = 0;

  constructor(
    private readonly store: DatasetStore,
    private readonly prefix: string,
    private readonly maxPending: number,
    private readonly signal?: AbortSignal,
  ) {}

  /** The object name of upload number `index`. */
  nameOf(index: number): string {
    return `${this.prefix}/${String(index).padStart(6, '0')}`;
  }

  /** Starts uploading the next blob; `rows` is recorded with it. */
  add(bytes: Uint8Array, rows: number): void {
    const index = this.next++;
    const upload = this.store.putObject(this.nameOf(index), bytes, rows, this.signal).then(
      (stored) => {
        this.stored[index] = stored;
      },
      (error: unknown) => {
        this.failure ??= { error };
      },
    );
    this.pending.add(upload);
    void upload.finally(() => this.pending.delete(upload));
  }

  /** Waits while too many uploads are in flight; throws the first upload failure. */
  async ready(): Promise<void> {
    while (this.pending.size >= this.maxPending && this.failure === undefined) await Promise.race(this.pending);
    if (this.failure) throw this.failure.error;
  }

  /** Waits for every upload; the stored blobs in upload order. */
  async finish(): Promise<StoredObject[]> {
    await Promise.all(this.pending);
    if (this.failure) throw this.failure.error;
    return [...this.stored];
  }

  /** Waits for uploads in flight, then removes every blob stored so far (best effort). */
  async discard(): Promise<string[]> {
    await Promise.allSettled(this.pending);
    return this.store.deleteObjects(this.stored.filter((s) => s !== undefined).map((s) => s.object));
  }
}

import { joinKey, splitKey, type KvStore } from '@aimaas/storage';
import type { Logger } from '@aimaas/telemetry';

/** The record of an upload in progress, under `uploads.<uploadId>` of the registry bucket. */
export interface UploadLeaseRecord {
  /** The model the files are for: they are stored under `<model>/<uploadId>/`. */
  model: string;
  /** When the writer last said it was alive (ISO time). */
  activeAt: string;
}

const PREFIX = 'uploads.';

/**
 * Marks an upload as in progress, while its writer lives: written before the first byte, renewed
 * every `renewMs`, deleted when the upload ends either way. A record whose `activeAt` is older
 * than the sweep's idle time belongs to a writer that died; the sweep then takes its files.
 */
export class UploadLease {
  readonly #kv: KvStore<unknown>;
  readonly #key: string;
  readonly #model: string;
  readonly #timer: NodeJS.Timeout;

  private constructor(kv: KvStore<unknown>, uploadId: string, model: string, renewMs: number, logger: Logger) {
    this.#kv = kv;
    this.#key = joinKey('uploads', uploadId);
    this.#model = model;
    this.#timer = setInterval(() => {
      this.#write().catch((err: unknown) => logger.warn({ err, uploadId }, 'renewing an upload lease failed'));
    }, renewMs).unref();
  }

  static async take(kv: KvStore<unknown>, uploadId: string, model: string, options: { renewMs: number; logger: Logger }): Promise<UploadLease> {
    const lease = new UploadLease(kv, uploadId, model, options.renewMs, options.logger);
    try {
      await lease.#write();
    } catch (error) {
      clearInterval(lease.#timer);
      throw error;
    }
    return lease;
  }

  /** Ends the lease (the upload committed or cleaned up after itself). */
  async release(): Promise<void> {
    clearInterval(this.#timer);
    await this.#kv.delete(this.#key).catch(() => undefined);
  }

  async #write(): Promise<void> {
    const record: UploadLeaseRecord = { model: this.#model, activeAt: new Date().toISOString() };
    await this.#kv.put(this.#key, record);
  }
}

/** Every upload lease in the bucket, with its upload id. */
export async function listUploadLeases(kv: KvStore<unknown>): Promise<Array<{ uploadId: string; key: string; record: UploadLeaseRecord }>> {
  const entries = await kv.list(PREFIX);
  return entries.map((entry) => ({ uploadId: splitKey(entry.key)[1]!, key: entry.key, record: entry.value as UploadLeaseRecord }));
}

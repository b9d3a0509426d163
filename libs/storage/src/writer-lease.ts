import { joinKey, splitKey } from './codecs.js';
import type { KvStore } from './kv-store.js';
import type { ConnectionLogger } from './nats-connection.js';

/** The record of a writer at work, under `<leasePrefix>.<writer id>` of a KV bucket. */
export interface WriterLeaseRecord {
  /** The object-name prefix its objects are written under, e.g. `datasets/<import id>/`. */
  prefix: string;
  /** When the writer last said it was alive (ISO time). */
  activeAt: string;
}

/**
 * Marks a writer of objects (an upload, an import) as alive: written before its first byte,
 * renewed every `renewMs`, deleted when it ends either way. The objects under its prefix that
 * nothing references yet are then safe from {@link sweepOrphans}; once the record is older than
 * the sweep's idle time its writer has died and the sweep takes them.
 */
export class WriterLease {
  readonly #kv: KvStore<unknown>;
  readonly #key: string;
  readonly #prefix: string;
  readonly #timer: NodeJS.Timeout;

  private constructor(kv: KvStore<unknown>, key: string, prefix: string, renewMs: number, logger: ConnectionLogger) {
    this.#kv = kv;
    this.#key = key;
    this.#prefix = prefix;
    this.#timer = setInterval(() => {
      this.#write().catch((err: unknown) => logger.warn({ err, lease: key }, 'renewing a writer lease failed'));
    }, renewMs).unref();
  }

  /** Takes the lease `<leasePrefix>.<id>` for objects under `prefix`. */
  static async take(
    kv: KvStore<unknown>,
    lease: { leasePrefix: string; id: string; prefix: string },
    options: { renewMs: number; logger: ConnectionLogger },
  ): Promise<WriterLease> {
    const taken = new WriterLease(
      kv,
      joinKey(lease.leasePrefix, lease.id),
      lease.prefix,
      options.renewMs,
      options.logger,
    );
    try {
      await taken.#write();
    } catch (error) {
      clearInterval(taken.#timer);
      throw error;
    }
    return taken;
  }

  /** Ends the lease (the writer committed, or cleaned up after itself). */
  async release(): Promise<void> {
    clearInterval(this.#timer);
    await this.#kv.delete(this.#key).catch(() => undefined);
  }

  async #write(): Promise<void> {
    const record: WriterLeaseRecord = { prefix: this.#prefix, activeAt: new Date().toISOString() };
    await this.#kv.put(this.#key, record);
  }
}

/** Every lease under `leasePrefix` in the bucket. */
export async function listWriterLeases(
  kv: KvStore<unknown>,
  leasePrefix: string,
): Promise<Array<{ id: string; key: string; record: WriterLeaseRecord }>> {
  const entries = await kv.list(`${leasePrefix}.`);
  return entries.map((entry) => ({
    id: splitKey(entry.key)[1]!,
    key: entry.key,
    record: entry.value as WriterLeaseRecord,
  }));
}

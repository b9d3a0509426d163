import { StorageType } from '@nats-io/jetstream';

/** Options for {@link openKv}: the bucket's settings, used when the bucket is first created. */
export interface KvStoreOptions {
  /**
   * Revisions kept per key (1 keeps only the current value), 1..64.
   * @default 1
   */
  history?: number;
  /**
   * Largest value in bytes (JSON text); -1 for no limit beyond the server's max payload.
   * @default -1
   */
  maxValueBytes?: number;
  /**
   * Largest bucket size in bytes; -1 for no limit.
   * @default -1
   */
  maxBytes?: number;
  /**
   * Age in ms after which the server drops a value; 0 keeps values forever.
   * @default 0
   */
  ttlMs?: number;
  /**
   * Where the server keeps the bucket.
   * @default 'file'
   */
  storage?: 'file' | 'memory';
  /** Shown by `nats kv ls`. */
  description?: string;
  /**
   * Timeout for each JetStream request, in ms.
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * Retries of a {@link KvStore.mutate} whose revision check lost, before it gives up with
   * `AbortedError`. A call may override it.
   * @default 32
   */
  mutateRetries?: number;
}

/** {@link KvStoreOptions} with defaults applied and values checked. */
export interface CompiledKvOptions {
  history: number;
  maxValueBytes: number;
  maxBytes: number;
  ttlMs: number;
  storage: StorageType;
  description: string | undefined;
  timeoutMs: number;
  mutateRetries: number;
}

const BUCKET_NAME = /^[-\w]+$/;

/** Throws a `TypeError` naming the setting unless `bucket` is a valid KV or object bucket name. */
export function assertBucketName(bucket: string): void {
  if (!BUCKET_NAME.test(bucket)) {
    throw new TypeError(`bucket name "${bucket}" is invalid: expected letters, digits, "_" and "-" only`);
  }
}

/** Apply defaults to {@link KvStoreOptions} and validate them, naming any bad setting. */
export function compileKvOptions(opts: KvStoreOptions = {}): CompiledKvOptions {
  const storage = opts.storage ?? 'file';
  if (storage !== 'file' && storage !== 'memory') {
    throw new TypeError(`KvStoreOptions.storage must be "file" or "memory", got "${String(storage)}"`);
  }
  return {
    history: integer('KvStoreOptions.history', opts.history ?? 1, 1, 64),
    maxValueBytes: integer('KvStoreOptions.maxValueBytes', opts.maxValueBytes ?? -1, -1),
    maxBytes: integer('KvStoreOptions.maxBytes', opts.maxBytes ?? -1, -1),
    ttlMs: integer('KvStoreOptions.ttlMs', opts.ttlMs ?? 0, 0),
    storage: storage === 'file' ? StorageType.File : StorageType.Memory,
    description: opts.description,
    timeoutMs: integer('KvStoreOptions.timeoutMs', opts.timeoutMs ?? 5_000, 1),
    mutateRetries: integer('KvStoreOptions.mutateRetries', opts.mutateRetries ?? 32, 0),
  };
}

/** Options for {@link openObjectStore}. Bucket settings apply when the bucket is first created. */
export interface ObjectStoreOptions {
  /**
   * Bytes per chunk message; at most the server's max payload (1 MiB by default).
   * @default 131072
   */
  chunkSize?: number;
  /**
   * Chunk publishes awaiting their ack at once during a put (memory ≈ maxInFlight × chunkSize).
   * @default 32
   */
  maxInFlight?: number;
  /**
   * How many bytes a get may buffer ahead of its reader.
   * @default 8388608
   */
  readAheadBytes?: number;
  /**
   * Bytes all concurrent gets on this store's connection may buffer together: each takes its
   * read-ahead (at most the object's size) from it and holds it until its reader finishes, and
   * gets wait while it is spent. Every store on a connection shares one budget, sized by the first
   * store opened on it. Keep it below the server's `max_pending` (64 MiB by default), which the
   * server counts per connection: past it the connection is cut as a slow consumer.
   * @default 41943040 (40 MiB: five reads at the default read-ahead)
   */
  readBudgetBytes?: number;
  /**
   * Largest bucket size in bytes; -1 for no limit.
   * @default -1
   */
  maxBytes?: number;
  /**
   * Age in ms after which the server drops objects; 0 keeps them forever.
   * @default 0
   */
  ttlMs?: number;
  /**
   * Where the server keeps the bucket.
   * @default 'file'
   */
  storage?: 'file' | 'memory';
  /** Shown by `nats object ls`. */
  description?: string;
  /**
   * Timeout for each JetStream request and publish ack, in ms.
   * @default 10000
   */
  timeoutMs?: number;
}

/** {@link ObjectStoreOptions} with defaults applied and values checked. */
export interface CompiledObjectStoreOptions {
  chunkSize: number;
  maxInFlight: number;
  readAheadBytes: number;
  readBudgetBytes: number;
  maxBytes: number;
  ttlMs: number;
  storage: StorageType;
  description: string | undefined;
  timeoutMs: number;
}

/** Bytes of a chunk message's payload budget kept for its NATS headers. */
const CHUNK_HEADER_ROOM = 4096;

/**
 * Apply defaults to {@link ObjectStoreOptions} and validate them against the server's
 * `maxPayload`, throwing a `TypeError` that names the bad setting.
 */
export function compileObjectStoreOptions(opts: ObjectStoreOptions, maxPayload: number): CompiledObjectStoreOptions {
  const storage = opts.storage ?? 'file';
  if (storage !== 'file' && storage !== 'memory') {
    throw new TypeError(`ObjectStoreOptions.storage must be "file" or "memory", got "${String(storage)}"`);
  }
  // A chunk travels with its headers (expected stream, subject), so it must leave room for them.
  const chunkSize = integer(
    'ObjectStoreOptions.chunkSize',
    opts.chunkSize ?? 128 * 1024,
    1024,
    maxPayload - CHUNK_HEADER_ROOM,
  );
  return {
    chunkSize,
    maxInFlight: integer('ObjectStoreOptions.maxInFlight', opts.maxInFlight ?? 32, 1, 1024),
    readAheadBytes: integer('ObjectStoreOptions.readAheadBytes', opts.readAheadBytes ?? 8 * 1024 * 1024, chunkSize),
    readBudgetBytes: integer('ObjectStoreOptions.readBudgetBytes', opts.readBudgetBytes ?? 40 * 1024 * 1024, chunkSize),
    maxBytes: integer('ObjectStoreOptions.maxBytes', opts.maxBytes ?? -1, -1),
    ttlMs: integer('ObjectStoreOptions.ttlMs', opts.ttlMs ?? 0, 0),
    storage: storage === 'file' ? StorageType.File : StorageType.Memory,
    description: opts.description,
    timeoutMs: integer('ObjectStoreOptions.timeoutMs', opts.timeoutMs ?? 10_000, 1),
  };
}

/** Throws a `TypeError` naming `setting` unless `value` is an integer in min..max. */
function integer(setting: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`${setting} must be an integer in ${min}..${max}, got ${value}`);
  }
  return value;
}

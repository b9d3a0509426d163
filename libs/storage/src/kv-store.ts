import { jetstream, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry as NatsKvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  AbortedError,
  AlreadyExistsError,
  backoffDelay,
  delay,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
} from '@aimaas/runtime';
import { assertFilter, assertKey, decodeJson, encodeJson, MAX_KEY_LENGTH } from './codecs.js';
import { assertBucketName, compileKvOptions, type CompiledKvOptions, type KvStoreOptions } from './bucket-options.js';
import { KvWatcher, type KvWatchOptions } from './kv-watch.js';
import { actualRevision, isWrongLastSequence, toDomainError, withDomainErrors } from './nats-connection.js';
import { scanStream } from './stream-scan.js';
import { storeError } from './store-errors.js';

/** A current value and the revision that wrote it (the bucket stream's sequence number). */
export interface KvEntry<T> {
  key: string;
  value: T;
  revision: number;
  /** When this revision was written (for `mutate`, as seen by this client). */
  created: Date;
}

/** Options for {@link KvStore.mutate}. */
export interface MutateOptions {
  /** Retries after a lost revision check; defaults to the store's `mutateRetries` (32). */
  retries?: number;
  /** Stops retrying; the call rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * A JetStream KV bucket holding JSON values, with revision checks for safe concurrent writers.
 * Open one with {@link openKv}. Keys are dot-separated parts of `[-/_=a-zA-Z0-9]`; escape free
 * text with `encodeKey` / `joinKey`.
 */
export class KvStore<T> {
  readonly #kv: KV;
  readonly #js: JetStreamClient;
  readonly #opts: CompiledKvOptions;
  readonly #prefix: string;

  /** @internal use {@link openKv} */
  constructor(
    readonly bucket: string,
    kv: KV,
    js: JetStreamClient,
    opts: CompiledKvOptions,
  ) {
    this.#kv = kv;
    this.#js = js;
    this.#opts = opts;
    this.#prefix = `$KV.${bucket}.`;
  }

  /** The current value of `key`, or `undefined` when it was never written or is deleted. */
  async get(key: string): Promise<KvEntry<T> | undefined> {
    const raw = await this.#raw(key);
    return raw?.operation === 'PUT' ? this.#entry(raw) : undefined;
  }

  /** Write `key` only if it has no current value; else `AlreadyExistsError`. Returns the revision. */
  async create(key: string, value: T): Promise<number> {
    assertKey(key, this.bucket);
    const data = this.#encode(key, value);
    try {
      return await this.#kv.create(key, data);
    } catch (err) {
      if (isWrongLastSequence(err)) {
        throw storeError(AlreadyExistsError, `key "${key}" already exists in bucket "${this.bucket}"`, { cause: err });
      }
      throw toDomainError(err, `create of ${this.#where(key)}`);
    }
  }

  /**
   * Write `key` only if its current revision is still `expectedRevision`. When another writer got
   * there first this throws `AbortedError` (re-read and retry, or use {@link mutate}); when the
   * key has no value at all, `NotFoundError`. Returns the new revision.
   */
  async update(key: string, value: T, expectedRevision: number): Promise<number> {
    assertKey(key, this.bucket);
    this.#assertRevision(expectedRevision);
    const data = this.#encode(key, value);
    try {
      return await this.#kv.update(key, data, expectedRevision);
    } catch (err) {
      throw this.#revisionError(err, key, expectedRevision, 'update');
    }
  }

  /** Write `key` whatever its current revision (last writer wins). Returns the revision. */
  async put(key: string, value: T): Promise<number> {
    assertKey(key, this.bucket);
    const data = this.#encode(key, value);
    return withDomainErrors(`put of ${this.#where(key)}`, () => this.#kv.put(key, data));
  }

  /**
   * Delete `key` (a tombstone revision; history is kept as configured). Without
   * `expectedRevision` it is idempotent; with it, a moved revision is `AbortedError`.
   */
  async delete(key: string, expectedRevision?: number): Promise<void> {
    assertKey(key, this.bucket);
    if (expectedRevision !== undefined) this.#assertRevision(expectedRevision);
    try {
      await this.#kv.delete(key, expectedRevision === undefined ? undefined : { previousSeq: expectedRevision });
    } catch (err) {
      throw this.#revisionError(err, key, expectedRevision ?? 0, 'delete');
    }
  }

  /**
   * Keys that currently have a value, in key order. `filter` is a key pattern where `*` matches
   * one part and a final `>` the rest: `models.*.versions.>`.
   */
  async keys(filter = '>'): Promise<string[]> {
    assertFilter(filter, this.bucket);
    const keys: string[] = [];
    await this.#scan(filter, true, (msg) => {
      keys.push(msg.subject.slice(this.#prefix.length));
    });
    return keys.sort(byCodeUnits);
  }

  /**
   * Every current entry whose key starts with `prefix` (plain text, not a pattern), in key order.
   * One server-side scan with a subject filter on the whole dot-separated parts of the prefix,
   * so `list('models.fmnist.')` reads only that model's keys.
   */
  async list(prefix = ''): Promise<KvEntry<T>[]> {
    if (prefix.length > MAX_KEY_LENGTH) assertKey(prefix, this.bucket);
    if (prefix !== '' && (!/^[-/_=.a-zA-Z0-9]+$/.test(prefix) || prefix.startsWith('.') || prefix.includes('..'))) {
      throw storeError(
        InvalidArgumentError,
        `KV prefix "${prefix}" in bucket "${this.bucket}" is invalid: expected plain key text of [-/_=.a-zA-Z0-9]`,
      );
    }
    const base = prefix.slice(0, prefix.lastIndexOf('.') + 1);
    const entries: KvEntry<T>[] = [];
    await this.#scan(`${base}>`, false, (msg) => {
      const key = msg.subject.slice(this.#prefix.length);
      if (!key.startsWith(prefix)) return;
      const value = decodeJson<T>(msg.data, this.#where(key));
      entries.push({ key, value, revision: msg.seq, created: msg.time });
    });
    return entries.sort((a, b) => byCodeUnits(a.key, b.key));
  }

  /**
   * Follow changes to keys matching `filter` (same patterns as {@link keys}). By default the
   * current values come first (`isUpdate: false`), then live changes. Stop with `stop()`, by
   * leaving the `for await` loop, or with `opts.signal`.
   */
  async watch(filter = '>', opts: KvWatchOptions = {}): Promise<KvWatcher<T>> {
    assertFilter(filter, this.bucket);
    const target = { js: this.#js, bucket: this.bucket, stream: `KV_${this.bucket}`, prefix: this.#prefix };
    return withDomainErrors(`watch of "${filter}" in bucket "${this.bucket}"`, () =>
      KvWatcher.start<T>(target, filter, opts),
    );
  }

  /**
   * Read-modify-write `key` safely under concurrency: read the current value (`undefined` if
   * none), compute the next one with `fn`, and write it only if the revision did not move; if it
   * did, wait a random, growing moment and start again. `fn` may run several times, so keep it
   * free of side effects; throwing from it aborts the mutation.
   *
   * @example
   * const next = await kv.mutate('counters.versions.fmnist', (n) => (n ?? 0) + 1);
   */
  async mutate(
    key: string,
    fn: (current: T | undefined) => T | Promise<T>,
    opts: MutateOptions = {},
  ): Promise<KvEntry<T>> {
    assertKey(key, this.bucket);
    const retries = opts.retries ?? this.#opts.mutateRetries;
    for (let attempt = 0; ; attempt++) {
      opts.signal?.throwIfAborted();
      const raw = await this.#raw(key);
      const current = raw?.operation === 'PUT' ? this.#entry(raw).value : undefined;
      const value = await fn(current);
      const data = this.#encode(key, value);
      try {
        // Revision 0 means "no message yet"; a tombstone's revision lets us write over it.
        const revision = await this.#kv.put(key, data, { previousSeq: raw?.revision ?? 0 });
        return { key, value, revision, created: new Date() };
      } catch (err) {
        if (!isWrongLastSequence(err)) throw toDomainError(err, `mutate of ${this.#where(key)}`);
        if (attempt >= retries) {
          throw storeError(
            AbortedError,
            `key "${key}" in bucket "${this.bucket}" kept changing: mutate gave up after ${attempt + 1} attempts`,
            { cause: err },
          );
        }
        // Full jitter: contending writers spread out instead of colliding again.
        await delay(backoffDelay(attempt + 2, { baseMs: 1, maxMs: 100, jitter: 'full' }), opts.signal);
      }
    }
  }

  async #raw(key: string): Promise<NatsKvEntry | null> {
    assertKey(key, this.bucket);
    return withDomainErrors(`get of ${this.#where(key)}`, () => this.#kv.get(key));
  }

  #entry(raw: NatsKvEntry): KvEntry<T> {
    return {
      key: raw.key,
      value: decodeJson<T>(raw.value, this.#where(raw.key)),
      revision: raw.revision,
      created: raw.created,
    };
  }

  async #scan(filter: string, headersOnly: boolean, onValue: (msg: JsMsg) => void): Promise<void> {
    await withDomainErrors(`scan of "${filter}" in bucket "${this.bucket}"`, async () => {
      const scan = await scanStream(this.#js, `KV_${this.bucket}`, `${this.#prefix}${filter}`, {
        lastPerSubject: true,
        headersOnly,
        maxMessages: 4096,
      });
      for await (const msg of scan) {
        const op = msg.headers?.get('KV-Operation');
        if (op === 'DEL' || op === 'PURGE') continue;
        onValue(msg);
      }
    });
  }

  #revisionError(err: unknown, key: string, expected: number, op: string): unknown {
    if (!isWrongLastSequence(err)) return toDomainError(err, `${op} of ${this.#where(key)}`);
    const actual = actualRevision(err);
    if (actual === 0) {
      return storeError(
        NotFoundError,
        `key "${key}" does not exist in bucket "${this.bucket}" (${op} expected revision ${expected})`,
        {
          cause: err,
        },
      );
    }
    const now = actual === undefined ? '' : `, current revision is ${actual}`;
    return storeError(
      AbortedError,
      `key "${key}" in bucket "${this.bucket}" changed: ${op} expected revision ${expected}${now}; re-read and retry`,
      { cause: err },
    );
  }

  #assertRevision(revision: number): void {
    if (!Number.isSafeInteger(revision) || revision < 1) {
      throw storeError(
        InvalidArgumentError,
        `expected revision for bucket "${this.bucket}" must be a positive integer, got ${revision}`,
      );
    }
  }

  /** The value as JSON bytes, refused (RESOURCE_EXHAUSTED) when over the server's largest message. */
  #encode(key: string, value: unknown): Uint8Array {
    const data = encodeJson(value, this.#where(key));
    const maxPayload = (this.#js as JetStreamClient & { nc?: { info?: { max_payload?: number } } }).nc?.info
      ?.max_payload;
    // Headers and the subject travel in the same message: keep 4 KiB for them.
    if (maxPayload !== undefined && data.byteLength > maxPayload - 4096) {
      const limit = maxPayload - 4096;
      throw storeError(
        ResourceExhaustedError,
        `value of ${data.byteLength} bytes for ${this.#where(key)} is over the ${limit} bytes a message may carry`,
        {
          publicMessage: `a record of ${data.byteLength} bytes is over the ${limit} bytes the store takes in one message`,
        },
      );
    }
    return data;
  }

  #where(key: string): string {
    return `key "${key}" in bucket "${this.bucket}"`;
  }
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Open the KV bucket `bucket`, creating it with `opts` if it does not exist (idempotent: an
 * existing bucket keeps its settings). Values are JSON.
 *
 * @example
 * const versions = await openKv<{ next: number }>(nc, 'aimaas_registry', { history: 5 });
 * await versions.create(joinKey('models', 'fmnist'), { next: 1 });
 */
export async function openKv<T = unknown>(
  nc: NatsConnection,
  bucket: string,
  opts: KvStoreOptions = {},
): Promise<KvStore<T>> {
  assertBucketName(bucket);
  const compiled = compileKvOptions(opts);
  const js = jetstream(nc, { timeout: compiled.timeoutMs });
  const kv = await withDomainErrors(`open of KV bucket "${bucket}"`, () =>
    new Kvm(js).create(bucket, {
      history: compiled.history,
      maxValueSize: compiled.maxValueBytes,
      max_bytes: compiled.maxBytes,
      ttl: compiled.ttlMs,
      storage: compiled.storage,
      ...(compiled.description === undefined ? {} : { description: compiled.description }),
    }),
  );
  return new KvStore<T>(bucket, kv, js, compiled);
}

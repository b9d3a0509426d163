import { jetstream, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { headers, nuid, type NatsConnection } from '@nats-io/transport-node';
import {
  AbortedError,
  DataLossError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
} from '@aimaas/runtime';
import {
  assertBucketName,
  compileObjectStoreOptions,
  type CompiledObjectStoreOptions,
  type ObjectStoreOptions,
} from './bucket-options.js';
import { decodeJson, MAX_KEY_LENGTH } from './codecs.js';
import { isWrongLastSequence, toDomainError, withDomainErrors } from './nats-connection.js';
import {
  chunkSubject,
  metaSubject,
  toDigestField,
  toObjectInfo,
  type ObjectInfo,
  type ServerObjectMeta,
} from './object-meta.js';
import { readChunks, writeChunks, type ObjectReader, type ObjectSource } from './object-chunks.js';
import { ReadBudget } from './read-budget.js';
import { scanStream } from './stream-scan.js';
import { storeError } from './store-errors.js';

/** Options for {@link ObjectStore.put}. */
export interface PutObjectOptions {
  description?: string;
  /** Free-form string metadata stored with the object. */
  metadata?: Record<string, string>;
  /** Abandons the upload; nothing of it stays in the bucket. */
  signal?: AbortSignal;
}

/** Options for {@link ObjectStore.get}. */
export interface GetObjectOptions {
  /**
   * The SHA-256 (hex) the caller recorded, e.g. in registry metadata. A different recorded digest
   * fails at once; the content is checked against it at the end of the read.
   */
  expectedSha256?: string;
  /** Stops the read; iteration then throws the signal's reason. */
  signal?: AbortSignal;
}

interface StoredMeta {
  meta: ServerObjectMeta;
  revision: number;
}

/**
 * A JetStream object store bucket whose every read is checked against the SHA-256 recorded at
 * write time. Open one with {@link openObjectStore}. The layout on the stream (`OBJ_<bucket>`)
 * is the standard NATS one, so `nats object` and other NATS clients can read it too.
 */
export class ObjectStore {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #opts: CompiledObjectStoreOptions;
  readonly #stream: string;
  readonly #readBudget: ReadBudget;

  /** @internal use {@link openObjectStore} */
  constructor(
    readonly bucket: string,
    js: JetStreamClient,
    jsm: JetStreamManager,
    opts: CompiledObjectStoreOptions,
    nc: NatsConnection = connectionOf(js),
  ) {
    this.#nc = nc;
    this.#js = js;
    this.#jsm = jsm;
    this.#opts = opts;
    this.#stream = `OBJ_${bucket}`;
    this.#readBudget = readBudgetOf(nc, opts.readBudgetBytes);
  }

  /**
   * Store `source` under `name`, streaming it in chunks and hashing it on the way. The object
   * appears only once all chunks are stored (its meta record is written last); if the source
   * throws, the upload is aborted or a publish fails, the chunks written so far are purged and an
   * existing object of that name stays as it was. Replacing an object purges its old chunks; if
   * another writer replaced `name` during this upload, this one yields (`AbortedError`).
   *
   * @example
   * const info = await artifacts.put('fmnist/3/model.onnx', createReadStream(path));
   * info.sha256 // 'e3b0c442…'
   */
  async put(name: string, source: ObjectSource, opts: PutObjectOptions = {}): Promise<ObjectInfo> {
    this.#assertName(name);
    const where = `put of object "${name}" into bucket "${this.bucket}"`;
    const old = await this.#readMeta(name);
    const id = nuid.next();
    const subject = chunkSubject(this.bucket, id);
    let written;
    try {
      const { chunkSize, maxInFlight, timeoutMs } = this.#opts;
      const target = {
        nc: this.#nc,
        stream: this.#stream,
        subject,
        chunkSize,
        maxInFlight,
        timeoutMs,
        signal: opts.signal,
      };
      written = await writeChunks(target, source);
    } catch (err) {
      await this.#purge(subject);
      throw toDomainError(err, where);
    }
    const meta: ServerObjectMeta = {
      name,
      description: opts.description ?? '',
      options: { max_chunk_size: this.#opts.chunkSize },
      ...(opts.metadata ? { metadata: { ...opts.metadata } } : {}),
      bucket: this.bucket,
      nuid: id,
      size: written.size,
      chunks: written.chunks,
      mtime: new Date().toISOString(),
      digest: toDigestField(written.sha256),
      deleted: false,
    };
    const h = headers();
    h.set('Nats-Rollup', 'sub');
    h.set('Nats-Expected-Last-Subject-Sequence', String(old?.revision ?? 0));
    let revision: number;
    try {
      const ack = await this.#js.publish(metaSubject(this.bucket, name), JSON.stringify(meta), {
        headers: h,
        timeout: this.#opts.timeoutMs,
      });
      revision = ack.seq;
    } catch (err) {
      await this.#purge(subject);
      if (isWrongLastSequence(err)) {
        throw storeError(
          AbortedError,
          `object "${name}" in bucket "${this.bucket}" was replaced by another writer during this put; retry`,
          { cause: err },
        );
      }
      throw toDomainError(err, where);
    }
    if (old && !old.meta.deleted) await this.#purge(chunkSubject(this.bucket, old.meta.nuid));
    return toObjectInfo(meta, revision);
  }

  /**
   * Open a verified read of `name`: a missing object is `NotFoundError`, a recorded digest other
   * than `opts.expectedSha256` is `DataLossError` before any byte is read, and content that does
   * not hash to the recorded digest is `DataLossError` at the end of iteration.
   *
   * @example
   * const reader = await artifacts.get('fmnist/3/model.onnx', { expectedSha256: version.files[0].sha256 });
   * for await (const chunk of reader) res.write(chunk);
   */
  async get(name: string, opts: GetObjectOptions = {}): Promise<ObjectReader> {
    this.#assertName(name);
    const expected = opts.expectedSha256?.toLowerCase();
    if (expected !== undefined && !/^[0-9a-f]{64}$/.test(expected)) {
      throw storeError(
        InvalidArgumentError,
        `expectedSha256 for object "${name}" must be 64 hex digits, got "${opts.expectedSha256}"`,
      );
    }
    const stored = await this.#readLive(name);
    const info = toObjectInfo(stored.meta, stored.revision);
    if (expected !== undefined && expected !== info.sha256) {
      throw storeError(
        DataLossError,
        `artifact "${name}" in bucket "${this.bucket}" digest mismatch: expected ${expected}, got ${info.sha256} (recorded digest)`,
      );
    }
    const readAheadBytes = Math.max(1, Math.min(this.#opts.readAheadBytes, this.#readBudget.totalBytes, info.size));
    const source = {
      js: this.#js,
      stream: this.#stream,
      readAheadBytes,
      expectedSha256: info.sha256,
      currentRevision: async () => (await this.#readMeta(name))?.revision,
      signal: opts.signal,
    };
    const nuidOfContent = stored.meta.nuid;
    const budget = this.#readBudget;
    return {
      info,
      [Symbol.asyncIterator]: () =>
        withinBudget(budget, readAheadBytes, opts.signal, () => readChunks(info, nuidOfContent, source)),
    };
  }

  /** The whole content of `name` in one buffer, verified as {@link get} does. For small objects. */
  async getBytes(name: string, opts: GetObjectOptions = {}): Promise<Buffer> {
    const reader = await this.get(name, opts);
    const parts: Uint8Array[] = [];
    for await (const chunk of reader) parts.push(chunk);
    return Buffer.concat(parts, reader.info.size);
  }

  /** What is recorded about `name`, or `undefined` if there is no such object. */
  async info(name: string): Promise<ObjectInfo | undefined> {
    this.#assertName(name);
    const stored = await this.#readMeta(name);
    return stored && !stored.meta.deleted ? toObjectInfo(stored.meta, stored.revision) : undefined;
  }

  /**
   * Delete `name` and purge its chunks; `NotFoundError` if there is no such object. The deletion
   * stays visible as a tombstone meta record (what other NATS clients and watchers expect) unless
   * `leaveNoTrace`, for objects nobody ever saw (the files of an upload that never committed).
   */
  async delete(name: string, options: { leaveNoTrace?: boolean } = {}): Promise<void> {
    const stored = await this.#readLive(name);
    const tombstone: ServerObjectMeta = {
      ...stored.meta,
      deleted: true,
      size: 0,
      chunks: 0,
      digest: '',
      mtime: new Date().toISOString(),
    };
    const h = headers();
    h.set('Nats-Rollup', 'sub');
    h.set('Nats-Expected-Last-Subject-Sequence', String(stored.revision));
    try {
      await this.#js.publish(metaSubject(this.bucket, name), JSON.stringify(tombstone), {
        headers: h,
        timeout: this.#opts.timeoutMs,
      });
    } catch (err) {
      if (isWrongLastSequence(err)) {
        throw storeError(AbortedError, `object "${name}" in bucket "${this.bucket}" changed during delete; retry`, {
          cause: err,
        });
      }
      throw toDomainError(err, `delete of object "${name}" in bucket "${this.bucket}"`);
    }
    await this.#purge(chunkSubject(this.bucket, stored.meta.nuid));
    if (options.leaveNoTrace) await this.#purge(metaSubject(this.bucket, name));
  }

  /** Every object in the bucket, in name order. */
  async list(): Promise<ObjectInfo[]> {
    return withDomainErrors(`list of bucket "${this.bucket}"`, async () => {
      const out: ObjectInfo[] = [];
      const scan = await scanStream(this.#js, this.#stream, `$O.${this.bucket}.M.>`, {
        lastPerSubject: true,
        maxMessages: 1024,
      });
      for await (const msg of scan) {
        const meta = decodeJson<ServerObjectMeta>(msg.data, `meta of an object in bucket "${this.bucket}"`);
        if (!meta.deleted) out.push(toObjectInfo(meta, msg.seq));
      }
      return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    });
  }

  /**
   * Purges chunks that no object references and that nobody has written to for `idleMs`: what a
   * writer that died in the middle of a put (kill -9, a lost host) leaves behind, since only a
   * living writer purges its own chunks on failure. A put still in progress keeps writing, so its
   * chunks are younger than `idleMs` and stay; a writer must not pause longer than that between
   * chunks. Resolves with the purged chunk sets and the bytes the stream gave back.
   *
   * @example
   * const { objects, bytes } = await artifacts.sweepOrphanChunks({ idleMs: 15 * 60_000 });
   */
  async sweepOrphanChunks(options: { idleMs: number }): Promise<{ objects: number; bytes: number }> {
    const { idleMs } = options;
    if (!Number.isFinite(idleMs) || idleMs < 0)
      throw new TypeError(`sweepOrphanChunks: idleMs must be a number ≥ 0, got ${idleMs}`);
    return withDomainErrors(`sweep of orphan chunks in bucket "${this.bucket}"`, async () => {
      const referenced = new Set<string>();
      const metas = await scanStream(this.#js, this.#stream, `$O.${this.bucket}.M.>`, {
        lastPerSubject: true,
        maxMessages: 1024,
      });
      for await (const msg of metas) {
        const meta = decodeJson<ServerObjectMeta>(msg.data, `meta of an object in bucket "${this.bucket}"`);
        if (!meta.deleted) referenced.add(meta.nuid);
      }
      const prefix = `$O.${this.bucket}.C.`;
      const before = await this.#jsm.streams.info(this.#stream, { subjects_filter: `${prefix}>` });
      let objects = 0;
      for (const subject of Object.keys(before.state.subjects ?? {})) {
        if (referenced.has(subject.slice(prefix.length))) continue;
        const last = await this.#jsm.direct.getMessage(this.#stream, { last_by_subj: subject });
        if (!last || Date.now() - last.time.getTime() < idleMs) continue;
        // Checked again just before the purge: a put that finished meanwhile now has its meta.
        const meta = await this.#metaOfNuid(subject.slice(prefix.length));
        if (meta) continue;
        await this.#jsm.streams.purge(this.#stream, { filter: subject });
        objects++;
      }
      const after = await this.#jsm.streams.info(this.#stream);
      return { objects, bytes: objects === 0 ? 0 : Math.max(0, before.state.bytes - after.state.bytes) };
    });
  }

  /** Whether some live object's meta names chunk set `nuid` (one scan of the metas). */
  async #metaOfNuid(nuid: string): Promise<boolean> {
    const metas = await scanStream(this.#js, this.#stream, `$O.${this.bucket}.M.>`, {
      lastPerSubject: true,
      maxMessages: 1024,
    });
    for await (const msg of metas) {
      const meta = decodeJson<ServerObjectMeta>(msg.data, `meta of an object in bucket "${this.bucket}"`);
      if (!meta.deleted && meta.nuid === nuid) return true;
    }
    return false;
  }

  async #readMeta(name: string): Promise<StoredMeta | undefined> {
    const where = `meta of object "${name}" in bucket "${this.bucket}"`;
    const msg = await withDomainErrors(`read of ${where}`, () =>
      this.#jsm.direct.getMessage(this.#stream, { last_by_subj: metaSubject(this.bucket, name) }),
    );
    if (!msg) return undefined;
    return { meta: decodeJson<ServerObjectMeta>(msg.data, where), revision: msg.seq };
  }

  async #readLive(name: string): Promise<StoredMeta> {
    this.#assertName(name);
    const stored = await this.#readMeta(name);
    if (!stored || stored.meta.deleted) {
      throw storeError(NotFoundError, `object "${name}" not found in bucket "${this.bucket}"`);
    }
    if (stored.meta.options?.link) {
      throw storeError(
        FailedPreconditionError,
        `object "${name}" in bucket "${this.bucket}" is a link, which this store does not follow`,
      );
    }
    return stored;
  }

  /** Best-effort removal of chunks nobody references; a failure only leaves garbage behind. */
  async #purge(subject: string): Promise<void> {
    await this.#jsm.streams.purge(this.#stream, { filter: subject }).catch(() => undefined);
  }

  #assertName(name: string): void {
    if (typeof name !== 'string' || name.length === 0) {
      throw storeError(InvalidArgumentError, `object name in bucket "${this.bucket}" must be a non-empty string`);
    }
    // Its base64 is part of a subject, which must stay inside NATS's 4 KiB control line.
    if (Buffer.byteLength(name) > MAX_KEY_LENGTH) {
      throw storeError(
        InvalidArgumentError,
        `object name of ${Buffer.byteLength(name)} bytes in bucket "${this.bucket}" is over ${MAX_KEY_LENGTH}`,
        {
          publicMessage: `a name of ${Buffer.byteLength(name)} bytes is too long to store (the limit is ${MAX_KEY_LENGTH})`,
        },
      );
    }
  }
}

/** The connection under a JetStream client made by `jetstream(nc)` (chunks are published on it). */
function connectionOf(js: JetStreamClient): NatsConnection {
  const nc = (js as JetStreamClient & { nc?: NatsConnection }).nc;
  if (!nc) throw new TypeError('ObjectStore: pass the NATS connection of the JetStream client');
  return nc;
}

/**
 * Open the object store bucket `bucket`, creating it if it does not exist (idempotent; an
 * existing bucket keeps its settings). Reuse the returned store and its connection.
 *
 * @example
 * const artifacts = await openObjectStore(nc, 'aimaas_artifacts');
 */
export async function openObjectStore(
  nc: NatsConnection,
  bucket: string,
  opts: ObjectStoreOptions = {},
): Promise<ObjectStore> {
  assertBucketName(bucket);
  const compiled = compileObjectStoreOptions(opts, nc.info?.max_payload ?? 1024 * 1024);
  const js = jetstream(nc, { timeout: compiled.timeoutMs });
  const jsm = await withDomainErrors(`open of object bucket "${bucket}"`, async () => {
    await new Objm(js).create(bucket, {
      storage: compiled.storage,
      max_bytes: compiled.maxBytes,
      ttl: compiled.ttlMs * 1_000_000,
      replicas: 1,
      ...(compiled.description === undefined ? {} : { description: compiled.description }),
    });
    return js.jetstreamManager();
  });
  return new ObjectStore(bucket, js, jsm, compiled, nc);
}

/**
 * The read budget of a connection: the server counts `max_pending` per connection, so every store
 * on one connection shares one budget (sized by the first store opened on it).
 */
const budgets = new WeakMap<NatsConnection, ReadBudget>();
function readBudgetOf(nc: NatsConnection, totalBytes: number): ReadBudget {
  let budget = budgets.get(nc);
  if (budget === undefined) {
    budget = new ReadBudget(totalBytes);
    budgets.set(nc, budget);
  }
  return budget;
}

/** Iterates `open()` once `bytes` of the connection's read budget are free, giving them back at the end. */
async function* withinBudget(
  budget: ReadBudget,
  bytes: number,
  signal: AbortSignal | undefined,
  open: () => AsyncGenerator<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const giveBack = await budget.take(bytes, signal);
  try {
    yield* open();
  } finally {
    giveBack();
  }
}

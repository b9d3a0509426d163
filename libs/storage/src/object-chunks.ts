import { createHash } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { AbortedError, DataLossError } from '@aimaas/runtime';
import { toDomainError } from './nats-connection.js';
import { chunkSubject, type ObjectInfo } from './object-meta.js';
import { AckedPublisher } from './object-publish.js';
import { scanStream } from './stream-scan.js';
import { storeError } from './store-errors.js';

/** Where and how {@link writeChunks} publishes. */
export interface ChunkTarget {
  nc: NatsConnection;
  stream: string;
  subject: string;
  chunkSize: number;
  /** Publishes awaiting their JetStream ack at once; bounds memory to maxInFlight × chunkSize. */
  maxInFlight: number;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** What {@link writeChunks} stored. */
export interface WrittenChunks {
  size: number;
  chunks: number;
  sha256: Buffer;
}

/** Content for an object: the bytes at once, or a stream of pieces of any size. */
export type ObjectSource = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

function pieces(source: ObjectSource): AsyncIterable<Uint8Array> | Iterable<Uint8Array> {
  return source instanceof Uint8Array ? [source] : source;
}

/**
 * Cut `source` into `chunkSize` messages on `subject`, hashing each exactly once as it goes out
 * (node:crypto SHA-256). Up to `maxInFlight` publishes are pipelined (see {@link AckedPublisher});
 * pieces at least a chunk long are sent as views without copying, and only leftovers are copied
 * into a chunk buffer. Yielded buffers must not be reused by the source until this resolves. On
 * any failure the returned promise rejects after every publish has settled, so the caller can
 * clean up.
 */
export async function writeChunks(target: ChunkTarget, source: ObjectSource): Promise<WrittenChunks> {
  const { subject, chunkSize, signal } = target;
  const hash = createHash('sha256');
  const publisher = new AckedPublisher(target);
  let failure: { error: unknown } | undefined;
  let size = 0;
  let chunks = 0;

  const send = (payload: Uint8Array): Promise<void> | undefined => {
    hash.update(payload);
    size += payload.byteLength;
    chunks++;
    return publisher.publish(subject, payload);
  };

  let pending: Buffer | undefined;
  let filled = 0;
  try {
    for await (const piece of pieces(source)) {
      signal?.throwIfAborted();
      if (!(piece instanceof Uint8Array)) {
        throw new TypeError(`object source yielded ${typeof piece}, expected Uint8Array chunks`);
      }
      let offset = 0;
      if (pending) {
        offset = Math.min(chunkSize - filled, piece.byteLength);
        pending.set(piece.subarray(0, offset), filled);
        filled += offset;
        if (filled === chunkSize) {
          const full = pending;
          pending = undefined;
          filled = 0;
          await send(full);
        }
      }
      for (; piece.byteLength - offset >= chunkSize; offset += chunkSize) {
        await send(piece.subarray(offset, offset + chunkSize));
      }
      if (offset < piece.byteLength) {
        // A fresh buffer each time: the one before may still be queued for the socket.
        pending = Buffer.allocUnsafe(chunkSize);
        pending.set(piece.subarray(offset));
        filled = piece.byteLength - offset;
      }
    }
    signal?.throwIfAborted();
    if (pending) await send(pending.subarray(0, filled));
  } catch (err) {
    failure = { error: err };
  }
  try {
    await publisher.settle();
  } catch (err) {
    failure ??= { error: err };
  }
  if (failure) throw failure.error;
  return { size, chunks, sha256: hash.digest() };
}

/** A verified read of one object: iterate it once for its chunks. */
export interface ObjectReader extends AsyncIterable<Uint8Array> {
  /** The object's recorded size, digest and metadata, known before the first chunk. */
  readonly info: ObjectInfo;
}

/** What {@link readChunks} needs besides the object. */
export interface ChunkSource {
  js: JetStreamClient;
  stream: string;
  /** Read-ahead bound in bytes. */
  readAheadBytes: number;
  /** The digest the caller expects (already checked to equal the recorded one). */
  expectedSha256: string;
  /** Reads the current meta revision, to tell a concurrent replace from damage. */
  currentRevision: () => Promise<number | undefined>;
  signal?: AbortSignal;
}

/**
 * Stream an object's chunks in order, hashing them with node:crypto, and after the last one
 * compare size, chunk count and SHA-256 with the record. Any difference throws `DataLossError`
 * naming both digests (never a silent short or altered read), unless the object was replaced or
 * deleted meanwhile, which is `AbortedError` (read again). A read never yields more bytes than
 * recorded. Consumers must treat the bytes as unverified until iteration ends without error.
 */
export async function* readChunks(info: ObjectInfo, nuid: string, src: ChunkSource): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  let size = 0;
  let chunks = 0;
  let scanError: unknown;
  if (info.size > 0 || info.chunks > 0) {
    try {
      const scan = await scanStream(src.js, src.stream, chunkSubject(info.bucket, nuid), {
        lastPerSubject: false,
        maxBytes: src.readAheadBytes + 4096, // room for subject and headers beside a full chunk
        signal: src.signal,
      });
      for await (const msg of scan) {
        const data = msg.data;
        size += data.byteLength;
        chunks++;
        if (size > info.size) break;
        hash.update(data);
        yield data;
      }
    } catch (err) {
      if (src.signal?.aborted) throw err;
      scanError = err;
    }
  }
  const actual = size > info.size ? 'more data than recorded' : hash.digest('hex');
  if (scanError === undefined && size === info.size && chunks === info.chunks && actual === src.expectedSha256) {
    return;
  }
  const revision = await src.currentRevision().catch(() => info.revision);
  if (revision !== info.revision) {
    throw storeError(
      AbortedError,
      `object "${info.name}" in bucket "${info.bucket}" was replaced or deleted while it was read; read it again`,
    );
  }
  if (scanError !== undefined)
    throw toDomainError(scanError, `read of object "${info.name}" in bucket "${info.bucket}"`);
  throw storeError(
    DataLossError,
    `artifact "${info.name}" in bucket "${info.bucket}" digest mismatch: expected ${src.expectedSha256}, got ${actual} ` +
      `(read ${size} of ${info.size} bytes in ${chunks} of ${info.chunks} chunks)`,
  );
}

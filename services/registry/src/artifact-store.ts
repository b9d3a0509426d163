import { InvalidArgumentError, NotFoundError } from '@aimaas/runtime';
import type { ObjectStore } from '@aimaas/storage';
import type { StoredFile } from './records.js';

/** Default bytes per DownloadModelArtifacts chunk message (256 KiB). */
const DEFAULT_DOWNLOAD_CHUNK = 256 * 1024;
/** Largest chunk a download may ask for (4 MiB). */
const MAX_DOWNLOAD_CHUNK = 4 * 1024 * 1024;

/** What a file header announced about an upload; 0 and '' mean unknown. */
export interface ExpectedFile {
  path: string;
  format: string;
  size: number;
  sha256: string;
}

/**
 * Model artifacts in the object store. Every file of every upload gets its own object,
 * `<model>/<upload id>/<path>`, so an upload never touches a committed version's files and a
 * failed one is removed without a trace. Bytes stream through in chunks, never whole in memory.
 */
export class ArtifactStore {
  readonly #objects: ObjectStore;

  constructor(objects: ObjectStore) {
    this.#objects = objects;
  }

  /** The object holding `path` of upload `uploadId` of model `name`. */
  static objectName(name: string, uploadId: string, path: string): string {
    return `${name}/${uploadId}/${path}`;
  }

  /**
   * Streams one file into the store, hashing it on the way. When the header gave a size or a
   * SHA-256 that the bytes do not match, the object is removed again and INVALID_ARGUMENT says
   * what differed; a stream that runs past the announced size stops at once.
   */
  async upload(
    object: string,
    expected: ExpectedFile,
    chunks: AsyncIterable<Uint8Array>,
    signal?: AbortSignal,
  ): Promise<StoredFile> {
    const where = `file "${expected.path}"`;
    const info = await this.#objects.put(object, capped(chunks, expected.size, where), {
      metadata: { path: expected.path, format: expected.format },
      ...(signal && { signal }),
    });
    const mismatch =
      expected.size > 0 && info.size !== expected.size
        ? `received ${info.size} bytes but its header announced ${expected.size}`
        : expected.sha256 !== '' && info.sha256 !== expected.sha256
          ? `SHA-256 of the received bytes is ${info.sha256} but its header announced ${expected.sha256}`
          : undefined;
    if (mismatch) {
      await this.remove([object]);
      throw new InvalidArgumentError(`${where}: ${mismatch}; the version was not created`);
    }
    return { format: expected.format, path: expected.path, size: info.size, sha256: info.sha256, object };
  }

  /** Deletes objects, ignoring those already gone; other failures are collected and rethrown. */
  async remove(objects: readonly string[]): Promise<void> {
    const failures: unknown[] = [];
    for (const object of objects) {
      try {
        await this.#objects.delete(object);
      } catch (error) {
        if (!(error instanceof NotFoundError)) failures.push(error);
      }
    }
    if (failures.length > 0)
      throw new AggregateError(failures, `could not delete ${failures.length} artifact object(s)`);
  }

  /**
   * Streams a stored file in `chunkSize` pieces. The store checks the bytes against the recorded
   * SHA-256 as they pass, so a damaged or tampered object ends the iteration with DataLossError
   * after its last chunk (never a silent wrong read).
   */
  async *download(file: StoredFile, chunkSize: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
    const reader = await this.#objects.get(file.object, { expectedSha256: file.sha256, ...(signal && { signal }) });
    yield* rechunk(reader, chunkSize);
  }
}

/** Checks a requested download chunk size: 0 → 256 KiB, at most 4 MiB. */
export function downloadChunkSize(requested: number): number {
  if (requested === 0) return DEFAULT_DOWNLOAD_CHUNK;
  if (!Number.isInteger(requested) || requested < 0 || requested > MAX_DOWNLOAD_CHUNK) {
    throw new InvalidArgumentError(
      `chunk_size: must be 0 (256 KiB) or 1 to ${MAX_DOWNLOAD_CHUNK} bytes (4 MiB), got ${requested}`,
    );
  }
  return requested;
}

/** Passes chunks through, failing as soon as more bytes arrive than `limit` (0: no limit). */
async function* capped(chunks: AsyncIterable<Uint8Array>, limit: number, where: string): AsyncGenerator<Uint8Array> {
  let total = 0;
  for await (const chunk of chunks) {
    total += chunk.byteLength;
    if (limit > 0 && total > limit) {
      throw new InvalidArgumentError(
        `${where}: received more than the ${limit} bytes its header announced; the version was not created`,
      );
    }
    yield chunk;
  }
}

/**
 * Re-cuts a stream of pieces into messages of exactly `size` bytes (the last one shorter). Whole
 * messages inside a piece pass as views without a copy; only a message that spans pieces is copied
 * into a fresh buffer (never reused: the transport may still hold the one before). At most one
 * `size` buffer is held.
 */
async function* rechunk(pieces: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let pending: Uint8Array[] = [];
  let filled = 0;
  for await (const piece of pieces) {
    let offset = 0;
    if (filled > 0) {
      offset = Math.min(size - filled, piece.byteLength);
      pending.push(piece.subarray(0, offset));
      filled += offset;
      if (filled < size) continue;
      yield join(pending, size);
      pending = [];
      filled = 0;
    }
    for (; piece.byteLength - offset >= size; offset += size) yield view(piece, offset, size);
    if (offset < piece.byteLength) {
      pending.push(piece.subarray(offset));
      filled = piece.byteLength - offset;
    }
  }
  if (filled > 0) yield join(pending, filled);
}

/** A Buffer over `length` bytes of `bytes` from `offset`, sharing its memory. */
function view(bytes: Uint8Array, offset: number, length: number): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset + offset, length);
}

/** The parts as one Buffer: the part itself when there is only one, else one copy. */
function join(parts: Uint8Array[], length: number): Buffer {
  if (parts.length === 1) return view(parts[0]!, 0, length);
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

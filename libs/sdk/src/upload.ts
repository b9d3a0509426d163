import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ModelVersionHeader, type CreateModelVersionRequest, type ModelVersion } from '@aimaas/proto';
import type { CallOptions } from './call-options.js';
import type { RegistryClient } from './create-clients.js';

/** The chunk size of artifact streams: 256 KiB. */
export const DEFAULT_CHUNK_BYTES = 256 * 1024;
const MAX_CHUNK_BYTES = 4 * 1024 * 1024;

/** One file of a model version to upload. */
export interface UploadFile {
  /** Path within the version, e.g. `model.onnx` or `tfjs/model.json`. */
  path: string;
  /** Artifact format: `onnx`, `tfjs-layers`, `pipeline`, or any other label. */
  format: string;
  /** The bytes: in memory, as an async iterable (e.g. a stream), or the path of a local file. */
  source: AsyncIterable<Uint8Array> | Uint8Array | string;
  /** Size in bytes when the source is an iterable and it is known (sent so the server checks it). */
  size?: number;
  /** Lower-case hex SHA-256, when known; computed for in-memory sources. */
  sha256?: string;
}

/** Options of {@link uploadModelVersion}: call options plus progress. */
export interface UploadOptions extends CallOptions {
  /**
   * Called after each chunk is handed to the transport (so it tracks the network, not the disk).
   * `totalBytes` is undefined when a source's size is unknown.
   */
  onProgress?: (bytesSent: number, totalBytes: number | undefined) => void;
  /** Bytes per chunk message, at most 4 MiB. @default 262144 (256 KiB) */
  chunkSize?: number;
}

interface ResolvedFile {
  path: string;
  format: string;
  size: number | undefined;
  sha256: string;
  open: () => AsyncIterable<Uint8Array>;
}

/**
 * Creates a model version from a header and its files with one `CreateModelVersion` client
 * stream: the header, then per file a `FileHeader` (with size and digest where known) followed by
 * its bytes in chunks of 256 KiB. Reads each source only as fast as the server takes the bytes.
 *
 * @example
 * const version = await uploadModelVersion(clients.registry,
 *   { name: 'fmnist', metrics: { accuracy: 0.91 }, createModel: true },
 *   [{ path: 'model.onnx', format: 'onnx', source: './out/model.onnx' }],
 *   { onProgress: (sent, total) => console.log(sent, total) });
 */
export async function uploadModelVersion(
  registry: Pick<RegistryClient, 'createModelVersion'>,
  header: Partial<ModelVersionHeader>,
  files: readonly UploadFile[],
  options: UploadOptions = {},
): Promise<ModelVersion> {
  const { onProgress, chunkSize = DEFAULT_CHUNK_BYTES, ...callOptions } = options;
  if (!Number.isInteger(chunkSize) || chunkSize <= 0 || chunkSize > MAX_CHUNK_BYTES) {
    throw new TypeError(`chunkSize must be an integer in 1..${MAX_CHUNK_BYTES}, got ${String(chunkSize)}`);
  }
  if (typeof header.name !== 'string' || header.name === '') {
    throw new TypeError('header.name must name the registered model');
  }
  if (files.length === 0) throw new TypeError('files: a model version needs at least one file');
  const resolved = await Promise.all(files.map((file, index) => resolveFile(file, index, chunkSize)));
  const seen = new Set<string>();
  for (const file of resolved) {
    if (seen.has(file.path)) throw new TypeError(`files: path "${file.path}" is given twice`);
    seen.add(file.path);
  }
  const total = resolved.every((f) => f.size !== undefined)
    ? resolved.reduce((sum, f) => sum + (f.size ?? 0), 0)
    : undefined;

  async function* requests(): AsyncGenerator<Partial<CreateModelVersionRequest>> {
    yield { header: ModelVersionHeader.fromPartial(header) };
    let sent = 0;
    for (const file of resolved) {
      yield { file: { path: file.path, format: file.format, size: file.size ?? 0, sha256: file.sha256 } };
      for await (const chunk of rechunk(file.open(), chunkSize)) {
        yield { chunk };
        sent += chunk.byteLength;
        onProgress?.(sent, total);
      }
    }
  }
  return registry.createModelVersion(requests(), callOptions);
}

async function resolveFile(file: UploadFile, index: number, chunkSize: number): Promise<ResolvedFile> {
  if (typeof file.path !== 'string' || file.path === '') throw new TypeError(`files[${index}].path must be non-empty`);
  if (typeof file.format !== 'string') throw new TypeError(`files[${index}].format must be a string`);
  const base = { path: file.path, format: file.format };
  const { source } = file;
  if (source instanceof Uint8Array) {
    const sha256 = file.sha256 ?? createHash('sha256').update(source).digest('hex');
    return { ...base, size: source.byteLength, sha256, open: () => once(source) };
  }
  if (typeof source === 'string') {
    const info = await stat(source).catch((error: Error) => {
      throw new TypeError(`files[${index}].source: cannot read "${source}": ${error.message}`);
    });
    if (!info.isFile()) throw new TypeError(`files[${index}].source: "${source}" is not a regular file`);
    return {
      ...base,
      size: info.size,
      sha256: file.sha256 ?? '',
      open: () => createReadStream(source, { highWaterMark: chunkSize }),
    };
  }
  if (source === null || typeof source !== 'object' || !(Symbol.asyncIterator in source)) {
    throw new TypeError(`files[${index}].source must be a Uint8Array, an AsyncIterable<Uint8Array> or a file path`);
  }
  let used = false;
  return {
    ...base,
    size: file.size,
    sha256: file.sha256 ?? '',
    open: () => {
      if (used) throw new TypeError(`files[${index}].source: an async iterable can be read only once`);
      used = true;
      return source;
    },
  };
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/** Re-cuts a byte stream into chunks of exactly `size` bytes (the last may be shorter). */
async function* rechunk(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for await (const piece of source) {
    let bytes = piece;
    while (bytes.byteLength > 0) {
      if (pendingBytes === 0 && bytes.byteLength >= size) {
        yield asBuffer(bytes.subarray(0, size));
        bytes = bytes.subarray(size);
        continue;
      }
      const take = Math.min(size - pendingBytes, bytes.byteLength);
      pending.push(bytes.subarray(0, take));
      pendingBytes += take;
      bytes = bytes.subarray(take);
      if (pendingBytes === size) {
        yield Buffer.concat(pending, size);
        pending = [];
        pendingBytes = 0;
      }
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

/** A Buffer view of `bytes` (no copy). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

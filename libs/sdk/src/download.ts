import { createHash, type Hash } from 'node:crypto';
import type { DownloadModelArtifactsRequest, FileHeader, ModelRef, ModelVersion } from '@aimaas/proto';
import type { CallOptions } from './call-options.js';
import type { RegistryClient } from './create-clients.js';
import { AimaasError, DigestMismatchError } from './errors.js';
import { toModelRef } from './model-ref.js';

const METHOD = 'aimaas.v1.RegistryService/DownloadModelArtifacts';

/** A file received whole, its size and SHA-256 checked. */
export interface DownloadedFile {
  path: string;
  format: string;
  size: number;
  /** Lower-case hex SHA-256 of the received bytes (equal to the announced one). */
  sha256: string;
}

/** What {@link downloadModelArtifacts} resolves with. */
export interface DownloadResult {
  /** The resolved version (an alias or "latest" turned into its number). */
  version: ModelVersion;
  files: DownloadedFile[];
}

/** A `DownloadModelArtifactsRequest` whose `ref` may also be written `name@version|alias`. */
export type DownloadRequest = Omit<Partial<DownloadModelArtifactsRequest>, 'ref'> & { ref: ModelRef | string };

/** Callbacks of {@link downloadModelArtifacts}; each may return a promise, which is awaited (backpressure). */
export interface DownloadHandlers extends CallOptions {
  /** The version, before any file. */
  onVersion?: (version: ModelVersion) => void | Promise<void>;
  /** A file starts. */
  onFile?: (file: FileHeader) => void | Promise<void>;
  /** The next bytes of the current file. */
  onChunk?: (chunk: Uint8Array, file: FileHeader) => void | Promise<void>;
  /** A file ended and its size and SHA-256 matched. A mismatch rejects the download instead. */
  onFileEnd?: (file: DownloadedFile) => void | Promise<void>;
  /** Bytes received so far, and the total of the selected files (undefined if not known). */
  onProgress?: (bytesReceived: number, totalBytes: number | undefined) => void;
}

interface OpenFile {
  header: FileHeader;
  hash: Hash;
  size: number;
  expectedSha256: string;
}

/**
 * Streams a version's artifacts (`DownloadModelArtifacts`), handing each file and chunk to the
 * handlers and checking every file's size and SHA-256 against its header (or the version's file
 * list); a mismatch rejects with a {@link DigestMismatchError} (`DATA_LOSS`) and cancels the stream.
 *
 * @example
 * const { version } = await downloadModelArtifacts(clients.registry, { ref: 'fmnist@production', format: 'onnx' }, {
 *   onChunk: (chunk) => sink.write(chunk),
 * });
 */
export async function downloadModelArtifacts(
  registry: Pick<RegistryClient, 'downloadModelArtifacts'>,
  request: DownloadRequest,
  handlers: DownloadHandlers = {},
): Promise<DownloadResult> {
  const { onVersion, onFile, onChunk, onFileEnd, onProgress, ...callOptions } = handlers;
  const { ref, ...rest } = request;
  let version: ModelVersion | undefined;
  let total: number | undefined;
  let received = 0;
  let current: OpenFile | undefined;
  const files: DownloadedFile[] = [];

  const closeFile = async (): Promise<void> => {
    if (current === undefined) return;
    const { header, hash, size, expectedSha256 } = current;
    current = undefined;
    const sha256 = hash.digest('hex');
    if (header.size > 0 && size !== header.size) {
      throw new DigestMismatchError(header.path, 'size', String(header.size), String(size), METHOD);
    }
    if (expectedSha256 !== '' && sha256 !== expectedSha256.toLowerCase()) {
      throw new DigestMismatchError(header.path, 'sha256', expectedSha256, sha256, METHOD);
    }
    const done = { path: header.path, format: header.format, size, sha256 };
    files.push(done);
    await onFileEnd?.(done);
  };

  for await (const part of registry.downloadModelArtifacts({ ...rest, ref: toModelRef(ref) }, callOptions)) {
    if (part.version !== undefined) {
      version = part.version;
      total = selectedBytes(part.version, rest);
      await onVersion?.(part.version);
    } else if (part.file !== undefined) {
      await closeFile();
      const known = version?.files.find((f) => f.path === part.file!.path);
      current = {
        header: part.file,
        hash: createHash('sha256'),
        size: 0,
        expectedSha256: part.file.sha256 !== '' ? part.file.sha256 : (known?.sha256 ?? ''),
      };
      await onFile?.(part.file);
    } else if (part.chunk !== undefined) {
      if (current === undefined) throw protocolError('a chunk arrived before any file header');
      current.hash.update(part.chunk);
      current.size += part.chunk.byteLength;
      received += part.chunk.byteLength;
      await onChunk?.(part.chunk, current.header);
      onProgress?.(received, total);
    }
  }
  await closeFile();
  if (version === undefined) throw protocolError('the stream ended without the model version');
  return { version, files };
}

/** The bytes the request selects from the version's file list (by `paths` and `format`). */
function selectedBytes(version: ModelVersion, request: Partial<DownloadModelArtifactsRequest>): number {
  const paths = request.paths ?? [];
  return version.files
    .filter((f) => (paths.length === 0 || paths.includes(f.path)) && (!request.format || f.format === request.format))
    .reduce((sum, f) => sum + f.size, 0);
}

function protocolError(details: string): AimaasError {
  return new AimaasError({ code: 'INTERNAL', details: `DownloadModelArtifacts: ${details}`, method: METHOD });
}

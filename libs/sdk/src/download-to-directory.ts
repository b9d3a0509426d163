import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { FileHeader, ModelRef } from '@aimaas/proto';
import type { CallOptions } from './call-options.js';
import type { RegistryClient } from './create-clients.js';
import { downloadModelArtifacts, type DownloadedFile, type DownloadResult } from './download.js';
import { AimaasError } from './errors.js';

/** Options of {@link downloadToDirectory}. */
export interface DownloadToDirectoryOptions extends CallOptions {
  /** Only files of this format (`onnx`, `tfjs-layers`, …). @default every format */
  format?: string;
  /** Only these paths. @default every file */
  paths?: string[];
  /** Bytes received so far and the total of the selected files. */
  onProgress?: (bytesReceived: number, totalBytes: number | undefined) => void;
}

/** What {@link downloadToDirectory} resolves with: the version, and each file with where it was written. */
export interface DirectoryDownloadResult extends DownloadResult {
  /** The absolute directory the files were written under. */
  directory: string;
  files: Array<DownloadedFile & { localPath: string }>;
}

/**
 * Downloads a version's artifacts into `directory` (created if missing), each file at its path
 * within the version. Every file is written to a temporary name and renamed only once its
 * SHA-256 matched, so a failed or corrupt download leaves no partial file behind.
 *
 * @example
 * const { version, files } = await downloadToDirectory(clients.registry, 'fmnist@production', './models/fmnist');
 */
export async function downloadToDirectory(
  registry: Pick<RegistryClient, 'downloadModelArtifacts'>,
  ref: ModelRef | string,
  directory: string,
  options: DownloadToDirectoryOptions = {},
): Promise<DirectoryDownloadResult> {
  const { format, paths, ...handlers } = options;
  const root = resolve(directory);
  await mkdir(root, { recursive: true });
  let handle: FileHandle | undefined;
  let tempPath = '';
  let target = '';
  const written: Array<DownloadedFile & { localPath: string }> = [];

  const discard = async (): Promise<void> => {
    const h = handle;
    handle = undefined;
    await h?.close().catch(() => undefined);
    if (tempPath !== '') await rm(tempPath, { force: true });
    tempPath = '';
  };

  try {
    const result = await downloadModelArtifacts(
      registry,
      { ref, ...(format === undefined ? {} : { format }), ...(paths === undefined ? {} : { paths }) },
      {
        ...handlers,
        onFile: async (file: FileHeader) => {
          await discard();
          target = safeTarget(root, file.path);
          await mkdir(dirname(target), { recursive: true });
          tempPath = `${target}.${randomBytes(4).toString('hex')}.partial`;
          handle = await open(tempPath, 'wx');
        },
        onChunk: async (chunk: Uint8Array) => {
          await handle!.write(chunk);
        },
        onFileEnd: async (file: DownloadedFile) => {
          await handle!.close();
          handle = undefined;
          await rename(tempPath, target);
          tempPath = '';
          written.push({ ...file, localPath: target });
        },
      },
    );
    return { version: result.version, files: written, directory: root };
  } catch (error) {
    await discard();
    throw error;
  }
}

/** `root/path`, refusing paths that would land outside `root` (absolute, or climbing with `..`). */
function safeTarget(root: string, path: string): string {
  const target = resolve(join(root, path));
  const rel = relative(root, target);
  if (path === '' || isAbsolute(path) || rel === '' || rel.startsWith(`..${sep}`) || rel === '..') {
    throw new AimaasError({
      code: 'INTERNAL',
      details: `the server sent an unsafe file path "${path}"; expected a relative path inside the version`,
      method: 'aimaas.v1.RegistryService/DownloadModelArtifacts',
    });
  }
  return target;
}

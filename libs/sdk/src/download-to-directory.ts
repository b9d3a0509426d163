import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, rmdir, type FileHandle } from 'node:fs/promises';
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
 * SHA-256 matched; when any file fails (a digest mismatch, DATA_LOSS from the registry, a broken
 * stream) the files already complete and the directories made for them are removed too, so a
 * failed download leaves nothing behind.
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
  // The directories this call creates (outermost first), removed again if the download fails.
  const created: string[] = [];
  const makeDirectory = async (path: string): Promise<void> => {
    const first = await mkdir(path, { recursive: true });
    if (first !== undefined) created.push(first);
  };
  await makeDirectory(root);
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
          await makeDirectory(dirname(target));
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
    // Nothing of a failed download stays behind: not the files that were complete, not the
    // directories made for them (a directory that holds something else is left as it is).
    for (const file of written) await rm(file.localPath, { force: true });
    for (const path of created.reverse()) await removeEmptyTree(path);
    throw error;
  }
}

/** Removes `path` and the directories under it, bottom up, as far as they are empty. */
async function removeEmptyTree(path: string): Promise<void> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) if (entry.isDirectory()) await removeEmptyTree(join(path, entry.name));
  await rmdir(path).catch(() => undefined);
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

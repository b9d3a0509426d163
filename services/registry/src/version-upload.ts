import { DeadlineExceededError, InvalidArgumentError, nextWithin } from '@aimaas/runtime';
import type { CreateModelVersionRequest, ModelVersionHeader } from '@aimaas/proto';
import { ArtifactStore } from './artifact-store.js';
import type { StoredFile } from './records.js';
import { validateFilePath, validateFormat, validateSha256 } from './validation.js';

/** Most files one version may have. */
const MAX_FILES_PER_VERSION = 1000;

/** Reads a client stream one message at a time, with one message of look-ahead. */
export class RequestCursor<T> {
  readonly #iterator: AsyncIterator<T>;
  #peeked: IteratorResult<T> | undefined;
  /** Messages taken so far (1-based number of the last one). */
  count = 0;
  /** The longest wait for a message before DEADLINE_EXCEEDED. @default Infinity */
  idleMs = Number.POSITIVE_INFINITY;

  constructor(requests: AsyncIterable<T>) {
    this.#iterator = requests[Symbol.asyncIterator]();
  }

  /** The next message without taking it; undefined at the end of the stream. */
  async peek(): Promise<T | undefined> {
    this.#peeked ??= await this.#next();
    return this.#peeked.done ? undefined : this.#peeked.value;
  }

  /** Takes the next message; undefined at the end of the stream. */
  async take(): Promise<T | undefined> {
    const next = this.#peeked ?? (await this.#next());
    this.#peeked = undefined;
    if (next.done) return undefined;
    this.count++;
    return next.value;
  }

  #next(): Promise<IteratorResult<T>> {
    return nextWithin(
      this.#iterator,
      this.idleMs,
      () =>
        new DeadlineExceededError(
          `CreateModelVersion: no message for ${this.idleMs / 1000} s after message ${this.count}; the upload was ended and nothing was kept`,
        ),
    );
  }
}

function describe(message: CreateModelVersionRequest): string {
  if (message.header) return 'a header';
  if (message.file) return `a file header ("${message.file.path}")`;
  if (message.chunk !== undefined) return `a chunk of ${message.chunk.byteLength} bytes`;
  return 'an empty message';
}

/**
 * Takes the first message of a CreateModelVersion stream, which must be the version header;
 * anything else is INVALID_ARGUMENT.
 */
export async function readHeader(cursor: RequestCursor<CreateModelVersionRequest>): Promise<ModelVersionHeader> {
  const first = await cursor.take();
  if (!first)
    throw new InvalidArgumentError('CreateModelVersion: the stream ended without a message; send a header first');
  if (!first.header) {
    throw new InvalidArgumentError(`CreateModelVersion: the first message must be a header, got ${describe(first)}`);
  }
  return first.header;
}

/** The chunks that follow a file header, up to the next file header or the end. */
async function* chunksOf(cursor: RequestCursor<CreateModelVersionRequest>): AsyncGenerator<Uint8Array> {
  for (;;) {
    const next = await cursor.peek();
    if (next?.chunk === undefined) return;
    await cursor.take();
    yield next.chunk;
  }
}

/**
 * Receives the files of a CreateModelVersion stream (after its header): for each, a file header
 * then its chunks, streamed straight into the artifact store under `<model>/<uploadId>/<path>`.
 * Paths are checked (relative, no `..`, no duplicates). On any failure every file stored so far
 * is deleted before the error is thrown, so a failed upload leaves nothing behind.
 */
export async function receiveFiles(
  cursor: RequestCursor<CreateModelVersionRequest>,
  artifacts: ArtifactStore,
  target: { name: string; uploadId: string; signal?: AbortSignal },
): Promise<StoredFile[]> {
  const files: StoredFile[] = [];
  const paths = new Set<string>();
  try {
    for (;;) {
      const message = await cursor.take();
      if (!message) return files;
      const at = `CreateModelVersion message ${cursor.count}`;
      if (message.chunk !== undefined) {
        throw new InvalidArgumentError(
          `${at}: a chunk came before any file header; send a file header (path, format) before its chunks`,
        );
      }
      if (message.header)
        throw new InvalidArgumentError(`${at}: a second header; only the first message may be a header`);
      if (!message.file) throw new InvalidArgumentError(`${at}: empty message; expected a file header or a chunk`);
      const field = `files[${files.length}]`;
      const path = validateFilePath(message.file.path, `${field}.path`);
      const format = validateFormat(message.file.format, `${field}.format`);
      const sha256 = validateSha256(message.file.sha256, `${field}.sha256`);
      if (!Number.isSafeInteger(message.file.size) || message.file.size < 0) {
        throw new InvalidArgumentError(
          `${field}.size: must be 0 (unknown) or a positive number of bytes, got ${message.file.size}`,
        );
      }
      if (paths.has(path)) throw new InvalidArgumentError(`${field}.path: "${path}" appears twice in this version`);
      if (files.length >= MAX_FILES_PER_VERSION) {
        throw new InvalidArgumentError(`${field}: a version has at most ${MAX_FILES_PER_VERSION} files`);
      }
      paths.add(path);
      const object = ArtifactStore.objectName(target.name, target.uploadId, path);
      const expected = { path, format, size: message.file.size, sha256 };
      files.push(await artifacts.upload(object, expected, chunksOf(cursor), target.signal));
    }
  } catch (error) {
    await artifacts.remove(files.map((f) => f.object)).catch(() => undefined);
    throw error;
  }
}

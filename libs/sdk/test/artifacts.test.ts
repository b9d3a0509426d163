import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status, type ServerReadableStream, type sendUnaryData } from '@grpc/grpc-js';
import {
  ModelVersion,
  RegistryServiceService,
  type CreateModelVersionRequest,
  type ModelFile,
  type ModelVersionHeader,
  type RegistryServiceServer,
} from '@aimaas/proto';
import {
  createClients,
  DigestMismatchError,
  downloadModelArtifacts,
  downloadToDirectory,
  uploadModelVersion,
  type AimaasClients,
} from '@aimaas/sdk';
import { bytesOf, serveArtifacts, sha256, startTestServer, type TestServer } from './grpc-server.js';

const MiB = 1024 * 1024;
let server: TestServer<RegistryServiceServer>;
let clients: AimaasClients;
let dir: string;

beforeAll(async () => {
  server = await startTestServer<RegistryServiceServer>(RegistryServiceService);
  clients = createClients({ addresses: { registry: server.address }, tracing: false });
  dir = await mkdtemp(join(tmpdir(), 'aimaas-sdk-'));
});
afterAll(async () => {
  clients.close();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

interface Received {
  header?: ModelVersionHeader;
  files: ModelFile[];
  chunkSizes: number[];
}

/**
 * A CreateModelVersion handler that checks each file against its header and answers with the
 * version. It takes one message per event-loop turn, so a client that ignored backpressure would
 * run far ahead of it; `consumed` counts the chunk bytes it has taken.
 */
function receiveVersion(received: Received, consumed: { bytes: number }) {
  return (
    call: ServerReadableStream<CreateModelVersionRequest, ModelVersion>,
    callback: sendUnaryData<ModelVersion>,
  ) => {
    let hash = createHash('sha256');
    let file: ModelFile | undefined;
    const closeFile = (): string | undefined => {
      if (!file) return undefined;
      const digest = hash.digest('hex');
      if (file.size !== 0 && file.size !== received.files.at(-1)!.size) return `size mismatch on ${file.path}`;
      received.files.at(-1)!.sha256 = digest;
      if (file.sha256 !== '' && file.sha256 !== digest) return `sha256 mismatch on ${file.path}`;
      return undefined;
    };
    call.on('data', (message: CreateModelVersionRequest) => {
      call.pause();
      setImmediate(() => call.resume());
      if (message.header) received.header = message.header;
      if (message.file) {
        const problem = closeFile();
        if (problem) return callback({ code: status.INVALID_ARGUMENT, details: problem });
        file = message.file;
        hash = createHash('sha256');
        received.files.push({ path: file.path, format: file.format, size: 0, sha256: '' });
      }
      if (message.chunk) {
        received.chunkSizes.push(message.chunk.length);
        consumed.bytes += message.chunk.length;
        hash.update(message.chunk);
        received.files.at(-1)!.size += message.chunk.length;
      }
    });
    call.on('end', () => {
      const problem = closeFile();
      if (problem) return callback({ code: status.INVALID_ARGUMENT, details: problem });
      callback(
        null,
        ModelVersion.fromPartial({ name: received.header?.name ?? '', version: 1, files: received.files }),
      );
    });
  };
}

describe('uploadModelVersion', () => {
  it('streams the header, then each file as a header and 256 KiB chunks, and resolves with the version', async () => {
    const received: Received = { files: [], chunkSizes: [] };
    server.handlers.createModelVersion = receiveVersion(received, { bytes: 0 });
    const onnx = bytesOf(600 * 1024, 7);
    const weights = bytesOf(300 * 1024, 9);
    const weightsPath = join(dir, 'weights.bin');
    await writeFile(weightsPath, weights);
    const progress: Array<[number, number | undefined]> = [];
    const version = await uploadModelVersion(
      clients.registry,
      { name: 'fmnist', metrics: { accuracy: 0.91 }, createModel: true },
      [
        { path: 'model.onnx', format: 'onnx', source: onnx },
        { path: 'tfjs/weights.bin', format: 'tfjs-layers', source: weightsPath },
      ],
      { onProgress: (sent, total) => progress.push([sent, total]) },
    );
    expect(received.header).toMatchObject({ name: 'fmnist', metrics: { accuracy: 0.91 }, createModel: true });
    expect(received.chunkSizes).toEqual([256 * 1024, 256 * 1024, 88 * 1024, 256 * 1024, 44 * 1024]);
    expect(version.files).toEqual([
      { path: 'model.onnx', format: 'onnx', size: onnx.length, sha256: sha256(onnx) },
      { path: 'tfjs/weights.bin', format: 'tfjs-layers', size: weights.length, sha256: sha256(weights) },
    ]);
    expect(progress.at(-1)).toEqual([900 * 1024, 900 * 1024]);
  });

  it('reads an async source only as fast as the server consumes it (backpressure over several MB)', async () => {
    const received: Received = { files: [], chunkSizes: [] };
    const consumed = { bytes: 0 };
    server.handlers.createModelVersion = receiveVersion(received, consumed);
    const total = 24 * MiB;
    const piece = bytesOf(256 * 1024, 3);
    let pulled = 0;
    let maxLead = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      while (pulled < total) {
        maxLead = Math.max(maxLead, pulled - consumed.bytes);
        pulled += piece.length;
        yield piece;
      }
    }
    const version = await uploadModelVersion(clients.registry, { name: 'big' }, [
      { path: 'blob', format: 'bin', source: source() },
    ]);
    expect(version.files[0]!.size).toBe(total);
    expect(consumed.bytes).toBe(total);
    expect(maxLead).toBeLessThan(total / 3);
  });

  it('rejects with the server status when the server refuses a file', async () => {
    server.handlers.createModelVersion = receiveVersion({ files: [], chunkSizes: [] }, { bytes: 0 });
    const error = await uploadModelVersion(clients.registry, { name: 'fmnist' }, [
      { path: 'model.onnx', format: 'onnx', source: Buffer.from('abc'), sha256: '00'.repeat(32) },
    ]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', details: 'sha256 mismatch on model.onnx' });
  });

  it('refuses an upload without files before calling the server', async () => {
    await expect(uploadModelVersion(clients.registry, { name: 'fmnist' }, [])).rejects.toThrow(
      'files: a model version needs at least one file',
    );
  });
});

describe('downloadModelArtifacts', () => {
  it('hands over the version, each file and its chunks, and reports progress up to the total', async () => {
    const onnx = bytesOf(200 * 1024, 1);
    server.handlers.downloadModelArtifacts = serveArtifacts('fmnist', 3, [
      { path: 'model.onnx', format: 'onnx', bytes: onnx },
    ]);
    const chunks: Buffer[] = [];
    let last: [number, number | undefined] = [0, 0];
    const result = await downloadModelArtifacts(
      clients.registry,
      { ref: 'fmnist@3' },
      {
        onChunk: (chunk) => void chunks.push(Buffer.from(chunk)),
        onProgress: (got, total) => (last = [got, total]),
      },
    );
    expect(Buffer.concat(chunks).equals(onnx)).toBe(true);
    expect(result.files).toEqual([{ path: 'model.onnx', format: 'onnx', size: onnx.length, sha256: sha256(onnx) }]);
    expect(result.version.version).toBe(3);
    expect(last).toEqual([onnx.length, onnx.length]);
  });
});

describe('downloadToDirectory', () => {
  it('writes every file at its path under the directory', async () => {
    const json = Buffer.from('{"format":"layers-model"}');
    const weights = bytesOf(150 * 1024, 2);
    server.handlers.downloadModelArtifacts = serveArtifacts('fmnist', 2, [
      { path: 'tfjs/model.json', format: 'tfjs-layers', bytes: json },
      { path: 'tfjs/group1-shard1of1.bin', format: 'tfjs-layers', bytes: weights },
    ]);
    const out = join(dir, 'ok');
    const result = await downloadToDirectory(clients.registry, { name: 'fmnist', alias: 'production' }, out);
    expect(result.version.version).toBe(2);
    expect((await readFile(join(out, 'tfjs/model.json'))).equals(json)).toBe(true);
    expect((await readFile(join(out, 'tfjs/group1-shard1of1.bin'))).equals(weights)).toBe(true);
    expect(result.files.map((f) => f.localPath)).toEqual([
      join(out, 'tfjs/model.json'),
      join(out, 'tfjs/group1-shard1of1.bin'),
    ]);
  });

  it('rejects a file whose SHA-256 does not match its header and leaves nothing it wrote on disk', async () => {
    const good = bytesOf(10_000, 4);
    const corrupt = bytesOf(70_000, 5);
    server.handlers.downloadModelArtifacts = serveArtifacts('fmnist', 4, [
      { path: 'pipeline.json', format: 'pipeline', bytes: good },
      { path: 'model.onnx', format: 'onnx', bytes: corrupt, announcedSha256: sha256(Buffer.from('something else')) },
    ]);
    const out = join(dir, 'corrupt');
    await mkdir(out);
    await writeFile(join(out, 'mine.txt'), 'kept');
    const error = await downloadToDirectory(clients.registry, 'fmnist@4', join(out, 'v4')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect(error).toMatchObject({
      code: 'DATA_LOSS',
      path: 'model.onnx',
      expected: sha256(Buffer.from('something else')),
      actual: sha256(corrupt),
    });
    // The complete pipeline.json went too, and the v4 directory made for the download; what was
    // there before stays.
    expect(await readdir(out)).toEqual(['mine.txt']);
  });

  it('removes the files and directories it made when the stream fails after some files were complete', async () => {
    server.handlers.downloadModelArtifacts = serveArtifacts('fmnist', 5, [
      { path: 'tfjs/model.json', format: 'tfjs-layers', bytes: Buffer.from('{}') },
      {
        path: 'onnx/model.onnx',
        format: 'onnx',
        bytes: bytesOf(1_000, 6),
        announcedSha256: sha256(Buffer.from('other')),
      },
    ]);
    const out = join(dir, 'data-loss');
    await expect(downloadToDirectory(clients.registry, 'fmnist@5', out)).rejects.toMatchObject({ code: 'DATA_LOSS' });
    await expect(readdir(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

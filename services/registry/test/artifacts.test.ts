import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { tamperObjectChunk, waitFor } from '@aimaas/testing';
import { failure, status } from './client.js';
import { startReplica, useRegistrySuite } from './harness.js';

const suite = useRegistrySuite();

const MiB = 1024 * 1024;
const BUCKET = 'aimaas_artifacts';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const modelJson = Buffer.from(JSON.stringify({ modelTopology: {}, weightsManifest: [] }));
const weights = Buffer.alloc(300_000, 7);
const onnx = Buffer.from('onnx model bytes');

beforeAll(async () => {
  await suite.registry.api.createModelVersion({ name: 'fmnist', createModel: true }, [
    { path: 'tfjs/model.json', format: 'tfjs-layers', data: modelJson },
    { path: 'tfjs/group1-shard1of1.bin', format: 'tfjs-layers', data: weights },
    { path: 'model.onnx', format: 'onnx', data: onnx },
  ]);
});

/**
 * `total` deterministic pseudo-random bytes (xorshift32 from `seed`) in `piece`-sized buffers, each
 * generated when asked for, so the whole never exists in memory.
 */
async function* deterministicBytes(total: number, seed: number, piece = MiB): AsyncGenerator<Uint8Array> {
  let state = seed >>> 0 || 1;
  for (let sent = 0; sent < total; sent += piece) {
    const words = new Uint32Array(Math.ceil(Math.min(piece, total - sent) / 4));
    for (let i = 0; i < words.length; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      words[i] = state >>> 0;
    }
    yield new Uint8Array(words.buffer, 0, Math.min(piece, total - sent));
  }
}

async function objectsOf(model: string): Promise<string[]> {
  return (await suite.registry.artifacts.list()).filter((o) => o.name.startsWith(`${model}/`)).map((o) => o.name);
}

/** Passes bytes through while hashing them; `digest()` once consumed. */
function hashing(source: AsyncIterable<Uint8Array>) {
  const hash = createHash('sha256');
  let size = 0;
  return {
    async *[Symbol.asyncIterator]() {
      for await (const piece of source) {
        hash.update(piece);
        size += piece.byteLength;
        yield piece;
      }
    },
    digest: () => ({ sha256: hash.digest('hex'), size }),
  };
}

/** Samples the process RSS; `growth()` is the peak over the start of each phase. */
function rssPeaks() {
  const starts = [process.memoryUsage().rss];
  const peaks = [starts[0]!];
  const timer = setInterval(() => {
    const rss = process.memoryUsage().rss;
    peaks[peaks.length - 1] = Math.max(peaks[peaks.length - 1]!, rss);
  }, 25);
  return {
    phase() {
      const rss = process.memoryUsage().rss;
      starts.push(rss);
      peaks.push(rss);
    },
    stop: () => clearInterval(timer),
    growth: () => peaks.map((peak, i) => peak - starts[i]!),
  };
}

describe('artifact streaming', () => {
  it('round-trips a 200 MB artifact, streamed in and out, with its SHA-256 intact', async () => {
    const size = 200 * 1000 * 1000;
    const upload = hashing(deterministicBytes(size, 42));
    const memory = rssPeaks();
    try {
      const version = await suite.registry.api.createModelVersion({ name: 'big', createModel: true }, [
        { path: 'weights/huge.bin', format: 'raw', data: upload },
      ]);
      const sent = upload.digest();
      expect(sent.size).toBe(size);
      expect(version.files).toEqual([{ path: 'weights/huge.bin', format: 'raw', size, sha256: sent.sha256 }]);

      memory.phase();
      const hash = createHash('sha256');
      let received = 0;
      let chunks = 0;
      let header;
      for await (const message of suite.registry.api.download({
        ref: { name: 'big', version: 1 },
        chunkSize: 4 * MiB,
      })) {
        if (message.file) header = message.file;
        if (message.chunk) {
          hash.update(message.chunk);
          received += message.chunk.byteLength;
          chunks++;
        }
      }
      expect(header).toEqual({ path: 'weights/huge.bin', format: 'raw', size, sha256: sent.sha256 });
      expect(received).toBe(size);
      expect(chunks).toBe(Math.ceil(size / (4 * MiB)));
      expect(hash.digest('hex')).toBe(sent.sha256);
    } finally {
      memory.stop();
    }
    // Streaming keeps each direction far below the artifact's size: holding one whole copy would
    // add 200 MB (the margin left is garbage the collector has not reclaimed yet).
    for (const growth of memory.growth()) expect(growth).toBeLessThan(180 * 1000 * 1000);
  });

  it('ends the download with DATA_LOSS when a stored chunk was tampered with', async () => {
    const bytes = Buffer.alloc(3 * 128 * 1024 + 1000, 9);
    const version = await suite.registry.api.createModelVersion({ name: 'tampered', createModel: true }, [
      { path: 'model.onnx', format: 'onnx', data: bytes },
      { path: 'labels.txt', format: 'text', data: Buffer.from('a\nb\n') },
    ]);
    const [object] = (await suite.registry.artifacts.list()).filter(
      (o) => o.name.startsWith('tampered/') && o.name.endsWith('/model.onnx'),
    );
    await tamperObjectChunk(suite.registry.nc, BUCKET, object!.name);

    const received: string[] = [];
    const { code, details } = await failure(
      (async function* () {
        for await (const message of suite.registry.api.download({ ref: { name: 'tampered', version: 1 } })) {
          received.push(message.version ? 'version' : message.file ? `file ${message.file.path}` : 'chunk');
          yield message;
        }
      })(),
    );
    expect(code).toBe(status.DATA_LOSS);
    expect(details).toBe(
      `file "model.onnx" of model "tampered" version 1: its stored bytes do not match the SHA-256 recorded at upload ` +
        `(${version.files[0]!.sha256}); the artifact is damaged or was tampered with`,
    );
    expect(details).not.toContain(BUCKET);
    // The damaged file's bytes went out, but the stream never reached the next file or a clean end.
    expect(received[0]).toBe('version');
    expect(received[1]).toBe('file model.onnx');
    expect(received).not.toContain('file labels.txt');

    const other = await suite.registry.api.downloadAll({
      ref: { name: 'tampered', version: 1 },
      paths: ['labels.txt'],
    });
    expect(other.files[0]!.data.toString()).toBe('a\nb\n');
  });
});

describe('DownloadModelArtifacts', () => {
  it('streams the version, then each file header and its chunks', async () => {
    const { version, files } = await suite.registry.api.downloadAll({ ref: { name: 'fmnist', version: 1 } });
    expect(version).toMatchObject({ name: 'fmnist', version: 1 });
    expect(files.map((f) => f.header)).toEqual(version!.files);
    expect(files.map((f) => sha256(f.data))).toEqual([sha256(modelJson), sha256(weights), sha256(onnx)]);
    expect(files[1]!.chunks).toEqual([262_144, weights.length - 262_144]);
  });

  it('filters by path and format and honours chunk_size', async () => {
    const byFormat = await suite.registry.api.downloadAll({ ref: { name: 'fmnist', version: 1 }, format: 'onnx' });
    expect(byFormat.files.map((f) => f.header.path)).toEqual(['model.onnx']);
    const byPath = await suite.registry.api.downloadAll({
      ref: { name: 'fmnist', version: 1 },
      paths: ['tfjs/group1-shard1of1.bin'],
      chunkSize: 100_000,
    });
    expect(byPath.files.map((f) => f.header.path)).toEqual(['tfjs/group1-shard1of1.bin']);
    expect(byPath.files[0]!.chunks).toEqual([100_000, 100_000, 100_000]);
    expect(byPath.files[0]!.data.equals(weights)).toBe(true);
  });

  it('refuses an unknown path and a chunk size over 4 MiB', async () => {
    expect(
      await failure(suite.registry.api.download({ ref: { name: 'fmnist', version: 1 }, paths: ['nope.bin'] })),
    ).toEqual({
      code: status.NOT_FOUND,
      details:
        'model "fmnist" version 1 has no file "nope.bin" (files: "tfjs/model.json", "tfjs/group1-shard1of1.bin", "model.onnx")',
    });
    expect(
      await failure(suite.registry.api.download({ ref: { name: 'fmnist', version: 1 }, chunkSize: 5 * 1024 * 1024 })),
    ).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'chunk_size: must be 0 (256 KiB) or 1 to 4194304 bytes (4 MiB), got 5242880',
    });
  });
});

describe('message size limit', () => {
  it('answers RESOURCE_EXHAUSTED for a message over the server limit', async () => {
    const small = await startReplica(suite.nats.url, { maxMessageBytes: 64 * 1024 });
    try {
      await small.api.createRegisteredModel({ name: 'limited' });
      const { code, details } = await failure(
        small.api.createModelVersion({ name: 'limited' }, [{ path: 'big.bin', data: Buffer.alloc(100 * 1024) }]),
      );
      expect(code).toBe(status.RESOURCE_EXHAUSTED);
      expect(details).toBe('Received message larger than max (102404 vs 65536)');
      await waitFor(async () => (await objectsOf('limited')).length === 0, {
        message: 'the cut-off upload to be removed',
      });
      expect((await small.api.getRegisteredModel({ name: 'limited' })).latestVersion).toBe(0);
      const fine = await small.api.createModelVersion({ name: 'limited' }, [
        {
          path: 'big.bin',
          data: (async function* () {
            for (let i = 0; i < 4; i++) yield Buffer.alloc(25 * 1024, i);
          })(),
        },
      ]);
      expect(fine.files[0]!.size).toBe(100 * 1024);
    } finally {
      await small.close();
    }
  });
});

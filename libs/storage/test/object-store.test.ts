import { createHash, randomBytes } from 'node:crypto';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataLossError, InvalidArgumentError, NotFoundError } from '@aimaas/runtime';
import { collect, startNatsServer, type TestNatsServer } from '@aimaas/testing';
import { openObjectStore, type ObjectStore } from '../src/index.js';

const CHUNK = 128 * 1024;
let server: TestNatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
let store: ObjectStore;

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Yields `data` in pieces of irregular sizes, as a network or file stream would. */
async function* pieces(data: Uint8Array, sizes = [1, 1000, 65536, 200_000, 7]): AsyncGenerator<Uint8Array> {
  for (let offset = 0, i = 0; offset < data.length; i++) {
    const size = sizes[i % sizes.length]!;
    yield data.subarray(offset, offset + size);
    offset += size;
  }
}

async function streamMessages(bucket: string): Promise<number> {
  return (await jsm.streams.info(`OBJ_${bucket}`)).state.messages;
}

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  jsm = await jetstreamManager(nc);
  store = await openObjectStore(nc, 'artifacts');
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describe('ObjectStore put and get', () => {
  it.each([
    ['0 bytes', 0],
    ['1 byte', 1],
    ['exactly one chunk', CHUNK],
    ['several MB', 5 * 1024 * 1024 + 12345],
  ])('round-trips %s of random content with its SHA-256', async (_label, size) => {
    const data = randomBytes(size);
    const name = `blob-${size}.bin`;
    const info = await store.put(name, pieces(data), { metadata: { format: 'onnx' }, description: 'test' });
    expect(info).toMatchObject({ name, size, sha256: sha256(data), chunks: Math.ceil(size / CHUNK) });
    const reader = await store.get(name, { expectedSha256: sha256(data) });
    expect(reader.info).toEqual(info);
    const chunks = await collect(reader);
    expect(chunks.every((c) => c.byteLength <= CHUNK)).toBe(true);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(await store.info(name)).toMatchObject({ metadata: { format: 'onnx' }, description: 'test' });
  });

  it('accepts a Uint8Array source and reads it back whole with getBytes', async () => {
    const data = randomBytes(3 * CHUNK + 5);
    const info = await store.put('whole.bin', data);
    expect(info.chunks).toBe(4);
    expect((await store.getBytes('whole.bin')).equals(data)).toBe(true);
  });

  it('replaces an object and purges the chunks of the old one', async () => {
    const before = await streamMessages('artifacts');
    await store.put('replaced.bin', randomBytes(2 * CHUNK));
    const second = randomBytes(CHUNK + 1);
    await store.put('replaced.bin', second);
    expect((await store.getBytes('replaced.bin')).equals(second)).toBe(true);
    expect(await streamMessages('artifacts')).toBe(before + 2 + 1);
  });

  it('throws NotFoundError for a missing object, and info is undefined', async () => {
    await expect(store.get('nope.bin')).rejects.toThrow(NotFoundError);
    await expect(store.get('nope.bin')).rejects.toThrow('object "nope.bin" not found in bucket "artifacts"');
    expect(await store.info('nope.bin')).toBeUndefined();
  });

  it('handles names with any characters', async () => {
    const name = 'models/Résumé ranker/3/model.onnx';
    await store.put(name, Buffer.from('onnx'));
    expect((await store.getBytes(name)).toString()).toBe('onnx');
    expect((await store.list()).map((o) => o.name)).toContain(name);
  });
});

describe('ObjectStore verification', () => {
  it('detects a tampered chunk with DataLossError naming both digests', async () => {
    const data = randomBytes(3 * CHUNK);
    const info = await store.put('tampered.bin', data);
    const subject = `$O.artifacts.C.${await chunkNuid('tampered.bin')}`;
    const last = (await jsm.streams.getMessage('OBJ_artifacts', { last_by_subj: subject }))!;
    const changed = Uint8Array.from(last.data);
    changed[100] = changed[100]! ^ 0xff;
    await jsm.streams.deleteMessage('OBJ_artifacts', last.seq);
    await jetstream(nc).publish(subject, changed);
    const corrupted = Buffer.concat([data.subarray(0, 2 * CHUNK), changed]);
    const reader = await store.get('tampered.bin');
    const err = await collect(reader).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataLossError);
    expect((err as Error).message).toBe(
      `artifact "tampered.bin" in bucket "artifacts" digest mismatch: expected ${info.sha256}, got ${sha256(corrupted)} ` +
        `(read ${3 * CHUNK} of ${3 * CHUNK} bytes in 3 of 3 chunks)`,
    );
  });

  it('detects a missing chunk, and missing content altogether, without hanging', async () => {
    await store.put('holey.bin', randomBytes(3 * CHUNK));
    const nuid = await chunkNuid('holey.bin');
    const chunks = await jetstream(nc).consumers.get('OBJ_artifacts', { filter_subjects: `$O.artifacts.C.${nuid}` });
    const first = (await chunks.next())!;
    await chunks.delete();
    await jsm.streams.deleteMessage('OBJ_artifacts', first.seq);
    await expect(store.getBytes('holey.bin')).rejects.toThrow(/in 2 of 3 chunks/);
    await jsm.streams.purge('OBJ_artifacts', { filter: `$O.artifacts.C.${nuid}` });
    await expect(store.getBytes('holey.bin')).rejects.toThrow(DataLossError);
  });

  it('refuses a read whose expected digest differs from the recorded one before any byte', async () => {
    const info = await store.put('expected.bin', randomBytes(10));
    const wrong = 'ab'.repeat(32);
    await expect(store.get('expected.bin', { expectedSha256: wrong })).rejects.toThrow(
      `artifact "expected.bin" in bucket "artifacts" digest mismatch: expected ${wrong}, got ${info.sha256} (recorded digest)`,
    );
    await expect(store.get('expected.bin', { expectedSha256: 'xyz' })).rejects.toThrow(InvalidArgumentError);
  });

  it('reports a read overtaken by a replace as AbortedError, not data loss', async () => {
    const small = await openObjectStore(nc, 'moving', { chunkSize: 4096, readAheadBytes: 4096 });
    await small.put('moving.bin', randomBytes(64 * 4096));
    const iterator = (await small.get('moving.bin'))[Symbol.asyncIterator]();
    await iterator.next();
    await small.put('moving.bin', randomBytes(10));
    await expect(collect({ [Symbol.asyncIterator]: () => iterator })).rejects.toThrow(
      'object "moving.bin" in bucket "moving" was replaced or deleted while it was read; read it again',
    );
  });
});

async function chunkNuid(name: string): Promise<string> {
  const os = await new Objm(nc).open('artifacts');
  return (await os.info(name))!.nuid;
}

describe('ObjectStore failed writes', () => {
  it('leaves no object and no chunks behind when the source throws midway', async () => {
    const before = await streamMessages('artifacts');
    async function* failing() {
      yield randomBytes(CHUNK);
      yield randomBytes(CHUNK + 17);
      throw new Error('upload connection reset');
    }
    await expect(store.put('broken.bin', failing())).rejects.toThrow('upload connection reset');
    expect(await store.info('broken.bin')).toBeUndefined();
    expect(await streamMessages('artifacts')).toBe(before);
  });

  it('keeps the previous object intact when a replacement fails', async () => {
    const original = randomBytes(CHUNK * 2);
    await store.put('kept.bin', original);
    async function* failing() {
      yield randomBytes(CHUNK * 3);
      throw new Error('disk gone');
    }
    await expect(store.put('kept.bin', failing())).rejects.toThrow('disk gone');
    expect((await store.getBytes('kept.bin')).equals(original)).toBe(true);
  });

  it('abandons an upload when its signal aborts', async () => {
    const before = await streamMessages('artifacts');
    const controller = new AbortController();
    async function* slow() {
      yield randomBytes(CHUNK * 2);
      controller.abort(new Error('client cancelled'));
      yield randomBytes(CHUNK);
    }
    await expect(store.put('cancelled.bin', slow(), { signal: controller.signal })).rejects.toThrow('client cancelled');
    expect(await streamMessages('artifacts')).toBe(before);
  });
});

describe('ObjectStore delete and list', () => {
  it('deletes an object with its chunks and lists the rest in name order', async () => {
    const listing = await openObjectStore(nc, 'listing', { chunkSize: 4096 });
    await listing.put('b', randomBytes(10_000));
    await listing.put('a', randomBytes(1));
    await listing.put('c', randomBytes(0));
    await listing.delete('b');
    expect((await listing.list()).map((o) => [o.name, o.size])).toEqual([
      ['a', 1],
      ['c', 0],
    ]);
    expect(await streamMessages('listing')).toBe(1 + 0 + 3);
    await expect(listing.delete('b')).rejects.toThrow(NotFoundError);
    await expect(listing.get('b')).rejects.toThrow(NotFoundError);
  });

  it('validates options, naming the bad one', async () => {
    await expect(openObjectStore(nc, 'x', { chunkSize: 16 * 1024 * 1024 })).rejects.toThrow(
      /ObjectStoreOptions.chunkSize/,
    );
  });
});

describe('compatibility with other NATS object store clients', () => {
  it('writes objects that @nats-io/obj reads and verifies, and reads what it writes', async () => {
    const os = await new Objm(nc).open('artifacts');
    const ours = randomBytes(2 * CHUNK + 3);
    await store.put('ours.bin', ours);
    expect(Buffer.from((await os.getBlob('ours.bin'))!).equals(ours)).toBe(true);
    const theirs = randomBytes(CHUNK + 9);
    await os.putBlob({ name: 'theirs.bin' }, theirs);
    expect((await store.getBytes('theirs.bin', { expectedSha256: sha256(theirs) })).equals(theirs)).toBe(true);
  });
});

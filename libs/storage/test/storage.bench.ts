/**
 * Throughput of the storage layer against a real nats-server (file storage):
 *   npx vitest bench --run libs/storage
 * Metadata ops/s for KV reads and revision-checked writes, a 10,000-entry list, and MB/s through
 * the object store (hz × 32 MiB for the object cases).
 */
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, bench, describe } from 'vitest';
import { startNatsServer, type TestNatsServer } from '@aimaas/testing';
import { openKv, openObjectStore, type KvStore, type ObjectStore } from '../src/index.js';

const OBJECT_BYTES = 32 * 1024 * 1024;
let server: TestNatsServer;
let nc: NatsConnection;
let kv: KvStore<{ i: number; name: string }>;
let store: ObjectStore;
const data = randomBytes(OBJECT_BYTES);
let counter = 0;

async function* pieces(): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < data.length; offset += 64 * 1024) yield data.subarray(offset, offset + 64 * 1024);
}

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  kv = await openKv(nc, 'bench_kv');
  for (let start = 0; start < 10_000; start += 500) {
    await Promise.all(
      Array.from({ length: 500 }, (_, j) => kv.put(`items.${start + j}`, { i: start + j, name: `model-${start + j}` })),
    );
  }
  store = await openObjectStore(nc, 'bench_obj');
  await store.put('read.bin', data);
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describe('KV metadata', () => {
  bench('get', async () => {
    await kv.get(`items.${counter++ % 10_000}`);
  });
  bench('create', async () => {
    await kv.create(`created.${counter++}`, { i: counter, name: 'x' });
  });
  bench('mutate (read + revision-checked write)', async () => {
    await kv.mutate(`items.${counter++ % 10_000}`, (v) => ({ i: (v?.i ?? 0) + 1, name: v?.name ?? '' }));
  });
  bench(
    'list 10,000 entries',
    async () => {
      await kv.list('items.');
    },
    { iterations: 10 },
  );
});

describe('object store, 32 MiB', () => {
  bench(
    'put (streamed in 64 KiB pieces)',
    async () => {
      await store.put('write.bin', pieces());
    },
    { iterations: 5 },
  );
  bench(
    'get (verified)',
    async () => {
      for await (const _chunk of await store.get('read.bin')) {
        // drain
      }
    },
    { iterations: 5 },
  );
});

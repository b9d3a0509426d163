import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, AlreadyExistsError, InvalidArgumentError, NotFoundError } from '@aimaas/runtime';
import { startNatsServer, type TestNatsServer } from '@aimaas/testing';
import { joinKey, openKv, type KvStore } from '../src/index.js';

interface Model {
  name: string;
  versions: number;
}

let server: TestNatsServer;
let nc: NatsConnection;
let kv: KvStore<Model>;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  kv = await openKv<Model>(nc, 'models');
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describe('openKv', () => {
  it('creates the bucket with the requested history and opens it again unchanged', async () => {
    const first = await openKv(nc, 'history5', { history: 5, description: 'test' });
    await first.put('k', 1);
    const again = await openKv(nc, 'history5', { history: 5 });
    expect((await again.get('k'))?.value).toBe(1);
    const info = await (await jetstreamManager(nc)).streams.info('KV_history5');
    expect(info.config.max_msgs_per_subject).toBe(5);
  });

  it('rejects bad settings with a TypeError naming the setting', async () => {
    await expect(openKv(nc, 'bad', { history: 0 })).rejects.toThrow(
      /KvStoreOptions.history must be an integer in 1..64, got 0/,
    );
    await expect(openKv(nc, 'bad name')).rejects.toThrow(TypeError);
  });
});

describe('KvStore get and create', () => {
  it('returns undefined for a key never written', async () => {
    expect(await kv.get('models.nothing')).toBeUndefined();
  });

  it('creates a key once and returns its value and revision', async () => {
    const revision = await kv.create('models.fmnist', { name: 'fmnist', versions: 0 });
    const entry = await kv.get('models.fmnist');
    expect(entry).toMatchObject({ key: 'models.fmnist', value: { name: 'fmnist', versions: 0 }, revision });
    expect(entry?.created).toBeInstanceOf(Date);
  });

  it('refuses to create an existing key with AlreadyExistsError naming the key', async () => {
    await kv.create('models.iris', { name: 'iris', versions: 0 });
    const err = await kv.create('models.iris', { name: 'other', versions: 9 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AlreadyExistsError);
    expect((err as Error).message).toBe('key "models.iris" already exists in bucket "models"');
    expect((await kv.get('models.iris'))?.value.name).toBe('iris');
  });

  it('creates a key again after it was deleted', async () => {
    await kv.create('models.reborn', { name: 'a', versions: 1 });
    await kv.delete('models.reborn');
    expect(await kv.get('models.reborn')).toBeUndefined();
    await kv.create('models.reborn', { name: 'b', versions: 2 });
    expect((await kv.get('models.reborn'))?.value.name).toBe('b');
  });

  it('rejects keys outside the KV alphabet, pointing at encodeKey', async () => {
    await expect(kv.get('models.my model')).rejects.toThrow(InvalidArgumentError);
    await expect(kv.put('models..x', { name: '', versions: 0 })).rejects.toThrow(/escape free text .* with encodeKey/);
  });

  it('stores keys built with joinKey from arbitrary model names', async () => {
    const key = joinKey('models', 'Résumé ranker v2.1');
    await kv.create(key, { name: 'Résumé ranker v2.1', versions: 0 });
    expect((await kv.get(key))?.value.name).toBe('Résumé ranker v2.1');
  });
});

describe('KvStore update and delete', () => {
  it('updates when the expected revision still holds', async () => {
    const r1 = await kv.create('models.upd', { name: 'upd', versions: 1 });
    const r2 = await kv.update('models.upd', { name: 'upd', versions: 2 }, r1);
    expect(r2).toBeGreaterThan(r1);
    expect(await kv.get('models.upd')).toMatchObject({ value: { versions: 2 }, revision: r2 });
  });

  it('throws AbortedError saying the revision changed when another write got in first', async () => {
    const r1 = await kv.create('models.race', { name: 'race', versions: 1 });
    const r2 = await kv.update('models.race', { name: 'race', versions: 2 }, r1);
    const err = await kv.update('models.race', { name: 'race', versions: 3 }, r1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect((err as Error).message).toBe(
      `key "models.race" in bucket "models" changed: update expected revision ${r1}, current revision is ${r2}; re-read and retry`,
    );
    expect((await kv.get('models.race'))?.value.versions).toBe(2);
  });

  it('throws NotFoundError when updating a key that never existed', async () => {
    await expect(kv.update('models.ghost', { name: 'ghost', versions: 1 }, 1)).rejects.toThrow(NotFoundError);
  });

  it('rejects a revision that is not a positive integer', async () => {
    await expect(kv.update('models.upd', { name: 'x', versions: 0 }, 0)).rejects.toThrow(InvalidArgumentError);
  });

  it('deletes only at the expected revision when one is given', async () => {
    const r1 = await kv.create('models.del', { name: 'del', versions: 1 });
    await kv.update('models.del', { name: 'del', versions: 2 }, r1);
    await expect(kv.delete('models.del', r1)).rejects.toThrow(AbortedError);
    const current = await kv.get('models.del');
    await kv.delete('models.del', current!.revision);
    expect(await kv.get('models.del')).toBeUndefined();
    await kv.delete('models.del');
  });
});

describe('KvStore keys and list', () => {
  let scan: KvStore<number>;
  beforeAll(async () => {
    scan = await openKv<number>(nc, 'scan', { history: 5 });
    await Promise.all([
      scan.put('a.x.1', 1),
      scan.put('a.x.2', 2),
      scan.put('a.y.1', 3),
      scan.put('ab.1', 4),
      scan.put('b.1', 5),
      scan.put('gone.1', 6),
    ]);
    await scan.put('a.x.1', 10);
    await scan.put('a.x.1', 11);
    await scan.delete('gone.1');
  });

  it('lists keys matching a filter, in key order, without deleted ones', async () => {
    expect(await scan.keys()).toEqual(['a.x.1', 'a.x.2', 'a.y.1', 'ab.1', 'b.1']);
    expect(await scan.keys('a.*.1')).toEqual(['a.x.1', 'a.y.1']);
    expect(await scan.keys('a.>')).toEqual(['a.x.1', 'a.x.2', 'a.y.1']);
    expect(await scan.keys('nothing.>')).toEqual([]);
  });

  it('lists the current values of keys under a whole-part prefix', async () => {
    const entries = await scan.list('a.x.');
    expect(entries.map((e) => [e.key, e.value])).toEqual([
      ['a.x.1', 11],
      ['a.x.2', 2],
    ]);
    expect(entries[0]!.revision).toBeGreaterThan(entries[1]!.revision);
  });

  it('lists by a prefix that ends inside a part', async () => {
    expect((await scan.list('a')).map((e) => e.key)).toEqual(['a.x.1', 'a.x.2', 'a.y.1', 'ab.1']);
    expect((await scan.list('a.x.1')).map((e) => e.key)).toEqual(['a.x.1']);
    expect(await scan.list('zzz')).toEqual([]);
  });

  it('lists everything with no prefix and skips deleted keys', async () => {
    expect((await scan.list()).map((e) => e.value)).toEqual([11, 2, 3, 4, 5]);
  });

  it('rejects a prefix with wildcards', async () => {
    await expect(scan.list('a.*')).rejects.toThrow(InvalidArgumentError);
  });

  it('lists 10,000 entries exactly once each', async () => {
    const big = await openKv<{ i: number }>(nc, 'big');
    const n = 10_000;
    for (let start = 0; start < n; start += 1000) {
      await Promise.all(
        Array.from({ length: 1000 }, (_, j) =>
          big.put(`items.${String(start + j).padStart(5, '0')}`, { i: start + j }),
        ),
      );
    }
    await big.put('items.00007', { i: -7 });
    await big.put('other.1', { i: -1 });
    const entries = await big.list('items.');
    expect(entries).toHaveLength(n);
    expect(entries[7]!.value.i).toBe(-7);
    expect(entries.every((e, i) => e.key === `items.${String(i).padStart(5, '0')}`)).toBe(true);
    expect(await big.keys('items.>')).toHaveLength(n);
  });
});

describe('bounded keys and values', () => {
  it('refuses a key over 1024 characters before it reaches NATS, and the connection stays up', async () => {
    const long = `models.${'x'.repeat(5_000)}`;
    const error = await kv.get(long).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'INVALID_ARGUMENT',
      publicMessage: 'an id or name of 5007 characters is too long to store (the key limit is 1024)',
    });
    expect((error as Error).message).toContain('bucket "models"');
    await expect(kv.put(long, { name: 'x', versions: 1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(nc.isClosed()).toBe(false);
    await kv.put('models.ok', { name: 'ok', versions: 1 });
    expect((await kv.get('models.ok'))?.value).toEqual({ name: 'ok', versions: 1 });
  });

  it('refuses a value over the server max_payload with RESOURCE_EXHAUSTED naming both sizes, not the bucket', async () => {
    const error = await kv
      .put('models.huge', { name: 'x'.repeat(2 * 1024 * 1024), versions: 1 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    expect((error as { publicMessage: string }).publicMessage).toMatch(
      /^a record of \d+ bytes is over the 1044480 bytes the store takes in one message$/,
    );
  });
});

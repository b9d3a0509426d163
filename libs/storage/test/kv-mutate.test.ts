import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError } from '@aimaas/runtime';
import { collect, startNatsServer, waitFor, type TestNatsServer } from '@aimaas/testing';
import { openKv, type KvChange, type KvStore } from '../src/index.js';

let server: TestNatsServer;
let nc1: NatsConnection;
let nc2: NatsConnection;
let kv1: KvStore<number>;
let kv2: KvStore<number>;

beforeAll(async () => {
  server = await startNatsServer();
  [nc1, nc2] = await Promise.all([connect({ servers: server.url }), connect({ servers: server.url })]);
  kv1 = await openKv<number>(nc1, 'counters');
  kv2 = await openKv<number>(nc2, 'counters');
});

afterAll(async () => {
  await Promise.all([nc1?.close(), nc2?.close()]);
  await server?.stop();
});

describe('KvStore.mutate', () => {
  it('loses no update when two connections each run 50 concurrent increments', async () => {
    const increment = (kv: KvStore<number>) => kv.mutate('hits', (n) => (n ?? 0) + 1, { retries: 1000 });
    const results = await Promise.all([
      ...Array.from({ length: 50 }, () => increment(kv1)),
      ...Array.from({ length: 50 }, () => increment(kv2)),
    ]);
    expect((await kv1.get('hits'))?.value).toBe(100);
    expect(results.map((r) => r.value).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(new Set(results.map((r) => r.revision)).size).toBe(100);
  });

  it('hands out distinct numbers to concurrent creators of a fresh key', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? kv1 : kv2).mutate('fresh', (n) => (n ?? 0) + 1, { retries: 1000 })),
    );
    expect(new Set(results.map((r) => r.value)).size).toBe(20);
    expect((await kv2.get('fresh'))?.value).toBe(20);
  });

  it('writes over a deleted key as if it were absent', async () => {
    await kv1.put('recycled', 41);
    await kv1.delete('recycled');
    expect((await kv1.mutate('recycled', (n) => (n ?? 0) + 1)).value).toBe(1);
  });

  it('retries with the fresh value after a concurrent write', async () => {
    await kv1.put('contended', 1);
    let calls = 0;
    const result = await kv1.mutate('contended', async (n) => {
      if (calls++ === 0) await kv2.put('contended', 1000);
      return (n ?? 0) + 1;
    });
    expect(calls).toBe(2);
    expect(result.value).toBe(1001);
  });

  it('gives up with AbortedError once its retries are spent', async () => {
    await kv1.put('hot', 0);
    const err = await kv1
      .mutate(
        'hot',
        async (n) => {
          await kv2.put('hot', -1);
          return (n ?? 0) + 1;
        },
        { retries: 2 },
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect((err as Error).message).toBe(
      'key "hot" in bucket "counters" kept changing: mutate gave up after 3 attempts',
    );
    expect((await kv1.get('hot'))?.value).toBe(-1);
  });

  it('writes nothing when the function throws', async () => {
    await kv1.put('guarded', 5);
    await expect(
      kv1.mutate('guarded', () => {
        throw new Error('quota reached');
      }),
    ).rejects.toThrow('quota reached');
    expect((await kv1.get('guarded'))?.value).toBe(5);
  });
});

describe('KvStore.watch', () => {
  it('replays current values, then live puts and deletes, until stopped', async () => {
    await kv1.put('w.a', 1);
    await kv1.put('w.b', 2);
    await kv1.put('other', 3);
    const watcher = await kv2.watch('w.>');
    const seen: KvChange<number>[] = [];
    const done = (async () => {
      for await (const change of watcher) {
        seen.push(change);
        if (seen.length === 4) watcher.stop();
      }
    })();
    await kv1.put('w.c', 4);
    await kv1.delete('w.a');
    await done;
    expect(seen.map((c) => [c.key, c.operation, c.value, c.isUpdate])).toEqual([
      ['w.a', 'PUT', 1, false],
      ['w.b', 'PUT', 2, false],
      ['w.c', 'PUT', 4, true],
      ['w.a', 'DEL', undefined, true],
    ]);
  });

  it('delivers only new changes with include "updates"', async () => {
    await kv1.put('u.old', 1);
    const watcher = await kv1.watch('u.*', { include: 'updates' });
    const first = collect(watcher, 1);
    await kv2.put('u.new', 2);
    expect((await first).map((c) => [c.key, c.value, c.isUpdate])).toEqual([['u.new', 2, true]]);
    expect(await collect(watcher)).toEqual([]);
  });

  it('resumes from a revision and skips deletes when asked', async () => {
    const from = await kv1.put('r.a', 1);
    await kv1.put('r.b', 2);
    await kv1.put('r.c', 3);
    await kv1.delete('r.c');
    const watcher = await kv1.watch('r.>', { fromRevision: from, ignoreDeletes: true });
    const changes = collect(watcher, 3);
    await kv2.put('r.d', 4);
    expect((await changes).map((c) => [c.key, c.value, c.isUpdate])).toEqual([
      ['r.a', 1, false],
      ['r.b', 2, false],
      ['r.d', 4, true],
    ]);
  });

  it('ends a running loop when its signal aborts', async () => {
    const controller = new AbortController();
    const watcher = await kv1.watch('s.>', { include: 'updates', signal: controller.signal });
    const seen: string[] = [];
    const loop = (async () => {
      for await (const change of watcher) seen.push(change.key);
    })();
    await kv1.put('s.1', 1);
    await waitFor(() => seen.length === 1, { message: 'the watcher to see s.1' });
    controller.abort();
    await loop;
    expect(seen).toEqual(['s.1']);
  });
});

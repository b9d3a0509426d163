import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor, type TestNatsServer } from '@aimaas/testing';
import { status } from './client.js';
import { startNats, startReplica, type Replica } from './harness.js';

let nats: TestNatsServer;
let a: Replica;
let b: Replica;

beforeAll(async () => {
  nats = await startNats();
  [a, b] = await Promise.all([startReplica(nats.url), startReplica(nats.url)]);
});

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await nats?.stop();
});

describe('version numbers under concurrency', () => {
  it('gives 100 concurrent creations through two replicas the numbers 1..100, each once', async () => {
    await a.api.createRegisteredModel({ name: 'contended' });
    const create = (replica: Replica, i: number) =>
      replica.api.createModelVersion({ name: 'contended', tags: { writer: replica === a ? 'a' : 'b', i: String(i) } }, [
        { path: 'weights.bin', format: 'raw', data: Buffer.from(`weights ${i}`) },
      ]);
    const results = await Promise.all([
      ...Array.from({ length: 50 }, (_, i) => create(a, i)),
      ...Array.from({ length: 50 }, (_, i) => create(b, i)),
    ]);
    const numbers = results.map((v) => v.version).sort((x, y) => x - y);
    expect(numbers).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    const model = await b.api.getRegisteredModel({ name: 'contended' });
    expect(model).toMatchObject({ latestVersion: 100, versionCount: 100 });
    // Each number's record holds the files of the upload that got it.
    for (const v of results.slice(0, 5)) {
      const stored = await b.api.getModelVersion({ ref: { name: 'contended', version: v.version } });
      expect(stored.tags).toEqual(v.tags);
      expect(stored.files).toEqual(v.files);
    }
  });

  it('shows one replica the versions another created once its watch has delivered them', async () => {
    await b.index.sync();
    const fromA = await a.api.searchModelVersions({
      filter: 'name = "contended" AND tags.writer = "b"',
      pageSize: 1000,
    });
    expect(fromA.totalSize).toBe(50);
    await b.api.createModelVersion({ name: 'contended', metrics: { accuracy: 0.5 } });
    const seen = await waitFor(
      async () => {
        const result = await a.api.searchModelVersions({ filter: 'name = "contended" AND metrics.accuracy = 0.5' });
        return result.totalSize === 1 && result;
      },
      { message: 'replica a to see version 101 created through replica b' },
    );
    expect(seen.versions[0]!.version).toBe(101);
  });
});

describe('aliases and deletes racing', () => {
  it('never leaves an alias pointing at a deleted version', async () => {
    await a.api.createRegisteredModel({ name: 'racing' });
    for (let i = 0; i < 10; i++) await a.api.createModelVersion({ name: 'racing' });
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) => [
        a.api.setAlias({ name: 'racing', alias: `alias-${i}`, version: i + 1 }).then(
          () => 'set',
          (e: { code: number }) => e.code,
        ),
        b.api.deleteModelVersion({ name: 'racing', version: i + 1 }).then(
          () => 'deleted',
          (e: { code: number }) => e.code,
        ),
      ]).flat(),
    );
    const model = await a.api.getRegisteredModel({ name: 'racing' });
    for (let i = 0; i < 10; i++) {
      const [alias, deletion] = [outcomes[2 * i], outcomes[2 * i + 1]];
      // Exactly one side wins each race; the loser is told why.
      const aliasWon = alias === 'set' && deletion === status.FAILED_PRECONDITION;
      const deleteWon = deletion === 'deleted' && alias === status.NOT_FOUND;
      expect(aliasWon !== deleteWon, `race ${i}: setAlias → ${alias}, delete → ${deletion}`).toBe(true);
      expect(model.aliases[`alias-${i}`]).toBe(aliasWon ? i + 1 : undefined);
      const target = model.aliases[`alias-${i}`];
      if (target !== undefined) {
        expect((await a.api.getModelVersion({ ref: { name: 'racing', version: target } })).aliases).toEqual([
          `alias-${i}`,
        ]);
      }
    }
    expect(model.versionCount).toBe(Object.keys(model.aliases).length);
  });
});

describe('version index', () => {
  it('keeps following other replicas after the nats-server restarts', async () => {
    await a.api.createModelVersion({ name: 'restarted', createModel: true });
    await nats.restart();
    const created = await waitFor(() => b.api.createModelVersion({ name: 'restarted' }), {
      timeoutMs: 20_000,
      message: 'replica b to create a version once NATS is back',
    });
    expect(created.version).toBe(2);
    const seen = await waitFor(
      async () => {
        const result = await a.api.searchModelVersions({ filter: 'name = "restarted"' });
        return result.totalSize === 2 && result;
      },
      { timeoutMs: 20_000, message: 'replica a to see version 2 through its watch' },
    );
    expect(seen.versions.map((v) => v.version)).toEqual([2, 1]);
  });
});

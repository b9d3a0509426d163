import { beforeAll, describe, expect, it } from 'vitest';
import { actor, failure, status } from './client.js';
import { useRegistrySuite } from './harness.js';

const suite = useRegistrySuite();

beforeAll(async () => {
  for (let i = 0; i < 3; i++) await suite.registry.api.createModelVersion({ name: 'fmnist', createModel: true });
});

describe('SetAlias', () => {
  it('creates an alias (previous version 0), then moves it and returns the previous version', async () => {
    const created = await suite.registry.api.setAlias(
      { name: 'fmnist', alias: 'production', version: 1, reason: 'first release' },
      actor('alice'),
    );
    expect(created.previousVersion).toBe(0);
    expect(created.change).toMatchObject({
      name: 'fmnist',
      alias: 'production',
      fromVersion: 0,
      toVersion: 1,
      actor: 'alice',
      reason: 'first release',
    });
    const moved = await suite.registry.api.setAlias(
      { name: 'fmnist', alias: 'production', version: 3, reason: 'better accuracy' },
      actor('bob'),
    );
    expect(moved.previousVersion).toBe(1);
    expect(moved.change).toMatchObject({ fromVersion: 1, toVersion: 3, actor: 'bob' });
    expect((await suite.registry.api.getRegisteredModel({ name: 'fmnist' })).aliases).toEqual({ production: 3 });
    expect((await suite.registry.api.getModelVersion({ ref: { name: 'fmnist', version: 3 } })).aliases).toEqual([
      'production',
    ]);
    expect((await suite.registry.api.getModelVersion({ ref: { name: 'fmnist', version: 1 } })).aliases).toEqual([]);
  });

  it('refuses alias names that are not [a-z][a-z0-9_-]* or look like a number', async () => {
    const cases: Array<[string, string]> = [
      ['', 'alias: must not be empty'],
      ['42', 'alias: "42" is a number; an alias must not look like a version'],
      [
        'Prod',
        'alias: "Prod" is not a valid alias; expected a lower-case letter followed by up to 63 of [a-z0-9_-] ([a-z][a-z0-9_-]*)',
      ],
      [
        '1st',
        'alias: "1st" is not a valid alias; expected a lower-case letter followed by up to 63 of [a-z0-9_-] ([a-z][a-z0-9_-]*)',
      ],
      ['latest', 'alias: "latest" is reserved (a ModelRef without version or alias means latest)'],
    ];
    for (const [alias, details] of cases) {
      expect(await failure(suite.registry.api.setAlias({ name: 'fmnist', alias, version: 1 }))).toEqual({
        code: status.INVALID_ARGUMENT,
        details,
      });
    }
  });

  it('refuses a version that does not exist, or was deleted', async () => {
    expect(await failure(suite.registry.api.setAlias({ name: 'fmnist', alias: 'staging', version: 9 }))).toEqual({
      code: status.NOT_FOUND,
      details: 'model "fmnist" has no version 9',
    });
    await suite.registry.api.createModelVersion({ name: 'short-lived', createModel: true });
    await suite.registry.api.deleteModelVersion({ name: 'short-lived', version: 1 });
    expect(await failure(suite.registry.api.setAlias({ name: 'short-lived', alias: 'staging', version: 1 }))).toEqual({
      code: status.NOT_FOUND,
      details: 'model "short-lived" has no version 1',
    });
    expect((await failure(suite.registry.api.setAlias({ name: 'ghost', alias: 'staging', version: 1 }))).code).toBe(
      status.NOT_FOUND,
    );
  });
});

describe('DeleteAlias', () => {
  it('removes the alias and returns the version it pointed at', async () => {
    await suite.registry.api.setAlias({ name: 'fmnist', alias: 'canary', version: 2 });
    expect(
      await suite.registry.api.deleteAlias({ name: 'fmnist', alias: 'canary', reason: 'done' }, actor('carol')),
    ).toEqual({ previousVersion: 2 });
    expect((await suite.registry.api.getRegisteredModel({ name: 'fmnist' })).aliases).toEqual({ production: 3 });
    expect(await failure(suite.registry.api.deleteAlias({ name: 'fmnist', alias: 'canary' }))).toEqual({
      code: status.NOT_FOUND,
      details: 'model "fmnist" has no alias "canary"',
    });
  });
});

describe('ListAliasHistory', () => {
  it('lists every change newest first with who, when, from, to and why', async () => {
    const { changes, nextPageToken } = await suite.registry.api.listAliasHistory({ name: 'fmnist' });
    expect(nextPageToken).toBe('');
    expect(
      changes.map(({ alias, fromVersion, toVersion, actor: who, reason }) => ({
        alias,
        fromVersion,
        toVersion,
        who,
        reason,
      })),
    ).toEqual([
      { alias: 'canary', fromVersion: 2, toVersion: 0, who: 'carol', reason: 'done' },
      { alias: 'canary', fromVersion: 0, toVersion: 2, who: 'anonymous', reason: '' },
      { alias: 'production', fromVersion: 1, toVersion: 3, who: 'bob', reason: 'better accuracy' },
      { alias: 'production', fromVersion: 0, toVersion: 1, who: 'alice', reason: 'first release' },
    ]);
    const times = changes.map((c) => c.changedAt!.getTime());
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it('filters by alias and pages with next_page_token', async () => {
    const first = await suite.registry.api.listAliasHistory({ name: 'fmnist', alias: 'production', pageSize: 1 });
    expect(first.changes.map((c) => c.toVersion)).toEqual([3]);
    const second = await suite.registry.api.listAliasHistory({
      name: 'fmnist',
      alias: 'production',
      pageSize: 1,
      pageToken: first.nextPageToken,
    });
    expect(second.changes.map((c) => c.toVersion)).toEqual([1]);
    expect(second.nextPageToken).toBe('');
  });

  it('answers NOT_FOUND for an unknown model and INVALID_ARGUMENT for an empty name', async () => {
    expect((await failure(suite.registry.api.listAliasHistory({ name: 'ghost' }))).code).toBe(status.NOT_FOUND);
    expect(await failure(suite.registry.api.listAliasHistory({ name: '' }))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'name: must not be empty',
    });
  });
});

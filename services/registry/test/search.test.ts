import { beforeAll, describe, expect, it } from 'vitest';
import { Task } from '@aimaas/proto';
import { failure, status } from './client.js';
import { useRegistrySuite } from './harness.js';

const suite = useRegistrySuite();

const ids = (versions: Array<{ name: string; version: number }>) => versions.map((v) => `${v.name}@${v.version}`);

beforeAll(async () => {
  const api = suite.registry.api;
  const rows: Array<[string, number, string, Record<string, string>]> = [
    ['fmnist', 0.81, 'vision', { epochs: '5' }],
    ['fmnist', 0.93, 'vision', { epochs: '20' }],
    ['fmnist', 0.9, 'vision', { epochs: '10' }],
    ['iris', 0.97, 'tabular', { epochs: '50' }],
    ['iris', 0.95, 'tabular', {}],
    ['housing', 0, 'tabular', {}],
  ];
  for (const [name, accuracy, team, params] of rows) {
    const regression = name === 'housing';
    await api.createModelVersion({
      name,
      createModel: true,
      tags: { team, 'my key': `${name}-odd` },
      params,
      metrics: regression ? { rmse: 3.2 } : { accuracy },
      task: regression ? Task.TASK_REGRESSION : Task.TASK_CLASSIFICATION,
      description: `${name} model`,
    });
  }
  await api.setAlias({ name: 'fmnist', alias: 'production', version: 2 });
  await api.setAlias({ name: 'iris', alias: 'production', version: 1 });
  await api.setAlias({ name: 'iris', alias: 'staging', version: 2 });
});

describe('SearchModelVersions', () => {
  it('returns everything in the default order (name ASC, version DESC) without a filter', async () => {
    const result = await suite.registry.api.searchModelVersions({});
    expect(ids(result.versions)).toEqual(['fmnist@3', 'fmnist@2', 'fmnist@1', 'housing@1', 'iris@2', 'iris@1']);
    expect(result.totalSize).toBe(6);
    expect(result.nextPageToken).toBe('');
  });

  it('filters by name, metrics and tags as in the contract example', async () => {
    const result = await suite.registry.api.searchModelVersions({
      filter: 'name = "fmnist" AND metrics.accuracy > 0.85 AND tags.team = "vision"',
    });
    expect(ids(result.versions)).toEqual(['fmnist@3', 'fmnist@2']);
    expect(result.versions[1]!.aliases).toEqual(['production']);
  });

  it('filters by alias, task, LIKE, params and backquoted keys', async () => {
    const search = async (filter: string) => ids((await suite.registry.api.searchModelVersions({ filter })).versions);
    expect(await search('alias = "production"')).toEqual(['fmnist@2', 'iris@1']);
    expect(await search("task = 'regression'")).toEqual(['housing@1']);
    expect(await search('name LIKE "%ri%"')).toEqual(['iris@2', 'iris@1']);
    expect(await search('description LIKE "f_nist %"')).toEqual(['fmnist@3', 'fmnist@2', 'fmnist@1']);
    expect(await search('params.epochs >= 10 and tags.team != "tabular"')).toEqual(['fmnist@3', 'fmnist@2']);
    expect(await search('tags.`my key` = "iris-odd" AND version <= 1')).toEqual(['iris@1']);
    expect(await search('metrics.rmse < 5')).toEqual(['housing@1']);
  });

  it('orders by order_by keys, missing values last', async () => {
    const result = await suite.registry.api.searchModelVersions({ orderBy: 'metrics.accuracy DESC, version' });
    expect(ids(result.versions)).toEqual(['iris@1', 'iris@2', 'fmnist@2', 'fmnist@3', 'fmnist@1', 'housing@1']);
  });

  it('pages with an opaque token bound to the query', async () => {
    const first = await suite.registry.api.searchModelVersions({ filter: 'task = "classification"', pageSize: 2 });
    expect(ids(first.versions)).toEqual(['fmnist@3', 'fmnist@2']);
    expect(first.totalSize).toBe(5);
    const second = await suite.registry.api.searchModelVersions({
      filter: 'task = "classification"',
      pageSize: 2,
      pageToken: first.nextPageToken,
    });
    expect(ids(second.versions)).toEqual(['fmnist@1', 'iris@2']);
    const third = await suite.registry.api.searchModelVersions({
      filter: 'task = "classification"',
      pageSize: 2,
      pageToken: second.nextPageToken,
    });
    expect(ids(third.versions)).toEqual(['iris@1']);
    expect(third.nextPageToken).toBe('');
    expect(
      await failure(
        suite.registry.api.searchModelVersions({ filter: 'name = "iris"', pageToken: first.nextPageToken }),
      ),
    ).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'page_token: was issued for another filter or order_by; repeat the query that returned it',
    });
  });

  it('sees new versions, moved aliases and deletions at once on the same replica', async () => {
    await suite.registry.api.createModelVersion({ name: 'fresh', createModel: true, metrics: { accuracy: 0.99 } });
    expect(ids((await suite.registry.api.searchModelVersions({ filter: 'metrics.accuracy > 0.98' })).versions)).toEqual(
      ['fresh@1'],
    );
    await suite.registry.api.setAlias({ name: 'fresh', alias: 'production', version: 1 });
    expect(ids((await suite.registry.api.searchModelVersions({ filter: 'alias = "production"' })).versions)).toEqual([
      'fmnist@2',
      'fresh@1',
      'iris@1',
    ]);
    await suite.registry.api.deleteRegisteredModel({ name: 'fresh', force: true });
    expect((await suite.registry.api.searchModelVersions({ filter: 'name = "fresh"' })).totalSize).toBe(0);
  });

  it('ends a page early when its versions are large, so no response exceeds 4 MiB, and loses none', async () => {
    const pipelineJson = JSON.stringify({ vocabulary: 'w'.repeat(400 * 1024) });
    for (let i = 0; i < 10; i++)
      await suite.registry.api.createModelVersion({ name: 'bulky', createModel: true, pipelineJson });
    const seen: number[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const page = await suite.registry.api.searchModelVersions({ filter: 'name = "bulky"', pageSize: 100, pageToken });
      expect(page.versions.length).toBeLessThanOrEqual(7);
      expect(page.totalSize).toBe(10);
      seen.push(...page.versions.map((v) => v.version));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== '');
    expect(pages).toBe(2);
    expect(seen).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  });

  it('answers INVALID_ARGUMENT saying where a bad filter broke', async () => {
    const cases: Array<[string, string]> = [
      [
        'metrics.accuracy 0.9',
        'filter: expected an operator after "metrics.accuracy" at position 17 (one of =, !=, <, <=, >, >=, LIKE), found "0.9"',
      ],
      [
        'name = "iris" AND',
        'filter: expected a key (name, version, task, description, created_at, updated_at, alias, tags.<k>, params.<k>, metrics.<k>) at position 17, found the end of the filter',
      ],
      ['name = "iris', 'filter: unterminated string starting at position 7; close it with "'],
      ['version > "2"', 'filter: version compares with a number, found the string "2" at position 10'],
    ];
    for (const [filter, details] of cases) {
      expect(await failure(suite.registry.api.searchModelVersions({ filter }))).toEqual({
        code: status.INVALID_ARGUMENT,
        details,
      });
    }
    expect((await failure(suite.registry.api.searchModelVersions({ orderBy: 'colour' }))).code).toBe(
      status.INVALID_ARGUMENT,
    );
  });
});

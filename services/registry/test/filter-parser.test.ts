import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@aimaas/runtime';
import {
  compileFilter,
  compileOrder,
  likeMatcher,
  parseFilter,
  parseOrderBy,
  type SearchRecord,
} from '../src/index.js';

function record(overrides: Partial<SearchRecord>): SearchRecord {
  return {
    name: 'fmnist',
    version: 1,
    task: 'classification',
    description: '',
    createdAt: '2024-05-01T10:00:00.000Z',
    updatedAt: '2024-05-01T10:00:00.000Z',
    tags: {},
    params: {},
    metrics: {},
    aliases: [],
    ...overrides,
  };
}

function errorOf(filter: string): string {
  try {
    parseFilter(filter);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return (error as Error).message;
  }
  throw new Error(`filter ${filter} parsed`);
}

describe('parseFilter', () => {
  it('parses terms joined by AND in any case, with both quote styles, escapes and numbers', () => {
    expect(
      parseFilter(`name = "fm\\"nist" and metrics.accuracy >= 0.9 AND tags.\`my key\` LIKE 'vis%' AnD version != -2e1`),
    ).toEqual([
      { key: { kind: 'attribute', name: 'name' }, operator: '=', value: 'fm"nist', position: 0 },
      { key: { kind: 'metrics', name: 'accuracy' }, operator: '>=', value: 0.9, position: 22 },
      { key: { kind: 'tags', name: 'my key' }, operator: 'LIKE', value: 'vis%', position: 50 },
      { key: { kind: 'attribute', name: 'version' }, operator: '!=', value: -20, position: 80 },
    ]);
    expect(parseFilter('   ')).toEqual([]);
    expect(parseFilter("task = 'CLASSIFICATION'")[0]!.value).toBe('classification');
  });

  it('says where a malformed filter broke (0-based position)', () => {
    expect(errorOf('metrics.accuracy 0.9')).toBe(
      'filter: expected an operator after "metrics.accuracy" at position 17 (one of =, !=, <, <=, >, >=, LIKE), found "0.9"',
    );
    expect(errorOf('name = "fmnist" AND metrics.accuracy')).toBe(
      'filter: expected an operator after "metrics.accuracy" at position 36 (one of =, !=, <, <=, >, >=, LIKE), found the end of the filter',
    );
    expect(errorOf('name = "fmnist')).toBe('filter: unterminated string starting at position 7; close it with "');
    expect(errorOf('name = fmnist')).toBe(
      'filter: expected a value (a quoted string or a number) after "name =" at position 7, found "fmnist" (quote strings: "fmnist")',
    );
    expect(errorOf('colour = "red"')).toBe(
      'filter: unknown key "colour" at position 0; expected one of name, version, task, description, created_at, updated_at, alias, tags.<k>, params.<k>, metrics.<k>',
    );
    expect(errorOf('name = "a" OR name = "b"')).toBe(
      'filter: OR at position 11 is not supported; terms can only be joined by AND',
    );
    expect(errorOf('name = "a" name = "b"')).toBe(
      'filter: expected AND or the end of the filter at position 11, found "name"',
    );
    expect(errorOf('metrics.accuracy > "high"')).toBe(
      'filter: metrics.accuracy compares with a number, found the string "high" at position 19',
    );
    expect(errorOf('version LIKE "1%"')).toBe(
      'filter: LIKE needs a string key and a quoted pattern; "version LIKE" at position 13 does not fit',
    );
    expect(errorOf('tags = "x"')).toBe(
      'filter: expected "." and an entry name after "tags" at position 4, e.g. tags.accuracy',
    );
    expect(errorOf('tags.`open = "x"')).toBe('filter: unterminated backquoted key starting at position 5');
    expect(errorOf('AND name = "x"')).toBe(
      'filter: unknown key "AND" at position 0; expected one of name, version, task, description, created_at, updated_at, alias, tags.<k>, params.<k>, metrics.<k>',
    );
    expect(errorOf('= 3')).toMatch(/^filter: expected a key \(.*\) at position 0, found "="$/);
    expect(errorOf('task = "clustering"')).toBe(
      'filter: task: unknown task "clustering" at position 7; expected one of unspecified, classification, regression, reconstruction',
    );
  });
});

describe('compileFilter', () => {
  it('compares strings, numbers and ISO times; a missing entry matches nothing, "!=" included', () => {
    const r = record({ tags: { team: 'vision' }, metrics: { accuracy: 0.93 }, params: { epochs: '12' } });
    const matches = (filter: string) => compileFilter(parseFilter(filter))(r);
    expect(matches('name = "fmnist" AND metrics.accuracy > 0.9 AND tags.team = "vision"')).toBe(true);
    expect(matches('metrics.accuracy > 0.95')).toBe(false);
    expect(matches('params.epochs > 10')).toBe(true);
    expect(matches('params.epochs = "12"')).toBe(true);
    expect(matches('created_at >= "2024-05-01" AND created_at < "2024-05-02"')).toBe(true);
    expect(matches('tags.owner != "x"')).toBe(false);
    expect(matches('metrics.loss < 1')).toBe(false);
    expect(matches('task = "TASK_CLASSIFICATION"')).toBe(true);
  });

  it('matches aliases as a set', () => {
    const r = record({ aliases: ['champion', 'production'] });
    const matches = (filter: string) => compileFilter(parseFilter(filter))(r);
    expect(matches('alias = "production"')).toBe(true);
    expect(matches('alias != "production"')).toBe(false);
    expect(matches('alias != "staging"')).toBe(true);
    expect(matches('alias LIKE "champ%"')).toBe(true);
  });
});

describe('filter bounds', () => {
  it('refuses a filter over 4,096 characters or 32 terms, naming the limit', () => {
    expect(() => parseFilter(`name = "${'a'.repeat(5_000)}"`)).toThrow('filter: at most 4096 characters, got 5009');
    expect(() => parseFilter(Array.from({ length: 33 }, (_, i) => `tags.t${i} = "x"`).join(' AND '))).toThrow(
      'filter: at most 32 terms',
    );
    expect(parseFilter(Array.from({ length: 32 }, (_, i) => `tags.t${i} = "x"`).join(' AND ')).length).toBe(32);
  });
});

describe('likeMatcher', () => {
  it('treats % and _ as wildcards and a backslash as an escape', () => {
    expect(likeMatcher('fm%')('fmnist')).toBe(true);
    expect(likeMatcher('fm_st')('fmnist')).toBe(false);
    expect(likeMatcher('f_nist')('fmnist')).toBe(true);
    expect(likeMatcher('50\\%')('50%')).toBe(true);
    expect(likeMatcher('50\\%')('500')).toBe(false);
    expect(likeMatcher('a.c')('abc')).toBe(false);
    expect(likeMatcher('FM%', true)('fmnist')).toBe(true);
  });

  it('matches like SQL on the hard cases: several %, _ next to %, empty pieces, code points', () => {
    const cases: Array<[string, string, boolean]> = [
      ['%a%b%', 'xxaxxbxx', true],
      ['%a%b%', 'xxbxxaxx', false],
      ['a%a', 'a', false],
      ['a%a', 'aa', true],
      ['%%', '', true],
      ['%', '', true],
      ['', '', true],
      ['', 'a', false],
      ['_%_', 'ab', true],
      ['_%_', 'a', false],
      ['%ab%ab', 'abab', true],
      ['%aab', 'aaab', true],
      ['a_c%', 'abcd', true],
      ['%é_', 'café!', true],
      ['%\\_%', 'a_b', true],
      ['%\\_%', 'ab', false],
    ];
    for (const [pattern, text, expected] of cases)
      expect(likeMatcher(pattern)(text), `${pattern} ~ ${text}`).toBe(expected);
  });

  it('takes linear time on a pattern that makes a backtracking regex explode', () => {
    const pattern = `${'%a'.repeat(40)}%b`;
    const text = 'a'.repeat(10_000);
    const started = performance.now();
    expect(likeMatcher(pattern)(text)).toBe(false);
    // A backtracking regex takes hours here; bounded time, not a benchmark.
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('parseOrderBy / compileOrder', () => {
  it('orders by the given keys, missing values last, then name ASC, version DESC', () => {
    const rows = [
      record({ name: 'b', version: 1, metrics: { acc: 0.5 } }),
      record({ name: 'a', version: 2 }),
      record({ name: 'a', version: 1, metrics: { acc: 0.9 } }),
      record({ name: 'a', version: 3, metrics: { acc: 0.5 } }),
    ];
    const order = compileOrder(parseOrderBy('metrics.acc DESC'));
    expect([...rows].sort(order).map((r) => `${r.name}@${r.version}`)).toEqual(['a@1', 'a@3', 'b@1', 'a@2']);
    const byVersion = compileOrder(parseOrderBy('version asc, name desc'));
    expect([...rows].sort(byVersion).map((r) => `${r.name}@${r.version}`)).toEqual(['b@1', 'a@1', 'a@2', 'a@3']);
    expect([...rows].sort(compileOrder([])).map((r) => `${r.name}@${r.version}`)).toEqual(['a@3', 'a@2', 'a@1', 'b@1']);
  });

  it('refuses unknown keys and stray words with their position', () => {
    expect(() => parseOrderBy('accuracy DESC')).toThrow(/^order_by: unknown key "accuracy" at position 0/);
    expect(() => parseOrderBy('version DOWN')).toThrow(
      'order_by: expected ASC, DESC, "," or the end of order_by at position 8, found "DOWN"',
    );
  });
});

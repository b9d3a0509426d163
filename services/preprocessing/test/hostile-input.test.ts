/**
 * Hostile-looking but well-formed input (issue 10): column names that are Object.prototype's keys
 * (`__proto__`, `constructor`, `toString`) are ordinary columns, imported, profiled, prepared and
 * transformed, never INTERNAL; an enum value the contract does not have is INVALID_ARGUMENT; a file
 * past a documented limit (columns, keys, record and cell length, nesting) is refused at once,
 * with the limit named, and a failed import takes no version number.
 */
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataFormat, Task } from '@aimaas/proto';
import type { TestNatsServer } from '@aimaas/testing';
import { startNats, startService, type Running } from './harness.js';

let nats: TestNatsServer;
let service: Running;

beforeAll(async () => {
  nats = await startNats();
  service = await startService(nats.url);
});

afterAll(async () => {
  await service?.close();
  await nats?.stop();
});

/** The failure of an import (throws when it succeeded). */
async function importFailure(running: Running, name: string, format: DataFormat, data: string) {
  const started = performance.now();
  const error = (await running.api.importDataset({ name, format }, data).then(
    () => {
      throw new Error(`the import of ${name} succeeded`);
    },
    (e: { code: number; details: string }) => e,
  )) as { code: number; details: string };
  return { code: error.code, details: error.details, ms: performance.now() - started };
}

describe('import limits', () => {
  it('refuses a JSON Lines object with 100,000 keys with RESOURCE_EXHAUSTED at once, and memory stays flat', async () => {
    const record = `{${Array.from({ length: 100_000 }, (_, i) => `"k${i}":${i}`).join(',')}}`;
    const rss = process.memoryUsage().rss;
    const { code, details, ms } = await importFailure(
      service,
      'many-keys',
      DataFormat.DATA_FORMAT_JSONL,
      `${record}\n`,
    );
    expect(code).toBe(status.RESOURCE_EXHAUSTED);
    expect(details).toBe(
      'line 1: key "k2048" would be column 2049; a dataset has at most 2048 (AIMAAS_PREPROCESSING_MAX_COLUMNS)',
    );
    expect(ms).toBeLessThan(5_000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(300 * 1024 * 1024);
  });

  it('refuses a CSV with 100,000 columns naming the limit', async () => {
    const header = Array.from({ length: 100_000 }, (_, i) => `c${i}`).join(',');
    const { code, details } = await importFailure(
      service,
      'wide',
      DataFormat.DATA_FORMAT_CSV,
      `${header}\n${header}\n`,
    );
    expect(code).toBe(status.RESOURCE_EXHAUSTED);
    expect(details).toMatch(
      /more than 2048 fields; the limit is AIMAAS_PREPROCESSING_MAX_COLUMNS|at most 2048 \(AIMAAS_PREPROCESSING_MAX_COLUMNS\)/,
    );
  });

  it('refuses a JSON line longer than the record limit, an unclosed quote running past the cell limit, and deep nesting', async () => {
    const long = await importFailure(
      service,
      'long',
      DataFormat.DATA_FORMAT_JSONL,
      `{"a":"${'x'.repeat(5 * 1024 * 1024)}"}\n`,
    );
    expect(long.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(long.details).toBe(
      'line 1: a record longer than 4194304 characters; the limit is AIMAAS_PREPROCESSING_MAX_RECORD_CHARS',
    );
    const open = await importFailure(
      service,
      'open',
      DataFormat.DATA_FORMAT_CSV,
      `a,b\n1,"${'y'.repeat(200_000)}\n2,3\n`,
    );
    expect(open.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(open.details).toMatch(/^line 2: field 2 is longer than 65536 characters \(an unclosed quote\?\)/);
    const deep = await importFailure(
      service,
      'deep',
      DataFormat.DATA_FORMAT_JSONL,
      `{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}\n`,
    );
    expect(deep.code).toBe(status.INVALID_ARGUMENT);
    expect(deep.details).toBe(
      'line 1: nested deeper than 32 levels of arrays and objects (AIMAAS_PREPROCESSING_MAX_JSON_DEPTH)',
    );
    expect(long.details.length + open.details.length + deep.details.length).toBeLessThan(1_000);
  });

  it('answers a dataset too wide for one store message with RESOURCE_EXHAUSTED, and the failed import takes no version number', async () => {
    const wide = await startService(nats.url, { maxColumns: 20_000 });
    try {
      const header = Array.from({ length: 20_000 }, (_, i) => `c${i}`).join(',');
      const row = Array.from({ length: 20_000 }, (_, i) => String(i)).join(',');
      const { code, details } = await importFailure(
        wide,
        'burn',
        DataFormat.DATA_FORMAT_CSV,
        `${header}\n${row}\n${row}\n`,
      );
      expect(code).toBe(status.RESOURCE_EXHAUSTED);
      expect(details).toMatch(/^a record of \d+ bytes is over the \d+ bytes the store takes in one message$/);
      const ok = await wide.api.importDataset({ name: 'burn' }, 'a,b\n1,2\n3,4\n');
      expect(ok.version).toBe(1);
    } finally {
      await wide.close();
    }
  }, 60_000);
});

describe('prototype keys as column names', () => {
  it('imports, prepares and transforms a CSV whose header is __proto__,constructor,toString,label', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => `${i},${i % 5},${i % 2 ? 'a' : 'b'},${i % 2 ? 'yes' : 'no'}`);
    const dataset = await service.api.importDataset(
      { name: 'protos' },
      `__proto__,constructor,toString,label\n${rows.join('\n')}\n`,
    );
    expect(dataset.columns.map((c) => c.name)).toEqual(['__proto__', 'constructor', 'toString', 'label']);
    const prepared = await service.api.prepareDataset({
      dataset: { name: 'protos' },
      target: 'label',
      task: Task.TASK_CLASSIFICATION,
      seed: 1,
    });
    expect(prepared.featureNames.length).toBeGreaterThanOrEqual(3);
    const out = await service.api.transformRecords({
      preparedDatasetId: prepared.id,
      recordsJson: ['{"__proto__": 3, "constructor": 1, "toString": "a"}'],
    });
    expect(out.features?.shape).toEqual([1, prepared.featureNames.length]);
  });

  it('answers a JSON record keyed __proto__ with a clear error or a value, never INTERNAL', async () => {
    const error = await service.api
      .importDataset(
        { name: 'proto-json', format: 2 },
        '{"__proto__": {"x": 1}, "y": 2}\n{"__proto__": {"x": 2}, "y": 3}\n',
      )
      .then(
        () => undefined,
        (e: { code: number }) => e,
      );
    if (error) expect((error as { code: number }).code).not.toBe(status.INTERNAL);
  });

  it('refuses a task number the enum does not have', async () => {
    await expect(
      service.api.prepareDataset({ dataset: { name: 'protos' }, target: 'label', task: 999 as Task, seed: 1 }),
    ).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^task is 999; expected TASK_CLASSIFICATION/),
    });
  });
});

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ColumnType } from '@aimaas/proto';
import type { TestNatsServer } from '@aimaas/testing';
import { objectNames, readWholeSplit, startNats, startService, type Running } from './harness.js';

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

const ROWS = 200_000;
const CITIES = ['Oslo', 'Lima', 'Pune', 'Kyiv', 'Quito'];

/** A reproducible CSV: an id, two numbers (every 10th `a` missing), a category, a flag, a date, a target. */
function generate(): { csv: Buffer; sumB: number } {
  const lines = ['id,a,b,city,flag,day,y'];
  let sumB = 0;
  for (let i = 0; i < ROWS; i++) {
    const b = ((i * 7919) % 1000) / 8;
    sumB += b;
    const a = i % 10 === 0 ? '' : String((i % 97) - 48.5);
    const day = `2024-0${1 + (i % 9)}-1${i % 10}`;
    lines.push(`${i},${a},${b},${CITIES[i % 5]},${i % 3 === 0 ? 'yes' : 'no'},${day},${(i % 13) * 1.5}`);
  }
  return { csv: Buffer.from(lines.join('\n') + '\n'), sumB };
}

describe('a 200,000-row CSV', () => {
  it('streams in 16 KiB chunks into several shards, profiled exactly, and prepares', async () => {
    const { csv, sumB } = generate();
    const dataset = await service.api.importDataset({ name: 'big' }, csv, { chunkSize: 16 * 1024 });
    expect(dataset).toMatchObject({
      rows: ROWS,
      bytes: csv.length,
      skippedRows: 0,
      sha256: createHash('sha256').update(csv).digest('hex'),
    });
    expect(dataset.columns.map((c) => [c.name, c.type])).toEqual([
      ['id', ColumnType.COLUMN_TYPE_INTEGER],
      ['a', ColumnType.COLUMN_TYPE_NUMERIC],
      ['b', ColumnType.COLUMN_TYPE_NUMERIC],
      ['city', ColumnType.COLUMN_TYPE_CATEGORICAL],
      ['flag', ColumnType.COLUMN_TYPE_BOOLEAN],
      ['day', ColumnType.COLUMN_TYPE_DATETIME],
      ['y', ColumnType.COLUMN_TYPE_NUMERIC],
    ]);
    const byName = Object.fromEntries(dataset.columns.map((c) => [c.name, c]));
    expect(byName.a!.missing).toBe(ROWS / 10);
    expect(byName.b!.mean).toBeCloseTo(sumB / ROWS, 9);
    // The profiler tracks at most 100,000 distinct values per column (bounded memory).
    expect(byName.id).toMatchObject({ min: 0, max: ROWS - 1, distinct: 100_000 });
    expect(byName.city!.topValues).toEqual(
      CITIES.map((value) => ({ value, count: ROWS / 5 })).sort((x, y) => (x.value < y.value ? -1 : 1)),
    );
    expect(byName.flag!.topValues).toEqual([
      { value: 'no', count: ROWS - Math.ceil(ROWS / 3) },
      { value: 'yes', count: Math.ceil(ROWS / 3) },
    ]);
    expect((await objectNames(service.objects)).filter((n) => n.startsWith('datasets/'))).toHaveLength(
      Math.ceil(ROWS / 65_536),
    );

    const prepared = await service.api.prepareDataset({
      dataset: { name: 'big' },
      target: 'y',
      exclude: ['id'],
      seed: 1,
    });
    expect(prepared.featureNames).toEqual([
      'a',
      'b',
      'city=Kyiv',
      'city=Lima',
      'city=Oslo',
      'city=Pune',
      'city=Quito',
      'flag',
      'day:year',
      'day:month',
      'day:day_of_week',
    ]);
    expect(prepared.splits.map((s) => s.rows)).toEqual([140_000, 30_000, 30_000]);
    const test = await readWholeSplit(service.api, prepared.id, 'test', { batchSize: 4096 });
    expect(test.rows).toBe(30_000);
    expect(test.features.every(Number.isFinite)).toBe(true);
  });
});

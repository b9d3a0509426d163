import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ColumnType, DataFormat, MalformedRowPolicy, type ColumnProfile, type Dataset } from '@aimaas/proto';
import { subscribeEvents, type ReceivedEvent } from '@aimaas/events';
import { fixturePath, waitFor, type TestNatsServer } from '@aimaas/testing';
import { objectNames, startNats, startService, type Running } from './harness.js';

let nats: TestNatsServer;
let service: Running;

beforeAll(async () => {
  nats = await startNats();
  service = await startService(nats.url, { shardRows: 500 });
});
afterAll(async () => {
  await service?.close();
  await nats?.stop();
});

const profileOf = (dataset: Dataset, name: string): ColumnProfile => dataset.columns.find((c) => c.name === name)!;

describe('ImportDataset', () => {
  it('imports iris as name@1 with its SHA-256 and a profile of every column', async () => {
    const bytes = await readFile(fixturePath('iris.csv'));
    const dataset = await service.api.importDataset(
      { name: 'iris', description: 'Fisher', tags: { team: 'ml' } },
      bytes,
      { chunkSize: 1000 },
    );
    expect(dataset).toMatchObject({
      name: 'iris',
      version: 1,
      rows: 150,
      bytes: bytes.length,
      format: DataFormat.DATA_FORMAT_CSV,
      skippedRows: 0,
      description: 'Fisher',
      tags: { team: 'ml' },
    });
    expect(dataset.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(dataset.columns.map((c) => [c.name, c.type])).toEqual([
      ['sepal_length', ColumnType.COLUMN_TYPE_NUMERIC],
      ['sepal_width', ColumnType.COLUMN_TYPE_NUMERIC],
      ['petal_length', ColumnType.COLUMN_TYPE_NUMERIC],
      ['petal_width', ColumnType.COLUMN_TYPE_NUMERIC],
      ['species', ColumnType.COLUMN_TYPE_CATEGORICAL],
    ]);
    const sepal = profileOf(dataset, 'sepal_length');
    expect(sepal).toMatchObject({ missing: 0, distinct: 35, min: 4.3, max: 7.9 });
    expect(sepal.mean).toBeCloseTo(5.8433, 3);
    expect(sepal.std).toBeCloseTo(0.8281, 3);
    expect(sepal.quantiles).toEqual({ '0': 4.3, '0.25': 5.1, '0.5': 5.8, '0.75': 6.4, '1': 7.9 });
    const species = profileOf(dataset, 'species');
    expect(species.topValues).toEqual([
      { value: 'setosa', count: 50 },
      { value: 'versicolor', count: 50 },
      { value: 'virginica', count: 50 },
    ]);
    expect(species).toMatchObject({ distinct: 3, minLength: 6, maxLength: 10 });
    await expect(service.api.getDataset({ ref: { name: 'iris' } })).resolves.toEqual(dataset);
  });

  it('imports cars.json (a JSON array) with nulls, a text Name, a categorical Origin and a datetime Year', async () => {
    const bytes = await readFile(fixturePath('cars.json'));
    const dataset = await service.api.importDataset({ name: 'cars', format: DataFormat.DATA_FORMAT_JSON }, bytes, {
      chunkSize: 4096,
    });
    expect(dataset.rows).toBe(406);
    const types = Object.fromEntries(dataset.columns.map((c) => [c.name, c.type]));
    expect(types).toEqual({
      Name: ColumnType.COLUMN_TYPE_TEXT,
      Miles_per_Gallon: ColumnType.COLUMN_TYPE_NUMERIC,
      Cylinders: ColumnType.COLUMN_TYPE_INTEGER,
      Displacement: ColumnType.COLUMN_TYPE_NUMERIC,
      Horsepower: ColumnType.COLUMN_TYPE_INTEGER,
      Weight_in_lbs: ColumnType.COLUMN_TYPE_INTEGER,
      Acceleration: ColumnType.COLUMN_TYPE_NUMERIC,
      Year: ColumnType.COLUMN_TYPE_DATETIME,
      Origin: ColumnType.COLUMN_TYPE_CATEGORICAL,
    });
    expect(profileOf(dataset, 'Miles_per_Gallon').missing).toBe(8);
    expect(profileOf(dataset, 'Horsepower').missing).toBe(6);
    expect(profileOf(dataset, 'Year')).toMatchObject({ min: Date.UTC(1970, 0, 1), max: Date.UTC(1982, 0, 1) });
    expect(profileOf(dataset, 'Origin').topValues.map((v) => v.value)).toEqual(['USA', 'Japan', 'Europe']);
    expect(profileOf(dataset, 'Name').meanLength).toBeGreaterThan(10);
  });

  it('imports wine and digits (65 columns, several shards)', async () => {
    const wine = await service.api.importDataset({ name: 'wine' }, await readFile(fixturePath('wine.csv')));
    expect(wine).toMatchObject({ rows: 178, columns: expect.any(Array) });
    expect(wine.columns).toHaveLength(14);
    const digits = await service.api.importDataset({ name: 'digits' }, await readFile(fixturePath('digits.csv')), {
      chunkSize: 7919,
    });
    expect(digits.rows).toBe(1797);
    expect(digits.columns).toHaveLength(65);
    expect(profileOf(digits, 'digit')).toMatchObject({
      type: ColumnType.COLUMN_TYPE_INTEGER,
      distinct: 10,
      min: 0,
      max: 9,
    });
  });

  it('imports JSON Lines, a BOM, a semicolon delimiter, custom null markers and type overrides', async () => {
    const jsonl = await service.api.importDataset(
      { name: 'events', format: DataFormat.DATA_FORMAT_JSONL },
      '{"id":1,"ok":true}\n{"id":2,"ok":false,"extra":"x"}\n',
    );
    expect(jsonl.columns.map((c) => [c.name, c.type, c.missing])).toEqual([
      ['id', ColumnType.COLUMN_TYPE_INTEGER, 0],
      ['ok', ColumnType.COLUMN_TYPE_BOOLEAN, 0],
      ['extra', ColumnType.COLUMN_TYPE_CATEGORICAL, 1],
    ]);
    const csv = await service.api.importDataset(
      {
        name: 'semi',
        csv: { delimiter: ';', nullMarkers: ['?'] },
        columnTypes: { code: ColumnType.COLUMN_TYPE_CATEGORICAL },
      },
      '\uFEFFcode;price;note\r\n007;1,5;?\r\n008;?;"a;b"\r\n',
    );
    expect(csv.columns.map((c) => [c.name, c.type, c.missing])).toEqual([
      ['code', ColumnType.COLUMN_TYPE_CATEGORICAL, 0],
      ['price', ColumnType.COLUMN_TYPE_CATEGORICAL, 1],
      ['note', ColumnType.COLUMN_TYPE_CATEGORICAL, 1],
    ]);
    // The pipeline's profiler counts number-like strings by value: "007" is listed as 7.
    expect(profileOf(csv, 'code')).toMatchObject({ distinct: 2, minLength: 3, maxLength: 3 });
  });

  it('reads padded numbers, exponents, signs and null markers in a numeric column', async () => {
    const dataset = await service.api.importDataset({ name: 'numbers' }, 'x,y\n 4 ,a\n1e3,b\nNA,c\n,d\n-2.5,e\n+7,f\n');
    const x = profileOf(dataset, 'x');
    expect(x).toMatchObject({ type: ColumnType.COLUMN_TYPE_NUMERIC, missing: 2, min: -2.5, max: 1000 });
    expect(x.quantiles).toEqual({ '0': -2.5, '0.25': 2.375, '0.5': 5.5, '0.75': 255.25, '1': 1000 });
    expect(x.mean).toBeCloseTo(252.125, 10);
  });

  it('names header-less columns col_1, col_2, … or as given', async () => {
    const plain = await service.api.importDataset({ name: 'noheader', csv: { noHeader: true } }, '1,a\n2,b\n');
    expect(plain.columns.map((c) => c.name)).toEqual(['col_1', 'col_2']);
    expect(plain.rows).toBe(2);
    const named = await service.api.importDataset(
      { name: 'noheader', csv: { noHeader: true, columnNames: ['x', 'y'] } },
      '1,a\n2,b\n',
    );
    expect(named).toMatchObject({ version: 2, rows: 2 });
    expect(named.columns.map((c) => c.name)).toEqual(['x', 'y']);
  });

  it('gives concurrent imports of one name distinct versions', async () => {
    const versions = await Promise.all(
      Array.from({ length: 5 }, () => service.api.importDataset({ name: 'race' }, 'a\n1\n').then((d) => d.version)),
    );
    expect(versions.sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it('rejects a bad header before reading the file', async () => {
    await expect(service.api.importDataset({ name: 'bad name!' }, 'a\n1\n')).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringContaining('header.name is "bad name!"'),
    });
    await expect(
      service.api.importDataset({ name: 'x', format: DataFormat.DATA_FORMAT_UNSPECIFIED }, 'a\n1\n'),
    ).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining('header.format') });
    await expect(
      service.api.importDataset({ name: 'x', columnTypes: { nope: ColumnType.COLUMN_TYPE_TEXT } }, 'a\n1\n'),
    ).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: 'header.column_types names column "nope", which the file does not have (it has a)',
    });
  });

  it('publishes dataset.imported with the stored dataset', async () => {
    const seen: ReceivedEvent<'dataset.imported'>[] = [];
    const sub = await subscribeEvents({
      nc: service.nc,
      types: ['dataset.imported'],
      deliver: 'new',
      handler: (event) => void seen.push(event),
    });
    const dataset = await service.api.importDataset(
      { name: 'evented', onMalformed: MalformedRowPolicy.MALFORMED_ROW_POLICY_SKIP },
      'a\n1\n2\n',
    );
    await waitFor(() => seen.length === 1, { message: 'the dataset.imported event' });
    await sub.stop();
    expect(seen[0]).toMatchObject({ type: 'dataset.imported', source: '/aimaas/preprocessing', subject: 'evented@1' });
    expect(seen[0]!.payload.dataset).toEqual(dataset);
  });
});

describe('GetDataset, ListDatasets and DeleteDataset', () => {
  it('pages through every version in name and version order', async () => {
    for (let i = 0; i < 3; i++) await service.api.importDataset({ name: 'paged' }, `v\n${i}\n`);
    const first = await service.api.listDatasets({ name: 'paged', pageSize: 2 });
    expect(first.datasets.map((d) => d.version)).toEqual([1, 2]);
    const second = await service.api.listDatasets({ name: 'paged', pageSize: 2, pageToken: first.nextPageToken });
    expect(second).toMatchObject({ datasets: [expect.objectContaining({ version: 3 })], nextPageToken: '' });
    const all = await service.api.listDatasets({ pageSize: 1000 });
    const names = all.datasets.map((d) => `${d.name}@${d.version}`);
    expect(names).toEqual([...names].sort((a, b) => (a < b ? -1 : 1)));
    expect(names).toContain('iris@1');
  });

  it('answers NOT_FOUND for unknown datasets and versions', async () => {
    await expect(service.api.getDataset({ ref: { name: 'nope' } })).rejects.toMatchObject({
      code: status.NOT_FOUND,
      details: 'dataset "nope" not found',
    });
    await expect(service.api.getDataset({ ref: { name: 'iris', version: 9 } })).rejects.toMatchObject({
      code: status.NOT_FOUND,
      details: 'dataset "iris" has no version 9',
    });
  });

  it('deletes one version with its shards, then every version, and never reuses a number', async () => {
    const v1 = await service.api.importDataset({ name: 'doomed' }, `x\n${'1\n'.repeat(1200)}`);
    await service.api.importDataset({ name: 'doomed' }, 'x\n2\n');
    const before = await objectNames(service.objects);
    await service.api.deleteDataset({ ref: { name: 'doomed', version: 1 } });
    const after = await objectNames(service.objects);
    expect(before.length - after.length).toBe(3); // 1200 rows in shards of 500
    expect(v1.rows).toBe(1200);
    await expect(service.api.getDataset({ ref: { name: 'doomed' } })).resolves.toMatchObject({ version: 2 });
    await service.api.deleteDataset({ ref: { name: 'doomed' } });
    await expect(service.api.getDataset({ ref: { name: 'doomed' } })).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(service.api.deleteDataset({ ref: { name: 'doomed' } })).rejects.toMatchObject({
      code: status.NOT_FOUND,
    });
    await expect(service.api.importDataset({ name: 'doomed' }, 'x\n3\n')).resolves.toMatchObject({ version: 3 });
  });
});

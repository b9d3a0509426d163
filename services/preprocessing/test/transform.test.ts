import { readFile } from 'node:fs/promises';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataFormat, ImputeStrategy, type PreparedDataset } from '@aimaas/proto';
import { encodeTarget, parsePipeline } from '@aimaas/pipeline';
import { fixturePath, type TestNatsServer } from '@aimaas/testing';
import { readWholeSplit, startNats, startService, toFloat32, type Running } from './harness.js';

let nats: TestNatsServer;
let service: Running;
let cars: Record<string, unknown>[];
let irisRecords: Record<string, string>[];

// Tiny tensor shards and shuffle windows, so reads cross shard and window boundaries.
beforeAll(async () => {
  nats = await startNats();
  service = await startService(nats.url, { tensorShardBytes: 4096, shuffleWindowBytes: 12_000 });
  const carsBytes = await readFile(fixturePath('cars.json'));
  cars = JSON.parse(carsBytes.toString('utf8'));
  await service.api.importDataset({ name: 'cars', format: DataFormat.DATA_FORMAT_JSON }, carsBytes);
  const iris = await readFile(fixturePath('iris.csv'), 'utf8');
  const [header, ...lines] = iris.trim().split(/\r?\n/);
  const names = header!.split(',');
  irisRecords = lines.map((line) => Object.fromEntries(line.split(',').map((cell, i) => [names[i]!, cell])));
  await service.api.importDataset({ name: 'iris' }, iris);
});
afterAll(async () => {
  await service?.close();
  await nats?.stop();
});

/** Each row as the hex of its float32 feature bytes and its label's bytes. */
function rowKeys(features: Float32Array, labels: Float32Array | null, width: number): string[] {
  const bytes = Buffer.from(features.buffer, features.byteOffset, features.byteLength);
  const labelBytes = labels === null ? null : Buffer.from(labels.buffer, labels.byteOffset, labels.byteLength);
  return Array.from(
    { length: features.length / width },
    (_, r) =>
      bytes.subarray(r * width * 4, (r + 1) * width * 4).toString('hex') +
      (labelBytes ? `|${labelBytes.subarray(r * 4, r * 4 + 4).toString('hex')}` : ''),
  );
}

/** Rows of every split of a prepared dataset, read with ReadSplit. */
async function preparedRows(prepared: PreparedDataset): Promise<string[]> {
  const keys: string[] = [];
  for (const split of prepared.splits) {
    const read = await readWholeSplit(service.api, prepared.id, split.name, { batchSize: 37 });
    expect(read.rows).toBe(split.rows);
    keys.push(...rowKeys(read.features, read.labels, prepared.featureNames.length));
  }
  return keys.sort();
}

/** The same rows computed from raw records with TransformRecords (labels encoded with the saved pipeline). */
async function transformedRows(prepared: PreparedDataset, records: Record<string, unknown>[]): Promise<string[]> {
  const pipeline = parsePipeline(prepared.pipelineJson);
  const labelled = records.filter((r) => r[prepared.target] !== null && r[prepared.target] !== undefined);
  const response = await service.api.transformRecords({
    preparedDatasetId: prepared.id,
    recordsJson: labelled.map((r) => JSON.stringify(r)),
  });
  expect(response.features!.shape).toEqual([labelled.length, prepared.featureNames.length]);
  expect(response.featureNames).toEqual(prepared.featureNames);
  const labels = Float32Array.from(labelled, (r) => encodeTarget(pipeline, r[prepared.target]));
  return rowKeys(toFloat32(response.features!.raw), labels, prepared.featureNames.length).sort();
}

describe('TransformRecords', () => {
  it('gives exactly the prepared tensors for the raw cars records (regression, nulls, text, datetime)', async () => {
    const prepared = await service.api.prepareDataset({
      dataset: { name: 'cars' },
      target: 'Miles_per_Gallon',
      seed: 5,
    });
    const stored = await preparedRows(prepared);
    expect(stored).toHaveLength(398);
    expect(await transformedRows(prepared, cars)).toEqual(stored);
  });

  it('gives exactly the prepared tensors for iris rows sent as the CSV text of each cell', async () => {
    const prepared = await service.api.prepareDataset({ dataset: { name: 'iris' }, target: 'species', seed: 9 });
    expect(await transformedRows(prepared, irisRecords)).toEqual(await preparedRows(prepared));
  });

  it('applies a pipeline given as JSON like the prepared dataset it came from', async () => {
    const prepared = await service.api.prepareDataset({
      dataset: { name: 'iris' },
      target: 'species',
      exclude: ['sepal_width'],
    });
    const recordsJson = irisRecords.slice(0, 3).map((r) => JSON.stringify(r));
    const byId = await service.api.transformRecords({ preparedDatasetId: prepared.id, recordsJson });
    const byJson = await service.api.transformRecords({ pipelineJson: prepared.pipelineJson, recordsJson });
    expect(byJson).toEqual(byId);
    expect(byId.featureNames).toEqual(['sepal_length', 'petal_length', 'petal_width']);
  });

  it('names the dataset row of a missing value that a column without imputation cannot take', async () => {
    const request = {
      dataset: { name: 'cars' },
      target: 'Miles_per_Gallon',
      columns: { Horsepower: { impute: { strategy: ImputeStrategy.IMPUTE_STRATEGY_NONE } } },
    };
    const error = await service.api.prepareDataset(request).catch((e: { code: number; details: string }) => e);
    expect(error).toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^dataset row \d+, column "Horsepower": value is missing/),
    });
    const row = Number(/^dataset row (\d+)/.exec((error as { details: string }).details)![1]);
    expect(cars[row]!.Horsepower).toBeNull();
  });

  it('names the record and column of a value the pipeline cannot read', async () => {
    const prepared = await service.api.prepareDataset({
      dataset: { name: 'cars' },
      target: 'Miles_per_Gallon',
      columns: { Weight_in_lbs: { impute: { strategy: ImputeStrategy.IMPUTE_STRATEGY_NONE } } },
    });
    const good = JSON.stringify(cars[0]);
    const call = (records: string[]) =>
      service.api.transformRecords({ preparedDatasetId: prepared.id, recordsJson: records });
    await expect(call([good, good, JSON.stringify({ ...cars[0], Weight_in_lbs: 'abc' })])).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: 'record 2, column "Weight_in_lbs": value "abc" is not a number; expected a number',
    });
    const { Weight_in_lbs: _, ...withoutWeight } = cars[0]!;
    await expect(call([JSON.stringify(withoutWeight)])).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^record 0, column "Weight_in_lbs": /),
    });
    await expect(call([good, '{"Name": '])).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^record 1: not valid JSON/),
    });
    await expect(
      service.api.transformRecords({ pipelineJson: '{"format":"x"}', recordsJson: [good] }),
    ).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringContaining('invalid pipeline at format'),
    });
    await expect(
      service.api.transformRecords({ preparedDatasetId: 'nope', recordsJson: [good] }),
    ).rejects.toMatchObject({ code: status.NOT_FOUND });
  });
});

describe('ReadSplit', () => {
  let prepared: PreparedDataset;
  beforeAll(async () => {
    prepared = await service.api.prepareDataset({ dataset: { name: 'cars' }, target: 'Miles_per_Gallon', seed: 2 });
  });

  it('streams batches of the asked size with their offsets, and resumes from an offset', async () => {
    const all = await readWholeSplit(service.api, prepared.id, 'train', { batchSize: 50 });
    expect(all.batches.map((b) => [b.offset, b.rows])).toEqual(
      Array.from({ length: Math.ceil(all.rows / 50) }, (_, i) => [i * 50, Math.min(50, all.rows - i * 50)]),
    );
    expect(all.batches[0]!.labels!.shape).toEqual([50]);
    const tail = await readWholeSplit(service.api, prepared.id, 'train', { batchSize: 50, offset: 120 });
    expect(tail.batches[0]!.offset).toBe(120);
    expect(tail.features).toEqual(all.features.subarray(120 * all.width));
  });

  it('shuffles the same rows into a seeded order that an offset resumes exactly', async () => {
    const plain = await readWholeSplit(service.api, prepared.id, 'train');
    const shuffled = await readWholeSplit(service.api, prepared.id, 'train', { shuffleSeed: 17 });
    const again = await readWholeSplit(service.api, prepared.id, 'train', { shuffleSeed: 17, batchSize: 13 });
    const other = await readWholeSplit(service.api, prepared.id, 'train', { shuffleSeed: 18 });
    const keys = (read: typeof plain) => rowKeys(read.features, read.labels, read.width);
    expect(keys(shuffled)).not.toEqual(keys(plain));
    expect([...keys(shuffled)].sort()).toEqual([...keys(plain)].sort());
    expect(keys(again)).toEqual(keys(shuffled));
    expect(keys(other)).not.toEqual(keys(shuffled));
    const resumed = await readWholeSplit(service.api, prepared.id, 'train', { shuffleSeed: 17, offset: 200 });
    expect(keys(resumed)).toEqual(keys(shuffled).slice(200));
  });

  it('rejects an unknown split, a batch past the message limit and an offset past the end', async () => {
    const read = (extra: object) => service.api.readSplit({ preparedDatasetId: prepared.id, split: 'train', ...extra });
    await expect(read({ split: 'training' })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringContaining('split "training" is not in prepared dataset'),
    });
    await expect(read({ batchSize: 10_000_000 })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^batch_size is 10000000; expected/),
    });
    await expect(read({ offset: 100_000 })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^offset is 100000; expected 0 to \d+/),
    });
    await expect(service.api.readSplit({ preparedDatasetId: 'nope', split: 'train' })).rejects.toMatchObject({
      code: status.NOT_FOUND,
    });
  });
});

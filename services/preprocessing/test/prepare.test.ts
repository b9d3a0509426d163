import { readFile } from 'node:fs/promises';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataFormat, ScaleMethod, Task, type PreparedDataset } from '@aimaas/proto';
import { subscribeEvents, type ReceivedEvent } from '@aimaas/events';
import { fixturePath, waitFor, type TestNatsServer } from '@aimaas/testing';
import { readWholeSplit, startNats, startService, type Running } from './harness.js';

let nats: TestNatsServer;
let service: Running;

beforeAll(async () => {
  nats = await startNats();
  service = await startService(nats.url);
  await service.api.importDataset({ name: 'iris' }, await readFile(fixturePath('iris.csv')));
  await service.api.importDataset({ name: 'wine' }, await readFile(fixturePath('wine.csv')));
  await service.api.importDataset({ name: 'digits' }, await readFile(fixturePath('digits.csv')));
  await service.api.importDataset(
    { name: 'cars', format: DataFormat.DATA_FORMAT_JSON },
    await readFile(fixturePath('cars.json')),
  );
});
afterAll(async () => {
  await service?.close();
  await nats?.stop();
});

const FRACTIONS = { train: 0.7, validation: 0.15, test: 0.15 } as const;

/** Every class count and every split total is within one row of its exact share. */
function expectStratified(prepared: PreparedDataset, classSizes: Record<string, number>): void {
  const total = Object.values(classSizes).reduce((a, b) => a + b, 0);
  for (const split of prepared.splits) {
    const fraction = FRACTIONS[split.name as keyof typeof FRACTIONS];
    expect(Math.abs(split.rows - total * fraction)).toBeLessThanOrEqual(1);
    for (const [label, size] of Object.entries(classSizes))
      expect(Math.abs(split.classCounts[label]! - size * fraction)).toBeLessThanOrEqual(1);
  }
  expect(prepared.splits.reduce((sum, s) => sum + s.rows, 0)).toBe(total);
}

describe('PrepareDataset', () => {
  it('splits iris 70/15/15 stratified by species, each class within one row of exact', async () => {
    const prepared = await service.api.prepareDataset({ dataset: { name: 'iris' }, target: 'species', seed: 7 });
    expect(prepared).toMatchObject({
      dataset: { name: 'iris', version: 1 },
      target: 'species',
      task: Task.TASK_CLASSIFICATION,
      featureNames: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
      featureShape: [4],
      classLabels: ['setosa', 'versicolor', 'virginica'],
      seed: 7,
      folds: 0,
    });
    expect(prepared.splits.map((s) => s.name)).toEqual(['train', 'validation', 'test']);
    expectStratified(prepared, { setosa: 50, versicolor: 50, virginica: 50 });
    expect(JSON.parse(prepared.pipelineJson)).toMatchObject({
      format: 'aimaas.pipeline',
      task: 'classification',
      fittedRows: 105,
    });
    await expect(service.api.getPreparedDataset({ id: prepared.id })).resolves.toEqual(prepared);
  });

  it('gives the same split for the same seed and another for another seed', async () => {
    const request = {
      dataset: { name: 'wine' },
      target: 'cultivar',
      split: { train: 0.6, validation: 0.2, test: 0.2 },
    };
    const [a, b, c] = await Promise.all([
      service.api.prepareDataset({ ...request, seed: 42 }),
      service.api.prepareDataset({ ...request, seed: 42 }),
      service.api.prepareDataset({ ...request, seed: 43 }),
    ]);
    expect(a.splits).toEqual(b.splits);
    const [trainA, trainB, trainC] = await Promise.all(
      [a, b, c].map((p) => readWholeSplit(service.api, p.id, 'train')),
    );
    expect(Buffer.from(trainA.features.buffer)).toEqual(Buffer.from(trainB.features.buffer));
    expect(Buffer.from(trainA.features.buffer).equals(Buffer.from(trainC.features.buffer))).toBe(false);
    expect(trainA.rows).toBeGreaterThan(100);
  });

  it('prepares digits: 64 pixel features, ten classes, stratified', async () => {
    const prepared = await service.api.prepareDataset({
      dataset: { name: 'digits' },
      target: 'digit',
      task: Task.TASK_CLASSIFICATION,
      seed: 1,
    });
    expect(prepared.featureShape).toEqual([64]);
    expect(prepared.classLabels).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const sizes = Object.fromEntries(
      prepared.classLabels.map((label) => [label, prepared.splits.reduce((sum, s) => sum + s.classCounts[label]!, 0)]),
    );
    expectStratified(prepared, sizes);
    const test = await readWholeSplit(service.api, prepared.id, 'test', { batchSize: 100 });
    expect(test.batches[0]!.features!.shape).toEqual([100, 64]);
    expect(test.rows).toBe(prepared.splits[2]!.rows);
  });

  it('prepares cars.json for MPG regression: text, one-hot, datetime parts, imputation; rows without MPG left out', async () => {
    const prepared = await service.api.prepareDataset({
      dataset: { name: 'cars' },
      target: 'Miles_per_Gallon',
      columns: { Name: { text: { vocabularySize: 20 } }, Displacement: { scale: ScaleMethod.SCALE_METHOD_ROBUST } },
      seed: 3,
    });
    expect(prepared.task).toBe(Task.TASK_REGRESSION);
    expect(prepared.splits.reduce((sum, s) => sum + s.rows, 0)).toBe(398);
    expect(prepared.featureNames).toEqual(
      expect.arrayContaining([
        'Horsepower',
        'Origin=USA',
        'Origin=Japan',
        'Origin=Europe',
        'Year:year',
        'Year:month',
        'Year:day_of_week',
      ]),
    );
    expect(prepared.featureNames.filter((f) => f.startsWith('Name:'))).toHaveLength(20);
    const pipeline = JSON.parse(prepared.pipelineJson);
    expect(pipeline.target).toMatchObject({ name: 'Miles_per_Gallon', task: 'regression', method: 'standard' });
    expect(pipeline.columns.find((c: { name: string }) => c.name === 'Displacement').steps.at(-1)).toMatchObject({
      op: 'scale',
      method: 'robust',
    });
    const train = await readWholeSplit(service.api, prepared.id, 'train');
    expect(train.features.every((v) => Number.isFinite(v))).toBe(true);
  });

  it('deals k stratified folds and serves each fold as train and validation', async () => {
    const prepared = await service.api.prepareDataset({
      dataset: { name: 'iris' },
      target: 'species',
      kfold: { folds: 5 },
      seed: 11,
    });
    expect(prepared.folds).toBe(5);
    expect(prepared.splits.map((s) => [s.name, s.rows, s.classCounts])).toEqual(
      Array.from({ length: 5 }, (_, f) => [`fold-${f}`, 30, { setosa: 10, versicolor: 10, virginica: 10 }]),
    );
    const train = await readWholeSplit(service.api, prepared.id, 'fold-2/train');
    const validation = await readWholeSplit(service.api, prepared.id, 'fold-2/validation');
    expect([train.rows, validation.rows]).toEqual([120, 30]);
    await expect(
      service.api.readSplit({ preparedDatasetId: prepared.id, split: 'fold-5/train' }),
    ).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it('prepares for reconstruction without a target', async () => {
    const prepared = await service.api.prepareDataset({
      dataset: { name: 'iris' },
      exclude: ['species'],
      split: { train: 1 },
    });
    expect(prepared).toMatchObject({ task: Task.TASK_RECONSTRUCTION, target: '', classLabels: [] });
    const all = await readWholeSplit(service.api, prepared.id, 'train');
    expect(all.rows).toBe(150);
    expect(all.batches[0]!.labels).toBeUndefined();
  });

  it('publishes dataset.prepared', async () => {
    const seen: ReceivedEvent<'dataset.prepared'>[] = [];
    const sub = await subscribeEvents({
      nc: service.nc,
      types: ['dataset.prepared'],
      deliver: 'new',
      handler: (event) => void seen.push(event),
    });
    const prepared = await service.api.prepareDataset({ dataset: { name: 'iris' }, target: 'species' });
    await waitFor(() => seen.length === 1, { message: 'the dataset.prepared event' });
    await sub.stop();
    expect(seen[0]!.payload.prepared).toEqual(prepared);
  });
});

describe('PrepareDataset validation', () => {
  it.each([
    ['an unknown dataset', { dataset: { name: 'nope' }, target: 'x' }, status.NOT_FOUND, 'dataset "nope" not found'],
    [
      'an unknown target',
      { dataset: { name: 'iris' }, target: 'kind' },
      status.INVALID_ARGUMENT,
      'target column "kind" is not a column of dataset "iris@1" (it has sepal_length, sepal_width, petal_length, petal_width, species)',
    ],
    [
      'an unknown feature',
      { dataset: { name: 'iris' }, target: 'species', features: ['sepal_length', 'stem'] },
      status.INVALID_ARGUMENT,
      'feature column "stem" is not a column',
    ],
    [
      'an unknown steps column',
      { dataset: { name: 'iris' }, target: 'species', columns: { stem: { log: true } } },
      status.INVALID_ARGUMENT,
      'columns["stem"] names "stem" is not a column',
    ],
    [
      'fractions that do not sum to 1',
      { dataset: { name: 'iris' }, target: 'species', split: { train: 0.6, validation: 0.3, test: 0.3 } },
      status.INVALID_ARGUMENT,
      'split fractions must sum to 1: train 0.6 + validation 0.3 + test 0.3 = 1.2',
    ],
    [
      'stratification of a regression',
      { dataset: { name: 'cars' }, target: 'Miles_per_Gallon', split: { ...FRACTIONS, stratify: true } },
      status.INVALID_ARGUMENT,
      'split.stratify is true, but the task is regression',
    ],
    [
      'a step that does not apply to the column',
      {
        dataset: { name: 'cars' },
        target: 'Miles_per_Gallon',
        columns: { Origin: { scale: ScaleMethod.SCALE_METHOD_STANDARD } },
      },
      status.INVALID_ARGUMENT,
      'column "Origin", step "scale": does not apply to categorical columns',
    ],
    [
      'more folds than rows',
      { dataset: { name: 'iris' }, target: 'species', kfold: { folds: 151 } },
      status.INVALID_ARGUMENT,
      'kfold.folds is 151, more than the 150 usable rows',
    ],
  ])('rejects %s', async (_title, request, code, details) => {
    await expect(service.api.prepareDataset(request)).rejects.toMatchObject({
      code,
      details: expect.stringContaining(details),
    });
  });

  it('rejects a classification target with a single class', async () => {
    await service.api.importDataset({ name: 'one-class' }, 'x,label\n1,a\n2,a\n3,a\n4,a\n');
    await expect(service.api.prepareDataset({ dataset: { name: 'one-class' }, target: 'label' })).rejects.toMatchObject(
      {
        code: status.INVALID_ARGUMENT,
        details: 'target "label" has a single class ("a") in its 4 rows; classification needs at least two classes',
      },
    );
  });

  it('answers NOT_FOUND for an unknown prepared dataset', async () => {
    await expect(service.api.getPreparedDataset({ id: 'nope' })).rejects.toMatchObject({
      code: status.NOT_FOUND,
      details: 'prepared dataset "nope" not found',
    });
  });
  it('answers a 4 KB prepared id and a 100 KB dataset name with a short INVALID_ARGUMENT at once, and keeps serving', async () => {
    const longId = 'a'.repeat(4_097);
    const idError = await service.api
      .getPreparedDataset({ id: longId })
      .catch((e: { code: number; details: string }) => e);
    expect(idError).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect((idError as { details: string }).details).toMatch(
      /^id is "a{100}"… \(4097 characters\); expected the id PrepareDataset returned/,
    );
    await expect(
      service.api.readSplit({ preparedDatasetId: `x${'y'.repeat(5_000)}`, split: 'train', batchSize: 1 }),
    ).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^prepared_dataset_id is "xy{99}"… \(5001 characters\)/),
    });
    const nameError = await service.api
      .getDataset({ ref: { name: 'n'.repeat(100_000), version: 0 } })
      .catch((e: { code: number; details: string }) => e);
    expect(nameError).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect((nameError as { details: string }).details.length).toBeLessThan(300);
    // The service's NATS connection survived: a normal lookup still answers.
    await expect(service.api.getPreparedDataset({ id: 'nope' })).rejects.toMatchObject({ code: status.NOT_FOUND });
  });
});

import { readFile } from 'node:fs/promises';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScaleMethod, Task } from '@aimaas/proto';
import { fixturePath, type TestNatsServer } from '@aimaas/testing';
import { objectNames, readWholeSplit, startNats, startService, type Running } from './harness.js';

let nats: TestNatsServer;
let service: Running;

const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
/** Iris rows 0, 5, 10, … are test, rows 1, 6, 11, … validation, the rest train. */
const splitOf = (row: number): string => (row % 5 === 0 ? 'test' : row % 5 === 1 ? 'validation' : 'train');
let irisRows: { values: number[]; species: string }[];

beforeAll(async () => {
  nats = await startNats();
  service = await startService(nats.url);
  const lines = (await readFile(fixturePath('iris.csv'), 'utf8')).trim().split(/\r?\n/);
  irisRows = lines.slice(1).map((line) => {
    const cells = line.split(',');
    return { values: cells.slice(0, 4).map(Number), species: cells[4]! };
  });
  const csv = [`${lines[0]},split`, ...lines.slice(1).map((line, row) => `${line},${splitOf(row)}`)].join('\n');
  await service.api.importDataset({ name: 'iris-split' }, csv);
});
afterAll(async () => {
  await service?.close();
  await nats?.stop();
});

/** Raw features of the iris rows of one split, in file order. */
function expectedFeatures(split: string): Float32Array {
  return Float32Array.from(irisRows.flatMap((row, i) => (splitOf(i) === split ? row.values : [])));
}

/** Object names and prepared-dataset keys: what a failed PrepareDataset must not add to. */
async function storedState(): Promise<{ objects: string[]; prepared: string[] }> {
  return {
    objects: (await objectNames(service.objects)).sort(),
    prepared: (await service.kv.keys('prepared.>')).sort(),
  };
}

describe('PrepareDataset with split.column', () => {
  it('puts each row in the split its column names, in file order, and never makes the column a feature', async () => {
    const unscaled = Object.fromEntries(FEATURES.map((name) => [name, { scale: ScaleMethod.SCALE_METHOD_NONE }]));
    const prepared = await service.api.prepareDataset({
      dataset: { name: 'iris-split' },
      target: 'species',
      columns: unscaled,
      split: { column: 'split' },
    });
    expect(prepared.featureNames).toEqual(FEATURES);
    expect(prepared.splits).toEqual([
      { name: 'train', rows: 90, classCounts: { setosa: 30, versicolor: 30, virginica: 30 } },
      { name: 'validation', rows: 30, classCounts: { setosa: 10, versicolor: 10, virginica: 10 } },
      { name: 'test', rows: 30, classCounts: { setosa: 10, versicolor: 10, virginica: 10 } },
    ]);
    for (const split of ['train', 'validation', 'test']) {
      const read = await readWholeSplit(service.api, prepared.id, split);
      expect([split, read.width]).toEqual([split, 4]);
      expect(read.features).toEqual(expectedFeatures(split));
      const classes = irisRows
        .filter((_, i) => splitOf(i) === split)
        .map((row) => prepared.classLabels.indexOf(row.species));
      expect(read.labels).toEqual(Float32Array.from(classes));
    }
  });

  it('fits the pipeline on the train rows only', async () => {
    const prepared = await service.api.prepareDataset({
      dataset: { name: 'iris-split' },
      target: 'species',
      split: { column: 'split', stratify: false },
    });
    expect(prepared.featureNames).toEqual(FEATURES);
    const pipeline = JSON.parse(prepared.pipelineJson);
    expect(pipeline.fittedRows).toBe(90);
    const train = irisRows.filter((_, i) => splitOf(i) === 'train').map((row) => row.values[0]!);
    const mean = train.reduce((a, b) => a + b, 0) / train.length;
    const scale = pipeline.columns
      .find((c: { name: string }) => c.name === 'sepal_length')
      .steps.find((s: { op: string }) => s.op === 'scale');
    expect(scale.center).toBeCloseTo(mean, 12);
  });

  it('allows validation and test splits without rows', async () => {
    await service.api.importDataset(
      { name: 'train-only' },
      'x,label,split\n1,a,train\n2,b,train\n3,a,train\n4,b,train\n',
    );
    const prepared = await service.api.prepareDataset({
      dataset: { name: 'train-only' },
      target: 'label',
      task: Task.TASK_CLASSIFICATION,
      split: { column: 'split' },
    });
    expect(prepared.featureNames).toEqual(['x']);
    expect(prepared.splits.map((s) => [s.name, s.rows])).toEqual([
      ['train', 4],
      ['validation', 0],
      ['test', 0],
    ]);
    expect((await readWholeSplit(service.api, prepared.id, 'validation')).rows).toBe(0);
  });

  it('leaves rows without a target out, whatever their split column holds', async () => {
    await service.api.importDataset(
      { name: 'unlabelled' },
      'x,label,split\n1,a,train\n2,,\n3,b,train\n4,a,test\n5,,unknown\n6,b,train\n',
    );
    const prepared = await service.api.prepareDataset({
      dataset: { name: 'unlabelled' },
      target: 'label',
      split: { column: 'split' },
    });
    expect(prepared.splits.map((s) => [s.name, s.rows])).toEqual([
      ['train', 3],
      ['validation', 0],
      ['test', 1],
    ]);
  });
});

describe('PrepareDataset with split.column: validation', () => {
  beforeAll(async () => {
    await service.api.importDataset(
      { name: 'bad-split' },
      'x,label,split\n1,a,train\n2,b,train\n3,a,test\n4,b,dev\n5,a,train\n',
    );
    await service.api.importDataset({ name: 'missing-split' }, 'x,label,split\n1,a,train\n2,b,train\n3,a,\n4,b,test\n');
    await service.api.importDataset(
      { name: 'no-train' },
      'x,label,split\n1,a,test\n2,b,validation\n3,a,test\n4,b,test\n',
    );
    await service.api.importDataset(
      { name: 'test-only-class' },
      'x,label,split\n1,a,train\n2,b,train\n3,c,test\n4,a,test\n',
    );
  });

  const iris = { dataset: { name: 'iris-split' }, target: 'species' };
  it.each([
    [
      'a fraction beside the column',
      { ...iris, split: { column: 'split', train: 0.8, test: 0.2 } },
      'split.train is 0.8, but split.column "split" names each row\'s split; leave the fractions 0',
    ],
    [
      'a test fraction beside the column',
      { ...iris, split: { column: 'split', test: 1 } },
      'split.test is 1, but split.column "split" names each row\'s split; leave the fractions 0',
    ],
    [
      'stratification with the column',
      { ...iris, split: { column: 'split', stratify: true } },
      'split.stratify is true, but split.column "split" names each row\'s split; leave stratify unset',
    ],
    [
      'an unknown column',
      { ...iris, split: { column: 'fold' } },
      'split.column "fold" is not a column of dataset "iris-split@1" (it has sepal_length, sepal_width, petal_length, petal_width, species, split)',
    ],
    [
      'the column as a feature',
      { ...iris, features: ['sepal_length', 'split'], split: { column: 'split' } },
      'feature column "split" is split.column; the split column names each row\'s split and is never a feature',
    ],
    [
      'the column as the target',
      { dataset: { name: 'iris-split' }, target: 'split', split: { column: 'split' } },
      'split.column "split" is the target; the split column names each row\'s split and cannot be the target',
    ],
    [
      'steps for the column',
      { ...iris, columns: { split: { encode: 2 } }, split: { column: 'split' } },
      'columns["split"] gives steps for split.column "split", which is never a feature',
    ],
    [
      'a value that names no split',
      { dataset: { name: 'bad-split' }, target: 'label', split: { column: 'split' } },
      'dataset row 3, column "split" (split.column): value is "dev"; expected "train", "validation" or "test"',
    ],
    [
      'a missing value',
      { dataset: { name: 'missing-split' }, target: 'label', split: { column: 'split' } },
      'dataset row 2, column "split" (split.column): value is missing; expected "train", "validation" or "test"',
    ],
    [
      'a column without train rows',
      { dataset: { name: 'no-train' }, target: 'label', split: { column: 'split' } },
      'split.column "split" is "train" in none of the 4 rows it splits; expected training rows (the pipeline is fitted on them)',
    ],
    [
      'a class with no train rows',
      { dataset: { name: 'test-only-class' }, target: 'label', split: { column: 'split' } },
      'class "c" of target "label" has no training rows (it has 1 rows in all); give it rows whose "split" is "train"',
    ],
  ])('rejects %s with INVALID_ARGUMENT and stores nothing', async (_title, request, details) => {
    const before = await storedState();
    await expect(service.api.prepareDataset(request)).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details });
    expect(await storedState()).toEqual(before);
  });
});

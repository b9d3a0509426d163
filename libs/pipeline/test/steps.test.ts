import { describe, expect, it } from 'vitest';
import { documentTerms, fitPipeline, fitTransform, transformRecords } from '../src/index.js';
import type { FittedStep, PipelineSpec, StepSpec, Table } from '../src/index.js';

function column(values: Float64Array | unknown[], steps?: StepSpec[], extra: Partial<PipelineSpec> = {}) {
  const table: Table = { columns: ['x'], values: { x: values } };
  const { pipeline, data } = fitTransform(table, { columns: { x: steps === undefined ? {} : { steps } }, ...extra });
  return { pipeline, features: Array.from(data.features), steps: pipeline.columns[0]!.steps };
}

describe('numeric steps', () => {
  it('standard-scales with the mean and the population standard deviation', () => {
    const { features, steps } = column(Float64Array.of(2, 4, 4, 4, 5, 5, 7, 9), [{ op: 'scale', method: 'standard' }]);
    expect(steps).toEqual([{ op: 'scale', method: 'standard', center: 5, scale: 2 }]);
    expect(features).toEqual([-1.5, -0.5, -0.5, -0.5, 0, 0, 1, 2]);
  });

  it('min-max-scales to [0, 1]', () => {
    const { features, steps } = column(Float64Array.of(0, 2, 4, 6, 8), [{ op: 'scale', method: 'minmax' }]);
    expect(steps).toEqual([{ op: 'scale', method: 'minmax', center: 0, scale: 8 }]);
    expect(features).toEqual([0, 0.25, 0.5, 0.75, 1]);
  });

  it('robust-scales with the median and the interquartile range', () => {
    const { features, steps } = column(Float64Array.of(1, 2, 3, 4, 100), [{ op: 'scale', method: 'robust' }]);
    expect(steps).toEqual([{ op: 'scale', method: 'robust', center: 3, scale: 2 }]);
    expect(features).toEqual([-1, -0.5, 0, 0.5, 48.5]);
  });

  it('gives a constant column scale 1 rather than dividing by zero', () => {
    const { features, steps } = column(Float64Array.of(7, 7, 7), [{ op: 'scale', method: 'standard' }]);
    expect(steps).toEqual([{ op: 'scale', method: 'standard', center: 7, scale: 1 }]);
    expect(features).toEqual([0, 0, 0]);
  });

  it('clips at fitted quantiles, at z-score bounds and at fixed bounds', () => {
    const hundred = Float64Array.from({ length: 101 }, (_, i) => i);
    const quantile = column(hundred, [{ op: 'clip', method: 'quantile', lower: 0.25, upper: 0.75 }]);
    expect(quantile.steps).toEqual([{ op: 'clip', method: 'quantile', lower: 25, upper: 75 }]);
    expect([quantile.features[0], quantile.features[50], quantile.features[100]]).toEqual([25, 50, 75]);

    const zscore = column(Float64Array.of(2, 4, 4, 4, 5, 5, 7, 9), [{ op: 'clip', method: 'zscore', threshold: 1 }]);
    expect(zscore.steps).toEqual([{ op: 'clip', method: 'zscore', lower: 3, upper: 7 }]);
    expect(zscore.features).toEqual([3, 4, 4, 4, 5, 5, 7, 7]);

    const range = column(Float64Array.of(-5, 5, 15), [{ op: 'clip', method: 'range', lower: 0 }]);
    expect(range.steps).toEqual([{ op: 'clip', method: 'range', lower: 0, upper: null }]);
    expect(range.features).toEqual([0, 5, 15]);
  });

  it('runs steps in order, fitting each on the output of the ones before', () => {
    const { features, steps } = column(Float64Array.of(0, Math.E - 1, NaN), [
      { op: 'impute', strategy: 'constant', value: 0 },
      { op: 'log1p' },
      { op: 'scale', method: 'minmax' },
    ]);
    const logged = Math.log1p(Math.E - 1);
    expect(steps).toEqual([
      { op: 'impute', strategy: 'constant', value: 0 },
      { op: 'log1p' },
      { op: 'scale', method: 'minmax', center: 0, scale: logged },
    ]);
    expect(features).toEqual([0, 1, 0]);
  });

  it('imputes with the mean, the median or the most frequent value', () => {
    const values = Float64Array.of(1, 2, 2, 9, NaN);
    const fill = (strategy: 'mean' | 'median' | 'most_frequent') =>
      column(values, [{ op: 'impute', strategy }]).features[4];
    expect([fill('mean'), fill('median'), fill('most_frequent')]).toEqual([3.5, 2, 2]);
  });
});

describe('categorical steps', () => {
  const colors = ['red', 'red', 'green', 'blue', 'red', 'green'];
  const fitOneHot = (unknown: 'zeros' | 'error' | 'other') =>
    column(colors, [{ op: 'onehot', maxCategories: 2, unknown }]).pipeline;

  it('keeps the most frequent categories and buckets the rest as other', () => {
    const pipeline = fitOneHot('zeros');
    expect(pipeline.columns[0]!.steps).toEqual([
      { op: 'onehot', categories: ['green', 'red'], infrequent: ['blue'], other: true, unknown: 'zeros' },
    ]);
    expect(pipeline.features).toEqual(['x=green', 'x=red', 'x=__other__']);
    const out = transformRecords(pipeline, [{ x: 'red' }, { x: 'blue' }, { x: 'green' }]);
    expect(Array.from(out.features)).toEqual([0, 1, 0, 0, 0, 1, 1, 0, 0]);
  });

  it('encodes an unknown category as all zeros, an error or other, by option', () => {
    const records = [{ x: 'purple' }];
    expect(Array.from(transformRecords(fitOneHot('zeros'), records).features)).toEqual([0, 0, 0]);
    expect(fitOneHot('other').columns[0]!.steps[0]).toMatchObject({ infrequent: [], other: true });
    expect(Array.from(transformRecords(fitOneHot('other'), [...records, { x: 'blue' }]).features)).toEqual([
      0, 0, 1, 0, 0, 1,
    ]);
    expect(() => transformRecords(fitOneHot('error'), [{ x: 'red' }, { x: 'purple' }])).toThrow(
      'record 1, column "x": unknown category "purple"; expected a category seen at fit time: "green", "red"',
    );
  });

  it('defaults to most-frequent imputation and one-hot with up to 20 categories', () => {
    const { pipeline, features } = column(['b', 'a', null, 'b']);
    expect(pipeline.columns[0]!.steps).toEqual([
      { op: 'impute', strategy: 'most_frequent', value: 'b' },
      { op: 'onehot', categories: ['a', 'b'], infrequent: [], other: false, unknown: 'zeros' },
    ]);
    expect(features).toEqual([0, 1, 1, 0, 0, 1, 0, 1]);
  });

  it('treats a column as the type its encoder step implies', () => {
    const { pipeline, features } = column(Float64Array.of(8, 4, 4), [{ op: 'onehot' }]);
    expect(pipeline.columns[0]!.type).toBe('categorical');
    expect(pipeline.features).toEqual(['x=4', 'x=8']);
    expect(features).toEqual([0, 1, 1, 0, 1, 0]);
    expect(Array.from(transformRecords(pipeline, [{ x: '8' }, { x: 4 }]).features)).toEqual([0, 1, 1, 0]);
  });

  it('encodes ordinally in the given order, with a value for unknown categories', () => {
    const steps: StepSpec[] = [{ op: 'ordinal', categories: ['low', 'mid', 'high'], unknownValue: -1 }];
    const { pipeline, features } = column(['high', 'low', 'mid'], steps);
    expect(features).toEqual([2, 0, 1]);
    expect(Array.from(transformRecords(pipeline, [{ x: 'extreme' }]).features)).toEqual([-1]);
  });
});

describe('text vectorization', () => {
  const docs = ['The cat sat', 'the dog sat', 'the cat'];

  it('computes smoothed, L2-normalised TF-IDF like scikit-learn', () => {
    const { pipeline, features, steps } = column(docs, [{ op: 'vectorize' }], {
      columns: { x: { type: 'text', steps: [{ op: 'vectorize' }] } },
    });
    const idf = (df: number) => Math.log((1 + 3) / (1 + df)) + 1;
    expect(pipeline.features).toEqual(['x:cat', 'x:dog', 'x:sat', 'x:the']);
    expect((steps[0] as Extract<FittedStep, { op: 'vectorize' }>).idf).toEqual([idf(2), idf(1), idf(2), idf(3)]);
    const a = idf(2);
    const b = idf(1);
    const n1 = Math.sqrt(1 + a * a + a * a); // the, cat, sat
    const n2 = Math.sqrt(1 + b * b + a * a); // the, dog, sat
    const n3 = Math.sqrt(1 + a * a); // the, cat
    expect(features).toEqual(
      Array.from(Float32Array.of(a / n1, 0, a / n1, 1 / n1, 0, b / n2, a / n2, 1 / n2, a / n3, 0, 0, 1 / n3)),
    );
    expect(idf(3)).toBe(1);
  });

  it('counts n-grams and keeps the most frequent terms', () => {
    const spec: StepSpec = { op: 'vectorize', weighting: 'count', ngrams: [1, 2], vocabularySize: 3 };
    const { pipeline, features } = column(['a b a', 'b c'], [spec], {
      columns: { x: { type: 'text', steps: [spec] } },
    });
    expect(pipeline.features).toEqual(['x:a', 'x:a b', 'x:b']);
    expect(features).toEqual([2, 1, 1, 0, 0, 1]);
    expect(documentTerms('Hot dog, hot!', true, [1, 2])).toEqual(['hot', 'dog', 'hot', 'hot dog', 'dog hot']);
  });
});

describe('datetime and boolean columns', () => {
  it('splits datetimes into UTC parts, adding the hour when times of day vary', () => {
    const pipeline = fitPipeline({
      columns: ['at'],
      values: { at: ['2024-03-01T05:00:00Z', '2023-12-31T23:30:00+01:00', '2024-02-29'] },
    });
    expect(pipeline.features).toEqual(['at:year', 'at:month', 'at:day_of_week', 'at:hour']);
    const out = transformRecords(pipeline, [
      { at: '2024-03-01T05:00:00Z' },
      { at: '2023-12-31T23:30:00+01:00' },
      { at: new Date(Date.UTC(2024, 1, 29)) },
    ]);
    // Friday = 4 (Monday = 0); 23:30+01:00 is 22:30 UTC on Sunday = 6; 2024-02-29 is a Thursday = 3.
    expect(Array.from(out.features)).toEqual([2024, 3, 4, 5, 2023, 12, 6, 22, 2024, 2, 3, 0]);
  });

  it('leaves out the hour when every time of day is the same', () => {
    expect(fitPipeline({ columns: ['d'], values: { d: ['2024-01-01', '2024-06-15'] } }).features).toEqual([
      'd:year',
      'd:month',
      'd:day_of_week',
    ]);
  });

  it('reads booleans as 0/1 from true/false, yes/no and 1/0', () => {
    const pipeline = fitPipeline({ columns: ['ok'], values: { ok: [true, false, 'yes', 'no'] } });
    expect(pipeline.columns[0]).toMatchObject({ type: 'boolean', steps: [] });
    const out = transformRecords(pipeline, [{ ok: 'Yes' }, { ok: false }, { ok: 1 }, { ok: '0' }]);
    expect(Array.from(out.features)).toEqual([1, 0, 1, 0]);
  });
});

import { describe, expect, it } from 'vitest';
import {
  decodeTarget,
  encodeTarget,
  fitPipeline,
  fitTransform,
  transformRecords,
  transformTable,
} from '../src/index.js';
import type { FittedClassTarget, Table } from '../src/index.js';
import { loadCsv, sameBits } from './fixtures.js';

describe('classification targets', () => {
  it('encodes iris species as indexes of the sorted class labels', () => {
    const { pipeline, data } = fitTransform(loadCsv('iris.csv'), { target: 'species' });
    expect(pipeline.task).toBe('classification');
    expect((pipeline.target as FittedClassTarget).classes).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(pipeline.features).toEqual(['sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
    expect([data.labels![0], data.labels![50], data.labels![149]]).toEqual([0, 1, 2]);
    expect(encodeTarget(pipeline, 'versicolor')).toBe(1);
    expect(decodeTarget(pipeline, 2)).toBe('virginica');
    expect(() => decodeTarget(pipeline, 3)).toThrow('class index 3 is out of range; expected an integer from 0 to 2');
    expect(() => encodeTarget(pipeline, 'rose')).toThrow('column "species": unknown class label "rose"');
  });

  it('standard-scales iris features to mean 0 and variance 1', () => {
    const { data } = fitTransform(loadCsv('iris.csv'), { target: 'species' });
    for (let j = 0; j < 4; j++) {
      let sum = 0;
      let squares = 0;
      for (let r = 0; r < data.rows; r++) {
        const v = data.features[r * 4 + j]!;
        sum += v;
        squares += v * v;
      }
      expect(Math.abs(sum / data.rows)).toBeLessThan(1e-6);
      expect(Math.abs(squares / data.rows - 1)).toBeLessThan(1e-5);
    }
  });

  it('keeps the labels of a yes/no target as written', () => {
    const table: Table = {
      columns: ['x', 'churned'],
      values: { x: Float64Array.of(1, 2, 3), churned: ['no', 'yes', 'no'] },
    };
    const pipeline = fitPipeline(table, { target: 'churned' });
    expect(pipeline.target).toEqual({
      name: 'churned',
      task: 'classification',
      type: 'boolean',
      classes: ['no', 'yes'],
    });
    expect(decodeTarget(pipeline, 1)).toBe('yes');
  });

  it('sorts numeric class labels numerically', () => {
    const table: Table = { columns: ['x', 'y'], values: { x: Float64Array.of(1, 2, 3), y: Float64Array.of(10, 9, 2) } };
    const pipeline = fitPipeline(table, { target: 'y', task: 'classification' });
    expect((pipeline.target as FittedClassTarget).classes).toEqual(['2', '9', '10']);
    expect(encodeTarget(pipeline, '10')).toBe(2);
    expect(encodeTarget(pipeline, '10.0')).toBe(2);
    expect(Array.from(transformRecords(pipeline, [{ x: 1, y: 9 }]).labels!)).toEqual([1]);
  });

  it('fits the digits and wine fixtures with 10 and 3 classes', () => {
    const digits = fitTransform(loadCsv('digits.csv'), { target: 'digit', task: 'classification' });
    expect((digits.pipeline.target as FittedClassTarget).classes).toEqual([
      '0',
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
    ]);
    expect([digits.data.rows, digits.pipeline.features.length]).toEqual([1797, 64]);
    const wine = fitTransform(loadCsv('wine.csv'), { target: 'cultivar' });
    expect((wine.pipeline.target as FittedClassTarget).classes).toEqual(['class_0', 'class_1', 'class_2']);
    expect([wine.data.rows, wine.pipeline.features.length]).toEqual([178, 13]);
  });

  it('leaves labels out for a reconstruction pipeline', () => {
    const iris = loadCsv('iris.csv');
    const { pipeline, data } = fitTransform(iris, { exclude: ['species'] });
    expect([pipeline.task, pipeline.target, data.labels]).toEqual(['reconstruction', null, undefined]);
  });
});

describe('dropping by missing rate', () => {
  const table: Table = {
    columns: ['a', 'b', 'c', 'mostly_empty'],
    values: {
      a: Float64Array.of(1, NaN, 3, 4, 5),
      b: Float64Array.of(1, NaN, NaN, 4, 5),
      c: ['x', null, 'y', 'x', ''],
      mostly_empty: [null, null, 7, null, null],
    },
  };

  it('drops columns above the threshold and rows above theirs, at fit and at apply', () => {
    const { pipeline, data } = fitTransform(table, { dropColumnsMissingAbove: 0.5, dropRowsMissingAbove: 0.5 });
    expect(pipeline.droppedColumns).toEqual(['mostly_empty']);
    expect(pipeline.inputColumns).toEqual(['a', 'b', 'c']);
    // Row 1 misses 3 of 3 inputs; row 2 misses 1 of 3, row 4 misses c ('' is missing outside text).
    expect(Array.from(data.droppedRows)).toEqual([1]);
    expect(pipeline.fittedRows).toBe(4);
    expect(pipeline.columns[0]!.steps[0]).toEqual({ op: 'impute', strategy: 'median', value: 3.5 });
    const records = [
      { a: 1, b: 1, c: 'x' },
      { a: null, b: null, c: null },
      { a: 3, b: null, c: 'y' },
      { a: 4, b: 4, c: 'x' },
      { a: 5, b: 5, c: '' },
    ];
    const applied = transformRecords(pipeline, records);
    expect(Array.from(applied.droppedRows)).toEqual([1]);
    expect(sameBits(applied.features, data.features)).toBe(true);
  });

  it('keeps such rows when asked, imputing them', () => {
    const { pipeline } = fitTransform(table, { dropColumnsMissingAbove: 0.5, dropRowsMissingAbove: 0.5 });
    const out = transformTable(pipeline, table, { dropRows: false });
    expect([out.rows, out.droppedRows.length]).toEqual([5, 0]);
  });

  it('drops rows whose target is missing, unless labels are turned off', () => {
    const labelled: Table = { columns: ['x', 'y'], values: { x: Float64Array.of(1, 2, 3), y: ['a', null, 'b'] } };
    const pipeline = fitPipeline(labelled, { target: 'y' });
    expect(pipeline.fittedRows).toBe(2);
    expect(Array.from(transformTable(pipeline, labelled).droppedRows)).toEqual([1]);
    const unlabelled = transformTable(pipeline, labelled, { labels: false });
    expect([unlabelled.rows, unlabelled.labels]).toEqual([3, undefined]);
  });
});

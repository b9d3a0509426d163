import { describe, expect, it } from 'vitest';
import {
  coerceTable,
  decodeTarget,
  encodeTarget,
  fitTransform,
  inferSchema,
  parsePipeline,
  serializePipeline,
  tableFromRecords,
  transformRecords,
  transformTable,
} from '../src/index.js';
import type { FittedPipeline, FittedRegressionTarget } from '../src/index.js';
import { loadCarsRecords, sameBits } from './fixtures.js';

const cars = loadCarsRecords();
const mpgMissing = cars.flatMap((car, i) => (car.Miles_per_Gallon === null ? [i] : []));

/** The training tensors as the preprocessing service makes them: from a typed (coerced) table. */
function fitCars() {
  const raw = tableFromRecords(cars);
  const typed = coerceTable(raw, inferSchema(raw));
  return fitTransform(typed, { target: 'Miles_per_Gallon', task: 'regression' });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return Number.isInteger(mid) ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[Math.floor(mid)]!;
}

describe('inferSchema on cars.json', () => {
  it('finds text, numeric, integer, datetime and categorical columns', () => {
    expect(inferSchema(tableFromRecords(cars))).toEqual([
      { name: 'Name', type: 'text' },
      { name: 'Miles_per_Gallon', type: 'numeric' },
      { name: 'Cylinders', type: 'integer' },
      { name: 'Displacement', type: 'numeric' },
      { name: 'Horsepower', type: 'integer' },
      { name: 'Weight_in_lbs', type: 'integer' },
      { name: 'Acceleration', type: 'numeric' },
      { name: 'Year', type: 'datetime' },
      { name: 'Origin', type: 'categorical' },
    ]);
  });

  it('lets a caller override a type', () => {
    const schema = inferSchema(tableFromRecords(cars), { types: { Cylinders: 'categorical' } });
    expect(schema.find((c) => c.name === 'Cylinders')).toEqual({ name: 'Cylinders', type: 'categorical' });
  });
});

describe('fitTransform on cars for MPG regression', () => {
  const { pipeline, data } = fitCars();

  it('drops the rows with a missing target and reports them', () => {
    expect(mpgMissing).toHaveLength(8);
    expect(Array.from(data.droppedRows)).toEqual(mpgMissing);
    expect(data.rows).toBe(398);
    expect(pipeline.fittedRows).toBe(398);
    expect(data.features.length).toBe(398 * pipeline.features.length);
  });

  it('applied to the raw JSON records gives bit-identical features and labels', () => {
    const applied = transformRecords(pipeline, cars);
    expect(applied.rows).toBe(data.rows);
    expect(Array.from(applied.droppedRows)).toEqual(Array.from(data.droppedRows));
    expect(sameBits(applied.features, data.features)).toBe(true);
    expect(sameBits(applied.labels!, data.labels!)).toBe(true);
  });

  it('gives the same output after serialize → parse', () => {
    const text = serializePipeline(pipeline);
    const parsed: FittedPipeline = parsePipeline(text);
    expect(parsed).toEqual(pipeline);
    const applied = transformRecords(parsed, cars);
    expect(sameBits(applied.features, data.features)).toBe(true);
    expect(sameBits(applied.labels!, data.labels!)).toBe(true);
  });

  it('imputes Horsepower with the median of the kept rows, then scales it', () => {
    const kept = cars.filter((car) => car.Miles_per_Gallon !== null);
    const hpMedian = median(kept.flatMap((car) => (car.Horsepower === null ? [] : [car.Horsepower as number])));
    const column = pipeline.columns.find((c) => c.name === 'Horsepower')!;
    expect(column.steps[0]).toEqual({ op: 'impute', strategy: 'median', value: hpMedian });
    const scale = column.steps[1]!;
    if (scale.op !== 'scale') throw new Error('expected a scale step');
    const row = kept.findIndex((car) => car.Horsepower === null);
    expect(row).toBeGreaterThanOrEqual(0);
    const width = pipeline.features.length;
    expect(data.features[row * width + column.featureOffset]).toBe(
      Math.fround((hpMedian - scale.center) / scale.scale),
    );
  });

  it('encodes Origin one-hot, Year as calendar parts and Name as TF-IDF terms', () => {
    expect(pipeline.features.filter((f) => f.startsWith('Origin') || f.startsWith('Year'))).toEqual([
      'Year:year',
      'Year:month',
      'Year:day_of_week',
      'Origin=Europe',
      'Origin=Japan',
      'Origin=USA',
    ]);
    const origin = pipeline.columns.find((c) => c.name === 'Origin')!;
    const width = pipeline.features.length;
    // Row 0 is a USA car of 1970-01-01, a Thursday (day_of_week 3, Monday = 0).
    expect(Array.from(data.features.subarray(origin.featureOffset, origin.featureOffset + 3))).toEqual([0, 0, 1]);
    const year = pipeline.columns.find((c) => c.name === 'Year')!;
    expect(Array.from(data.features.subarray(year.featureOffset, year.featureOffset + 3))).toEqual([1970, 1, 3]);
    const name = pipeline.columns.find((c) => c.name === 'Name')!;
    expect(name.steps.map((s) => s.op)).toEqual(['vectorize']);
    const chevrolet = pipeline.features.indexOf('Name:chevrolet');
    expect(chevrolet).toBeGreaterThanOrEqual(name.featureOffset);
    expect(data.features[0 * width + chevrolet]).toBeGreaterThan(0);
    expect(data.features[1 * width + chevrolet]).toBe(0); // "buick skylark 320"
  });

  it('scales the target with its mean and population std, and decodes predictions back to MPG', () => {
    const mpg = cars.flatMap((car) => (car.Miles_per_Gallon === null ? [] : [car.Miles_per_Gallon as number]));
    const mean = mpg.reduce((a, b) => a + b, 0) / mpg.length;
    const std = Math.sqrt(mpg.reduce((a, b) => a + (b - mean) ** 2, 0) / mpg.length);
    const target = pipeline.target as FittedRegressionTarget;
    expect(target.method).toBe('standard');
    expect(target.center).toBeCloseTo(mean, 10);
    expect(target.scale).toBeCloseTo(std, 10);
    expect(data.labels![0]).toBe(Math.fround((18 - target.center) / target.scale));
    expect(encodeTarget(pipeline, 18)).toBe((18 - target.center) / target.scale);
    expect(decodeTarget(pipeline, encodeTarget(pipeline, 18))).toBeCloseTo(18, 10);
    expect(decodeTarget(pipeline, 0)).toBe(target.center);
  });

  it('applies to new records without the target and gives no labels', () => {
    const record = { ...cars[0]! };
    delete record.Miles_per_Gallon;
    const out = transformRecords(pipeline, [record, { ...record, Horsepower: null }]);
    expect(out.rows).toBe(2);
    expect(out.labels).toBeUndefined();
    expect(
      sameBits(out.features.subarray(0, pipeline.features.length), data.features.subarray(0, pipeline.features.length)),
    ).toBe(true);
  });

  it('gives the same output for a typed table as for the raw one', () => {
    const raw = tableFromRecords(cars);
    expect(sameBits(transformTable(pipeline, raw).features, data.features)).toBe(true);
  });
});

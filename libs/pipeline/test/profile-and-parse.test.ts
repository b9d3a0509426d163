import { describe, expect, it } from 'vitest';
import {
  ColumnProfiler,
  PipelineInputError,
  TableProfiler,
  coerceTable,
  inferSchema,
  parseCell,
  profileTable,
  tableFromRecords,
} from '../src/index.js';
import type { Table } from '../src/index.js';
import { loadCarsRecords, loadCsv } from './fixtures.js';

const small: Table = {
  columns: ['x', 'city', 'at'],
  values: {
    x: Float64Array.of(1, 2, 3, 4, NaN),
    city: ['Oslo', 'Lima', 'Oslo', null, 'Oslo'],
    at: ['2024-01-01', '2024-03-01T12:00:00Z', null, '2023-06-30', ''],
  },
};

describe('profileTable', () => {
  it('reports counts, moments, quantiles, top values, lengths and date ranges', () => {
    const [x, city, at] = profileTable(small);
    expect(x).toEqual({
      name: 'x',
      type: 'integer',
      rows: 5,
      missing: 1,
      distinct: 4,
      distinctIsLowerBound: false,
      numeric: {
        mean: 2.5,
        std: Math.sqrt(5 / 3),
        min: 1,
        max: 4,
        quantiles: [1, 1.75, 2.5, 3.25, 4],
        quantilesExact: true,
      },
      topValues: null,
      textLength: null,
      datetime: null,
    });
    expect(city).toMatchObject({
      type: 'categorical',
      missing: 1,
      distinct: 2,
      numeric: null,
      topValues: [
        { value: 'Oslo', count: 3 },
        { value: 'Lima', count: 1 },
      ],
      textLength: { min: 4, mean: 4, max: 4 },
    });
    expect(at).toMatchObject({
      type: 'datetime',
      missing: 2,
      datetime: { min: '2023-06-30T00:00:00.000Z', max: '2024-03-01T12:00:00.000Z' },
    });
  });

  it('gives the same profile when fed in chunks', () => {
    const iris = loadCsv('iris.csv');
    const profiler = new TableProfiler();
    for (let start = 0; start < 150; start += 40) {
      const values = Object.fromEntries(iris.columns.map((c) => [c, iris.values[c]!.slice(start, start + 40)]));
      profiler.push({ columns: iris.columns, values });
    }
    expect(profiler.result()).toEqual(profileTable(iris));
  });

  it('counts rows before a column first appears as missing', () => {
    const profiler = new TableProfiler();
    profiler.pushRecords([{ a: 1 }, { a: 2 }]);
    profiler.pushRecords([{ a: 3, b: 'x' }]);
    expect(profiler.result().map((p) => [p.name, p.rows, p.missing])).toEqual([
      ['a', 3, 0],
      ['b', 3, 2],
    ]);
  });

  it('caps distinct counting and says the count is a lower bound', () => {
    const column = new ColumnProfiler('id', { maxDistinct: 3 });
    column.push(['a', 'b', 'c', 'd', 'e', 'a']);
    expect(column.result()).toMatchObject({
      distinct: 3,
      distinctIsLowerBound: true,
      topValues: [
        { value: 'a', count: 2 },
        { value: 'b', count: 1 },
        { value: 'c', count: 1 },
      ],
    });
  });

  it('samples quantiles from a seeded reservoir beyond its size, keeping min and max exact', () => {
    const values = Float64Array.from({ length: 1000 }, (_, i) => i);
    const profile = (seed: number) => {
      const column = new ColumnProfiler('v', { reservoirSize: 100, seed });
      column.push(values);
      return column.result().numeric!;
    };
    const a = profile(1);
    expect(a).toMatchObject({ min: 0, max: 999, mean: 499.5, quantilesExact: false });
    expect(a.quantiles[0]).toBe(0);
    expect(a.quantiles[4]).toBe(999);
    expect(Math.abs(a.quantiles[2] - 499.5)).toBeLessThan(150);
    expect(profile(1)).toEqual(a);
    expect(profile(2).quantiles).not.toEqual(a.quantiles);
  });

  it('keeps the types of a coerced table', () => {
    const raw = tableFromRecords(loadCarsRecords());
    const typed = coerceTable(raw, inferSchema(raw));
    expect(typed.values.Year).toBeInstanceOf(Float64Array);
    expect(profileTable(typed).map((p) => p.type)).toEqual(profileTable(raw).map((p) => p.type));
    expect(inferSchema(typed)).toEqual(inferSchema(raw));
  });
});

describe('parseCell', () => {
  it('reads numbers, integers, booleans, dates, categories and text', () => {
    expect(parseCell(' 3.5 ', 'numeric')).toBe(3.5);
    expect(parseCell('-1e3', 'numeric')).toBe(-1000);
    expect(parseCell('42', 'integer')).toBe(42);
    expect(['true', 'Yes', '1', 'FALSE', 'no', '0'].map((raw) => parseCell(raw, 'boolean'))).toEqual([
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    expect(parseCell('2024-03-01', 'datetime')).toBe(Date.UTC(2024, 2, 1));
    expect(parseCell('2024-03-01T12:30:00.250+02:00', 'datetime')).toBe(Date.UTC(2024, 2, 1, 10, 30, 0, 250));
    expect(parseCell('USA', 'categorical')).toBe('USA');
  });

  it('reads missing tokens as null, but an empty string as an empty text', () => {
    expect(['', 'NA', 'null'].map((raw) => parseCell(raw, 'numeric'))).toEqual([null, null, null]);
    expect(parseCell('', 'text')).toBe('');
    expect(parseCell('NA', 'text')).toBeNull();
    expect(parseCell('-', 'numeric', { missing: ['-'] })).toBeNull();
  });

  it('rejects values that do not read as the type, naming record and column', () => {
    const error = (() => {
      try {
        return parseCell('abc', 'numeric', { record: 7, column: 'price' });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(PipelineInputError);
    expect((error as Error).message).toBe(
      'record 7, column "price": value "abc" is not a number; expected a decimal number such as 3.5 or -1e3',
    );
    expect(() => parseCell('4.2', 'integer')).toThrow('value "4.2" is not an integer');
    expect(() => parseCell('maybe', 'boolean')).toThrow('expected true, false, yes, no, 1 or 0');
    expect(() => parseCell('2023-02-30', 'datetime')).toThrow('value "2023-02-30" is not a date');
    expect(() => parseCell('0x10', 'numeric')).toThrow('is not a number');
  });
});

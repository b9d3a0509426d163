import { PipelineInputError, describeValue } from './errors.js';
import type { ColumnType } from './cell-values.js';

/**
 * The values of one column. Numeric, integer, boolean (0/1) and datetime (epoch ms, UTC) columns
 * are best held as a `Float64Array` with NaN for missing; anything else as a plain array where
 * null, undefined (and, outside text columns, '') mean missing. Plain arrays may hold raw values
 * (strings from CSV, JSON numbers, booleans, Dates): the pipeline reads them by the column's type.
 */
export type ColumnValues = Float64Array | readonly unknown[];

/**
 * A columnar table: one array per column, all of the same length. This is what fitting,
 * transforming and profiling read; 1,000,000 rows of a Float64Array column take 8 MB.
 *
 * @example
 * const table: Table = {
 *   columns: ['age', 'city'],
 *   values: { age: Float64Array.of(31, NaN, 45), city: ['Oslo', 'Lima', null] },
 * };
 */
export interface Table {
  /** Column names, in order. Every name has an entry in `values`. */
  readonly columns: readonly string[];
  /** Column name → values. */
  readonly values: Readonly<Record<string, ColumnValues>>;
  /** Number of rows; needed only for a table without columns. @default length of the first column */
  readonly rows?: number;
  /**
   * Known column types (set by `coerceTable`): type inference, fitting and profiling use
   * them instead of guessing, so a datetime held as epoch ms stays a datetime.
   */
  readonly types?: Readonly<Record<string, ColumnType>>;
}

/** The name and type of one column. */
export interface ColumnSchema {
  name: string;
  type: ColumnType;
}

/** The values of `column`, or undefined when the table does not have it. */
export function columnValues(table: Table, column: string): ColumnValues | undefined {
  return Object.hasOwn(table.values, column) ? table.values[column] : undefined;
}

/**
 * The number of rows of `table`, checking that every column has that many values.
 * @throws PipelineInputError naming the first column whose length differs.
 */
export function tableRowCount(table: Table): number {
  let rows = table.rows;
  for (const column of table.columns) {
    const values = columnValues(table, column);
    if (values === undefined) {
      throw new PipelineInputError({
        record: null,
        column,
        problem: 'the column is listed in `columns` but has no values',
        expected: 'an entry in `values` for every listed column',
      });
    }
    if (rows === undefined) rows = values.length;
    else if (values.length !== rows) {
      throw new PipelineInputError({
        record: null,
        column,
        problem: `the column has ${values.length} values but the table has ${rows} rows`,
        expected: 'columns of equal length',
      });
    }
  }
  return rows ?? 0;
}

/**
 * Turns JSON records into a columnar table holding the raw values (no conversion happens here:
 * the pipeline converts by column type when it reads them). A column is present when at least
 * one record has the key; a record without the key has `undefined` (missing) there.
 *
 * @param columns the columns to take, in order. @default every key, in order of first appearance
 * @throws PipelineInputError when a record is not a plain object.
 */
export function tableFromRecords(records: readonly unknown[], columns?: readonly string[]): Table {
  const objects = records as readonly Record<string, unknown>[];
  records.forEach((record, index) => {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      throw new PipelineInputError({
        record: index,
        column: null,
        problem: `the record is ${describeValue(record)}`,
        expected: 'an object of column values',
      });
    }
  });
  const names = columns ?? collectKeys(objects);
  const present: string[] = [];
  const values: Record<string, unknown[]> = Object.create(null); // column names may be __proto__ or constructor
  for (const name of names) {
    const column = new Array<unknown>(objects.length);
    let seen = false;
    for (let i = 0; i < objects.length; i++) {
      const record = objects[i]!;
      if (Object.hasOwn(record, name)) {
        column[i] = record[name];
        seen = true;
      } else column[i] = undefined;
    }
    if (seen) {
      present.push(name);
      values[name] = column;
    }
  }
  return { columns: present, values, rows: objects.length };
}

function collectKeys(records: readonly Record<string, unknown>[]): string[] {
  const keys = new Set<string>();
  for (const record of records) for (const key of Object.keys(record)) keys.add(key);
  return [...keys];
}

/** Row indices 0 … n−1. */
export function identityRows(n: number): Uint32Array {
  const rows = new Uint32Array(n);
  for (let i = 0; i < n; i++) rows[i] = i;
  return rows;
}

import { parseBooleanText, parseDatetimeText, parseNumberText } from './cell-values.js';
import type { ColumnType } from './cell-values.js';
import { PipelineInputError, describeValue } from './errors.js';
import { columnValues, identityRows, tableRowCount } from './table.js';
import type { ColumnSchema, ColumnValues, Table } from './table.js';

/**
 * How a reader treats a value that is missing (null, undefined, NaN, '' outside text, or an absent
 * column) and one that cannot be read as the column's type. `keep` yields NaN / null; `missing`
 * treats an unreadable value as missing; `error` throws a PipelineInputError.
 */
export interface ReadPolicy {
  missing: 'keep' | 'error';
  invalid: 'missing' | 'error';
}

/** Reads into a column with an imputation step: missing and unreadable values both become missing. */
export const IMPUTED: ReadPolicy = { missing: 'keep', invalid: 'missing' };
/** Reads into a column without imputation: anything missing or unreadable is an input error. */
export const STRICT: ReadPolicy = { missing: 'error', invalid: 'error' };

type NumberType = 'numeric' | 'integer' | 'boolean' | 'datetime';
const INVALID = Number.POSITIVE_INFINITY;

const EXPECTED: Record<ColumnType, string> = {
  numeric: 'a number',
  integer: 'a number',
  boolean: 'a boolean (true/false, yes/no, 1/0)',
  datetime: 'an ISO 8601 date such as 2024-03-01 or 2024-03-01T12:30:00Z, or epoch milliseconds',
  categorical: 'a string, number or boolean category',
  text: 'a string',
};

const NOUN: Record<ColumnType, string> = {
  numeric: 'a number',
  integer: 'a number',
  boolean: 'a boolean',
  datetime: 'a date',
  categorical: 'a category',
  text: 'a string',
};

/** What a column of `type` expects, for error messages. */
function expectedValue(type: ColumnType): string {
  return EXPECTED[type];
}

function toNumber(value: unknown, type: NumberType): number {
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return Number.NaN;
    if (!Number.isFinite(value)) return INVALID;
    if (type === 'boolean') return value === 0 || value === 1 ? value : INVALID;
    return value;
  }
  if (typeof value === 'string') {
    if (value === '') return Number.NaN;
    if (type === 'boolean') {
      const flag = parseBooleanText(value);
      return flag === null ? INVALID : flag ? 1 : 0;
    }
    const parsed = type === 'datetime' ? parseDatetimeText(value) : parseNumberText(value);
    return Number.isNaN(parsed) ? INVALID : parsed;
  }
  if (value === null || value === undefined) return Number.NaN;
  if (typeof value === 'boolean') return type === 'boolean' ? (value ? 1 : 0) : INVALID;
  if (typeof value === 'bigint' && type !== 'boolean') return toNumber(Number(value), type);
  if (value instanceof Date && type === 'datetime') {
    const time = value.getTime();
    return Number.isNaN(time) ? INVALID : time;
  }
  return INVALID;
}

function inputError(
  record: number,
  column: string,
  type: ColumnType,
  value: unknown,
  absent: boolean,
  invalid: boolean,
): PipelineInputError {
  const problem = absent
    ? 'the column is missing from the input'
    : value === undefined && !invalid
      ? 'the column is missing from the record'
      : invalid
        ? `value ${describeValue(value)} is not ${NOUN[type]}`
        : `value is missing (${describeValue(value)})`;
  const expected = invalid ? expectedValue(type) : `${expectedValue(type)} (this column has no imputation step)`;
  return new PipelineInputError({ record, column, problem, expected });
}

/**
 * Reads `rows` of a numeric, integer, boolean (→ 0/1) or datetime (→ epoch ms, UTC) column into a
 * Float64Array, NaN where missing (when the policy keeps missing values).
 */
export function readNumbers(
  table: Table,
  column: string,
  type: NumberType,
  rows: Uint32Array,
  policy: ReadPolicy,
): Float64Array {
  const out = new Float64Array(rows.length);
  const source = columnValues(table, column);
  if (source === undefined) {
    if (rows.length > 0 && policy.missing === 'error') throw inputError(rows[0]!, column, type, undefined, true, false);
    return out.fill(Number.NaN);
  }
  const typed = source instanceof Float64Array;
  for (let i = 0; i < rows.length; i++) {
    const raw: unknown = source[rows[i]!];
    let value = typed && type !== 'boolean' ? (raw as number) : toNumber(raw, type);
    if (value === INVALID || value === -INVALID) {
      if (policy.invalid === 'error') throw inputError(rows[i]!, column, type, raw, false, true);
      value = Number.NaN;
    }
    if (value !== value && policy.missing === 'error') {
      throw inputError(rows[i]!, column, type, raw, false, !typed && !isMissingRaw(raw, type));
    }
    out[i] = value;
  }
  return out;
}

function isMissingRaw(raw: unknown, type: ColumnType): boolean {
  return (
    raw === null ||
    raw === undefined ||
    (typeof raw === 'number' && Number.isNaN(raw)) ||
    (raw === '' && type !== 'text')
  );
}

/**
 * Reads `rows` of a categorical column (as category keys: strings as they are, numbers and
 * booleans through `String`) or a text column (documents; '' is an empty document) into an array
 * of strings, null where missing (when the policy keeps missing values).
 */
export function readStrings(
  table: Table,
  column: string,
  type: 'categorical' | 'text',
  rows: Uint32Array,
  policy: ReadPolicy,
): (string | null)[] {
  const out = new Array<string | null>(rows.length);
  const source = columnValues(table, column);
  if (source === undefined) {
    if (rows.length > 0 && policy.missing === 'error') throw inputError(rows[0]!, column, type, undefined, true, false);
    return out.fill(null);
  }
  for (let i = 0; i < rows.length; i++) {
    const raw: unknown = source[rows[i]!];
    let value: string | null;
    let invalid = false;
    if (typeof raw === 'string') value = raw === '' && type === 'categorical' ? null : raw;
    else if (typeof raw === 'number') {
      value = Number.isNaN(raw) ? null : String(raw);
      invalid = !Number.isFinite(raw) && value !== null;
    } else if (typeof raw === 'boolean' || typeof raw === 'bigint') value = String(raw);
    else if (raw === null || raw === undefined) value = null;
    else {
      value = null;
      invalid = true;
    }
    if (invalid) {
      if (policy.invalid === 'error') throw inputError(rows[i]!, column, type, raw, false, true);
      value = null;
    }
    if (value === null && policy.missing === 'error') throw inputError(rows[i]!, column, type, raw, false, invalid);
    out[i] = value;
  }
  return out;
}

/**
 * Converts the columns named in `schema` to their compact typed form: numeric, integer, boolean
 * (0/1) and datetime (epoch ms, UTC) become Float64Array with NaN for missing; categorical and
 * text become arrays of strings with null for missing. Other columns, and schema columns the
 * table lacks, are left as they are.
 * The table records the types (`types`), so fitting or profiling it does not re-infer them.
 * Transforming the coerced table gives exactly what transforming the raw one gives.
 *
 * @throws PipelineInputError naming the record and column of the first value that does not read
 *   as its column's type.
 */
export function coerceTable(table: Table, schema: readonly ColumnSchema[]): Table {
  const rows = tableRowCount(table);
  const all = identityRows(rows);
  const values: Record<string, ColumnValues> = { ...table.values };
  const types: Record<string, ColumnType> = { ...table.types };
  const policy = { missing: 'keep', invalid: 'error' } as const;
  for (const { name, type } of schema) {
    if (columnValues(table, name) === undefined) continue;
    types[name] = type;
    values[name] =
      type === 'categorical' || type === 'text'
        ? readStrings(table, name, type, all, policy)
        : readNumbers(table, name, type, all, policy);
  }
  return { columns: table.columns, values, rows, types };
}

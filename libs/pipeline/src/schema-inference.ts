import { COLUMN_TYPES, isBooleanWord, parseDatetimeText, parseNumberText } from './cell-values.js';
import type { ColumnType } from './cell-values.js';
import { PipelineSpecError, describeValue } from './errors.js';
import { columnValues } from './table.js';
import type { ColumnSchema, ColumnValues, Table } from './table.js';

/** Options of {@link inferSchema} (and of the profilers, which infer types the same way). */
export interface InferSchemaOptions {
  /** Types to use instead of inferring, by column name. */
  types?: Record<string, ColumnType>;
  /**
   * A string column with at most this many distinct values is categorical; one with more is text
   * when its values average at least two words, else still categorical. @default 50
   */
  categoricalMaxDistinct?: number;
}

/**
 * Running evidence about what type a column's values are. A value counts as a number when it is a
 * JS number or a decimal string, a boolean when it is a JS boolean or true/false/yes/no, a
 * datetime when it is a Date or an ISO 8601 string. '' counts as missing.
 */
export class TypeEvidence {
  nonMissing = 0;
  numbers = 0;
  integers = 0;
  booleans = 0;
  datetimes = 0;
  /** Whitespace-separated words over all non-missing values (a number or boolean is one). */
  words = 0;
  /** The number read from the last observed value, NaN when it was not a number. */
  lastNumber = Number.NaN;
  /** The epoch ms read from the last observed value, NaN when it was not a datetime. */
  lastDatetime = Number.NaN;

  /** Records one value; false when it is missing. */
  observe(value: unknown): boolean {
    this.lastNumber = Number.NaN;
    this.lastDatetime = Number.NaN;
    if (value === null || value === undefined || value === '') return false;
    if (typeof value === 'number' || typeof value === 'bigint') {
      const number = Number(value);
      if (Number.isNaN(number)) return false;
      this.observeNumber(number);
      return true;
    }
    this.nonMissing++;
    if (typeof value === 'string') {
      this.words += countWords(value);
      const number = parseNumberText(value);
      if (!Number.isNaN(number)) {
        this.numbers++;
        if (Number.isInteger(number)) this.integers++;
        this.lastNumber = number;
      } else if (isBooleanWord(value)) this.booleans++;
      else {
        const time = parseDatetimeText(value);
        if (!Number.isNaN(time)) {
          this.datetimes++;
          this.lastDatetime = time;
        }
      }
      return true;
    }
    this.words++;
    if (typeof value === 'boolean') this.booleans++;
    else if (value instanceof Date && !Number.isNaN(value.getTime())) {
      this.datetimes++;
      this.lastDatetime = value.getTime();
    }
    return true;
  }

  /** Records one non-missing number (the fast path for Float64Array columns). */
  observeNumber(value: number): void {
    this.nonMissing++;
    this.numbers++;
    this.words++;
    if (Number.isInteger(value)) this.integers++;
    this.lastNumber = value;
  }
}

function countWords(text: string): number {
  let words = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const space = code === 32 || (code >= 9 && code <= 13) || code === 160;
    if (!space && !inWord) words++;
    inWord = !space;
  }
  return words;
}

/**
 * The type the evidence points to: boolean, integer, numeric or datetime when every non-missing
 * value reads as one; otherwise categorical, or text when there are more than
 * `categoricalMaxDistinct` distinct values averaging two or more words. A column with no values
 * is categorical.
 */
export function decideType(evidence: TypeEvidence, distinct: number, options: InferSchemaOptions = {}): ColumnType {
  const n = evidence.nonMissing;
  if (n === 0) return 'categorical';
  if (evidence.booleans === n) return 'boolean';
  if (evidence.numbers === n) return evidence.integers === n ? 'integer' : 'numeric';
  if (evidence.datetimes === n) return 'datetime';
  const maxDistinct = options.categoricalMaxDistinct ?? 50;
  return distinct > maxDistinct && evidence.words / n >= 2 ? 'text' : 'categorical';
}

/** Checks a `types` override map: every value must be a column type. */
export function checkTypeOverrides(types: Record<string, unknown> | undefined): void {
  for (const [column, type] of Object.entries(types ?? {})) {
    if (!COLUMN_TYPES.includes(type as ColumnType)) {
      throw new PipelineSpecError(
        column,
        'type',
        `unknown type ${describeValue(type)}; expected one of ${COLUMN_TYPES.join(', ')}`,
      );
    }
  }
}

/** Infers the type of one column of values. */
export function inferColumnType(values: ColumnValues, options: InferSchemaOptions = {}): ColumnType {
  const evidence = new TypeEvidence();
  const cap = (options.categoricalMaxDistinct ?? 50) + 1;
  if (values instanceof Float64Array) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v === v) evidence.observeNumber(v);
    }
    return decideType(evidence, 0, options);
  }
  const distinct = new Set<unknown>();
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (evidence.observe(value) && distinct.size < cap) distinct.add(typeof value === 'string' ? value : String(value));
  }
  return decideType(evidence, distinct.size, options);
}

/**
 * Infers each column's type from its values (see {@link decideType}); `options.types`, then the
 * table's own `types`, override.
 *
 * @example
 * inferSchema(tableFromRecords(cars));
 * // [{ name: 'Name', type: 'text' }, { name: 'Miles_per_Gallon', type: 'numeric' }, …,
 * //  { name: 'Year', type: 'datetime' }, { name: 'Origin', type: 'categorical' }]
 */
export function inferSchema(table: Table, options: InferSchemaOptions = {}): ColumnSchema[] {
  checkTypeOverrides(options.types);
  return table.columns.map((name) => {
    const override = knownType(options.types, name) ?? knownType(table.types, name);
    return { name, type: override ?? inferColumnType(columnValues(table, name) ?? [], options) };
  });
}

/** The type named for `column` in a type map, if any. */
export function knownType(
  types: Readonly<Record<string, ColumnType>> | undefined,
  column: string,
): ColumnType | undefined {
  return types !== undefined && Object.hasOwn(types, column) ? types[column] : undefined;
}

/**
 * Reading imported cells as their column's type, exactly as the pipeline reads raw record values
 * (so a stored dataset transforms bit for bit like the raw records it came from): numbers, integers
 * and datetimes (epoch ms, UTC) become float64 with NaN for missing; booleans, categories and text
 * stay strings with null for missing. A value that does not read as its type is reported, not
 * guessed.
 */
import { parseCell, type ColumnType } from '@aimaas/pipeline';

/** How a column's values are held in memory and in shards. */
export type StorageKind = 'f64' | 'str';

/** Numeric, integer and datetime columns are float64; boolean, categorical and text are strings. */
export function storageKind(type: ColumnType): StorageKind {
  return type === 'numeric' || type === 'integer' || type === 'datetime' ? 'f64' : 'str';
}

/** Returned by the converters for a value that does not read as the column's type. */
export const INVALID = Symbol('invalid');

let problem = '';

/** Why the last conversion returned {@link INVALID}, for the malformed-row message. */
export function lastProblem(): string {
  return problem;
}

/** The null markers of an import: cells equal to one of them are missing. */
export interface NullMarkers {
  readonly set: ReadonlySet<string>;
  /** Some marker reads as a number (e.g. "-999"), so markers must be checked before parsing. */
  readonly numeric: boolean;
}

/** Compiles null markers for the converters. */
export function nullMarkers(markers: readonly string[]): NullMarkers {
  return { set: new Set(markers), numeric: markers.some((m) => parseDecimal(m) === parseDecimal(m)) };
}

const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * Reads a plain decimal (`-12.5`, `3`, `.5`, `7.`) with at most 15 significant digits exactly as
 * `Number()` would: the digits as an integer divided by a power of ten, both exact doubles, so the
 * division rounds correctly (Clinger's fast path). Anything else (exponents, spaces, long
 * mantissas, words) goes to the pipeline's `parseCell`. NaN when the text is not a number.
 */
export function parseDecimal(text: string): number {
  const value = fastDecimal(text, 0, text.length);
  return value === value ? value : slowNumber(text);
}

/**
 * The fast path of {@link parseDecimal} over `text[start, end)`: NaN when the range is not a
 * plain decimal it can read exactly (the caller then takes the slow path).
 */
export function fastDecimal(text: string, start: number, end: number): number {
  let i = start;
  let negative = false;
  const first = text.charCodeAt(i);
  if (first === 45 || first === 43) {
    negative = first === 45;
    i++;
  }
  let mantissa = 0;
  let digits = 0;
  let fraction = 0;
  let dot = false;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      mantissa = mantissa * 10 + (c - 48);
      digits++;
      if (dot) fraction++;
    } else if (c === 46 && !dot) dot = true;
    else return Number.NaN;
  }
  if (digits === 0 || digits > 15 || fraction > 22) return Number.NaN;
  const value = fraction === 0 ? mantissa : mantissa / POW10[fraction]!;
  return negative ? -value : value;
}

function slowNumber(text: string): number {
  // The pipeline's own cheap rejection: a number starts with a digit, sign, dot, space or non-ASCII.
  const first = text.charCodeAt(0);
  if (!((first >= 48 && first <= 57) || first === 43 || first === 45 || first === 46 || first <= 32 || first > 127))
    return Number.NaN;
  try {
    return parseCell(text, 'numeric', { missing: [] }) as number;
  } catch {
    return Number.NaN;
  }
}

function invalid(value: unknown, noun: string, expected: string): typeof INVALID {
  problem = `value ${describe(value)} is not ${noun}; expected ${expected}`;
  return INVALID;
}

/** A value for a message: strings quoted and cut to 40 characters. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}

const EXPECTED_NUMBER = 'a number such as 3.5 or -1e3';
const EXPECTED_DATE = 'an ISO 8601 date such as 2024-03-01 or 2024-03-01T12:30:00Z';
const EXPECTED_BOOLEAN = 'true, false, yes, no, 1 or 0';

/**
 * Reads a CSV cell of a float64 column (`numeric`, `integer`, `datetime`); `missing` holds the
 * null markers. NaN for missing, {@link INVALID} for a value of another type.
 */
export function csvNumber(text: string, type: ColumnType, missing: NullMarkers): number | typeof INVALID {
  if (type === 'datetime') return missing.set.has(text) ? Number.NaN : readDatetime(text);
  if (missing.numeric && missing.set.has(text)) return Number.NaN;
  const value = text.length === 0 ? Number.NaN : parseDecimal(text);
  if (value === value || missing.set.has(text)) return value;
  return invalid(text, 'a number', EXPECTED_NUMBER);
}

/**
 * Reads a CSV cell of a string column (`boolean`, `categorical`, `text`): null for a null marker,
 * except that an empty cell is an empty document in a text column (as the pipeline reads it).
 */
export function csvString(text: string, type: ColumnType, missing: NullMarkers): string | null | typeof INVALID {
  if (type === 'text' && text === '') return '';
  if (missing.set.has(text)) return null;
  if (type === 'boolean') return isBooleanText(text) ? text : invalid(text, 'a boolean', EXPECTED_BOOLEAN);
  return text;
}

/**
 * Reads a JSON value of a float64 column: numbers as they are (epoch ms for datetimes), numeric
 * or ISO strings parsed, null, absent and '' missing.
 */
export function jsonNumber(value: unknown, type: ColumnType): number | typeof INVALID {
  if (value === null || value === undefined || value === '') return Number.NaN;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    if (type === 'datetime') return readDatetime(value);
    const number = parseDecimal(value);
    return number === number ? number : invalid(value, 'a number', EXPECTED_NUMBER);
  }
  return invalid(
    value,
    type === 'datetime' ? 'a date' : 'a number',
    type === 'datetime' ? EXPECTED_DATE : EXPECTED_NUMBER,
  );
}

/**
 * Reads a JSON value of a string column: strings as they are, numbers and booleans as their
 * text; null and absent are missing, and '' outside text columns.
 */
export function jsonString(value: unknown, type: ColumnType): string | null | typeof INVALID {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') {
    if (value === '') return type === 'text' ? '' : null;
    if (type === 'boolean' && !isBooleanText(value)) return invalid(value, 'a boolean', EXPECTED_BOOLEAN);
    return value;
  }
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (type === 'boolean' && value !== 0 && value !== 1) return invalid(value, 'a boolean', EXPECTED_BOOLEAN);
    return String(value);
  }
  return invalid(
    value,
    type === 'boolean' ? 'a boolean' : 'a string, number or boolean',
    type === 'boolean' ? EXPECTED_BOOLEAN : 'a scalar value',
  );
}

function readDatetime(text: string): number | typeof INVALID {
  try {
    return parseCell(text, 'datetime', { missing: [] }) as number;
  } catch {
    return invalid(text, 'a date', EXPECTED_DATE);
  }
}

function isBooleanText(text: string): boolean {
  try {
    return typeof parseCell(text, 'boolean', { missing: [] }) === 'boolean';
  } catch {
    return false;
  }
}

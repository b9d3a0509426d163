import { PipelineInputError, describeValue } from './errors.js';

/** The type of a column, inferred from its values or set explicitly. */
export type ColumnType = 'numeric' | 'integer' | 'boolean' | 'categorical' | 'text' | 'datetime';

/** All column types, in the order they are documented. */
export const COLUMN_TYPES: readonly ColumnType[] = ['numeric', 'integer', 'boolean', 'categorical', 'text', 'datetime'];

/** A parsed cell: numbers for numeric/integer, booleans, epoch milliseconds (UTC) for datetimes. */
export type CellValue = number | boolean | string | null;

/** Options of {@link parseCell}. */
export interface ParseCellOptions {
  /**
   * Raw strings read as a missing value (null), compared exactly. For `text` columns only the empty
   * string is never missing (it is an empty document); the other tokens still are.
   * @default ['', 'NA', 'N/A', 'NaN', 'nan', 'null', 'NULL']
   */
  missing?: readonly string[];
  /** Record index to name in an error. */
  record?: number;
  /** Column to name in an error. */
  column?: string;
}

export const DEFAULT_MISSING_TOKENS: readonly string[] = ['', 'NA', 'N/A', 'NaN', 'nan', 'null', 'NULL'];

const NUMBER_PATTERN = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const DATETIME_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/;
const TRUE_WORDS = new Set(['true', 'yes', '1']);
const FALSE_WORDS = new Set(['false', 'no', '0']);

/** Reads a decimal number (surrounding spaces allowed); NaN when `text` is not one. Never throws. */
export function parseNumberText(text: string): number {
  const first = text.charCodeAt(0);
  // Cheap rejection of most words before the regular expression: a number starts with a digit, sign, dot or space.
  if (!((first >= 48 && first <= 57) || first === 43 || first === 45 || first === 46 || first <= 32 || first > 127))
    return Number.NaN;
  const trimmed = text.trim();
  if (!NUMBER_PATTERN.test(trimmed)) return Number.NaN;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : Number.NaN;
}

/** Reads true/false/yes/no/1/0 (any case, surrounding spaces allowed); null when not a boolean word. */
export function parseBooleanText(text: string): boolean | null {
  const word = text.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return null;
}

/** True for true/false/yes/no in any case (not 1/0, which read as numbers when inferring types). */
export function isBooleanWord(text: string): boolean {
  if (text.length > 5 && text.trim().length > 5) return false;
  const word = text.trim().toLowerCase();
  return word === 'true' || word === 'false' || word === 'yes' || word === 'no';
}

/**
 * Reads an ISO 8601 date or date-time (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH:MM]`, a
 * space instead of `T` also accepted) to epoch milliseconds. A time without an offset is UTC.
 * NaN when `text` is not such a date or names an impossible one (2023-02-30).
 */
export function parseDatetimeText(text: string): number {
  if (text.length < 10) return Number.NaN;
  const match = DATETIME_PATTERN.exec(text.trim());
  if (match === null) return Number.NaN;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  const hour = match[4] === undefined ? 0 : Number(match[4]);
  const minute = match[5] === undefined ? 0 : Number(match[5]);
  const second = match[6] === undefined ? 0 : Number(match[6]);
  const millis = match[7] === undefined ? 0 : Number(`${match[7]}00`.slice(0, 3));
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return Number.NaN;
  if (hour > 23 || minute > 59 || second > 59) return Number.NaN;
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  return utc - offsetMillis(match[8]);
}

function offsetMillis(zone: string | undefined): number {
  if (zone === undefined || zone === 'Z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  return sign * (hours * 60 + minutes) * 60_000;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Milliseconds in a day. */
export const DAY_MS = 86_400_000;

/** Calendar fields of an epoch-millisecond instant, in UTC, computed without allocating a Date. */
export interface CivilTime {
  year: number;
  /** 1–12. */
  month: number;
  /** 1–31. */
  day: number;
  /** 0 = Monday … 6 = Sunday. */
  dayOfWeek: number;
  hour: number;
  minute: number;
}

/** Fills `into` with the UTC calendar fields of `epochMs` (days-from-civil inverse, H. Hinnant). */
export function civilTime(epochMs: number, into: CivilTime): CivilTime {
  const days = Math.floor(epochMs / DAY_MS);
  const msOfDay = epochMs - days * DAY_MS;
  into.hour = Math.floor(msOfDay / 3_600_000);
  into.minute = Math.floor((msOfDay % 3_600_000) / 60_000);
  into.dayOfWeek = (((days + 3) % 7) + 7) % 7;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  into.day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  into.month = mp < 10 ? mp + 3 : mp - 9;
  into.year = era * 400 + yoe + (into.month <= 2 ? 1 : 0);
  return into;
}

/**
 * Parses one raw CSV cell as `type`: numbers for numeric and integer, booleans
 * (true/false/yes/no/1/0, any case), epoch milliseconds (UTC) for ISO 8601 datetimes, the string
 * itself for categorical and text. Missing tokens give null.
 *
 * @throws PipelineInputError naming the record and column (when given) and the expected form.
 * @example
 * parseCell('3.5', 'numeric');           // 3.5
 * parseCell('Yes', 'boolean');           // true
 * parseCell('2024-03-01', 'datetime');   // 1709251200000
 * parseCell('abc', 'numeric');           // throws: value "abc" is not a number; expected a number
 */
export function parseCell(raw: string, type: ColumnType, options: ParseCellOptions = {}): CellValue {
  const missing = options.missing ?? DEFAULT_MISSING_TOKENS;
  if (type === 'text') return raw !== '' && missing.includes(raw) ? null : raw;
  if (missing.includes(raw)) return null;
  const fail = (problem: string, expected: string): never => {
    throw new PipelineInputError({ record: options.record ?? null, column: options.column ?? null, problem, expected });
  };
  switch (type) {
    case 'numeric': {
      const value = parseNumberText(raw);
      return Number.isNaN(value)
        ? fail(`value ${describeValue(raw)} is not a number`, 'a decimal number such as 3.5 or -1e3')
        : value;
    }
    case 'integer': {
      const value = parseNumberText(raw);
      if (Number.isNaN(value)) return fail(`value ${describeValue(raw)} is not a number`, 'an integer such as 42');
      return Number.isInteger(value)
        ? value
        : fail(`value ${describeValue(raw)} is not an integer`, 'an integer such as 42');
    }
    case 'boolean': {
      const value = parseBooleanText(raw);
      return value === null
        ? fail(`value ${describeValue(raw)} is not a boolean`, 'true, false, yes, no, 1 or 0')
        : value;
    }
    case 'datetime': {
      const value = parseDatetimeText(raw);
      return Number.isNaN(value)
        ? fail(
            `value ${describeValue(raw)} is not a date`,
            'an ISO 8601 date such as 2024-03-01 or 2024-03-01T12:30:00Z',
          )
        : value;
    }
    case 'categorical':
      return raw;
    default:
      return fail(`unknown column type ${describeValue(type)}`, `one of ${COLUMN_TYPES.join(', ')}`);
  }
}

/**
 * True when `value` counts as missing in a column of `type`: null, undefined, NaN, and (except in
 * text columns, where it is an empty document) the empty string.
 */
export function isMissingValue(value: unknown, type: ColumnType): boolean {
  if (value === null || value === undefined) return true;
  if (typeof value === 'number') return Number.isNaN(value);
  return value === '' && type !== 'text';
}

import { extname } from 'node:path';
import { CsvParser, recordFields } from '@aimaas/pipeline';
import { UsageError } from '../command.js';

/** One JSON record: column name → value. */
export type JsonRecord = Record<string, unknown>;

/**
 * Splits CSV text into rows of cells with `@aimaas/pipeline`'s CSV parser, the one preprocessing
 * imports with (RFC 4180: quoted cells may hold the delimiter, newlines and doubled quotes).
 * Blank lines are skipped.
 *
 * @example
 * parseCsvRows('a,b\n1,"x,y"\n'); // [['a', 'b'], ['1', 'x,y']]
 */
export function parseCsvRows(text: string, delimiter = ','): string[][] {
  const rows: string[][] = [];
  const parser = new CsvParser({ delimiter }, (record) => {
    if (record.problem !== null) throw new UsageError(`CSV line ${record.line}: ${record.problem}`);
    rows.push(recordFields(record));
  });
  parser.push(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  parser.end();
  return rows;
}

/** A decimal number as people write it in CSV (no hex, no Infinity). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** A CSV cell as JSON: a number when it parses as one, null when empty, else the text. */
export function csvValue(cell: string): unknown {
  const trimmed = cell.trim();
  if (trimmed === '') return null;
  if (!DECIMAL.test(trimmed)) return cell;
  const number = Number(trimmed);
  return Number.isFinite(number) ? number : cell;
}

/**
 * CSV text (header row, then data rows) as JSON records; numbers become numbers, empty cells null.
 * A row with a different number of cells than the header is a usage error naming its line.
 *
 * @example
 * csvToRecords('a,b\n1,x\n,y\n'); // [{ a: 1, b: 'x' }, { a: null, b: 'y' }]
 */
export function csvToRecords(text: string, delimiter = ','): JsonRecord[] {
  const [header, ...rows] = parseCsvRows(text, delimiter);
  if (header === undefined) return [];
  return rows.map((cells, index) => {
    if (cells.length !== header.length) {
      throw new UsageError(`CSV row ${index + 2}: ${cells.length} cells, expected ${header.length} (as the header)`);
    }
    return Object.fromEntries(header.map((name, i) => [name, csvValue(cells[i]!)]));
  });
}

function requireObjects(values: unknown[], where: string): JsonRecord[] {
  values.forEach((value, i) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new UsageError(`${where}: record ${i + 1} is not a JSON object`);
    }
  });
  return values as JsonRecord[];
}

/** `--records '<json array>'` (a single object is one record). */
export function parseRecordsArg(text: string): JsonRecord[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--records: not JSON (${(error as Error).message})`);
  }
  return requireObjects(Array.isArray(value) ? value : [value], '--records');
}

/**
 * The records of a file by its extension: `.csv` (header + rows), `.jsonl`/`.ndjson` (one object a
 * line), anything else one JSON array of objects.
 */
export function parseRecordsFile(path: string, text: string): JsonRecord[] {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return csvToRecords(text);
  if (ext === '.jsonl' || ext === '.ndjson') {
    return requireObjects(
      text
        .split(/\r?\n/)
        .map((line, i) => ({ line: line.trim(), number: i + 1 }))
        .filter(({ line }) => line !== '')
        .map(({ line, number }) => {
          try {
            return JSON.parse(line) as unknown;
          } catch {
            throw new UsageError(`${path} line ${number}: not JSON`);
          }
        }),
      path,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${path}: not JSON (${(error as Error).message})`);
  }
  return requireObjects(Array.isArray(value) ? value : [value], path);
}

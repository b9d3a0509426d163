/**
 * Turns parsed records into typed columnar shards while a file streams in: the first rows are
 * held until the column types are decided (the pipeline's `inferSchema`, with the caller's
 * overrides), then every row is converted cell by cell; a row with a cell that does not read as
 * its column's type is malformed as a whole (policy FAIL: INVALID_ARGUMENT; SKIP: counted).
 * String columns are dictionary-encoded per shard as rows arrive, so a shard holds one string per
 * distinct value rather than one per row.
 */
import { inferSchema, type ColumnSchema, type ColumnType } from '@aimaas/pipeline';
import { InvalidArgumentError, ResourceExhaustedError } from '@aimaas/runtime';
import {
  INVALID,
  csvNumber,
  csvString,
  fastDecimal,
  jsonNumber,
  jsonString,
  lastProblem,
  storageKind,
  type NullMarkers,
} from './cell-conversion.js';
import { recordFields, type CsvRecord } from '@aimaas/pipeline';
import type { ShardColumn } from './shard-codec.js';
import { checkColumnNameLength, quoteInput } from './validation.js';

/** A row left out under policy SKIP (or the reason of the failure under FAIL). */
export interface MalformedExample {
  line: number;
  /** The column at fault; '' when the row as a whole is (ragged, not JSON, bad UTF-8 outside a field). */
  column: string;
  message: string;
}

/** A full (or the last) shard of rows, handed over synchronously: its buffers are reused afterwards. */
export interface BuiltShard {
  rows: number;
  /** The shard holds as many rows as a shard can (not the last, partial one). */
  full: boolean;
  columns: Map<string, ShardColumn>;
  /** Column types, for profiling. */
  types: Record<string, ColumnType>;
}

/** Options of {@link ImportTable}. */
export interface ImportTableOptions {
  format: 'csv' | 'json';
  policy: 'fail' | 'skip';
  inferRows: number;
  categoricalMaxDistinct: number;
  /** Column types given by the caller. */
  overrides: Record<string, ColumnType>;
  markers: NullMarkers;
  /** Rows per shard once the columns are known. */
  shardRows: (columns: number) => number;
  onShard: (shard: BuiltShard) => void;
  /** Most columns; one more is RESOURCE_EXHAUSTED. @default Infinity */
  maxColumns?: number;
  /** Longest JSON string cell, in characters; a longer one makes its row malformed. @default Infinity */
  maxCellChars?: number;
}

interface Column {
  name: string;
  type: ColumnType;
  f64: Float64Array | null;
  /** String columns: 0 = missing, k = entries[k − 1]. */
  codes: Uint32Array | null;
  dictionary: Map<string, number>;
  entries: string[];
  /** Plain decimals can be read straight from the CSV text (a number column, no numeric null marker). */
  direct: boolean;
}

const MAX_EXAMPLES = 10;

/** The columnar table of one import; see the file comment. */
export class ImportTable {
  readonly examples: MalformedExample[] = [];
  skipped = 0;
  rows = 0;
  private names: string[] = [];
  private readonly index = new Map<string, number>();
  private columns: Column[] = [];
  private window: { cells: unknown[]; line: number }[] | null = [];
  private shardRows = 0;
  private count = 0;

  private readonly emptyIsMissing: boolean;

  constructor(private readonly options: ImportTableOptions) {
    this.emptyIsMissing = options.markers.set.has('');
  }

  /** Names the columns (CSV header); JSON columns are added as keys appear. */
  setColumns(names: readonly string[]): void {
    const max = this.options.maxColumns ?? Number.POSITIVE_INFINITY;
    if (names.length > max) {
      throw new ResourceExhaustedError(
        `the header has ${names.length} columns; a dataset has at most ${max} (AIMAAS_PREPROCESSING_MAX_COLUMNS)`,
      );
    }
    for (const name of names) this.addName(name);
  }

  /** The column names so far. */
  get columnNames(): readonly string[] {
    return this.names;
  }

  /** The decided schema (types may widen from integer to numeric while rows come in). */
  get schema(): ColumnSchema[] {
    return this.columns.map(({ name, type }) => ({ name, type }));
  }

  /** Adds one CSV record whose fields match the columns in number. */
  addCsv(record: CsvRecord): void {
    if (this.window !== null) return this.hold(recordFields(record), record.line);
    this.commitCsv(record);
  }

  /** Adds one JSON record. */
  addJson(record: Record<string, unknown>, line: number): void {
    const maxColumns = this.options.maxColumns ?? Number.POSITIVE_INFINITY;
    const maxCell = this.options.maxCellChars ?? Number.POSITIVE_INFINITY;
    let columns = this.names.length;
    for (const key in record) {
      if (!Object.hasOwn(record, key)) continue;
      const value = record[key];
      if (typeof value === 'string' && value.length > maxCell) {
        return this.malformed(
          line,
          key,
          `a value of ${value.length} characters; a cell has at most ${maxCell} (AIMAAS_PREPROCESSING_MAX_CELL_CHARS)`,
        );
      }
      if (this.index.has(key)) continue;
      checkColumnNameLength(key, `line ${line}`);
      if (++columns > maxColumns) {
        throw new ResourceExhaustedError(
          `line ${line}: key ${quoteInput(key)} would be column ${columns}; a dataset has at most ${maxColumns} (AIMAAS_PREPROCESSING_MAX_COLUMNS)`,
        );
      }
    }
    const cells: unknown[] = new Array(this.names.length);
    for (const key in record) {
      if (!Object.hasOwn(record, key)) continue;
      let at = this.index.get(key);
      if (at === undefined) at = this.addName(key, record[key]);
      cells[at] = record[key];
    }
    if (this.window !== null) return this.hold(cells, line);
    this.commitJson(cells, line);
  }

  /** Records a malformed row: throws under FAIL, counts it under SKIP. */
  malformed(line: number, column: string, message: string): void {
    if (this.options.policy === 'fail') {
      throw new InvalidArgumentError(
        `line ${line}${column === '' ? '' : `, column ${JSON.stringify(column)}`}: ${message}`,
      );
    }
    this.skipped++;
    if (this.examples.length < MAX_EXAMPLES) this.examples.push({ line, column, message });
  }

  /** Flushes held and buffered rows into the last shard. */
  finish(): void {
    if (this.window !== null) this.decideTypes();
    if (this.count > 0) this.flush();
  }

  private addName(name: string, firstValue?: unknown): number {
    const at = this.names.length;
    this.names.push(name);
    this.index.set(name, at);
    if (this.window === null) {
      // A JSON key first seen after the types were decided: typed by its first value.
      const type =
        this.options.overrides[name] ?? inferSchema({ columns: [name], values: { [name]: [firstValue] } })[0]!.type;
      const column = this.newColumn(name, type);
      column.f64?.fill(Number.NaN, 0, this.count);
      this.columns.push(column);
    }
    return at;
  }

  private newColumn(name: string, type: ColumnType): Column {
    const f64 = storageKind(type) === 'f64';
    const direct = f64 && type !== 'datetime' && !this.options.markers.numeric;
    return {
      name,
      type,
      f64: f64 ? new Float64Array(this.shardRows) : null,
      codes: f64 ? null : new Uint32Array(this.shardRows),
      dictionary: new Map(),
      entries: [],
      direct,
    };
  }

  private hold(cells: unknown[], line: number): void {
    this.window!.push({ cells, line });
    if (this.window!.length >= this.options.inferRows) this.decideTypes();
  }

  private decideTypes(): void {
    const held = this.window!;
    this.window = null;
    const csv = this.options.format === 'csv';
    const values: Record<string, unknown[]> = Object.create(null); // column names may be __proto__ or constructor
    this.names.forEach((name, c) => {
      values[name] = held.map(({ cells }) => {
        const cell = cells[c];
        return csv && this.options.markers.set.has(cell as string) ? null : cell;
      });
    });
    const schema = inferSchema(
      { columns: this.names, values },
      { types: this.options.overrides, categoricalMaxDistinct: this.options.categoricalMaxDistinct },
    );
    this.shardRows = this.options.shardRows(this.names.length);
    this.columns = schema.map(({ name, type }) => this.newColumn(name, type));
    for (const { cells, line } of held) {
      if (csv) this.commitCsv(new HeldRecord(cells as string[], line));
      else this.commitJson(cells, line);
    }
  }

  private commitCsv(record: CsvRecord): void {
    const row = this.count;
    const markers = this.options.markers;
    const columns = this.columns;
    const text = record.text;
    const emptyIsMissing = this.emptyIsMissing;
    for (let c = 0; c < columns.length; c++) {
      const column = columns[c]!;
      const f64 = column.f64;
      if (f64 !== null) {
        // Plain decimals are read straight from the line; anything else takes the general path.
        const start = column.direct ? record.startOf(c) : -1;
        let value: number | typeof INVALID;
        if (start < 0) value = csvNumber(record.field(c), column.type, markers);
        else {
          const end = record.endOf(c);
          value = start === end && emptyIsMissing ? Number.NaN : fastDecimal(text, start, end);
          if (value !== value && !(start === end && emptyIsMissing))
            value = csvNumber(record.field(c), column.type, markers);
        }
        if (value === INVALID) return this.malformed(record.line, column.name, lastProblem());
        if (column.type === 'integer' && !Number.isInteger(value) && value === value) {
          column.type = 'numeric';
        }
        f64[row] = value;
      } else {
        const value = csvString(record.field(c), column.type, markers);
        if (value === INVALID) return this.malformed(record.line, column.name, lastProblem());
        column.codes![row] = value === null ? 0 : codeOf(column, value);
      }
    }
    this.rowDone();
  }

  private commitJson(cells: readonly unknown[], line: number): void {
    const row = this.count;
    const columns = this.columns;
    for (let c = 0; c < columns.length; c++) {
      const column = columns[c]!;
      if (column.f64 !== null) {
        const value = jsonNumber(cells[c], column.type);
        if (value === INVALID) return this.malformed(line, column.name, lastProblem());
        if (column.type === 'integer' && !Number.isInteger(value) && value === value) column.type = 'numeric';
        column.f64[row] = value;
      } else {
        const value = jsonString(cells[c], column.type);
        if (value === INVALID) return this.malformed(line, column.name, lastProblem());
        column.codes![row] = value === null ? 0 : codeOf(column, value);
      }
    }
    this.rowDone();
  }

  private rowDone(): void {
    this.rows++;
    if (++this.count === this.shardRows) this.flush();
  }

  private flush(): void {
    const rows = this.count;
    const columns = new Map<string, ShardColumn>();
    const types: Record<string, ColumnType> = Object.create(null); // column names may be __proto__ or constructor
    for (const column of this.columns) {
      types[column.name] = column.type;
      if (column.f64 !== null) columns.set(column.name, { kind: 'f64', values: column.f64.subarray(0, rows) });
      else columns.set(column.name, { kind: 'dict', codes: column.codes!.subarray(0, rows), entries: column.entries });
    }
    this.count = 0;
    this.options.onShard({ rows, full: rows === this.shardRows, columns, types });
    for (const column of this.columns) {
      column.dictionary = new Map();
      column.entries = [];
    }
  }
}

/** The code of `value` in its column's shard dictionary, adding it when new. */
function codeOf(column: Column, value: string): number {
  let code = column.dictionary.get(value);
  if (code === undefined) {
    // A slice of a long line keeps the whole piece of text alive: keep a copy instead.
    const own = value.length < 13 ? value : Buffer.from(value, 'utf8').toString('utf8');
    column.entries.push(own);
    code = column.entries.length;
    column.dictionary.set(own, code);
  }
  return code;
}

/** A row held during type inference, replayed as a CSV record. */
class HeldRecord implements CsvRecord {
  readonly problem = null;
  readonly text = '';
  constructor(
    private readonly cells: string[],
    readonly line: number,
  ) {}
  get count(): number {
    return this.cells.length;
  }
  get endLine(): number {
    return this.line;
  }
  startOf(): number {
    return -1;
  }
  endOf(): number {
    return -1;
  }
  field(i: number): string {
    return this.cells[i]!;
  }
}

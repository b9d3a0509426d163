import type { ColumnType } from './cell-values.js';
import { TypeEvidence, decideType, knownType } from './schema-inference.js';
import type { InferSchemaOptions } from './schema-inference.js';
import { createRandom } from './splits.js';
import { quantileOfSorted, rankByCount } from './stats.js';
import { columnValues, tableFromRecords, tableRowCount } from './table.js';
import type { ColumnValues, Table } from './table.js';
import { ValueCounts } from './value-counts.js';

/** Options of the profilers. Memory per column is bounded by `maxDistinct` and `reservoirSize`. */
export interface ProfilerOptions extends InferSchemaOptions {
  /** Distinct values tracked per column; beyond it `distinct` is a lower bound. @default 100_000 */
  maxDistinct?: number;
  /** Numbers kept (uniform reservoir sample) per column for quantiles. @default 10_000 */
  reservoirSize?: number;
  /** Seed of the reservoir sampling. @default 0 */
  seed?: number;
  /** How many top values to report. @default 10 */
  topValues?: number;
}

/** Statistics of a numeric or integer column. */
export interface NumericProfile {
  mean: number;
  /** Sample standard deviation (divides by n − 1); 0 for fewer than two values. */
  std: number;
  min: number;
  max: number;
  /** Quantiles 0, 0.25, 0.5, 0.75, 1 (linear interpolation, numpy's default). */
  quantiles: [number, number, number, number, number];
  /** False when the inner quantiles come from a reservoir sample (more values than `reservoirSize`); min and max are always exact. */
  quantilesExact: boolean;
}

/** A profile of one column, as shown at import. */
export interface ColumnProfile {
  name: string;
  /** The inferred type (see `inferSchema`). */
  type: ColumnType;
  rows: number;
  missing: number;
  /** Distinct non-missing values: numbers (and strings that read as numbers) by value, others as strings. */
  distinct: number;
  /** True when more than `maxDistinct` values were seen: `distinct` and `topValues` are then approximate. */
  distinctIsLowerBound: boolean;
  /** For numeric and integer columns. */
  numeric: NumericProfile | null;
  /** The most frequent values, for categorical, boolean and text columns. */
  topValues: { value: string; count: number }[] | null;
  /** String lengths in UTF-16 code units, for categorical and text columns. */
  textLength: { min: number; mean: number; max: number } | null;
  /** Earliest and latest instant (ISO 8601, UTC), for datetime columns. */
  datetime: { min: string; max: string } | null;
}

/**
 * Profiles one column from chunks of values, in bounded memory: Welford mean and variance, exact
 * min and max, a seeded reservoir sample for quantiles, and value counts for at most `maxDistinct`
 * distinct values (later new values are not counted; existing ones keep counting).
 */
export class ColumnProfiler {
  private readonly evidence = new TypeEvidence();
  private readonly counts: ValueCounts;
  private readonly reservoir: Float64Array;
  private readonly random: () => number;
  private readonly options: ProfilerOptions;
  private readonly knownType: ColumnType | undefined;
  private rows = 0;
  private missing = 0;
  private numbers = 0;
  private mean = 0;
  private m2 = 0;
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;
  private strings = 0;
  private lengthSum = 0;
  private minLength = Number.POSITIVE_INFINITY;
  private maxLength = 0;
  private firstTime = Number.POSITIVE_INFINITY;
  private lastTime = Number.NEGATIVE_INFINITY;

  constructor(
    readonly name: string,
    options: ProfilerOptions = {},
  ) {
    this.options = options;
    this.knownType = knownType(options.types, name);
    this.counts = new ValueCounts(options.maxDistinct ?? 100_000);
    this.reservoir = new Float64Array(options.reservoirSize ?? 10_000);
    this.random = createRandom(options.seed ?? 0);
  }

  /** Adds `count` rows where the column is absent. */
  pushMissing(count: number): void {
    this.rows += count;
    this.missing += count;
  }

  /** Adds a chunk of the column's values. */
  push(values: ColumnValues): void {
    this.rows += values.length;
    const evidence = this.evidence;
    const typed = values instanceof Float64Array;
    for (let i = 0; i < values.length; i++) {
      const value: unknown = values[i];
      if (typed) {
        if (value !== value) {
          this.missing++;
          continue;
        }
        evidence.observeNumber(value as number);
      } else if (!evidence.observe(value)) {
        this.missing++;
        continue;
      }
      // Numbers, and strings that read as numbers, are counted by value ("1.0" and 1 are one value).
      if (evidence.lastNumber === evidence.lastNumber) {
        this.counts.addNumber(evidence.lastNumber);
        this.addNumber(evidence.lastNumber);
      } else this.counts.addString(typeof value === 'string' ? value : String(value));
      // A datetime column held as epoch ms (a coerced table) is known to be one.
      if (this.knownType === 'datetime' && evidence.lastNumber === evidence.lastNumber)
        evidence.lastDatetime = evidence.lastNumber;
      if (evidence.lastDatetime === evidence.lastDatetime) {
        if (evidence.lastDatetime < this.firstTime) this.firstTime = evidence.lastDatetime;
        if (evidence.lastDatetime > this.lastTime) this.lastTime = evidence.lastDatetime;
      }
      if (typeof value === 'string') {
        this.strings++;
        this.lengthSum += value.length;
        if (value.length < this.minLength) this.minLength = value.length;
        if (value.length > this.maxLength) this.maxLength = value.length;
      }
    }
  }

  private addNumber(value: number): void {
    const n = ++this.numbers;
    const delta = value - this.mean;
    this.mean += delta / n;
    this.m2 += delta * (value - this.mean);
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    const size = this.reservoir.length;
    if (n <= size) this.reservoir[n - 1] = value;
    else {
      const slot = Math.floor(this.random() * n);
      if (slot < size) this.reservoir[slot] = value;
    }
  }

  /** The profile of everything pushed so far. */
  result(): ColumnProfile {
    const type = this.knownType ?? decideType(this.evidence, this.counts.size, this.options);
    const numeric = (type === 'numeric' || type === 'integer') && this.numbers > 0 ? this.numericProfile() : null;
    const ranked = type === 'categorical' || type === 'boolean' || type === 'text';
    const top = ranked
      ? rankByCount(this.counts.entries())
          .slice(0, this.options.topValues ?? 10)
          .map(([value, count]) => ({ value, count }))
      : null;
    const hasText = (type === 'categorical' || type === 'text') && this.strings > 0;
    return {
      name: this.name,
      type,
      rows: this.rows,
      missing: this.missing,
      distinct: this.counts.size,
      distinctIsLowerBound: this.counts.capped,
      numeric,
      topValues: top,
      textLength: hasText ? { min: this.minLength, mean: this.lengthSum / this.strings, max: this.maxLength } : null,
      datetime:
        type === 'datetime' && this.firstTime <= this.lastTime
          ? { min: new Date(this.firstTime).toISOString(), max: new Date(this.lastTime).toISOString() }
          : null,
    };
  }

  private numericProfile(): NumericProfile {
    const kept = Math.min(this.numbers, this.reservoir.length);
    const sorted = this.reservoir.slice(0, kept).sort();
    const inner = (q: number): number => (kept === 0 ? Number.NaN : quantileOfSorted(sorted, q));
    return {
      mean: this.mean,
      std: this.numbers > 1 ? Math.sqrt(this.m2 / (this.numbers - 1)) : 0,
      min: this.min,
      max: this.max,
      quantiles: [this.min, inner(0.25), inner(0.5), inner(0.75), this.max],
      quantilesExact: this.numbers <= this.reservoir.length,
    };
  }
}

/**
 * Profiles a table fed in chunks (tables or records), e.g. while a CSV streams in. Columns first
 * seen in a later chunk count as missing in the rows before it. A column's type comes from
 * `options.types`, else the first chunk's `types` that names it, else inference.
 *
 * @example
 * const profiler = new TableProfiler();
 * for await (const chunk of chunks) profiler.push(chunk);
 * const profiles = profiler.result();
 */
export class TableProfiler {
  private readonly columns = new Map<string, ColumnProfiler>();
  private rows = 0;

  constructor(private readonly options: ProfilerOptions = {}) {}

  /** Adds a chunk of rows. */
  push(chunk: Table): void {
    const n = tableRowCount(chunk);
    for (const name of chunk.columns) {
      if (!this.columns.has(name)) {
        const type = knownType(this.options.types, name) ?? knownType(chunk.types, name);
        const column = new ColumnProfiler(
          name,
          type === undefined ? this.options : { ...this.options, types: { [name]: type } },
        );
        column.pushMissing(this.rows);
        this.columns.set(name, column);
      }
    }
    for (const [name, column] of this.columns) {
      const values = columnValues(chunk, name);
      if (values === undefined) column.pushMissing(n);
      else column.push(values);
    }
    this.rows += n;
  }

  /** Adds a chunk of JSON records. */
  pushRecords(records: readonly unknown[]): void {
    this.push(tableFromRecords(records));
  }

  /** Profiles of every column seen, in order of first appearance. */
  result(): ColumnProfile[] {
    return [...this.columns.values()].map((column) => column.result());
  }
}

/** Profiles a whole table (see {@link TableProfiler}). */
export function profileTable(table: Table, options: ProfilerOptions = {}): ColumnProfile[] {
  const profiler = new TableProfiler(options);
  profiler.push(table);
  return profiler.result();
}

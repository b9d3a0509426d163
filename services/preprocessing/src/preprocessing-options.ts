/**
 * Tuning knobs of the preprocessing service, compiled once when the service is created. The
 * defaults suit datasets of millions of rows on a small machine; tests shrink them to exercise
 * shard boundaries with small files.
 */

import { availableParallelism } from 'node:os';
import { positiveIntegerSetting } from '@aimaas/runtime';

/** Options of `createPreprocessingService`. */
export interface PreprocessingOptions {
  /**
   * Most rows per stored dataset shard (one object in the `aimaas_datasets` object store). A
   * shard is also capped at about 32 MiB of decoded values, so wide tables get fewer rows.
   * @default 65536
   */
  shardRows?: number;
  /**
   * Rows read before the column types are decided (then kept; a later value that does not read as
   * its column's type makes its row malformed).
   * @default 10000
   */
  inferRows?: number;
  /**
   * A string column with at most this many distinct values in the inference rows is categorical;
   * with more, and at least two words per value on average, it is text.
   * @default 50
   */
  categoricalMaxDistinct?: number;
  /**
   * Shard uploads that may run while parsing goes on; bounds memory to about this many shards.
   * @default 2
   */
  maxPendingUploads?: number;
  /**
   * Largest stored tensor shard of a prepared split (features and labels of a run of rows).
   * @default 16777216 (16 MiB)
   */
  tensorShardBytes?: number;
  /**
   * ReadSplit with a shuffle seed permutes rows within windows of shards of at most this many
   * bytes (the whole split when it fits: then the order is a full permutation).
   * @default 268435456 (256 MiB)
   */
  shuffleWindowBytes?: number;
  /**
   * Largest ReadSplit batch in bytes of features; a bigger `batch_size` is INVALID_ARGUMENT.
   * @default 33554432 (32 MiB)
   */
  maxBatchBytes?: number;
  /**
   * Profile large imports (from their first full shard on) in a worker thread, beside the
   * parsing. That pays off when cores are free; on a small machine where NATS and the clients
   * already use them it is slower (measured on 2 cores: about 10%). Only compiled code can start
   * the worker; from TypeScript sources profiling always runs in the calling thread.
   * @default true when the machine has 4 or more cores
   */
  profileInWorker?: boolean;
  /**
   * Largest page of ListDatasets.
   * @default 1000
   */
  maxPageSize?: number;
  /**
   * How long an import may go without a message before it is ended (DEADLINE_EXCEEDED) and
   * cleaned up; orphans of dead writers are swept after twice this (`AIMAAS_PREPROCESSING_IMPORT_IDLE_MS`).
   * @default 300000 (5 minutes)
   */
  importIdleMs?: number;
  /** Most columns of a dataset (CSV fields, JSON keys): `AIMAAS_PREPROCESSING_MAX_COLUMNS`. @default 2048 */
  maxColumns?: number;
  /** Longest cell, in characters: `AIMAAS_PREPROCESSING_MAX_CELL_CHARS`. @default 65536 */
  maxCellChars?: number;
  /** Longest JSON record (line or array element), in characters: `AIMAAS_PREPROCESSING_MAX_RECORD_CHARS`. @default 4194304 */
  maxRecordChars?: number;
  /** Deepest nesting of arrays and objects in a JSON record: `AIMAAS_PREPROCESSING_MAX_JSON_DEPTH`. @default 32 */
  maxJsonDepth?: number;
}

/** The limits of one import, checked while the file is read (see {@link PreprocessingOptions}). */
export interface ImportLimits {
  maxColumns: number;
  maxCellChars: number;
  maxRecordChars: number;
  maxJsonDepth: number;
}

/** The defaults of {@link ImportLimits}, and the variables that override them. */
const IMPORT_LIMITS = {
  maxColumns: { default: 2048, variable: 'AIMAAS_PREPROCESSING_MAX_COLUMNS' },
  maxCellChars: { default: 65_536, variable: 'AIMAAS_PREPROCESSING_MAX_CELL_CHARS' },
  maxRecordChars: { default: 4 * 1024 * 1024, variable: 'AIMAAS_PREPROCESSING_MAX_RECORD_CHARS' },
  maxJsonDepth: { default: 32, variable: 'AIMAAS_PREPROCESSING_MAX_JSON_DEPTH' },
} as const satisfies Record<keyof ImportLimits, { default: number; variable: string }>;

/** {@link PreprocessingOptions} with defaults applied and checked. */
export interface CompiledPreprocessingOptions {
  shardRows: number;
  inferRows: number;
  categoricalMaxDistinct: number;
  maxPendingUploads: number;
  tensorShardBytes: number;
  shuffleWindowBytes: number;
  maxBatchBytes: number;
  maxPageSize: number;
  profileInWorker: boolean;
  importIdleMs: number;
  limits: ImportLimits;
}

/** Bytes of decoded values a dataset shard aims to stay under (8 bytes per cell). */
const SHARD_VALUE_BYTES = 32 * 1024 * 1024;

/**
 * Applies the defaults and validates, throwing a `TypeError` naming the bad setting.
 *
 * @example
 * compilePreprocessingOptions({ shardRows: 1000 }).inferRows; // 10000
 */
export function compilePreprocessingOptions(options: PreprocessingOptions = {}): CompiledPreprocessingOptions {
  return {
    shardRows: integer('shardRows', options.shardRows ?? 65_536, 1, 1 << 24),
    inferRows: integer('inferRows', options.inferRows ?? 10_000, 1, 1 << 24),
    categoricalMaxDistinct: integer('categoricalMaxDistinct', options.categoricalMaxDistinct ?? 50, 1, 1 << 24),
    maxPendingUploads: integer('maxPendingUploads', options.maxPendingUploads ?? 2, 1, 64),
    tensorShardBytes: integer('tensorShardBytes', options.tensorShardBytes ?? 16 * 1024 * 1024, 64, 2 ** 31 - 1),
    shuffleWindowBytes: integer(
      'shuffleWindowBytes',
      options.shuffleWindowBytes ?? 256 * 1024 * 1024,
      1,
      Number.MAX_SAFE_INTEGER,
    ),
    maxBatchBytes: integer('maxBatchBytes', options.maxBatchBytes ?? 32 * 1024 * 1024, 4, 2 ** 31 - 1),
    maxPageSize: integer('maxPageSize', options.maxPageSize ?? 1000, 1, 100_000),
    profileInWorker: flag('profileInWorker', options.profileInWorker ?? availableParallelism() >= 4),
    importIdleMs: integer('importIdleMs', options.importIdleMs ?? IMPORT_IDLE_MS, 1, 2 ** 31 - 1),
    limits: {
      maxColumns: integer('maxColumns', options.maxColumns ?? IMPORT_LIMITS.maxColumns.default, 1, 1 << 20),
      maxCellChars: integer('maxCellChars', options.maxCellChars ?? IMPORT_LIMITS.maxCellChars.default, 1, 2 ** 29),
      maxRecordChars: integer(
        'maxRecordChars',
        options.maxRecordChars ?? IMPORT_LIMITS.maxRecordChars.default,
        2,
        2 ** 29,
      ),
      maxJsonDepth: integer('maxJsonDepth', options.maxJsonDepth ?? IMPORT_LIMITS.maxJsonDepth.default, 1, 10_000),
    },
  };
}

/** The default of {@link PreprocessingOptions.importIdleMs}. */
const IMPORT_IDLE_MS = 300_000;

/** The limits and the import idle time from the environment (`AIMAAS_PREPROCESSING_*`), for `main.ts`. */
export function preprocessingOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): PreprocessingOptions {
  return {
    ...(Object.fromEntries(
      Object.entries(IMPORT_LIMITS).map(([key, { default: fallback, variable }]) => [
        key,
        positiveIntegerSetting(variable, fallback, env),
      ]),
    ) as Partial<ImportLimits>),
    importIdleMs: positiveIntegerSetting('AIMAAS_PREPROCESSING_IMPORT_IDLE_MS', IMPORT_IDLE_MS, env),
  };
}

/** Rows per dataset shard for a table of `columns` columns: `shardRows`, fewer for wide tables. */
export function shardRowsFor(options: CompiledPreprocessingOptions, columns: number): number {
  const byBytes = Math.floor(SHARD_VALUE_BYTES / (8 * Math.max(1, columns)));
  return Math.max(1, Math.min(options.shardRows, Math.max(1024, byBytes)));
}

function flag(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean')
    throw new TypeError(`PreprocessingOptions.${name} is ${String(value)}; expected true or false`);
  return value;
}

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`PreprocessingOptions.${name} is ${String(value)}; expected an integer from ${min} to ${max}`);
  }
  return value;
}

/**
 * The profile shown for an imported dataset: the pipeline library's incremental profiler fed
 * shard by shard, turned into `aimaas.v1.ColumnProfile` messages. For a large import (one that
 * fills a first shard) the profiler runs in a worker thread beside the parsing.
 */
import { Worker } from 'node:worker_threads';
import type { ColumnProfile as ProtoColumnProfile } from '@aimaas/proto';
import {
  TableProfiler,
  type ColumnProfile,
  type ColumnSchema,
  type ColumnType,
  type ProfilerOptions,
  type Table,
} from '@aimaas/pipeline';
import type { BuiltShard } from './import-table.js';
import type { DecodedShard } from './shard-codec.js';
import { toProtoType } from './type-mapping.js';

/** Profiler settings of every import (the pipeline's defaults, with a fixed sampling seed). */
export const PROFILER_OPTIONS: ProfilerOptions = { seed: 0 };

const QUANTILE_KEYS = ['0', '0.25', '0.5', '0.75', '1'] as const;
const WORKER_URL = new URL('./profile-worker.js', import.meta.url);
/** The worker runs compiled JavaScript: from TypeScript sources (tests) profiling stays in this thread. */
const WORKER_AVAILABLE = WORKER_URL.pathname.endsWith('.js') && import.meta.url.endsWith('.js');

/**
 * Profiles a dataset while it is imported, in bounded memory (see `ProfilerOptions` of the
 * pipeline library: distinct values and the quantile sample are capped per column).
 *
 * @example
 * const profiler = new DatasetProfiler(true);
 * profiler.push(shard, encodedShard);      // for every shard, in order
 * const columns = await profiler.result(schema);
 * profiler.close();
 */
export class DatasetProfiler {
  private local: TableProfiler | null = null;
  private worker: Worker | null = null;
  private failure: Error | null = null;

  /** @param useWorker profile full shards in a worker thread when compiled code is running. */
  constructor(private readonly useWorker: boolean) {}

  /** Adds one shard (its rows as built, and as encoded for storage). */
  push(shard: BuiltShard, encoded: Uint8Array, fullShard: boolean): void {
    if (this.local === null && this.worker === null) {
      if (this.useWorker && WORKER_AVAILABLE && fullShard) {
        this.worker = new Worker(WORKER_URL);
        this.worker.on('error', (error) => (this.failure ??= error));
      } else this.local = new TableProfiler(PROFILER_OPTIONS);
    }
    if (this.worker !== null) this.worker.postMessage({ kind: 'shard', bytes: encoded.slice(), types: shard.types });
    else this.local!.push(builtShardToTable(shard));
  }

  /**
   * Profiles of every column in `schema` order, typed as `schema` says (a column whose type
   * widened from integer to numeric during the import reports numeric).
   */
  async result(schema: readonly ColumnSchema[]): Promise<ProtoColumnProfile[]> {
    const profiles = this.worker !== null ? await this.workerResult(this.worker) : (this.local?.result() ?? []);
    const byName = new Map(profiles.map((profile) => [profile.name, profile]));
    return schema.map(({ name, type }) => toProtoProfile(byName.get(name), name, type));
  }

  /** Stops the worker, if any. */
  close(): void {
    void this.worker?.terminate();
    this.worker = null;
  }

  private workerResult(worker: Worker): Promise<ColumnProfile[]> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      worker.once('message', (message: { profiles: ColumnProfile[] }) => resolve(message.profiles));
      worker.once('error', reject);
      worker.postMessage({ kind: 'result' });
    });
  }
}

/** The pipeline table of a shard as the import built it (dictionary columns expanded). */
function builtShardToTable(shard: BuiltShard): Table {
  const values: Record<string, Float64Array | (string | null)[]> = Object.create(null); // column names may be __proto__ or constructor
  for (const [name, column] of shard.columns) {
    if (column.kind === 'f64') values[name] = column.values;
    else if (column.kind === 'dict')
      values[name] = Array.from(column.codes, (code) => (code === 0 ? null : column.entries[code - 1]!));
    else values[name] = [...column.values];
  }
  return { columns: [...shard.columns.keys()], values, rows: shard.rows, types: shard.types };
}

/** The pipeline table of a decoded shard with known column types. */
export function shardToTable(shard: DecodedShard, types: Record<string, ColumnType>): Table {
  const values: Record<string, Float64Array | readonly (string | null)[]> = Object.create(null); // column names may be __proto__ or constructor
  for (const [name, column] of shard.columns) values[name] = column.values;
  return { columns: [...shard.columns.keys()], values, rows: shard.rows, types };
}

/**
 * One column's profile as the wire message. Numbers get mean, std, min, max and quantiles;
 * datetimes min and max as epoch milliseconds (UTC); booleans, categories and text their top
 * values; categories and text their lengths in characters.
 */
function toProtoProfile(
  profile: ColumnProfile | undefined,
  name: string,
  type: ColumnSchema['type'],
): ProtoColumnProfile {
  const out: ProtoColumnProfile = {
    name,
    type: toProtoType(type),
    missing: profile?.missing ?? 0,
    distinct: profile?.distinct ?? 0,
    mean: 0,
    std: 0,
    min: 0,
    max: 0,
    quantiles: {},
    topValues: [],
    minLength: 0,
    meanLength: 0,
    maxLength: 0,
  };
  if (profile === undefined) return out;
  if (profile.numeric) {
    const { mean, std, min, max, quantiles } = profile.numeric;
    Object.assign(out, { mean: finite(mean), std: finite(std), min: finite(min), max: finite(max) });
    QUANTILE_KEYS.forEach((key, i) => {
      const value = quantiles[i]!;
      if (Number.isFinite(value)) out.quantiles[key] = value;
    });
  }
  if (profile.datetime) {
    out.min = Date.parse(profile.datetime.min);
    out.max = Date.parse(profile.datetime.max);
  }
  if (profile.topValues) out.topValues = profile.topValues.map(({ value, count }) => ({ value, count }));
  if (profile.textLength) {
    out.minLength = profile.textLength.min;
    out.meanLength = profile.textLength.mean;
    out.maxLength = profile.textLength.max;
  }
  return out;
}

function finite(value: number): number {
  return Number.isFinite(value) ? value : 0;
}

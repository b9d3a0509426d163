/**
 * A stored dataset read back as a pipeline `Table` (only the columns asked for), and row
 * selections of such a table. Float64 columns stay Float64Array (8 bytes a value); string
 * columns are arrays sharing one string per distinct value of each shard.
 */
import type { ColumnType, ColumnValues, Table } from '@aimaas/pipeline';
import { storageKind } from './cell-conversion.js';
import type { DatasetStore, StoredDataset } from './dataset-store.js';
import { decodeShard } from './shard-codec.js';

/**
 * Reads `columns` of every shard of a dataset into one table with the stored types, the next
 * shard's download overlapping the current one's decoding. A column a shard lacks (a JSON key
 * that appeared later) is missing in its rows.
 */
export async function loadTable(
  store: DatasetStore,
  stored: StoredDataset,
  columns: readonly string[],
  signal: AbortSignal,
): Promise<Table> {
  const rows = stored.dataset.rows;
  const types: Record<string, ColumnType> = Object.create(null); // column names may be __proto__ or constructor
  const values: Record<string, Float64Array | (string | null)[]> = Object.create(null); // column names may be __proto__ or constructor
  const byName = new Map(stored.schema.map(({ name, type }) => [name, type]));
  for (const name of columns) {
    const type = byName.get(name)!;
    types[name] = type;
    values[name] =
      storageKind(type) === 'f64' ? new Float64Array(rows).fill(Number.NaN) : new Array<string | null>(rows).fill(null);
  }
  const wanted = new Set(columns);
  const shards = stored.shards;
  let next = shards.length > 0 ? store.readObject(shards[0]!, signal) : undefined;
  let offset = 0;
  for (let s = 0; s < shards.length; s++) {
    const bytes = await next!;
    next = s + 1 < shards.length ? store.readObject(shards[s + 1]!, signal) : undefined;
    // An unawaited prefetch that fails after an earlier failure must not go unhandled.
    next?.catch(() => undefined);
    const shard = decodeShard(
      bytes,
      wanted,
      `shard ${s} of dataset "${stored.dataset.name}@${stored.dataset.version}"`,
    );
    for (const [name, column] of shard.columns) {
      const target = values[name]!;
      if (target instanceof Float64Array) {
        if (column.kind === 'f64') target.set(column.values, offset);
        else for (let r = 0; r < shard.rows; r++) target[offset + r] = Number(column.values[r] ?? Number.NaN);
      } else if (column.kind === 'str') {
        for (let r = 0; r < shard.rows; r++) target[offset + r] = column.values[r]!;
      } else {
        for (let r = 0; r < shard.rows; r++) {
          const v = column.values[r]!;
          target[offset + r] = v === v ? String(v) : null;
        }
      }
    }
    offset += shard.rows;
  }
  return { columns: [...columns], values, rows, types };
}

/** The rows `rows` (indices into `table`) of `columns` as a new table with the same types. */
export function selectRows(table: Table, rows: Uint32Array, columns: readonly string[] = table.columns): Table {
  const values: Record<string, ColumnValues> = Object.create(null); // column names may be __proto__ or constructor
  for (const name of columns) {
    const source = table.values[name]!;
    if (source instanceof Float64Array) {
      const out = new Float64Array(rows.length);
      for (let i = 0; i < rows.length; i++) out[i] = source[rows[i]!]!;
      values[name] = out;
    } else {
      const out = new Array<unknown>(rows.length);
      for (let i = 0; i < rows.length; i++) out[i] = source[rows[i]!];
      values[name] = out;
    }
  }
  return { columns: [...columns], values, rows: rows.length, ...(table.types && { types: table.types }) };
}

/** True when row `row` of `values` is missing (NaN or null). */
export function isMissingAt(values: ColumnValues, row: number): boolean {
  const value = values[row];
  return value === null || value === undefined || (typeof value === 'number' && Number.isNaN(value));
}

/** Rows `start` to `end` (exclusive) of `columns` as a table: float64 columns as views, no copy. */
export function sliceRows(table: Table, start: number, end: number, columns: readonly string[] = table.columns): Table {
  const values: Record<string, ColumnValues> = Object.create(null); // column names may be __proto__ or constructor
  for (const name of columns) {
    const source = table.values[name]!;
    values[name] = source instanceof Float64Array ? source.subarray(start, end) : source.slice(start, end);
  }
  return { columns: [...columns], values, rows: end - start, ...(table.types && { types: table.types }) };
}

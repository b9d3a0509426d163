/**
 * The binary layout of one columnar dataset shard (one object in the `aimaas_datasets` store):
 *
 * ```
 * "AIMS" | u32 header length | header JSON (UTF-8) | padding to 8 | sections, each 8-aligned
 * ```
 *
 * The header lists the rows and, per column, its storage kind and section offsets. A `f64`
 * column is `rows` little-endian float64 (NaN = missing). A `str` column is dictionary encoded:
 * codes (u8, u16 or u32 by dictionary size; 0 = missing, k = entry k−1), then u32 end offsets of
 * each entry in a UTF-8 blob, then the blob. Decoding may pick columns, so PrepareDataset reads
 * only the ones it needs.
 */
import { DataLossError } from '@aimaas/runtime';
import type { StorageKind } from './cell-conversion.js';

/**
 * One column of a shard in memory: float64 values; strings (null = missing); or strings already
 * dictionary-encoded (`codes`: 0 = missing, k = `entries[k − 1]`), as the import builds them.
 */
export type ShardColumn =
  | { kind: 'f64'; values: Float64Array }
  | { kind: 'str'; values: readonly (string | null)[] }
  | { kind: 'dict'; codes: Uint32Array; entries: readonly string[] };

interface ColumnHeader {
  name: string;
  kind: StorageKind;
  /** f64: the values; str: the codes. */
  offset: number;
  /** str: bytes per code. */
  codeBytes?: 1 | 2 | 4;
  /** str: dictionary entries, their u32 end offsets and the UTF-8 blob. */
  entries?: number;
  endsOffset?: number;
  blobOffset?: number;
  blobLength?: number;
}

interface ShardHeader {
  version: 1;
  rows: number;
  columns: ColumnHeader[];
}

const MAGIC = 0x534d4941; // "AIMS" little-endian
const align8 = (n: number): number => (n + 7) & ~7;

/**
 * Serialises the columns (each `rows` long) of one shard.
 *
 * @example
 * const bytes = encodeShard(3, new Map([['x', { kind: 'f64', values: Float64Array.of(1, NaN, 3) }]]));
 */
export function encodeShard(rows: number, columns: ReadonlyMap<string, ShardColumn>): Uint8Array {
  const headers: ColumnHeader[] = [];
  const parts: { offset: number; bytes: Uint8Array }[] = [];
  let cursor = 0;
  const place = (bytes: Uint8Array): number => {
    const offset = cursor;
    parts.push({ offset, bytes });
    cursor = align8(cursor + bytes.byteLength);
    return offset;
  };
  for (const [name, column] of columns) {
    if (column.kind === 'f64') {
      const values = column.values.subarray(0, rows);
      headers.push({
        name,
        kind: 'f64',
        offset: place(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)),
      });
      continue;
    }
    const { codes, entries } =
      column.kind === 'dict'
        ? { codes: column.codes.subarray(0, rows), entries: column.entries }
        : dictionaryEncode(column.values, rows);
    const codeBytes = entries.length < 0xff ? 1 : entries.length < 0xffff ? 2 : 4;
    const packed = codeBytes === 1 ? Uint8Array.from(codes) : codeBytes === 2 ? Uint16Array.from(codes) : codes;
    const ends = new Uint32Array(entries.length);
    let blobLength = 0;
    entries.forEach((entry, i) => (ends[i] = blobLength += Buffer.byteLength(entry, 'utf8')));
    const blob = Buffer.allocUnsafe(blobLength);
    let at = 0;
    for (const entry of entries) at += blob.write(entry, at, 'utf8');
    headers.push({
      name,
      kind: 'str',
      offset: place(new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength)),
      codeBytes,
      entries: entries.length,
      endsOffset: place(new Uint8Array(ends.buffer)),
      blobOffset: place(blob),
      blobLength,
    });
  }
  const header = Buffer.from(JSON.stringify({ version: 1, rows, columns: headers } satisfies ShardHeader), 'utf8');
  const base = align8(8 + header.byteLength);
  const out = new Uint8Array(base + cursor);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, header.byteLength, true);
  out.set(header, 8);
  for (const part of parts) out.set(part.bytes, base + part.offset);
  return out;
}

function dictionaryEncode(values: readonly (string | null)[], rows: number): { codes: Uint32Array; entries: string[] } {
  const dictionary = new Map<string, number>();
  const codes = new Uint32Array(rows);
  for (let r = 0; r < rows; r++) {
    const value = values[r];
    if (value === null || value === undefined) continue;
    let code = dictionary.get(value);
    if (code === undefined) dictionary.set(value, (code = dictionary.size + 1));
    codes[r] = code;
  }
  return { codes, entries: [...dictionary.keys()] };
}

/** A decoded shard: its rows and the columns asked for. */
export interface DecodedShard {
  rows: number;
  columns: Map<string, Exclude<ShardColumn, { kind: 'dict' }>>;
}

/**
 * Reads a shard written by {@link encodeShard}, decoding only `wanted` columns (all when
 * undefined). A column the shard lacks is left out (the caller treats it as all missing).
 *
 * @throws DataLossError when the bytes are not a shard.
 */
export function decodeShard(data: Uint8Array, wanted?: ReadonlySet<string>, where = 'dataset shard'): DecodedShard {
  // Typed-array views need aligned offsets: copy the rare unaligned buffer.
  const bytes = data.byteOffset % 8 === 0 ? data : new Uint8Array(data);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 8 || view.getUint32(0, true) !== MAGIC)
    throw new DataLossError(`${where} is not a columnar shard (bad magic)`);
  let header: ShardHeader;
  try {
    header = JSON.parse(
      Buffer.from(bytes.buffer, bytes.byteOffset + 8, view.getUint32(4, true)).toString('utf8'),
    ) as ShardHeader;
  } catch (error) {
    throw new DataLossError(`${where} has an unreadable header`, { cause: error });
  }
  const base = bytes.byteOffset + align8(8 + view.getUint32(4, true));
  const rows = header.rows;
  const columns = new Map<string, Exclude<ShardColumn, { kind: 'dict' }>>();
  for (const column of header.columns) {
    if (wanted !== undefined && !wanted.has(column.name)) continue;
    if (column.kind === 'f64') {
      columns.set(column.name, { kind: 'f64', values: new Float64Array(bytes.buffer, base + column.offset, rows) });
      continue;
    }
    const entries = column.entries ?? 0;
    const ends = new Uint32Array(bytes.buffer, base + column.endsOffset!, entries);
    const blob = Buffer.from(bytes.buffer as ArrayBuffer, base + column.blobOffset!, column.blobLength ?? 0);
    const dictionary: (string | null)[] = [null];
    for (let i = 0, start = 0; i < entries; start = ends[i]!, i++)
      dictionary.push(blob.toString('utf8', start, ends[i]!));
    const codeBytes = column.codeBytes ?? 4;
    const Codes = codeBytes === 1 ? Uint8Array : codeBytes === 2 ? Uint16Array : Uint32Array;
    const codes = new Codes(bytes.buffer as ArrayBuffer, base + column.offset, rows);
    const values = new Array<string | null>(rows);
    for (let r = 0; r < rows; r++) values[r] = dictionary[codes[r]!] ?? null;
    columns.set(column.name, { kind: 'str', values });
  }
  return { rows, columns };
}

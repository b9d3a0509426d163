import { Task, taskToJSON } from '@aimaas/proto';

/** What a cell shows for an absent value. */
export const NONE = '-';

/**
 * A date as ISO 8601 in UTC, to the second: `2025-03-01T12:00:05Z`.
 *
 * @example
 * formatDate(new Date(Date.UTC(2025, 2, 1, 12, 0, 5, 123))); // '2025-03-01T12:00:05Z'
 */
export function formatDate(date: Date | undefined): string {
  if (date === undefined || Number.isNaN(date.getTime())) return NONE;
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * A number, compact: integers as they are, others to 4 significant digits.
 *
 * @example
 * formatNumber(0.912345); // '0.9123'
 * formatNumber(12);       // '12'
 */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(4)));
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/**
 * A byte count in decimal units with up to 3 significant digits.
 *
 * @example
 * formatBytes(1_234_567); // '1.23 MB'
 */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const text = unit === 0 ? String(Math.round(value)) : String(Number(value.toPrecision(3)));
  return `${text} ${UNITS[unit]}`;
}

/**
 * `key=value` pairs sorted by key and joined by commas; numbers compact.
 *
 * @example
 * formatRecord({ loss: 0.2, accuracy: 0.91 }); // 'accuracy=0.91,loss=0.2'
 */
export function formatRecord(record: Record<string, string | number> | undefined): string {
  const entries = Object.entries(record ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return NONE;
  return entries.map(([k, v]) => `${k}=${typeof v === 'number' ? formatNumber(v) : v}`).join(',');
}

/** A list joined by commas, or `-` when empty. */
export function formatList(items: readonly string[] | undefined): string {
  return items !== undefined && items.length > 0 ? items.join(',') : NONE;
}

/** A task as a word: `classification`, `regression`, `reconstruction`, or `-`. */
export function formatTask(task: Task): string {
  if (task === Task.TASK_UNSPECIFIED) return NONE;
  return taskToJSON(task)
    .replace(/^TASK_/, '')
    .toLowerCase();
}

/** A version number, `-` for 0 (none). */
export function formatVersion(version: number): string {
  return version > 0 ? String(version) : NONE;
}

/** Cuts `text` to `max` characters, ending with `…` when cut; empty text becomes `-`. */
export function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  if (oneLine === '') return NONE;
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}

/** A column of {@link formatTable}: its header and how its cells line up. */
export interface Column {
  header: string;
  /** @default 'left' */
  align?: 'left' | 'right';
}

/**
 * Lays rows out as an aligned text table: upper-case headers (unless `header: false`), columns
 * two spaces apart, no trailing spaces. Cells are strings already formatted.
 *
 * @example
 * formatTable([{ header: 'name' }, { header: 'versions', align: 'right' }], [['fmnist', '3'], ['iris', '12']]);
 * // NAME    VERSIONS
 * // fmnist         3
 * // iris          12
 */
export function formatTable(
  columns: readonly (Column | string)[],
  rows: readonly (readonly string[])[],
  options: { header?: boolean } = {},
): string {
  const cols = columns.map((c) => (typeof c === 'string' ? { header: c } : c));
  const showHeader = options.header ?? true;
  const header = cols.map((c) => (showHeader ? c.header.toUpperCase() : ''));
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((row) => width(row[i] ?? ''))));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => {
        const pad = ' '.repeat(widths[i]! - width(cell));
        return cols[i]?.align === 'right' ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  const body = rows.map((row) => line(cols.map((_, i) => row[i] ?? '')));
  return (showHeader ? [line(header), ...body] : body).join('\n');
}

/**
 * Lays out `label: value` lines with the values lined up; multi-line values are indented.
 *
 * @example
 * formatFields([['Name', 'fmnist'], ['Latest version', '3']]);
 * // Name:            fmnist
 * // Latest version:  3
 */
export function formatFields(fields: readonly (readonly [string, string])[]): string {
  const labelWidth = Math.max(...fields.map(([label]) => width(label) + 1));
  return fields
    .map(([label, value]) => {
      const head = `${label}:`.padEnd(labelWidth + 2);
      return head + value.split('\n').join(`\n${' '.repeat(labelWidth + 2)}`);
    })
    .join('\n');
}

/** Display width: code points (good enough for the names, numbers and `…` the CLI prints). */
function width(text: string): number {
  return [...text].length;
}

import { readFileSync } from 'node:fs';
import type { Table } from '../src/index.js';

const FIXTURES = new URL('../../../test/fixtures/', import.meta.url);

/** The raw cars.json records (406, with null MPG and Horsepower values). */
export function loadCarsRecords(): Record<string, unknown>[] {
  return JSON.parse(readFileSync(new URL('cars.json', FIXTURES), 'utf8')) as Record<string, unknown>[];
}

/**
 * Loads a small CSV fixture (no quoting needed for these files) as a columnar table: columns whose
 * every value reads as a number become Float64Array, the others string arrays.
 */
export function loadCsv(name: string): Table {
  const lines = readFileSync(new URL(name, FIXTURES), 'utf8').trim().split(/\r?\n/);
  const header = lines[0]!.split(',');
  const cells = lines.slice(1).map((line) => line.split(','));
  const values: Record<string, Float64Array | string[]> = {};
  header.forEach((column, j) => {
    const raw = cells.map((row) => row[j]!);
    values[column] = raw.every((cell) => cell !== '' && !Number.isNaN(Number(cell)))
      ? Float64Array.from(raw, Number)
      : raw;
  });
  return { columns: header, values };
}

/** True when both arrays hold exactly the same bits. */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

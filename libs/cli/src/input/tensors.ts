import type { Tensor } from '@aimaas/proto';
import { UsageError } from '../command.js';

interface Codec {
  bytes: number;
  write(view: DataView, offset: number, value: number): void;
  read(view: DataView, offset: number): number;
}

/** Open Inference Protocol datatypes the CLI reads and writes, little-endian. */
const CODECS: Record<string, Codec> = {
  FP32: { bytes: 4, write: (v, o, x) => v.setFloat32(o, x, true), read: (v, o) => v.getFloat32(o, true) },
  FP64: { bytes: 8, write: (v, o, x) => v.setFloat64(o, x, true), read: (v, o) => v.getFloat64(o, true) },
  INT8: { bytes: 1, write: (v, o, x) => v.setInt8(o, x), read: (v, o) => v.getInt8(o) },
  UINT8: { bytes: 1, write: (v, o, x) => v.setUint8(o, x), read: (v, o) => v.getUint8(o) },
  INT16: { bytes: 2, write: (v, o, x) => v.setInt16(o, x, true), read: (v, o) => v.getInt16(o, true) },
  INT32: { bytes: 4, write: (v, o, x) => v.setInt32(o, x, true), read: (v, o) => v.getInt32(o, true) },
  INT64: {
    bytes: 8,
    write: (v, o, x) => v.setBigInt64(o, BigInt(x), true),
    read: (v, o) => Number(v.getBigInt64(o, true)),
  },
  BOOL: { bytes: 1, write: (v, o, x) => v.setUint8(o, x ? 1 : 0), read: (v, o) => v.getUint8(o) },
};

const INTEGER = new Set(['INT8', 'UINT8', 'INT16', 'INT32', 'INT64']);

/**
 * Parses `--tensor name:DATATYPE:shape:values`, e.g. `input:FP32:1x4:1,2,3,4`, into a tensor with
 * row-major little-endian bytes. The value count must match the shape.
 *
 * @example
 * parseTensorArg('input:FP32:2x2:1,2,3,4'); // { name: 'input', datatype: 'FP32', shape: [2, 2], raw: <16 bytes> }
 */
export function parseTensorArg(text: string): Tensor {
  const parts = text.split(':');
  if (parts.length !== 4 || parts[0] === '') {
    throw new UsageError(`--tensor ${text}: expected name:DATATYPE:shape:values, e.g. input:FP32:1x4:1,2,3,4`);
  }
  const [name, type, shapeText, valuesText] = parts as [string, string, string, string];
  const datatype = type.toUpperCase();
  const codec = CODECS[datatype];
  if (codec === undefined) {
    throw new UsageError(`--tensor ${name}: datatype ${type} is not one of ${Object.keys(CODECS).join(', ')}`);
  }
  const shape = shapeText.split('x').map((d) => {
    if (!/^[0-9]+$/.test(d)) throw new UsageError(`--tensor ${name}: shape ${shapeText}: expected dimensions like 1x4`);
    return Number(d);
  });
  const values =
    valuesText.trim() === ''
      ? []
      : valuesText.split(',').map((v) => {
          const value = v.trim() === 'true' ? 1 : v.trim() === 'false' ? 0 : Number(v);
          if (v.trim() === '' || !Number.isFinite(value) || (INTEGER.has(datatype) && !Number.isInteger(value))) {
            throw new UsageError(`--tensor ${name}: value "${v}" is not a ${datatype} number`);
          }
          return value;
        });
  const expected = shape.reduce((a, b) => a * b, 1);
  if (values.length !== expected) {
    throw new UsageError(`--tensor ${name}: ${values.length} values, shape ${shapeText} needs ${expected}`);
  }
  const raw = Buffer.alloc(expected * codec.bytes);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  values.forEach((value, i) => codec.write(view, i * codec.bytes, value));
  return { name, datatype, shape, raw };
}

/** The values of a tensor as numbers (row-major), or undefined for a datatype the CLI cannot read. */
export function tensorValues(tensor: Tensor): number[] | undefined {
  const codec = CODECS[tensor.datatype.toUpperCase()];
  if (codec === undefined) return undefined;
  const raw = tensor.raw;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const count = Math.floor(raw.byteLength / codec.bytes);
  return Array.from({ length: count }, (_, i) => codec.read(view, i * codec.bytes));
}

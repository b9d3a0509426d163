import { InferTensorContents } from '@aimaas/proto';
import { InvalidArgumentError } from '@aimaas/runtime';
import { float16BitsToFloat32 } from '@aimaas/ml';

/** The element types a model input or output can have (ONNX Runtime's names). */
export type ElementType = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'bool';

/** The typed array holding a tensor of each {@link ElementType} (`bool` as 0/1 bytes). */
export type ElementArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

/** A tensor as runtimes take and give it: row-major data and dimensions. */
export interface RunnerTensor {
  type: ElementType;
  data: ElementArray;
  dims: number[];
}

/** OIP datatype → element type, for the datatypes a model may declare. */
export const ELEMENT_TYPES: Readonly<Record<string, ElementType>> = {
  FP32: 'float32',
  FP64: 'float64',
  INT32: 'int32',
  INT64: 'int64',
  UINT8: 'uint8',
  BOOL: 'bool',
};

/** Element type → OIP datatype. */
export const OIP_DATATYPES: Readonly<Record<ElementType, string>> = {
  float32: 'FP32',
  float64: 'FP64',
  int32: 'INT32',
  int64: 'INT64',
  uint8: 'UINT8',
  bool: 'BOOL',
};

/** Bytes per element of each OIP datatype with a fixed size. */
const ELEMENT_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  FP16: 2,
  UINT32: 4,
  INT32: 4,
  FP32: 4,
  UINT64: 8,
  INT64: 8,
  FP64: 8,
};

/** Every datatype name of the protocol. */
const OIP_DATATYPE_NAMES = [...Object.keys(ELEMENT_BYTES), 'BYTES'] as const;

/** Element values as decoded from the wire, before conversion to the model's type. */
type WireValues =
  | { kind: 'number'; values: ArrayLike<number> }
  | { kind: 'bigint'; values: BigInt64Array | BigUint64Array }
  | { kind: 'bytes'; count: number };

/** Number of elements of a shape. */
function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** An aligned copy of `bytes` (protobuf buffers may start at any offset). */
function aligned(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

/** Decodes raw little-endian bytes (`raw_input_contents`, `Tensor.raw`) of `count` elements. */
function decodeRaw(name: string, datatype: string, raw: Uint8Array, count: number): WireValues {
  if (datatype === 'BYTES') {
    let offset = 0;
    let elements = 0;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    while (offset + 4 <= raw.byteLength) {
      offset += 4 + view.getUint32(offset, true);
      elements += 1;
    }
    if (offset !== raw.byteLength || elements !== count) {
      throw new InvalidArgumentError(
        `input "${name}": raw BYTES content holds ${elements} length-prefixed elements (${raw.byteLength} bytes), expected ${count} from the shape`,
      );
    }
    return { kind: 'bytes', count };
  }
  const size = ELEMENT_BYTES[datatype]!;
  if (raw.byteLength !== count * size) {
    throw new InvalidArgumentError(
      `input "${name}": raw content has ${raw.byteLength} bytes, expected ${count * size} (${count} elements of ${datatype}, ${size} bytes each)`,
    );
  }
  const buffer = aligned(raw);
  switch (datatype) {
    case 'FP32':
      return { kind: 'number', values: new Float32Array(buffer) };
    case 'FP64':
      return { kind: 'number', values: new Float64Array(buffer) };
    case 'INT8':
      return { kind: 'number', values: new Int8Array(buffer) };
    case 'INT16':
      return { kind: 'number', values: new Int16Array(buffer) };
    case 'INT32':
      return { kind: 'number', values: new Int32Array(buffer) };
    case 'UINT8':
    case 'BOOL':
      return { kind: 'number', values: new Uint8Array(buffer) };
    case 'UINT16':
      return { kind: 'number', values: new Uint16Array(buffer) };
    case 'UINT32':
      return { kind: 'number', values: new Uint32Array(buffer) };
    case 'INT64':
      return { kind: 'bigint', values: new BigInt64Array(buffer) };
    case 'UINT64':
      return { kind: 'bigint', values: new BigUint64Array(buffer) };
    default:
      return { kind: 'number', values: Array.from(new Uint16Array(buffer), float16BitsToFloat32) };
  }
}

/** The typed `contents` field each datatype travels in. */
const CONTENT_FIELDS: Readonly<Record<string, keyof InferTensorContents>> = {
  BOOL: 'boolContents',
  INT8: 'intContents',
  INT16: 'intContents',
  INT32: 'intContents',
  INT64: 'int64Contents',
  UINT8: 'uintContents',
  UINT16: 'uintContents',
  UINT32: 'uintContents',
  UINT64: 'uint64Contents',
  FP32: 'fp32Contents',
  FP64: 'fp64Contents',
  BYTES: 'bytesContents',
};

function decodeTyped(
  name: string,
  datatype: string,
  contents: InferTensorContents | undefined,
  count: number,
): WireValues {
  const field = CONTENT_FIELDS[datatype];
  if (field === undefined) {
    throw new InvalidArgumentError(
      `input "${name}": ${datatype} has no typed contents field; send it in raw_input_contents`,
    );
  }
  const values = (contents?.[field] ?? []) as unknown[];
  if (values.length !== count) {
    const other = Object.entries(contents ?? {}).find(([key, v]) => key !== field && Array.isArray(v) && v.length > 0);
    const hint = other
      ? ` (found ${other[1].length} values in ${other[0]}, which does not match datatype ${datatype})`
      : '';
    throw new InvalidArgumentError(
      `input "${name}": contents.${field} has ${values.length} values, expected ${count} from shape${hint}`,
    );
  }
  if (datatype === 'BYTES') return { kind: 'bytes', count };
  if (datatype === 'BOOL') return { kind: 'number', values: (values as boolean[]).map((b) => (b ? 1 : 0)) };
  return { kind: 'number', values: values as number[] };
}

function lossy(
  name: string,
  from: string,
  value: number | bigint,
  index: number,
  to: ElementType,
): InvalidArgumentError {
  return new InvalidArgumentError(
    `input "${name}": ${from} value ${String(value)} at element ${index} cannot be converted to ${OIP_DATATYPES[to]} (the model's datatype) without loss; send ${OIP_DATATYPES[to]}`,
  );
}

/** Converts decoded values to the model's element type, refusing any value that would change. */
function convert(name: string, from: string, wire: WireValues, to: ElementType): ElementArray {
  if (wire.kind === 'bytes') {
    throw new InvalidArgumentError(
      `input "${name}": datatype BYTES cannot be converted to ${OIP_DATATYPES[to]} (the model's datatype)`,
    );
  }
  if (wire.kind === 'bigint') {
    if (to === 'int64') {
      if (wire.values instanceof BigInt64Array) return wire.values;
      const max = 2n ** 63n - 1n;
      wire.values.forEach((v, i) => {
        if (v > max) throw lossy(name, from, v, i, to);
      });
      return BigInt64Array.from(wire.values);
    }
    const numbers = Array.from(wire.values, (v, i) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n)) throw lossy(name, from, v, i, to);
      return n;
    });
    return convert(name, from, { kind: 'number', values: numbers }, to);
  }
  const { values } = wire;
  if (to === 'float32' && values instanceof Float32Array) return values;
  if (to === 'float64' && values instanceof Float64Array) return values;
  if (to === 'int32' && values instanceof Int32Array) return values;
  if (to === 'uint8' && from === 'UINT8' && values instanceof Uint8Array) return values;
  const n = values.length;
  const check = (ok: (v: number) => boolean): void => {
    for (let i = 0; i < n; i++) if (!ok(values[i]!)) throw lossy(name, from, values[i]!, i, to);
  };
  switch (to) {
    case 'float32':
      check((v) => Math.fround(v) === v || Number.isNaN(v));
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'int32':
      check((v) => Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31);
      return Int32Array.from(values);
    case 'int64':
      check((v) => Number.isSafeInteger(v));
      return BigInt64Array.from(values as ArrayLike<number>, (v) => BigInt(v));
    case 'uint8':
      check((v) => Number.isInteger(v) && v >= 0 && v <= 255);
      return Uint8Array.from(values);
    case 'bool':
      check((v) => v === 0 || v === 1);
      return Uint8Array.from(values);
  }
}

/** One input tensor as it arrives: typed contents or raw bytes. */
export interface WireTensor {
  name: string;
  datatype: string;
  shape: number[];
  contents?: InferTensorContents | undefined;
  raw?: Uint8Array | undefined;
}

/**
 * Decodes one input tensor and converts it to the model's element type where that is lossless
 * (FP64 0.5 → FP32 is accepted, FP64 0.1 is not; INT64 3 → FP32 is accepted).
 *
 * @throws InvalidArgumentError naming the input: an unknown datatype, a content count or raw byte
 *   length that disagrees with the shape, or a value the model's type cannot hold.
 */
export function decodeInput(tensor: WireTensor, to: ElementType): ElementArray {
  const { name, datatype } = tensor;
  if (!(OIP_DATATYPE_NAMES as readonly string[]).includes(datatype)) {
    throw new InvalidArgumentError(
      `input "${name}": unknown datatype "${datatype}"; expected one of ${OIP_DATATYPE_NAMES.join(', ')}`,
    );
  }
  const count = elementCount(tensor.shape);
  const wire =
    tensor.raw !== undefined
      ? decodeRaw(name, datatype, tensor.raw, count)
      : decodeTyped(name, datatype, tensor.contents, count);
  return convert(name, datatype, wire, to);
}

/** The raw little-endian bytes of an output (a view, not a copy). */
export function rawBytes(tensor: RunnerTensor): Buffer {
  return Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
}

/** The typed `contents` of an output (every field present, as the encoder needs). */
export function typedContents(tensor: RunnerTensor): InferTensorContents {
  const { data } = tensor;
  switch (tensor.type) {
    case 'float32':
      return InferTensorContents.fromPartial({ fp32Contents: Array.from(data as Float32Array) });
    case 'float64':
      return InferTensorContents.fromPartial({ fp64Contents: Array.from(data as Float64Array) });
    case 'int32':
      return InferTensorContents.fromPartial({ intContents: Array.from(data as Int32Array) });
    case 'int64':
      return InferTensorContents.fromPartial({ int64Contents: Array.from(data as BigInt64Array, (v) => Number(v)) });
    case 'uint8':
      return InferTensorContents.fromPartial({ uintContents: Array.from(data as Uint8Array) });
    case 'bool':
      return InferTensorContents.fromPartial({ boolContents: Array.from(data as Uint8Array, (v) => v !== 0) });
  }
}

import type * as tf from '@tensorflow/tfjs';
import { InvalidArtifactError } from './errors.js';
import { roundHalfToEven } from './rounding.js';

/** Weight quantizations the TF.js loader understands (`weightsManifest[].weights[].quantization`). */
export type WeightQuantization = 'uint8' | 'uint16' | 'float16';

/** The manifest `quantization` record of one weight. */
export type QuantizationInfo = { dtype: 'uint8' | 'uint16'; scale: number; min: number } | { dtype: 'float16' };

/** One weight's quantized bytes and the manifest record to decode them. */
export interface QuantizedArray {
  bytes: Uint8Array;
  quantization: QuantizationInfo;
}

/** A named weight, as in a manifest entry plus its values. */
export interface NamedWeight {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  values: Float32Array | Int32Array;
}

/**
 * Quantizes values the way the TF.js converter does. uint8/uint16: one affine range per tensor,
 * `scale = (max − min) / (2^bits − 1)`, `q = round((w − min) / scale)`; when 0 lies in
 * [min, max] the range is nudged so that 0 is exactly representable; a constant tensor gets
 * `scale 1, min value`. float16: IEEE half, round to nearest even (float32 weights only).
 *
 * @example
 * const { bytes, quantization } = quantizeArray(new Float32Array([-1, 0, 0.5]), 'uint8');
 */
export function quantizeArray(values: Float32Array | Int32Array, dtype: WeightQuantization): QuantizedArray {
  if (dtype === 'float16') {
    if (!(values instanceof Float32Array))
      throw new InvalidArtifactError('float16 quantization applies to float32 weights only');
    const half = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) half[i] = float32ToFloat16Bits(values[i]!);
    return { bytes: new Uint8Array(half.buffer), quantization: { dtype } };
  }
  if (dtype !== 'uint8' && dtype !== 'uint16')
    throw new InvalidArtifactError(`unknown weight quantization ${JSON.stringify(dtype)}`);
  const qMax = dtype === 'uint8' ? 255 : 65535;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v))
      throw new InvalidArtifactError(`cannot quantize a non-finite weight value (${v}) to ${dtype}`);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (values.length === 0) {
    lo = 0;
    hi = 0;
  }
  const q = dtype === 'uint8' ? new Uint8Array(values.length) : new Uint16Array(values.length);
  if (lo === hi) return { bytes: new Uint8Array(q.buffer), quantization: { dtype, scale: 1, min: lo } };
  const scale = (hi - lo) / qMax;
  let min = lo;
  let max = hi;
  if (lo <= 0 && 0 <= hi) {
    min = -roundHalfToEven(-lo / scale) * scale;
    max = qMax * scale + min;
  }
  for (let i = 0; i < values.length; i++) {
    const clipped = Math.min(Math.max(values[i]!, min), max);
    q[i] = Math.min(qMax, Math.max(0, roundHalfToEven((clipped - min) / scale)));
  }
  return { bytes: new Uint8Array(q.buffer), quantization: { dtype, scale, min } };
}

/**
 * Restores values exactly as TF.js `decodeWeights` does: `q · scale + min` in float64 stored
 * as float32 (int32 weights rounded), or half floats widened to float32.
 *
 * @throws InvalidArtifactError when a uint record lacks scale or min, or float16 targets int32.
 */
export function dequantizeArray(
  bytes: Uint8Array,
  quantization: QuantizationInfo | NonNullable<tf.io.WeightsManifestEntry['quantization']>,
  dtype: 'float32' | 'int32' = 'float32',
): Float32Array | Int32Array {
  const copy = bytes.slice().buffer; // aligned, and never aliases the caller's buffer
  if (quantization.dtype === 'float16') {
    if (dtype !== 'float32') throw new InvalidArtifactError('float16 quantization applies to float32 weights only');
    const half = new Uint16Array(copy);
    const out = new Float32Array(half.length);
    for (let i = 0; i < half.length; i++) out[i] = float16BitsToFloat32(half[i]!);
    return out;
  }
  if (quantization.dtype !== 'uint8' && quantization.dtype !== 'uint16') {
    throw new InvalidArtifactError(
      `unknown weight quantization ${JSON.stringify((quantization as { dtype: unknown }).dtype)}`,
    );
  }
  const { scale, min } = quantization as { scale?: number; min?: number };
  if (typeof scale !== 'number' || typeof min !== 'number') {
    throw new InvalidArtifactError(`${quantization.dtype} quantization needs scale and min`);
  }
  const q = quantization.dtype === 'uint8' ? new Uint8Array(copy) : new Uint16Array(copy);
  const out = dtype === 'int32' ? new Int32Array(q.length) : new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) {
    const v = q[i]! * scale + min;
    out[i] = dtype === 'int32' ? Math.round(v) : v;
  }
  return out;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/** Bytes one manifest entry occupies in the weights file. */
export function weightByteLength(spec: tf.io.WeightsManifestEntry): number {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const unit = BYTES[spec.quantization?.dtype ?? spec.dtype];
  if (unit == null) throw new InvalidArtifactError(`weight ${spec.name} has unsupported dtype ${spec.dtype}`);
  return size * unit;
}

/**
 * Concatenates weights into one buffer with their manifest entries, quantizing float32 (and, for
 * uint8/uint16, int32) weights when `quantization` is given.
 */
export function encodeWeights(
  weights: readonly NamedWeight[],
  quantization?: WeightQuantization,
): { data: Uint8Array; specs: tf.io.WeightsManifestEntry[] } {
  const chunks: Uint8Array[] = [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  for (const w of weights) {
    const quantize = quantization != null && (w.dtype === 'float32' || quantization !== 'float16');
    if (quantize) {
      const { bytes, quantization: info } = quantizeArray(w.values, quantization);
      chunks.push(bytes);
      specs.push({ name: w.name, shape: [...w.shape], dtype: w.dtype, quantization: { ...info } });
    } else {
      chunks.push(new Uint8Array(w.values.buffer, w.values.byteOffset, w.values.byteLength));
      specs.push({ name: w.name, shape: [...w.shape], dtype: w.dtype });
    }
  }
  const data = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    data.set(c, offset);
    offset += c.byteLength;
  }
  return { data, specs };
}

/**
 * Splits a weights buffer by its manifest entries and decodes each exactly as TF.js does.
 *
 * @throws InvalidArtifactError when the buffer is shorter or longer than the manifest says.
 */
export function decodeWeights(data: Uint8Array, specs: readonly tf.io.WeightsManifestEntry[]): NamedWeight[] {
  const out: NamedWeight[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (spec.dtype !== 'float32' && spec.dtype !== 'int32') {
      throw new InvalidArtifactError(`weight ${spec.name} has unsupported dtype ${spec.dtype}`);
    }
    const length = weightByteLength(spec);
    if (offset + length > data.byteLength) {
      throw new InvalidArtifactError(
        `weights data ends inside weight ${spec.name} (needs ${offset + length} bytes, has ${data.byteLength})`,
      );
    }
    const bytes = data.subarray(offset, offset + length);
    const values = spec.quantization
      ? dequantizeArray(bytes, spec.quantization, spec.dtype)
      : spec.dtype === 'int32'
        ? new Int32Array(bytes.slice().buffer)
        : new Float32Array(bytes.slice().buffer);
    out.push({ name: spec.name, shape: [...spec.shape], dtype: spec.dtype, values });
    offset += length;
  }
  if (offset !== data.byteLength) {
    throw new InvalidArtifactError(
      `weights data has ${data.byteLength - offset} bytes more than the manifest describes`,
    );
  }
  return out;
}

/**
 * Re-encodes an unquantized weights buffer with `quantization`, leaving optimizer weights
 * (`group: 'optimizer'`) as they are so a checkpoint resumes exactly.
 */
export function quantizeWeightData(
  data: Uint8Array,
  specs: readonly tf.io.WeightsManifestEntry[],
  quantization: WeightQuantization,
): { data: Uint8Array; specs: tf.io.WeightsManifestEntry[] } {
  const decoded = decodeWeights(data, specs);
  const parts = decoded.map((w, i) => {
    const group = specs[i]!.group;
    const enc = encodeWeights([w], group === 'optimizer' ? undefined : quantization);
    return { data: enc.data, spec: group ? { ...enc.specs[0]!, group } : enc.specs[0]! };
  });
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.data.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    joined.set(p.data, offset);
    offset += p.data.byteLength;
  }
  return { data: joined, specs: parts.map((p) => p.spec) };
}

// IEEE 754 half-precision conversions (bit patterns in a uint16).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * float32 → half bits, rounding to nearest even like numpy's `astype(float16)`: overflow gives
 * ±Infinity, tiny values become subnormals or ±0, NaN stays NaN.
 */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal (ties go to even, i.e. 0)
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && (half & 1) === 1)) half += 1;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to Infinity).
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half += 1;
  return sign | half;
}

/** half bits → the exact float32 value (as TF.js `getFloat16Decoder` produces it). */
export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

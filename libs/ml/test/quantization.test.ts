import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  decodeWeights,
  dequantizeArray,
  encodeWeights,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  initBackend,
  InvalidArtifactError,
  quantizeArray,
  type NamedWeight,
} from '../src/index.js';
import { randomValues } from './helpers.js';

/** What TF.js itself decodes from a buffer and manifest entries. */
function tfjsDecode(data: Uint8Array, specs: tf.io.WeightsManifestEntry[]): Record<string, number[]> {
  const buffer = data.slice().buffer;
  const tensors = tf.io.decodeWeights(buffer, specs);
  const out = Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, Array.from(t.dataSync())]));
  tf.dispose(Object.values(tensors));
  return out;
}

describe('weight quantization codecs', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('quantizes to uint8 with the range nudged so that zero is exact (hand-computed)', () => {
    const { bytes, quantization } = quantizeArray(new Float32Array([-1, 0, 0.5, 1]), 'uint8');
    // scale = 2/255; zero point round(127.5) = 128 (half to even); min = −128·scale.
    expect(Array.from(bytes)).toEqual([0, 128, 192, 255]);
    expect(quantization).toEqual({ dtype: 'uint8', scale: 2 / 255, min: -128 * (2 / 255) });
    const restored = dequantizeArray(bytes, quantization);
    expect(restored[1]).toBe(0);
    expect(restored[3]).toBe(Math.fround(127 * (2 / 255)));
  });

  it('does not nudge a range without zero, and keeps constants exact', () => {
    const { bytes, quantization } = quantizeArray(new Float32Array([0.25, 0.5, 1.25]), 'uint16');
    expect(quantization).toEqual({ dtype: 'uint16', scale: 1 / 65535, min: 0.25 });
    expect(Array.from(new Uint16Array(bytes.slice().buffer))).toEqual([0, 16384, 65535]);
    const constant = quantizeArray(new Float32Array([0.75, 0.75]), 'uint8');
    expect(constant.quantization).toEqual({ dtype: 'uint8', scale: 1, min: 0.75 });
    expect(Array.from(dequantizeArray(constant.bytes, constant.quantization))).toEqual([0.75, 0.75]);
  });

  it('encodes float16 with round-to-nearest-even, overflow to infinity and subnormals', () => {
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(-2)).toBe(0xc000);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00);
    expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001);
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0x0000);
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(float32ToFloat16Bits(-Infinity)).toBe(0xfc00);
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN)))).toBe(true);
  });

  it('round-trips every finite half value and decodes all 65536 patterns exactly as TF.js', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const theirs = tfjsDecode(new Uint8Array(all.buffer), [
      { name: 'h', shape: [65536], dtype: 'float32', quantization: { dtype: 'float16' } },
    ])['h']!;
    const mismatches: number[] = [];
    for (let bits = 0; bits < 65536; bits++) {
      const value = float16BitsToFloat32(bits);
      const same = Number.isNaN(value)
        ? Number.isNaN(theirs[bits]!)
        : Object.is(value, theirs[bits]!) && float32ToFloat16Bits(value) === bits;
      if (!same) mismatches.push(bits);
    }
    expect(mismatches).toEqual([]);
  });

  it('decodes uint8, uint16, float16 and int32 entries exactly as tf.io.decodeWeights', () => {
    const weights: NamedWeight[] = [
      { name: 'a/kernel', shape: [3, 5], dtype: 'float32', values: randomValues(15, 1, -0.7, 1.3) },
      { name: 'a/bias', shape: [5], dtype: 'float32', values: randomValues(5, 2, 0.1, 0.2) },
      { name: 'steps', shape: [4], dtype: 'int32', values: new Int32Array([-3, 0, 17, 250]) },
    ];
    for (const q of ['uint8', 'uint16', 'float16'] as const) {
      const { data, specs } = encodeWeights(weights, q);
      const ours = decodeWeights(data, specs);
      const theirs = tfjsDecode(data, specs);
      for (const w of ours) expect(Array.from(w.values)).toEqual(theirs[w.name]);
      // float16 leaves int32 weights as they are; uint8/uint16 quantize them and round back.
      expect(specs[2]!.quantization?.dtype).toBe(q === 'float16' ? undefined : q);
      expect(Array.from(ours[2]!.values)).toEqual([-3, 0, 17, 250]);
    }
  });

  it('rejects manifests TF.js would reject, with a clear error', () => {
    const bytes = new Uint8Array([1, 2]);
    expect(() => dequantizeArray(bytes, { dtype: 'uint8' })).toThrow(/needs scale and min/);
    expect(() => dequantizeArray(bytes, { dtype: 'float16' }, 'int32')).toThrow(InvalidArtifactError);
    expect(() => decodeWeights(new Uint8Array(7), [{ name: 'w', shape: [2], dtype: 'float32' }])).toThrow(
      /ends inside weight w/,
    );
    expect(() => decodeWeights(new Uint8Array(9), [{ name: 'w', shape: [2], dtype: 'float32' }])).toThrow(
      /1 bytes more/,
    );
  });
});

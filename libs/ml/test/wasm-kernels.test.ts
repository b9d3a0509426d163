import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, registerWasmTrainingKernels, WASM_FASTER_KERNELS, WASM_TRAINING_KERNELS } from '../src/index.js';

type Backend = 'cpu' | 'wasm';
type Shape4 = [number, number, number, number];

/** Deterministic pseudo-random values in [-1, 1). */
function values(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Gradients of Σ r ⊙ f(x, w) with respect to x and w, computed on one backend. */
async function gradsOn(
  backend: Backend,
  xShape: number[],
  wShape: number[],
  forward: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor,
): Promise<[Float32Array, Float32Array]> {
  await initBackend(backend);
  const x = tf.tensor4d(
    values(
      xShape.reduce((a, b) => a * b),
      1,
    ),
    xShape as Shape4,
  );
  const w = tf.tensor4d(
    values(
      wShape.reduce((a, b) => a * b),
      2,
    ),
    wShape as Shape4,
  );
  const [dx, dw] = tf.tidy(() => {
    const outShape = forward(x, w).shape;
    const r = tf.tensor(
      values(
        outShape.reduce((a, b) => a * b),
        3,
      ),
      outShape,
    );
    return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(forward(a as tf.Tensor4D, b as tf.Tensor4D), r)))([
      x,
      w,
    ]);
  });
  const result: [Float32Array, Float32Array] = [(await dx!.data()) as Float32Array, (await dw!.data()) as Float32Array];
  tf.dispose([x, w, dx!, dw!]);
  return result;
}

async function compare(
  xShape: number[],
  wShape: number[],
  forward: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor,
): Promise<void> {
  const [cpuDx, cpuDw] = await gradsOn('cpu', xShape, wShape, forward);
  const [wasmDx, wasmDw] = await gradsOn('wasm', xShape, wShape, forward);
  expect(maxAbsDiff(cpuDw, wasmDw)).toBeLessThanOrEqual(1e-4);
  expect(maxAbsDiff(cpuDx, wasmDx)).toBeLessThanOrEqual(1e-4);
}

type Case = [label: string, x: number[], w: number[], strides: [number, number], pad: 'same' | 'valid'];
const CASES: Case[] = [
  ['3x3 stride 1 same', [2, 5, 5, 3], [3, 3, 3, 4], [1, 1], 'same'],
  ['3x3 stride 2 same, even input (asymmetric padding)', [1, 6, 6, 2], [3, 3, 2, 3], [2, 2], 'same'],
  ['2x2 stride 1 same (asymmetric padding)', [2, 4, 5, 2], [2, 2, 2, 2], [1, 1], 'same'],
  ['3x3 stride 2 same, odd input', [2, 7, 7, 2], [3, 3, 2, 3], [2, 2], 'same'],
  ['2x3 stride (2,1) valid, odd sizes', [3, 9, 7, 1], [2, 3, 1, 2], [2, 1], 'valid'],
  ['5x5 stride 2 valid', [2, 8, 8, 3], [5, 5, 3, 2], [2, 2], 'valid'],
  ['3x3 stride 3 valid with unused rows', [1, 11, 10, 2], [3, 3, 2, 2], [3, 3], 'valid'],
];

describe('wasm training kernels', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('registers the kernels the wasm backend lacks, and only those', () => {
    for (const name of WASM_TRAINING_KERNELS) expect(tf.getKernel(name, 'wasm')).toBeDefined();
    for (const name of ['Conv2DBackpropInput', 'MaxPoolGrad', 'AvgPoolGrad', 'EluGrad']) {
      expect(tf.getKernel(name, 'wasm')).toBeDefined();
    }
  });

  it('replaces the slow wasm kernels once, and registering again changes nothing', () => {
    expect([...WASM_FASTER_KERNELS]).toEqual(['Conv2DBackpropInput', 'BatchMatMul']);
    const replaced = WASM_FASTER_KERNELS.map((name) => tf.getKernel(name, 'wasm')!.kernelFunc);
    expect(registerWasmTrainingKernels()).toEqual([]);
    expect(WASM_FASTER_KERNELS.map((name) => tf.getKernel(name, 'wasm')!.kernelFunc)).toEqual(replaced);
  });

  describe('BatchMatMul with transposed operands', () => {
    type MatMulCase = [label: string, a: number[], b: number[], transposeA: boolean, transposeB: boolean];
    const cases: MatMulCase[] = [
      ["Aᵀ·B (a Dense layer's dW)", [16, 5], [16, 7], true, false],
      ["A·Bᵀ with a large B (a Dense layer's dX)", [3, 40], [50, 40], false, true],
      ['A·Bᵀ with a large A', [60, 6], [4, 6], false, true],
      ['Aᵀ·Bᵀ', [6, 5], [4, 6], true, true],
      ['batched Aᵀ·B', [2, 3, 4, 5], [2, 3, 4, 6], true, false],
      ['broadcast batch A·Bᵀ', [2, 1, 4, 5], [3, 6, 5], false, true],
    ];
    it.each(cases)('matches the cpu backend: %s', async (_label, aShape, bShape, transposeA, transposeB) => {
      const result: Record<Backend, { shape: number[]; data: Float32Array }> = {} as never;
      for (const backend of ['cpu', 'wasm'] as const) {
        await initBackend(backend);
        const a = tf.tensor(
          values(
            aShape.reduce((p, d) => p * d),
            5,
          ),
          aShape,
        );
        const b = tf.tensor(
          values(
            bShape.reduce((p, d) => p * d),
            6,
          ),
          bShape,
        );
        const before = tf.memory().numTensors;
        const c = tf.matMul(a, b, transposeA, transposeB);
        expect(tf.memory().numTensors).toBe(before + 1);
        result[backend] = { shape: c.shape, data: (await c.data()) as Float32Array };
        tf.dispose([a, b, c]);
      }
      expect(result.wasm.shape).toEqual(result.cpu.shape);
      expect(maxAbsDiff(result.cpu.data, result.wasm.data)).toBeLessThanOrEqual(1e-5);
    });
  });

  describe('Conv2DBackpropFilter and Conv2DBackpropInput', () => {
    it.each(CASES)('match the cpu backend: %s', async (_label, xs, ws, strides, pad) => {
      await compare(xs, ws, (x, w) => tf.conv2d(x, w, strides, pad));
    });

    it('frees every intermediate tensor', async () => {
      await initBackend('wasm');
      const x = tf.ones([2, 6, 6, 2]) as tf.Tensor4D;
      const w = tf.ones([3, 3, 2, 2]) as tf.Tensor4D;
      const before = tf.memory().numTensors;
      const dw = tf.grad((k: tf.Tensor) => tf.sum(tf.conv2d(x, k as tf.Tensor4D, 2, 'same')))(w);
      expect(tf.memory().numTensors).toBe(before + 1);
      tf.dispose([x, w, dw]);
    });
  });

  describe('DepthwiseConv2dNativeBackprop', () => {
    const depthwise: Case[] = [
      ['3x3 multiplier 2 stride 1 same', [2, 5, 5, 3], [3, 3, 3, 2], [1, 1], 'same'],
      ['3x3 multiplier 1 stride 2 same', [1, 6, 7, 2], [3, 3, 2, 1], [2, 2], 'same'],
      ['2x2 multiplier 3 stride 2 valid', [2, 7, 7, 2], [2, 2, 2, 3], [2, 2], 'valid'],
    ];
    it.each(depthwise)('matches the cpu backend: %s', async (_label, xs, ws, strides, pad) => {
      await compare(xs, ws, (x, w) => tf.depthwiseConv2d(x, w, strides, pad));
    });
  });

  describe('UnsortedSegmentSum', () => {
    it('gives the gradient of gather (embedding lookups) with repeated indices', async () => {
      const result: Record<Backend, Float32Array> = { cpu: new Float32Array(), wasm: new Float32Array() };
      for (const backend of ['cpu', 'wasm'] as const) {
        await initBackend(backend);
        const table = tf.tensor2d(values(15, 4), [5, 3]);
        const ids = tf.tensor1d([4, 0, 4, 2, 4], 'int32');
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), tf.range(1, 16).reshape([5, 3]))))(table);
        result[backend] = (await g.data()) as Float32Array;
        tf.dispose([table, ids, g]);
      }
      expect(Array.from(result.wasm)).toEqual(Array.from(result.cpu));
      expect(Array.from(result.wasm.slice(12, 15))).toEqual([1 + 7 + 13, 2 + 8 + 14, 3 + 9 + 15]);
    });
  });
});

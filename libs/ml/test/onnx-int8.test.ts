import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildModel,
  exportOnnx,
  initBackend,
  InvalidArtifactError,
  quantizeOnnxInt8,
  quantizeOnnxInt8Static,
  type OnnxInt8Options,
  type OnnxStaticInt8Options,
} from '../src/index.js';
import { maxAbsDiff, randomizeWeights, randomValues } from './helpers.js';

const { onnx } = onnxProto;
const { DataType } = onnx.TensorProto;

function decode(bytes: Uint8Array): OnnxTypes.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

function opTypes(model: OnnxTypes.ModelProto): string[] {
  return model.graph!.node!.map((n) => n.opType!);
}

function initializer(model: OnnxTypes.ModelProto, name: string): OnnxTypes.ITensorProto | undefined {
  return model.graph!.initializer!.find((t) => t.name === name);
}

function tensorValues(t: OnnxTypes.ITensorProto): Int8Array | Uint8Array | Int32Array | Float32Array {
  const raw = Uint8Array.from(t.rawData!);
  if (t.dataType === DataType.INT8) return new Int8Array(raw.buffer);
  if (t.dataType === DataType.INT32) return new Int32Array(raw.buffer);
  if (t.dataType === DataType.UINT8) return raw;
  return new Float32Array(raw.buffer);
}

async function predict(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ input: new ort.Tensor('float32', x, dims) });
    return out['output']!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** Float vs int8 outputs of the same model on `rows` deterministic inputs in [0, 1). */
async function compare(float: Uint8Array, int8: Uint8Array, inShape: number[], rows = 200) {
  const size = inShape.reduce((a, b) => a * b, 1);
  const x = randomValues(rows * size, 21, 0, 1);
  const a = await predict(float, x, [rows, ...inShape]);
  const b = await predict(int8, x, [rows, ...inShape]);
  const classes = a.length / rows;
  const argmax = (v: Float32Array, r: number) => {
    let best = 0;
    for (let c = 1; c < classes; c++) if (v[r * classes + c]! > v[r * classes + best]!) best = c;
    return best;
  };
  let agree = 0;
  for (let r = 0; r < rows; r++) if (argmax(a, r) === argmax(b, r)) agree++;
  return { agreement: agree / rows, maxError: maxAbsDiff(a, b), range: Math.max(...a) - Math.min(...a) };
}

function roundHalfToEven(v: number): number {
  const f = Math.floor(v);
  return v - f !== 0.5 ? Math.round(v) : f % 2 === 0 ? f : f + 1;
}

describe('quantizeOnnxInt8', () => {
  let mlp: tf.LayersModel;
  let mlpBytes: Uint8Array;

  beforeAll(async () => {
    await initBackend('wasm');
    mlp = await buildModel(
      { mlp: { hiddenUnits: [128, 64] } },
      { inputShape: [784], outputSize: 10, task: 'regression', seed: 3 },
    );
    mlpBytes = exportOnnx(mlp, { metadata: { team: 'vision' } });
  });

  it('turns every Dense MatMul of an MLP into DynamicQuantizeLinear + MatMulInteger and removes the float kernels', () => {
    const result = quantizeOnnxInt8(mlpBytes);
    expect(result.quantizedWeights).toBe(3);
    expect(result.integerOps).toEqual(['DynamicQuantizeLinear', 'MatMulInteger']);
    const q = decode(result.bytes);
    const ops = opTypes(q);
    expect(ops.filter((op) => op === 'MatMulInteger')).toHaveLength(3);
    expect(ops.filter((op) => op === 'DynamicQuantizeLinear')).toHaveLength(3);
    expect(ops).not.toContain('MatMul');
    for (const layer of ['dense_1', 'dense_2', 'output']) {
      expect(initializer(q, `${layer}/kernel`)).toBeUndefined();
      expect(initializer(q, `${layer}/kernel_quantized`)!.dataType).toBe(DataType.INT8);
      expect(initializer(q, `${layer}/bias`)!.dataType).toBe(DataType.FLOAT);
    }
    expect(q.graph!.initializer!.filter((t) => t.dataType === DataType.FLOAT && t.dims!.length === 2)).toEqual([]);
    expect(Number(q.opsetImport.find((o) => !o.domain)!.version)).toBeGreaterThanOrEqual(13);
  });

  it('keeps inputs, outputs and metadata, and records the quantization', () => {
    const original = decode(mlpBytes);
    const q = decode(quantizeOnnxInt8(mlpBytes).bytes);
    expect(q.graph!.input).toEqual(original.graph!.input);
    expect(q.graph!.output).toEqual(original.graph!.output);
    const meta = Object.fromEntries(q.metadataProps.map((p) => [p.key, p.value]));
    expect(meta).toEqual({
      ...Object.fromEntries(original.metadataProps.map((p) => [p.key, p.value])),
      quantization: 'int8-dynamic',
      quantization_per_channel: 'true',
      quantization_reduce_range: 'true',
    });
    expect(meta['team']).toBe('vision');
  });

  it('shrinks an MLP to at most 0.3 of its float size', () => {
    expect(quantizeOnnxInt8(mlpBytes).bytes.length / mlpBytes.length).toBeLessThanOrEqual(0.3);
  });

  it.each<[string, OnnxInt8Options]>([
    // The full 8-bit range (reduceRange: false) is checked on the stored values only: on x86
    // without VNNI its products may saturate in ONNX Runtime's kernel, which is why it is opt-in.
    ['per-channel (default)', {}],
    ['per-tensor', { perChannel: false }],
  ])('predicts like the float MLP: %s', async (_label, options) => {
    const { agreement, maxError, range } = await compare(mlpBytes, quantizeOnnxInt8(mlpBytes, options).bytes, [784]);
    expect(agreement).toBeGreaterThanOrEqual(0.95);
    expect(maxError).toBeLessThanOrEqual(0.02 * range);
  });

  it('stores w_scale = max|w| / q_max per output column and W_q = round_half_to_even(w / w_scale)', () => {
    const kernel = initializer(decode(mlpBytes), 'output/kernel')!;
    const w = tensorValues(kernel) as Float32Array;
    const [k, n] = kernel.dims!.map(Number) as [number, number];
    for (const [options, qMax] of [
      [{}, 64],
      [{ reduceRange: false }, 127],
    ] as const) {
      const q = decode(quantizeOnnxInt8(mlpBytes, options).bytes);
      const wq = tensorValues(initializer(q, 'output/kernel_quantized')!) as Int8Array;
      const scaleTensor = initializer(q, 'output/kernel_scale')!;
      expect(scaleTensor.dims!.map(Number)).toEqual([n]);
      const scales = tensorValues(scaleTensor) as Float32Array;
      for (let c = 0; c < n; c++) {
        let max = 0;
        for (let r = 0; r < k; r++) max = Math.max(max, Math.abs(w[r * n + c]!));
        expect(scales[c]).toBe(Math.fround(max / qMax));
        for (let r = 0; r < k; r++) {
          // `+ 0` turns the -0 that rounding a small negative gives into the stored 0.
          expect(wq[r * n + c]).toBe(Math.max(-qMax, Math.min(qMax, roundHalfToEven(w[r * n + c]! / scales[c]!))) + 0);
        }
      }
      expect(Math.max(...wq.map(Math.abs))).toBe(qMax);
    }
  });

  it('uses one scalar weight scale per tensor when perChannel is false', () => {
    const q = decode(quantizeOnnxInt8(mlpBytes, { perChannel: false }).bytes);
    for (const layer of ['dense_1', 'dense_2', 'output']) {
      const scale = initializer(q, `${layer}/kernel_scale`)!;
      expect(scale.dims).toEqual([]);
      expect(tensorValues(scale)).toHaveLength(1);
    }
    expect(Object.fromEntries(q.metadataProps.map((p) => [p.key, p.value]))['quantization_per_channel']).toBe('false');
  });

  it('keeps a weight that is exactly 0 at exactly 0, and gives an all-zero column scale 1', async () => {
    const model = await buildModel(
      { mlp: { hiddenUnits: [32] } },
      { inputShape: [20], outputSize: 3, task: 'regression', seed: 8 },
    );
    const kernel = model.layers.find((l) => l.name === 'dense_1')!.getWeights()[0]!;
    const values = Float32Array.from(kernel.dataSync());
    const zeros = [0, 5, 77, 300, 639];
    for (const i of zeros) values[i] = 0;
    for (let r = 0; r < 20; r++) values[r * 32 + 9] = 0; // column 9
    const bias = model.layers.find((l) => l.name === 'dense_1')!.getWeights()[1]!;
    model.layers.find((l) => l.name === 'dense_1')!.setWeights([tf.tensor(values, [20, 32]), bias]);
    const q = decode(quantizeOnnxInt8(exportOnnx(model), { minElements: 0 }).bytes);
    const wq = tensorValues(initializer(q, 'dense_1/kernel_quantized')!) as Int8Array;
    const scales = tensorValues(initializer(q, 'dense_1/kernel_scale')!) as Float32Array;
    for (const i of [...zeros, ...Array.from({ length: 20 }, (_, r) => r * 32 + 9)])
      expect(wq[i]! * scales[i % 32]!).toBe(0);
    expect(scales[9]).toBe(1);
    model.dispose();
  });

  it('leaves weights under minElements in float', async () => {
    const model = await buildModel(
      { mlp: { hiddenUnits: [16] } },
      { inputShape: [300], outputSize: 3, task: 'regression', seed: 2 },
    );
    const bytes = exportOnnx(model);
    const result = quantizeOnnxInt8(bytes);
    const q = decode(result.bytes);
    expect(result.quantizedWeights).toBe(1);
    expect(
      opTypes(q)
        .filter((op) => op === 'MatMul' || op === 'MatMulInteger')
        .sort(),
    ).toEqual(['MatMul', 'MatMulInteger']);
    expect(initializer(q, 'output/kernel')!.dataType).toBe(DataType.FLOAT);
    expect(quantizeOnnxInt8(bytes, { minElements: 0 }).quantizedWeights).toBe(2);
    expect(quantizeOnnxInt8(bytes, { minElements: 5000 }).quantizedWeights).toBe(0);
    model.dispose();
  });

  describe('on a CNN', () => {
    let cnnBytes: Uint8Array;
    beforeAll(async () => {
      const cnn = await buildModel(
        {
          cnn: {
            convBlocks: [
              { filters: 8, kernelSize: 3 },
              { filters: 16, kernelSize: 3 },
            ],
            denseUnits: [32],
          },
        },
        { inputShape: [16, 16, 1], outputSize: 10, task: 'regression', seed: 4 },
      );
      cnnBytes = exportOnnx(cnn);
      cnn.dispose();
    });

    it('turns Conv into ConvInteger with uint8 weights at zero point 128, and Dense into MatMulInteger', () => {
      const result = quantizeOnnxInt8(cnnBytes, { minElements: 0 });
      expect(result.quantizedWeights).toBe(4);
      expect(result.integerOps).toEqual(['ConvInteger', 'DynamicQuantizeLinear', 'MatMulInteger']);
      const q = decode(result.bytes);
      const ops = opTypes(q);
      expect(ops.filter((op) => op === 'ConvInteger')).toHaveLength(2);
      expect(ops.filter((op) => op === 'MatMulInteger')).toHaveLength(2);
      expect(ops).not.toContain('Conv');
      expect(ops).not.toContain('MatMul');
      expect(q.graph!.initializer!.filter((t) => t.dataType === DataType.FLOAT && t.name!.endsWith('kernel'))).toEqual(
        [],
      );
      for (const layer of ['conv_1', 'conv_2']) {
        expect(initializer(q, `${layer}/kernel`)).toBeUndefined();
        expect(initializer(q, `${layer}/kernel_quantized`)!.dataType).toBe(DataType.UINT8);
        expect(initializer(q, `${layer}/kernel_scale`)!.dims!.map(Number)).toEqual([
          1,
          layer === 'conv_1' ? 8 : 16,
          1,
          1,
        ]);
        expect(initializer(q, `${layer}/bias_broadcast`)!.dims!.map(Number)).toEqual([
          1,
          layer === 'conv_1' ? 8 : 16,
          1,
          1,
        ]);
        expect(initializer(q, `${layer}/bias`)).toBeUndefined();
      }
      const conv = q.graph!.node!.find((n) => n.opType === 'ConvInteger')!;
      expect(tensorValues(initializer(q, conv.input![3]!)!)).toEqual(new Uint8Array([128]));
      const original = decode(cnnBytes).graph!.node!.find((n) => n.opType === 'Conv')!;
      expect(conv.attribute).toEqual(original.attribute);
    });

    it.each<[string, OnnxInt8Options]>([
      ['per-channel', { minElements: 0 }],
      ['per-tensor', { minElements: 0, perChannel: false }],
      ['Conv left in float', { opTypes: ['MatMul'] }],
    ])('predicts like the float CNN: %s', async (_label, options) => {
      const { agreement, maxError, range } = await compare(
        cnnBytes,
        quantizeOnnxInt8(cnnBytes, options).bytes,
        [16, 16, 1],
      );
      expect(agreement).toBeGreaterThanOrEqual(0.95);
      expect(maxError).toBeLessThanOrEqual(0.02 * range);
    });

    it('keeps Conv in float when opTypes leaves it out', () => {
      const ops = opTypes(decode(quantizeOnnxInt8(cnnBytes, { opTypes: ['MatMul'], minElements: 0 }).bytes));
      expect(ops.filter((op) => op === 'Conv')).toHaveLength(2);
      expect(ops).not.toContain('ConvInteger');
    });
  });

  it('quantizes depthwise, separable and grouped convolutions', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [12, 12, 2] }),
        tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same' }),
        tf.layers.separableConv2d({ filters: 6, kernelSize: 2, padding: 'valid', activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 4 }),
      ],
    });
    randomizeWeights(model, 6);
    const bytes = exportOnnx(model);
    const result = quantizeOnnxInt8(bytes, { minElements: 0 });
    const q = decode(result.bytes);
    expect(result.quantizedWeights).toBe(5);
    const groups = q
      .graph!.node!.filter((n) => n.opType === 'ConvInteger')
      .map((n) => Number(n.attribute!.find((a) => a.name === 'group')!.i));
    expect(groups).toEqual([1, 8, 16, 1]);
    const { agreement, maxError, range } = await compare(bytes, result.bytes, [12, 12, 2]);
    expect(agreement).toBeGreaterThanOrEqual(0.95);
    // Four quantized layers in a row with uniform random weights: a little more error than above.
    expect(maxError).toBeLessThanOrEqual(0.03 * range);
    model.dispose();
  });

  it.each<[string, Uint8Array]>([
    ['random bytes', Uint8Array.from(randomValues(512, 4, 0, 256), Math.floor)],
    ['text', new TextEncoder().encode('definitely not an onnx model')],
    ['empty input', new Uint8Array(0)],
  ])('throws InvalidArtifactError for %s', (_label, bytes) => {
    expect(() => quantizeOnnxInt8(bytes)).toThrow(InvalidArtifactError);
    expect(() => quantizeOnnxInt8(bytes)).toThrow(/not an ONNX model/);
  });

  it('refuses a model that is already quantized', () => {
    const once = quantizeOnnxInt8(mlpBytes).bytes;
    expect(() => quantizeOnnxInt8(once)).toThrow(/already quantized \(quantization = int8-dynamic\)/);
  });

  it('names a bad option', () => {
    expect(() => quantizeOnnxInt8(mlpBytes, { minElements: -1 })).toThrow(/minElements/);
    expect(() => quantizeOnnxInt8(mlpBytes, { opTypes: ['Gemm' as 'MatMul'] })).toThrow(/opTypes/);
  });
});

/** The op types ONNX Runtime runs after its graph optimizer (level `extended`: the QDQ fusions). */
async function optimizedOps(bytes: Uint8Array, dir: string): Promise<string[]> {
  const path = join(dir, `optimized-${Math.random().toString(36).slice(2)}.onnx`);
  const session = await ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: 'extended',
    optimizedModelFilePath: path,
  });
  await session.release();
  return opTypes(decode(new Uint8Array(readFileSync(path))));
}

describe('quantizeOnnxInt8Static', () => {
  let dir: string;
  let mlpBytes: Uint8Array;
  let cnnBytes: Uint8Array;
  /** Calibration rows like the compared ones (values in [0, 1)), from another seed. */
  const mlpCalibration = randomValues(150 * 784, 33, 0, 1);
  const cnnCalibration = randomValues(150 * 256, 34, 0, 1);

  beforeAll(async () => {
    await initBackend('wasm');
    dir = mkdtempSync(join(tmpdir(), 'onnx-int8-static-'));
    const mlp = await buildModel(
      { mlp: { hiddenUnits: [128, 64] } },
      { inputShape: [784], outputSize: 10, task: 'regression', seed: 3 },
    );
    mlpBytes = exportOnnx(mlp, { metadata: { team: 'vision' } });
    mlp.dispose();
    const cnn = await buildModel(
      {
        cnn: {
          convBlocks: [
            { filters: 8, kernelSize: 3 },
            { filters: 16, kernelSize: 3 },
          ],
          denseUnits: [32],
        },
      },
      { inputShape: [16, 16, 1], outputSize: 10, task: 'regression', seed: 4 },
    );
    cnnBytes = exportOnnx(cnn);
    cnn.dispose();
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stores MLP weights as int8 behind per-column DequantizeLinear and quantizes the activations that feed them', async () => {
    const result = await quantizeOnnxInt8Static(mlpBytes, { calibration: mlpCalibration });
    expect(result.quantizedWeights).toBe(3);
    expect(result.integerOps).toEqual(['DequantizeLinear', 'QuantizeLinear']);
    expect(result.calibrationRows).toBe(150);
    // The input and the two hidden Relu outputs.
    expect(result.quantizedActivations).toBe(3);
    const q = decode(result.bytes);
    const ops = opTypes(q);
    expect(ops.filter((op) => op === 'QuantizeLinear')).toHaveLength(3);
    expect(ops.filter((op) => op === 'DequantizeLinear')).toHaveLength(6);
    expect(ops.filter((op) => op === 'MatMul')).toHaveLength(3);
    expect(q.graph!.initializer!.filter((t) => t.dataType === DataType.FLOAT && t.dims!.length === 2)).toEqual([]);
    for (const layer of ['dense_1', 'dense_2', 'output']) {
      const kernel = initializer(q, `${layer}/kernel_quantized`)!;
      expect(kernel.dataType).toBe(DataType.INT8);
      const n = Number(kernel.dims![1]);
      expect(initializer(q, `${layer}/kernel_scale`)!.dims!.map(Number)).toEqual([n]);
      expect(tensorValues(initializer(q, `${layer}/kernel_zero_point`)!)).toEqual(new Int8Array(n));
      const dq = q.graph!.node!.find((node) => node.input![0] === `${layer}/kernel_quantized`)!;
      expect(dq.opType).toBe('DequantizeLinear');
      expect(Number(dq.attribute!.find((a) => a.name === 'axis')!.i)).toBe(1);
      // reduceRange (default): the 7-bit range.
      expect(Math.max(...(tensorValues(kernel) as Int8Array).map(Math.abs))).toBe(64);
    }
    // Relu outputs are uint8 at zero point 0, so ONNX Runtime can drop the Relu.
    expect(tensorValues(initializer(q, 'dense_1/relu_zero_point')!)).toEqual(new Uint8Array([0]));
    expect(initializer(q, 'dense_1/relu_zero_point')!.dataType).toBe(DataType.UINT8);
  });

  it('keeps inputs, outputs and metadata, and records the quantization', async () => {
    const original = decode(mlpBytes);
    const q = decode(
      (await quantizeOnnxInt8Static(mlpBytes, { calibration: mlpCalibration, perChannel: false })).bytes,
    );
    expect(q.graph!.input).toEqual(original.graph!.input);
    expect(q.graph!.output).toEqual(original.graph!.output);
    expect(Object.fromEntries(q.metadataProps.map((p) => [p.key, p.value]))).toEqual({
      ...Object.fromEntries(original.metadataProps.map((p) => [p.key, p.value])),
      quantization: 'int8-static-qdq',
      quantization_per_channel: 'false',
      quantization_reduce_range: 'true',
      quantization_calibration_rows: '150',
    });
    expect(initializer(q, 'dense_1/kernel_scale')!.dims).toEqual([]);
  });

  it('sets each activation scale and zero point from its calibrated range', async () => {
    // The input rows span [0, 1): scale max / 255, zero point 0.
    const calibration = randomValues(120 * 784, 5, 0, 1);
    let max = 0;
    for (const v of calibration) max = Math.max(max, v);
    const q = decode((await quantizeOnnxInt8Static(mlpBytes, { calibration })).bytes);
    expect(tensorValues(initializer(q, 'input_scale')!)[0]).toBe(Math.fround(Math.fround(max) / 255));
    expect(tensorValues(initializer(q, 'input_zero_point')!)).toEqual(new Uint8Array([0]));
    // A range that goes below 0: the zero point moves up.
    const shifted = Float32Array.from(calibration, (v) => v - 0.25);
    const s = decode((await quantizeOnnxInt8Static(mlpBytes, { calibration: shifted })).bytes);
    const scale = tensorValues(initializer(s, 'input_scale')!)[0]!;
    const zero = tensorValues(initializer(s, 'input_zero_point')!)[0]!;
    expect(zero).toBeGreaterThan(55);
    expect(zero).toBeLessThan(74);
    expect(Math.abs(-0.25 / scale + zero)).toBeLessThanOrEqual(0.51);
  });

  it('is fused by ONNX Runtime into QGemm for the MLP', async () => {
    const ops = await optimizedOps(
      (await quantizeOnnxInt8Static(mlpBytes, { calibration: mlpCalibration })).bytes,
      dir,
    );
    expect(ops.filter((op) => op === 'QGemm')).toHaveLength(2);
    expect(ops).not.toContain('MatMul');
  });

  it.each<[string, Partial<OnnxStaticInt8Options>]>([
    ['per-channel (default)', {}],
    ['per-tensor', { perChannel: false }],
    ['full range', { reduceRange: false }],
  ])('predicts like the float MLP: %s', async (_label, options) => {
    const { bytes } = await quantizeOnnxInt8Static(mlpBytes, { calibration: mlpCalibration, ...options });
    const { agreement, maxError, range } = await compare(mlpBytes, bytes, [784]);
    expect(agreement).toBeGreaterThanOrEqual(0.95);
    // Static uint8 activations add error to the weights' (dynamic: 0.02 of the range).
    expect(maxError).toBeLessThanOrEqual(0.03 * range);
  });

  describe('on a CNN', () => {
    it('quantizes the convolutions with int32 biases at x_scale · w_scale, and the pooled activations with shared parameters', async () => {
      const result = await quantizeOnnxInt8Static(cnnBytes, { calibration: cnnCalibration, minElements: 0 });
      expect(result.quantizedWeights).toBe(4);
      const q = decode(result.bytes);
      const ops = opTypes(q);
      expect(ops.filter((op) => op === 'Conv')).toHaveLength(2);
      expect(q.graph!.initializer!.filter((t) => t.dataType === DataType.FLOAT && t.name!.endsWith('kernel'))).toEqual(
        [],
      );
      for (const [layer, m] of [
        ['conv_1', 8],
        ['conv_2', 16],
      ] as const) {
        const conv = q.graph!.node!.find((n) => n.opType === 'Conv' && n.name!.startsWith(layer))!;
        const xScale = tensorValues(
          initializer(q, q.graph!.node!.find((n) => n.output![0] === conv.input![0])!.input![1]!)!,
        )[0]!;
        const wScale = tensorValues(initializer(q, `${layer}/kernel_scale`)!) as Float32Array;
        expect(wScale).toHaveLength(m);
        const bias = initializer(q, `${layer}/bias_quantized`)!;
        expect(bias.dataType).toBe(DataType.INT32);
        expect(tensorValues(initializer(q, `${layer}/bias_scale`)!)).toEqual(
          wScale.map((s) => Math.fround(s * xScale)),
        );
        const dq = q.graph!.node!.find((n) => n.input![0] === `${layer}/kernel_quantized`)!;
        expect(Number(dq.attribute!.find((a) => a.name === 'axis')!.i)).toBe(0);
        expect(initializer(q, `${layer}/bias`)).toBeUndefined();
      }
      // MaxPool runs on the Relu's uint8 values: the Q after it reuses the Relu output's parameters.
      const qAfterPool = q.graph!.node!.find((n) => n.opType === 'QuantizeLinear' && n.input![0] === 'pool_1')!;
      expect(qAfterPool.input!.slice(1)).toEqual(['conv_1/relu_scale', 'conv_1/relu_zero_point']);
    });

    it('is fused by ONNX Runtime into QLinearConv and QGemm', async () => {
      const ops = await optimizedOps(
        (await quantizeOnnxInt8Static(cnnBytes, { calibration: cnnCalibration, minElements: 0 })).bytes,
        dir,
      );
      expect(ops.filter((op) => op === 'QLinearConv')).toHaveLength(2);
      expect(ops).not.toContain('Conv');
      expect(ops).toContain('QGemm');
    });

    // This random CNN's outputs nearly tie: on 5% of the compared rows the top two are within 0.5%
    // of the output range, so the 7-bit weights of the default (mean error 0.25% of the range)
    // flip about 6% of the argmaxes; the full range flips 1%. On the trained Fashion-MNIST CNN
    // both agreed with float on 99.85% of the test images.
    it.each<[string, Partial<OnnxStaticInt8Options>, number]>([
      ['per-channel', { minElements: 0 }, 0.9],
      ['per-channel, full range', { minElements: 0, reduceRange: false }, 0.95],
      ['per-tensor', { minElements: 0, perChannel: false }, 0.9],
      ['Conv left in float', { opTypes: ['MatMul'] }, 0.95],
    ])('predicts like the float CNN: %s', async (_label, options, minAgreement) => {
      const { bytes } = await quantizeOnnxInt8Static(cnnBytes, { calibration: cnnCalibration, ...options });
      const { agreement, maxError, range } = await compare(cnnBytes, bytes, [16, 16, 1]);
      expect(agreement).toBeGreaterThanOrEqual(minAgreement);
      expect(maxError).toBeLessThanOrEqual(0.02 * range);
    });

    it('keeps Conv in float when opTypes leaves it out', async () => {
      const result = await quantizeOnnxInt8Static(cnnBytes, {
        calibration: cnnCalibration,
        opTypes: ['MatMul'],
        minElements: 0,
      });
      expect(result.quantizedWeights).toBe(2);
      const q = decode(result.bytes);
      expect(initializer(q, 'conv_1/kernel')!.dataType).toBe(DataType.FLOAT);
      expect(initializer(q, 'conv_2/bias')!.dataType).toBe(DataType.FLOAT);
    });
  });

  it('quantizes depthwise, separable and grouped convolutions', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [12, 12, 2] }),
        tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same' }),
        tf.layers.separableConv2d({ filters: 6, kernelSize: 2, padding: 'valid', activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 4 }),
      ],
    });
    randomizeWeights(model, 6);
    const bytes = exportOnnx(model);
    const result = await quantizeOnnxInt8Static(bytes, {
      calibration: randomValues(100 * 288, 9, 0, 1),
      minElements: 0,
    });
    expect(result.quantizedWeights).toBe(5);
    const { agreement, maxError, range } = await compare(bytes, result.bytes, [12, 12, 2]);
    expect(agreement).toBeGreaterThanOrEqual(0.95);
    expect(maxError).toBeLessThanOrEqual(0.03 * range);
    model.dispose();
  });

  it('gives a channel whose bias would overflow int32 a larger weight scale', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [6, 6, 1] }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2 }),
      ],
    });
    randomizeWeights(model, 2);
    const conv = model.layers[0]!;
    const [kernel] = conv.getWeights();
    const k = Float32Array.from(kernel!.dataSync());
    for (let i = 0; i < k.length; i += 4) k[i] = 1e-9; // channel 0 (HWIO: the last axis)
    conv.setWeights([tf.tensor(k, kernel!.shape), tf.tensor([5, 0.1, -0.2, 0.3])]);
    const bytes = exportOnnx(model);
    const q = decode(
      (await quantizeOnnxInt8Static(bytes, { calibration: randomValues(50 * 36, 4, 0, 1), minElements: 0 })).bytes,
    );
    const biasQ = tensorValues(
      initializer(q, 'conv2d_1/bias_quantized') ?? q.graph!.initializer!.find((t) => t.dataType === DataType.INT32)!,
    );
    expect(Math.abs(biasQ[0]!)).toBeLessThanOrEqual(2 ** 31 - 1);
    const biasScale = tensorValues(q.graph!.initializer!.find((t) => t.name!.endsWith('bias_scale'))!);
    expect(Math.abs(biasQ[0]! * biasScale[0]! - 5)).toBeLessThan(1e-3);
    model.dispose();
  });

  it.each<[string, unknown, RegExp]>([
    ['not a Float32Array', [0.5, 0.5], /Float32Array/],
    ['a partial row', new Float32Array(784 * 2 + 3), /whole, non-zero number of rows of 784/],
    ['no rows', new Float32Array(0), /whole, non-zero number of rows/],
    ['a NaN', Float32Array.from({ length: 784 }, (_, i) => (i === 7 ? NaN : 0)), /non-finite value \(NaN\) at index 7/],
  ])('names bad calibration data: %s', async (_label, calibration, message) => {
    await expect(quantizeOnnxInt8Static(mlpBytes, { calibration: calibration as Float32Array })).rejects.toThrow(
      TypeError,
    );
    await expect(quantizeOnnxInt8Static(mlpBytes, { calibration: calibration as Float32Array })).rejects.toThrow(
      message,
    );
  });

  it('names other bad options', async () => {
    const calibration = mlpCalibration;
    await expect(quantizeOnnxInt8Static(mlpBytes, { calibration, minElements: -1 })).rejects.toThrow(/minElements/);
    await expect(quantizeOnnxInt8Static(mlpBytes, { calibration, inputShape: [0] })).rejects.toThrow(/inputShape/);
  });

  it('refuses models it cannot quantize', async () => {
    const calibration = mlpCalibration;
    await expect(quantizeOnnxInt8Static(new TextEncoder().encode('nope'), { calibration })).rejects.toThrow(
      InvalidArtifactError,
    );
    const once = (await quantizeOnnxInt8Static(mlpBytes, { calibration })).bytes;
    await expect(quantizeOnnxInt8Static(once, { calibration })).rejects.toThrow(
      /already quantized \(quantization = int8-static-qdq\)/,
    );
    await expect(quantizeOnnxInt8Static(quantizeOnnxInt8(mlpBytes).bytes, { calibration })).rejects.toThrow(
      /already quantized/,
    );
    const old = decode(mlpBytes);
    old.opsetImport = [{ domain: '', version: 11 }];
    await expect(quantizeOnnxInt8Static(onnx.ModelProto.encode(old).finish(), { calibration })).rejects.toThrow(
      /opset of at least 13 for per-axis DequantizeLinear, got 11/,
    );
  });
});

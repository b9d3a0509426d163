import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { exportOnnx, type OnnxExportOptions } from '../src/index.js';

/** Deterministic pseudo-random values in [lo, hi). */
export function randomValues(size: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(size);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * Replaces every weight with seeded random values (variances positive), so BatchNormalization
 * statistics, biases and recurrent gates are all exercised, not left at their trivial init.
 */
export function randomizeWeights(model: tf.LayersModel, seed: number): void {
  model.weights.forEach((w, i) => {
    const size = w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
    const positive = w.originalName.endsWith('moving_variance');
    const values = randomValues(size, seed * 1000 + i, positive ? 0.5 : -0.6, positive ? 1.5 : 0.6);
    const t = tf.tensor(values, w.shape as number[]);
    w.write(t);
    t.dispose();
  });
}

/** Runs TF.js predict and the exported ONNX model on the same inputs; returns max |Δ|. */
export async function onnxVsTfjs(
  model: tf.LayersModel,
  batch = 3,
  options: OnnxExportOptions = {},
  seed = 7,
): Promise<{ diff: number; outputShape: readonly number[] }> {
  const inShape = model.inputs[0]!.shape.slice(1) as number[];
  const data = randomValues(batch * inShape.reduce((a, b) => a * b, 1), seed, -2, 2);
  const x = tf.tensor(data, [batch, ...inShape]);
  const y = model.predict(x) as tf.Tensor;
  const expected = (await y.data()) as Float32Array;
  const expectedShape = y.shape;
  tf.dispose([x, y]);

  const session = await ort.InferenceSession.create(exportOnnx(model, options));
  try {
    const result = await session.run({ input: new ort.Tensor('float32', data, [batch, ...inShape]) });
    const out = result['output']!;
    if (JSON.stringify(out.dims) !== JSON.stringify(expectedShape)) {
      throw new Error(`ONNX output dims ${JSON.stringify(out.dims)} vs TF.js ${JSON.stringify(expectedShape)}`);
    }
    return { diff: maxAbsDiff(out.data as Float32Array, expected), outputShape: out.dims };
  } finally {
    await session.release();
  }
}

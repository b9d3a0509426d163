import * as tf from '@tensorflow/tfjs';
import { lossForTask, metricsForTask, type Task } from '@aimaas/ml';
import type { Batch } from '../data/data-source.js';
import { toTensors } from '../model/evaluation.js';
import { modelInputShape, modelOutputShape, type DataShape } from '../model/training-model.js';

/** The gradients one worker computed on its share of a batch, flattened in `trainableWeights` order. */
export interface ShardGradients {
  rows: number;
  /** The mean loss on the share (plus any regularization penalty), as `trainOnBatch` reports it. */
  loss: number;
  /** The mean of the compiled metric (accuracy or MAE) on the share. */
  metric: number;
  /** ∂loss/∂w of every trainable weight, concatenated; empty when `rows` is 0. */
  grads: Float32Array;
}

/**
 * Rows `[start, end)` of a `rows`-row batch that `rank` of `size` workers computes: contiguous
 * shares in rank order whose sizes differ by at most one (a share is empty when rows < size).
 */
export function shareOf(rows: number, rank: number, size: number): [number, number] {
  return [Math.floor((rank * rows) / size), Math.floor(((rank + 1) * rows) / size)];
}

/** Rows `[from, to)` of a batch (views, no copy). */
export function sliceRows(batch: Batch, from: number, to: number): Batch {
  const featureSize = batch.rows === 0 ? 0 : batch.features.length / batch.rows;
  const labelWidth = batch.rows === 0 ? 0 : batch.labels.length / batch.rows;
  return {
    rows: to - from,
    features: batch.features.subarray(from * featureSize, to * featureSize),
    labels: batch.labels.subarray(from * labelWidth, to * labelWidth),
  };
}

type LossOrMetric = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/** The layers functions behind the names `compileModel` compiles with (`lossForTask`, `metricsForTask`). */
const LOSSES: Record<string, LossOrMetric> = {
  categoricalCrossentropy: tf.metrics.categoricalCrossentropy,
  meanSquaredError: tf.metrics.meanSquaredError,
};
const METRICS: Record<string, LossOrMetric> = {
  accuracy: tf.metrics.categoricalAccuracy,
  mae: tf.metrics.meanAbsoluteError,
};

/** The loss and metric a model of `task` is compiled with (the same functions `fit` calls). */
function lossAndMetric(task: Task): [LossOrMetric, LossOrMetric] {
  const loss = LOSSES[lossForTask(task)];
  const metric = METRICS[metricsForTask(task)[0]!];
  if (!loss || !metric)
    throw new Error(`no gradient step for the loss ${lossForTask(task)} and metric ${metricsForTask(task)[0]}`);
  return [loss, metric];
}

/** The model's trainable variables, in the order its optimizer sees them. */
function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/**
 * The gradients of the mean loss on `batch`, computed as `model.trainOnBatch` computes them (the
 * task's compiled loss on a training-mode forward pass, plus regularization penalties) but not
 * applied.
 */
export async function shardGradients(model: tf.LayersModel, batch: Batch, shape: DataShape): Promise<ShardGradients> {
  if (batch.rows === 0) return { rows: 0, loss: 0, metric: 0, grads: new Float32Array(0) };
  const variables = trainableVariables(model);
  const [lossFn, metricFn] = lossAndMetric(shape.task);
  const { x, y } = toTensors(batch, shape, modelInputShape(model), modelOutputShape(model));
  let metric: tf.Tensor | undefined;
  let result: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
  try {
    result = tf.variableGrads(() => {
      const output = model.apply(x, { training: true }) as tf.Tensor;
      metric = tf.keep(tf.mean(metricFn(y, output)));
      let total = tf.mean(lossFn(y, output)) as tf.Scalar;
      for (const penalty of model.calculateLosses()) total = tf.add(total, penalty);
      return total;
    }, variables);
    const grads = new Float32Array(variables.reduce((n, v) => n + v.size, 0));
    let offset = 0;
    for (const variable of variables) {
      // A weight the loss does not reach keeps a zero gradient, so every worker's layout matches.
      const grad = result.grads[variable.name];
      if (grad) grads.set((await grad.data()) as Float32Array, offset);
      offset += variable.size;
    }
    return { rows: batch.rows, loss: (await result.value.data())[0]!, metric: (await metric!.data())[0]!, grads };
  } finally {
    tf.dispose([x, y]);
    if (metric) metric.dispose();
    if (result) tf.dispose([result.value, ...Object.values(result.grads)]);
  }
}

/**
 * The row-weighted mean of the shares' gradients, Σ (rows_r / Σ rows) · g_r, accumulated in
 * float64 in the order given (rank order), so the average is the gradient of the mean loss over
 * the whole batch and the same bits wherever it is computed. Shares without rows count nothing.
 */
export function averageGradients(
  shares: readonly ShardGradients[],
  length: number,
): { grads: Float32Array; loss: number; metric: number } {
  const rows = shares.reduce((n, s) => n + s.rows, 0);
  const used = shares.filter((s) => s.rows > 0);
  for (const share of used) {
    if (share.grads.length !== length) {
      throw new RangeError(
        `a share of ${share.rows} rows has ${share.grads.length} gradient values, expected ${length}`,
      );
    }
  }
  const weights = used.map((s) => s.rows / rows);
  const grads = used.map((s) => s.grads);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    let sum = 0; // a float64, rounded to float32 once
    for (let r = 0; r < grads.length; r++) sum += weights[r]! * grads[r]![i]!;
    out[i] = sum;
  }
  let loss = 0;
  let metric = 0;
  used.forEach((s, r) => {
    loss += weights[r]! * s.loss;
    metric += weights[r]! * s.metric;
  });
  return { grads: out, loss, metric };
}

/** Values in the model's trainable weights: the length of its flat gradient. */
export function gradientLength(model: tf.LayersModel): number {
  return trainableVariables(model).reduce((n, v) => n + v.size, 0);
}

/** Applies a flat gradient with the model's optimizer, as `trainOnBatch` would after its own. */
export function applyFlatGradients(model: tf.LayersModel, flat: Float32Array): void {
  let offset = 0;
  const named = trainableVariables(model).map((variable) => {
    const tensor = tf.tensor(flat.subarray(offset, offset + variable.size), variable.shape, 'float32');
    offset += variable.size;
    return { name: variable.name, tensor };
  });
  try {
    model.optimizer.applyGradients(named);
  } finally {
    tf.dispose(named.map((n) => n.tensor));
  }
}

/** Every weight of the model (trainable or not, e.g. batch-norm statistics) as one float32 vector. */
export async function readFlatWeights(model: tf.LayersModel): Promise<Float32Array> {
  // getWeights() hands out the live variables: read them, do not dispose them.
  const weights = model.getWeights();
  const out = new Float32Array(weights.reduce((n, w) => n + w.size, 0));
  let offset = 0;
  for (const w of weights) {
    out.set((await w.data()) as Float32Array, offset);
    offset += w.size;
  }
  return out;
}

/** Sets every weight of the model from {@link readFlatWeights}' layout. */
export function writeFlatWeights(model: tf.LayersModel, flat: Float32Array): void {
  const variables = model.weights.map((w) => w.read());
  const expected = variables.reduce((n, v) => n + v.size, 0);
  if (flat.length !== expected) throw new RangeError(`${flat.length} weight values for a model of ${expected}`);
  let offset = 0;
  const tensors = variables.map((v) => {
    const tensor = tf.tensor(flat.subarray(offset, offset + v.size), v.shape, 'float32');
    offset += v.size;
    return tensor;
  });
  try {
    model.setWeights(tensors);
  } finally {
    tf.dispose(tensors);
  }
}

import * as tf from '@tensorflow/tfjs';
import { classificationReport, oneHotLabels, regressionReport } from '@aimaas/ml';
import type { Batch } from '../data/data-source.js';
import type { DataShape, TargetScaling } from './training-model.js';

export type { TargetScaling } from './training-model.js';

/** Input and target tensors of one batch, shaped for the model. */
export interface BatchTensors {
  x: tf.Tensor;
  y: tf.Tensor;
}

/**
 * Turns a batch into tensors: features reshaped to the model's input, targets one-hot for
 * classification, the label columns for regression, the features themselves for reconstruction.
 * The caller disposes both.
 */
export function toTensors(batch: Batch, shape: DataShape, inputShape: number[], outputShape: number[]): BatchTensors {
  const x = tf.tensor(batch.features, [batch.rows, ...inputShape], 'float32');
  if (shape.task === 'classification') return { x, y: oneHotLabels(batch.labels, shape.outputSize) };
  if (shape.task === 'reconstruction')
    return { x, y: tf.tensor(batch.features, [batch.rows, ...outputShape], 'float32') };
  const width = batch.labels.length / batch.rows;
  return { x, y: tf.tensor2d(batch.labels, [batch.rows, width]) };
}

/** The names `trainOnBatch`/`evaluate` report, in order: the loss, then the task's metric. */
export function metricNames(shape: DataShape): [string, string] {
  return ['loss', shape.task === 'classification' ? 'accuracy' : 'mae'];
}

/**
 * The loss and metric of `model` over a split, weighted by rows, as `val_loss` and
 * `val_accuracy` (or `val_mae`). Batches are evaluated one at a time.
 */
export async function evaluateSplit(
  model: tf.LayersModel,
  batches: AsyncIterable<Batch>,
  shape: DataShape,
  prefix: string,
  onBatch?: () => Promise<void> | void,
): Promise<Record<string, number>> {
  const inputShape = model.inputs[0]!.shape.slice(1) as number[];
  const outputShape = model.outputs[0]!.shape.slice(1) as number[];
  const names = metricNames(shape);
  const sums = [0, 0];
  let rows = 0;
  for await (const batch of batches) {
    const { x, y } = toTensors(batch, shape, inputShape, outputShape);
    try {
      const result = model.evaluate(x, y, { batchSize: batch.rows });
      const scalars = Array.isArray(result) ? result : [result];
      const values = await Promise.all(scalars.map(async (s) => (await s.data())[0]!));
      tf.dispose(scalars);
      values.forEach((v, i) => (sums[i]! += v * batch.rows));
      rows += batch.rows;
    } finally {
      tf.dispose([x, y]);
    }
    await onBatch?.();
  }
  if (rows === 0) return {};
  return Object.fromEntries(names.map((name, i) => [`${prefix}${name}`, sums[i]! / rows]));
}

/**
 * An epoch's logs with a regression's errors in the target's own units, for a job without a test
 * split (its registered metrics are then the last epoch's): `mae` and `val_mae` times the scale,
 * the MSE losses `loss` and `val_loss` times its square. Other logs (and other tasks) pass as they are.
 */
export function epochLogsInTargetUnits(
  logs: Record<string, number>,
  scaling: TargetScaling | undefined,
): Record<string, number> {
  if (!scaling) return { ...logs };
  const factor: Record<string, number> = {
    mae: scaling.scale,
    val_mae: scaling.scale,
    loss: scaling.scale ** 2,
    val_loss: scaling.scale ** 2,
  };
  return Object.fromEntries(Object.entries(logs).map(([name, value]) => [name, value * (factor[name] ?? 1)]));
}

/**
 * Test-split metrics: classification → accuracy, precision/recall/F1 (macro), log loss;
 * regression → MAE, MSE, RMSE, R², in the target's own units when `targetScaling` says how the
 * pipeline scaled it (labels and predictions are decoded first); reconstruction → MAE, MSE, RMSE
 * of the reconstruction.
 */
export async function testMetrics(
  model: tf.LayersModel,
  batches: AsyncIterable<Batch>,
  shape: DataShape,
  onBatch?: () => Promise<void> | void,
  targetScaling?: TargetScaling,
): Promise<Record<string, number>> {
  const inputShape = model.inputs[0]!.shape.slice(1) as number[];
  const truths: Float32Array[] = [];
  const outputs: Float32Array[] = [];
  let rows = 0;
  for await (const batch of batches) {
    const x = tf.tensor(batch.features, [batch.rows, ...inputShape], 'float32');
    const y = model.predict(x) as tf.Tensor;
    try {
      outputs.push((await y.data()) as Float32Array);
    } finally {
      tf.dispose([x, y]);
    }
    truths.push(shape.task === 'reconstruction' ? batch.features.slice() : batch.labels.slice());
    rows += batch.rows;
    await onBatch?.();
  }
  if (rows === 0) return {};
  const truth = concat(truths);
  const output = concat(outputs);
  if (shape.task === 'classification') {
    const r = classificationReport(truth, output, shape.outputSize);
    return {
      accuracy: r.accuracy,
      precision_macro: r.macroPrecision,
      recall_macro: r.macroRecall,
      f1_macro: r.macroF1,
      log_loss: r.logLoss,
    };
  }
  if (shape.task === 'regression' && targetScaling) {
    const { center, scale } = targetScaling;
    for (const values of [truth, output]) values.forEach((v, i) => (values[i] = v * scale + center));
  }
  const r = regressionReport(truth, output, truth.length / rows);
  return shape.task === 'regression'
    ? { mae: r.mae, mse: r.mse, rmse: r.rmse, r2: r.r2 }
    : { mae: r.mae, mse: r.mse, rmse: r.rmse };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

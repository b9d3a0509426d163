import * as tf from '@tensorflow/tfjs';
import { createOptimizer, oneHotLabels, type OptimizerOptions, type Task } from '@aimaas/ml';
import { createRandom, shuffleInPlace } from '@aimaas/pipeline';
import { CancelledError, FailedPreconditionError } from '@aimaas/runtime';
import type { SplitData } from './split-data.js';

/** One optimizer slot, as `tf.Optimizer.getWeights()` names it. */
type OptimizerSlot = Awaited<ReturnType<tf.Optimizer['getWeights']>>[number];

/** A fine-tune's progress after a batch or an epoch. */
export interface FineTuneProgress {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  /** Mean loss over the epoch's batches so far. */
  loss: number;
}

/** A fine-tune's state after an epoch: what a checkpoint keeps. */
export interface FineTuneCheckpoint {
  epoch: number;
  /** The model's weights (`model.getWeights()` order) after that epoch. */
  weights: tf.Tensor[];
  /** The optimizer's slots as `optimizer.getWeights()` gave them. */
  optimizer?: OptimizerSlot[];
}

/**
 * Where a fine-tune resumes: after epoch `epoch`, with these optimizer slots (disposed here). The
 * caller has already set the model's weights from the checkpoint, before the method's own setup
 * (masks, centroids) read them.
 */
export interface FineTuneResume {
  epoch: number;
  optimizer?: OptimizerSlot[];
}

/** One batch as tensors: features in the model's input shape and targets (one-hot for classes). */
export interface FineTuneBatch {
  x: tf.Tensor;
  y: tf.Tensor;
}

/** What {@link fineTune} needs. */
export interface FineTuneOptions {
  model: tf.LayersModel;
  data: SplitData;
  task: Task;
  /** Classes (classification) or outputs per row. */
  outputSize: number;
  epochs: number;
  batchSize: number;
  optimizer: OptimizerOptions;
  seed: number;
  /**
   * The loss of a batch (a scalar) from the model's training-mode output; default: the task's loss
   * (categorical cross-entropy on the softmax output, or mean squared error).
   */
  loss?: (output: tf.Tensor, batch: FineTuneBatch) => tf.Scalar;
  /** Rewrites the gradients before they are applied (weight clustering sums them per centroid). */
  applyGradients?: (optimizer: tf.Optimizer, grads: tf.NamedTensorMap) => void;
  /** Runs after every optimizer step, with the 0-based global step just taken (pruning masks). */
  afterStep?: (step: number) => void;
  /** Continue after a checkpointed epoch. The tensors are disposed here. */
  resume?: FineTuneResume;
  onProgress?: (progress: FineTuneProgress, epochEnd: boolean) => void | Promise<void>;
  /** Called after each epoch with what a resume needs; its tensors are the caller's to read, not keep. */
  onEpochEnd?: (checkpoint: FineTuneCheckpoint) => Promise<void>;
  /** Stops before the next batch. */
  signal: AbortSignal;
}

/** Steps of one epoch for `rows` rows. */
export function stepsPerEpoch(rows: number, batchSize: number): number {
  return Math.max(1, Math.ceil(rows / batchSize));
}

/** A permutation of 0..n−1 for epoch `epoch` of seed `seed` (Fisher–Yates). */
function epochOrder(n: number, seed: number, epoch: number): Uint32Array {
  return shuffleInPlace(
    Uint32Array.from({ length: n }, (_, i) => i),
    createRandom((seed * 1_000_003 + epoch) >>> 0),
  );
}

/** The task's loss on the model's output: cross-entropy of softmax probabilities, or MSE. */
function taskLoss(task: Task, output: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.tidy(() =>
    task === 'classification'
      ? tf.neg(tf.mean(tf.sum(tf.mul(y, tf.log(tf.clipByValue(output, 1e-7, 1))), -1)))
      : tf.mean(tf.square(tf.sub(output, y))),
  ) as tf.Scalar;
}

/** The batch `rows` of `data` as tensors shaped for `model`. */
function batchTensors(
  model: tf.LayersModel,
  data: SplitData,
  rows: ArrayLike<number>,
  task: Task,
  outputSize: number,
): FineTuneBatch {
  const inputShape = model.inputs[0]!.shape.slice(1) as number[];
  const size = inputShape.reduce((a, b) => a * b, 1);
  const features = new Float32Array(rows.length * size);
  const labels = new Float32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    features.set(data.features.subarray(r * size, (r + 1) * size), i * size);
    labels[i] = data.labels[r]!;
  }
  const x = tf.tensor(features, [rows.length, ...inputShape], 'float32');
  const y = task === 'classification' ? oneHotLabels(labels, outputSize) : tf.tensor2d(labels, [rows.length, 1]);
  return { x, y };
}

/**
 * Fine-tunes `model` in place on in-memory data with its own optimizer: seeded batch order per
 * epoch, the task's loss (or `loss`), `applyGradients` and `afterStep` hooks for the compression
 * method, progress per batch and per epoch, and a checkpoint callback at each epoch end. Stops
 * before the next batch when `signal` aborts (throwing CancelledError or the signal's reason).
 *
 * @returns the number of epochs finished (the resumed ones included).
 */
export async function fineTune(options: FineTuneOptions): Promise<number> {
  const { model, data, task, outputSize, epochs, batchSize, seed, signal } = options;
  const optimizer = createOptimizer(options.optimizer);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const steps = stepsPerEpoch(data.rows, batchSize);
  let startEpoch = 0;
  try {
    if (options.resume) {
      const { resume } = options;
      try {
        if (resume.optimizer) await optimizer.setWeights(resume.optimizer);
        startEpoch = resume.epoch;
      } finally {
        tf.dispose((resume.optimizer ?? []).map((s) => s.tensor));
      }
    }
    for (let epoch = startEpoch + 1; epoch <= epochs; epoch++) {
      const order = epochOrder(data.rows, seed, epoch);
      let lossSum = 0;
      for (let step = 0; step < steps; step++) {
        if (signal.aborted) throw signal.reason ?? new CancelledError('the fine-tune was stopped');
        const batch = batchTensors(
          model,
          data,
          order.subarray(step * batchSize, (step + 1) * batchSize),
          task,
          outputSize,
        );
        let result: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
        try {
          result = tf.variableGrads(() => {
            const output = model.apply(batch.x, { training: true }) as tf.Tensor;
            return options.loss ? options.loss(output, batch) : taskLoss(task, output, batch.y);
          }, variables);
          if (options.applyGradients) options.applyGradients(optimizer, result.grads);
          else optimizer.applyGradients(result.grads);
          const loss = (await result.value.data())[0]!;
          if (!Number.isFinite(loss)) {
            throw new FailedPreconditionError(
              `the fine-tune diverged at epoch ${epoch}, step ${step + 1} (loss ${loss}); lower the learning rate`,
            );
          }
          lossSum += loss;
        } finally {
          tf.dispose([batch.x, batch.y]);
          if (result) tf.dispose([result.value, ...Object.values(result.grads)]);
        }
        options.afterStep?.((epoch - 1) * steps + step);
        const progress = { epoch, epochs, step: step + 1, stepsPerEpoch: steps, loss: lossSum / (step + 1) };
        if (step + 1 < steps) await options.onProgress?.(progress, false);
        else await options.onProgress?.(progress, true);
      }
      if (options.onEpochEnd) {
        const weights = model.getWeights();
        const slots = await optimizer.getWeights();
        try {
          await options.onEpochEnd({ epoch, weights, optimizer: slots });
        } finally {
          // getWeights makes a new `iter` scalar each time; the other slots are the optimizer's own variables.
          tf.dispose(slots.filter((slot) => slot.name === 'iter').map((slot) => slot.tensor));
        }
      }
    }
    return Math.max(startEpoch, epochs);
  } finally {
    optimizer.dispose();
  }
}

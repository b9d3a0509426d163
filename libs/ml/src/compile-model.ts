import * as tf from '@tensorflow/tfjs';
import { InvalidModelSpecError } from './errors.js';
import type { Task } from './model-spec.js';

/** Optimizer settings of a training job. */
export interface OptimizerOptions {
  optimizer: 'sgd' | 'adam' | 'rmsprop' | 'adagrad';
  /** Step size, > 0. */
  learningRate: number;
  /** sgd (classical or Nesterov momentum when > 0) and rmsprop. @default 0 */
  momentum?: number;
  /** sgd with momentum only: use Nesterov momentum. @default false */
  nesterov?: boolean;
}

/** The loss `compileModel` uses for a task. */
export function lossForTask(task: Task): 'categoricalCrossentropy' | 'meanSquaredError' {
  return task === 'classification' ? 'categoricalCrossentropy' : 'meanSquaredError';
}

/** The metrics `compileModel` tracks for a task (their names as they appear in `fit` logs). */
export function metricsForTask(task: Task): string[] {
  return task === 'classification' ? ['accuracy'] : ['mae'];
}

/**
 * Builds the TF.js optimizer. `sgd` with momentum > 0 becomes `tf.train.momentum` (plain
 * `tf.train.sgd` has no momentum), optionally Nesterov.
 *
 * @throws InvalidModelSpecError naming the bad setting.
 */
export function createOptimizer(options: OptimizerOptions): tf.Optimizer {
  const { optimizer, learningRate } = options;
  const momentum = options.momentum ?? 0;
  if (!(typeof learningRate === 'number' && learningRate > 0 && Number.isFinite(learningRate))) {
    throw new InvalidModelSpecError(`learningRate must be a positive number, got ${learningRate}`);
  }
  if (!(typeof momentum === 'number' && momentum >= 0 && momentum < 1)) {
    throw new InvalidModelSpecError(`momentum must be in [0, 1), got ${momentum}`);
  }
  if (options.nesterov && !(optimizer === 'sgd' && momentum > 0)) {
    throw new InvalidModelSpecError('nesterov needs optimizer sgd with momentum > 0');
  }
  switch (optimizer) {
    case 'sgd':
      return momentum > 0
        ? tf.train.momentum(learningRate, momentum, options.nesterov ?? false)
        : tf.train.sgd(learningRate);
    case 'adam':
      return tf.train.adam(learningRate);
    case 'rmsprop':
      return tf.train.rmsprop(learningRate, 0.9, momentum);
    case 'adagrad':
      return tf.train.adagrad(learningRate);
    default:
      throw new InvalidModelSpecError(
        `optimizer must be one of sgd, adam, rmsprop, adagrad, got ${JSON.stringify(optimizer)}`,
      );
  }
}

/**
 * Compiles `model` for `task`: categorical cross-entropy on one-hot labels (softmax outputs, also
 * for two classes) with accuracy, or mean squared error with MAE for regression and
 * reconstruction.
 *
 * @returns the same model, for chaining.
 * @example
 * compileModel(model, { optimizer: 'sgd', learningRate: 0.01, momentum: 0.9, nesterov: true },
 *   'classification');
 */
export function compileModel(model: tf.LayersModel, options: OptimizerOptions, task: Task): tf.LayersModel {
  model.compile({ optimizer: createOptimizer(options), loss: lossForTask(task), metrics: metricsForTask(task) });
  return model;
}

/**
 * One-hot float32 labels `[n, numClasses]` from class indices, built on the host (the wasm
 * backend's OneHot kernel ignores the requested float dtype).
 *
 * @throws InvalidModelSpecError for an index outside [0, numClasses), naming its row.
 */
export function oneHotLabels(labels: ArrayLike<number>, numClasses: number): tf.Tensor2D {
  const data = new Float32Array(labels.length * numClasses);
  for (let i = 0; i < labels.length; i++) {
    const k = labels[i]!;
    if (!(Number.isInteger(k) && k >= 0 && k < numClasses)) {
      throw new InvalidModelSpecError(`label at row ${i} must be a class index in [0, ${numClasses}), got ${k}`);
    }
    data[i * numClasses + k] = 1;
  }
  return tf.tensor2d(data, [labels.length, numClasses]);
}

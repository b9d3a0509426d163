import * as tf from '@tensorflow/tfjs';
import { taskName, type ModelSpec as ProtoModelSpec, type PreparedDataset } from '@aimaas/proto';
import { buildModel, compileModel, type OptimizerOptions, type Task } from '@aimaas/ml';
import { parsePipeline } from '@aimaas/pipeline';
import { innerInputShape, toMlModelSpec } from './spec-mapping.js';

/** What the data says about the model to build. */
export interface DataShape {
  task: Task;
  /** One example's features as the prepared dataset stores them, e.g. `[4]` or `[784]`. */
  featureShape: number[];
  /** Values per example (the product of `featureShape`). */
  featureSize: number;
  /** Classes (classification), targets (regression) or features (reconstruction). */
  outputSize: number;
  classLabels: string[];
}

/**
 * The shape of a prepared dataset's data. An unspecified task reads as classification when the
 * dataset has class labels, else regression.
 */
export function dataShapeOf(prepared: PreparedDataset): DataShape {
  const featureShape =
    prepared.featureShape.length > 0 ? prepared.featureShape.map(Number) : [prepared.featureNames.length];
  const featureSize = featureShape.reduce((a, b) => a * b, 1);
  const task = taskName(prepared.task) ?? (prepared.classLabels.length > 0 ? 'classification' : 'regression');
  const outputSize = task === 'classification' ? prepared.classLabels.length : task === 'regression' ? 1 : featureSize;
  return { task, featureShape, featureSize, outputSize, classLabels: [...prepared.classLabels] };
}

/**
 * How the prepared dataset's pipeline scaled its regression target (undefined for other tasks or
 * an unscaled target), so test metrics can be reported in the target's own units.
 */
export function regressionTargetScaling(prepared: PreparedDataset): TargetScaling | undefined {
  if (prepared.pipelineJson === '') return undefined;
  const target = parsePipeline(prepared.pipelineJson).target;
  if (target?.task !== 'regression' || (target.center === 0 && target.scale === 1)) return undefined;
  return { center: target.center, scale: target.scale };
}

/**
 * Builds the (uncompiled) model a job trains: the `@aimaas/ml` builder on the spec, taking the
 * flat pipeline output as input so its serving signature is `[-1, ...feature_shape]`. An RNN
 * whose `input_shape` is `[timesteps, features]` is wrapped behind a Reshape.
 *
 * @throws InvalidModelSpecError from the builder, naming the bad field in its own terms.
 */
export async function buildTrainingModel(
  spec: ProtoModelSpec,
  shape: DataShape,
  seed: number,
): Promise<tf.LayersModel> {
  const inner = innerInputShape(spec, shape.featureShape);
  const model = await buildModel(toMlModelSpec(spec, shape.featureShape), {
    inputShape: inner,
    outputSize: shape.outputSize,
    task: shape.task,
    seed,
  });
  const sameShape = inner.length === shape.featureShape.length && inner.every((d, i) => d === shape.featureShape[i]);
  if (sameShape || spec.layersJson !== undefined) return model;
  return tf.sequential({
    name: `${model.name}_on_flat_input`,
    layers: [
      tf.layers.inputLayer({ inputShape: shape.featureShape, name: 'input' }),
      tf.layers.reshape({ targetShape: inner, name: 'to_input_shape' }),
      model as unknown as tf.layers.Layer,
    ],
  });
}

/** Compiles `model` for the task with a fresh optimizer. */
export function compileTrainingModel(model: tf.LayersModel, optimizer: OptimizerOptions, task: Task): void {
  compileModel(model, optimizer, task);
}

/** The model's input shape without the batch dimension. */
export function modelInputShape(model: tf.LayersModel): number[] {
  return (model.inputs[0]!.shape.slice(1) as Array<number | null>).map((d) => d ?? -1);
}

/** The model's output shape without the batch dimension. */
export function modelOutputShape(model: tf.LayersModel): number[] {
  return (model.outputs[0]!.shape.slice(1) as Array<number | null>).map((d) => d ?? -1);
}

/**
 * Sets the optimizer's step size for the next updates. `tf.train.sgd`/`momentum` keep it in a
 * scalar (`setLearningRate`); adam, rmsprop and adagrad read the `learningRate` field each step.
 */
export function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  const target = optimizer as unknown as { setLearningRate?: (lr: number) => void; learningRate: number };
  if (typeof target.setLearningRate === 'function') target.setLearningRate(learningRate);
  else target.learningRate = learningRate;
}

/** How the pipeline scaled a regression target: stored value = (y − center) / scale. */
export interface TargetScaling {
  center: number;
  scale: number;
}

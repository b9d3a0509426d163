import * as tf from '@tensorflow/tfjs';
import type { SubmitCompressionJobRequest, TrainingConfig } from '@aimaas/proto';
import type { WeightQuantization } from '@aimaas/ml';
import { buildTrainingModel, toTrainingPlan, type DataShape } from '@aimaas/training';
import {
  fineTune,
  stepsPerEpoch,
  type FineTuneCheckpoint,
  type FineTuneProgress,
  type FineTuneResume,
} from './fine-tune.js';
import { WeightClusterer, type ClusterInit } from './methods/cluster.js';
import { distillationLoss } from './methods/distill.js';
import { MagnitudePruner, polynomialSparsity } from './methods/prune.js';
import type { SplitData } from './split-data.js';

/** How a compressed model is to be written. */
export interface CompressedModel {
  /** The model to export: the source itself (quantization), or rewritten/new weights. */
  model: tf.LayersModel;
  /** TF.js weight quantization of the tfjs-layers files. */
  tfjsQuantization?: WeightQuantization;
  /** Quantize the ONNX file to int8: static from `calibration` rows when given, else dynamic. */
  onnxInt8?: { perChannel: boolean; calibration?: Float32Array };
  /** `compression.*` tags describing what was done. */
  tags: Record<string, string>;
}

/** What a method needs to run. */
export interface MethodContext {
  request: SubmitCompressionJobRequest;
  /** The source model (float32 weights); methods that rewrite weights do so in place. */
  source: tf.LayersModel;
  shape: DataShape;
  /** The training split, for the methods that fine-tune. */
  train: () => Promise<SplitData>;
  /** The checkpoint this job's last delivery left, if any (its tensors are the method's to dispose). */
  resume?: FineTuneCheckpoint;
  onProgress: (progress: FineTuneProgress, epochEnd: boolean, metrics: Record<string, number>) => Promise<void>;
  onEpochEnd: (checkpoint: FineTuneCheckpoint) => Promise<void>;
  signal: AbortSignal;
}

/** The method a request names. */
export function methodOf(request: SubmitCompressionJobRequest): 'quantize' | 'prune' | 'distill' | 'cluster' {
  if (request.quantize) return 'quantize';
  if (request.prune) return 'prune';
  if (request.distill) return 'distill';
  return 'cluster';
}

/** The fine-tune plan of a config: optimizer, batch size and seed (the job's seed when the config has none). */
function tunePlan(config: TrainingConfig | undefined, seed: number) {
  const plan = toTrainingPlan(config);
  return { optimizer: plan.optimizer, batchSize: plan.batchSize, seed: plan.seed || seed };
}

/** Sets the model's weights from a checkpoint and disposes them; the optimizer slots are handed on. */
function restore(model: tf.LayersModel, resume: FineTuneCheckpoint | undefined): FineTuneResume | undefined {
  if (!resume) return undefined;
  try {
    model.setWeights(resume.weights);
  } finally {
    tf.dispose(resume.weights);
  }
  return { epoch: resume.epoch, ...(resume.optimizer && { optimizer: resume.optimizer }) };
}

/**
 * Runs the request's method on the source model. Quantization only chooses an encoding; pruning,
 * clustering and distillation train (resuming from the checkpoint when there is one).
 */
export async function compressModel(context: MethodContext): Promise<CompressedModel> {
  const { request } = context;
  if (request.quantize) {
    const { dtype } = request.quantize;
    if (dtype === 'int8') return quantizeInt8(context);
    return {
      model: context.source,
      tfjsQuantization: dtype as WeightQuantization,
      tags: { 'compression.dtype': dtype },
    };
  }
  if (request.prune) return prune(context);
  if (request.cluster) return cluster(context);
  return distill(context);
}

/** Most training rows the static int8 ranges are calibrated on; the fewest it needs. */
export const CALIBRATION_ROWS = { max: 256, min: 100 } as const;

/** Up to {@link CALIBRATION_ROWS}.max rows evenly spread over the split (its rows are already shuffled). */
function calibrationRows(data: SplitData): { rows: number; features: Float32Array } {
  const rows = Math.min(CALIBRATION_ROWS.max, data.rows);
  const size = data.features.length / data.rows;
  const features = new Float32Array(rows * size);
  for (let r = 0; r < rows; r++) {
    const from = Math.floor((r * data.rows) / rows) * size;
    features.set(data.features.subarray(from, from + size), r * size);
  }
  return { rows, features };
}

/**
 * int8: the ONNX file gets int8 weights; activations are static (calibrated on training rows) unless
 * asked dynamic or the split is too small to calibrate on. TF.js has no int8 weight form: the
 * tfjs-layers files of an int8 version carry uint8 weights.
 */
async function quantizeInt8(context: MethodContext): Promise<CompressedModel> {
  const { perChannel, activations } = context.request.quantize!;
  const tags: Record<string, string> = { 'compression.dtype': 'int8', 'compression.per_channel': String(perChannel) };
  let calibration: Float32Array | undefined;
  if (activations !== 'dynamic') {
    const train = await context.train();
    if (train.rows >= CALIBRATION_ROWS.min) {
      const sample = calibrationRows(train);
      calibration = sample.features;
      tags['compression.calibration_rows'] = String(sample.rows);
    } else {
      tags['compression.activations_note'] =
        `dynamic: the training split has ${train.rows} rows, static needs at least ${CALIBRATION_ROWS.min}`;
    }
  }
  tags['compression.activations'] = calibration ? 'static' : 'dynamic';
  return {
    model: context.source,
    tfjsQuantization: 'uint8',
    onnxInt8: { perChannel, ...(calibration && { calibration }) },
    tags,
  };
}

async function prune(context: MethodContext): Promise<CompressedModel> {
  const spec = context.request.prune!;
  const { source: model, shape, signal } = context;
  // Global by default: one threshold over all kernels spares the small, sensitive ones (the output layer).
  const scope = spec.scope === 'layer' ? 'layer' : 'global';
  const plan = tunePlan(spec.config, context.request.seed);
  const epochs = spec.fineTuneEpochs;
  const pruner = new MagnitudePruner(model, scope);
  try {
    const resume = restore(model, context.resume);
    if (epochs === 0) {
      pruner.update(spec.targetSparsity);
    } else {
      const train = await context.train();
      const total = epochs * stepsPerEpoch(train.rows, plan.batchSize);
      const endStep = Math.min(spec.pruningSteps, total);
      const schedule = { initialSparsity: 0, finalSparsity: spec.targetSparsity, beginStep: 0, endStep };
      // Masks are updated 10 times over the window (TF-MOT: every `frequency` steps) and once at its end.
      const frequency = Math.max(1, Math.ceil(endStep / 10));
      // One shot (no window): the target at once; gradual: where the schedule starts. A resumed
      // fine-tune keeps the masks its checkpoint's zeros carry, as the unbroken run had them.
      if (resume) pruner.maskZeros();
      else pruner.update(polynomialSparsity(0, schedule));
      let sparsity = pruner.sparsity();
      await fineTune({
        model,
        data: train,
        task: shape.task,
        outputSize: shape.outputSize,
        epochs,
        ...plan,
        signal,
        ...(resume && { resume }),
        afterStep: (step) => {
          const due = step < endStep && (step + 1) % frequency === 0;
          if (due || step + 1 === endStep) {
            pruner.update(polynomialSparsity(step + 1, schedule));
            sparsity = pruner.sparsity();
          } else {
            pruner.apply();
          }
        },
        onProgress: (progress, epochEnd) => context.onProgress(progress, epochEnd, { loss: progress.loss, sparsity }),
        onEpochEnd: context.onEpochEnd,
      });
      // Whatever the window, the model ends at the target sparsity.
      pruner.update(spec.targetSparsity);
    }
    return {
      model,
      tags: {
        'compression.target_sparsity': String(spec.targetSparsity),
        'compression.sparsity': pruner.sparsity().toFixed(4),
        'compression.scope': scope,
        'compression.pruning_steps': String(spec.pruningSteps),
        'compression.fine_tune_epochs': String(epochs),
      },
    };
  } finally {
    pruner.dispose();
  }
}

async function cluster(context: MethodContext): Promise<CompressedModel> {
  const spec = context.request.cluster!;
  const { source: model, shape, signal } = context;
  const init: ClusterInit = spec.init === 'linear' ? 'linear' : 'kmeans++';
  const plan = tunePlan(spec.config, context.request.seed);
  const resume = restore(model, context.resume);
  const clusterer = new WeightClusterer(model, spec.clusters, init, plan.seed);
  try {
    if (spec.fineTuneEpochs > 0) {
      const train = await context.train();
      await fineTune({
        model,
        data: train,
        task: shape.task,
        outputSize: shape.outputSize,
        epochs: spec.fineTuneEpochs,
        ...plan,
        signal,
        // The centroid variables are new on every delivery: a resumed fine-tune starts its optimizer afresh.
        ...(resume && { resume: { epoch: resume.epoch } }),
        applyGradients: (optimizer, grads) => clusterer.applyGradients(optimizer, grads),
        afterStep: () => clusterer.tie(),
        onProgress: (progress, epochEnd) => context.onProgress(progress, epochEnd, { loss: progress.loss }),
        onEpochEnd: ({ epoch, weights }) => context.onEpochEnd({ epoch, weights }),
      });
    }
    return {
      model,
      tags: {
        'compression.clusters': String(spec.clusters),
        'compression.init': init,
        'compression.distinct_values': String(clusterer.maxDistinct()),
        'compression.fine_tune_epochs': String(spec.fineTuneEpochs),
      },
    };
  } finally {
    clusterer.dispose();
  }
}

async function distill(context: MethodContext): Promise<CompressedModel> {
  const spec = context.request.distill!;
  const { shape, signal } = context;
  const plan = toTrainingPlan(spec.config);
  const seed = plan.seed || context.request.seed;
  const student = await buildTrainingModel(spec.student!, shape, seed);
  try {
    const resume = restore(student, context.resume);
    const train = await context.train();
    await fineTune({
      model: student,
      data: train,
      task: shape.task,
      outputSize: shape.outputSize,
      epochs: plan.epochs,
      batchSize: plan.batchSize,
      optimizer: plan.optimizer,
      seed,
      signal,
      ...(resume && { resume }),
      loss: distillationLoss(context.source, { temperature: spec.temperature, alpha: spec.alpha }),
      onProgress: (progress, epochEnd) => context.onProgress(progress, epochEnd, { loss: progress.loss }),
      onEpochEnd: context.onEpochEnd,
    });
  } catch (error) {
    student.dispose();
    throw error;
  }
  return {
    model: student,
    tags: {
      'compression.temperature': String(spec.temperature),
      'compression.alpha': String(spec.alpha),
      'compression.student': JSON.stringify(spec.student).slice(0, 500),
      'compression.epochs': String(plan.epochs),
    },
  };
}

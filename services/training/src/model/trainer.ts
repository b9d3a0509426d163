import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import * as tf from '@tensorflow/tfjs';
import { FailedPreconditionError } from '@aimaas/runtime';
import type { Checkpoint, LoadedCheckpoint, TrainerState } from '../jobs/checkpoints.js';
import type { Batch, DataPlan } from '../data/data-source.js';
import { evaluateSplit, metricNames, toTensors } from './evaluation.js';
import { learningRateAt, type TrainingPlan } from './spec-mapping.js';
import { modelInputShape, modelOutputShape, setLearningRate, type DataShape } from './training-model.js';

/** Where the trainer is, for progress updates. */
export interface TrainerProgress {
  epoch: number;
  epochs: number;
  /** Batches done in this epoch. */
  step: number;
  stepsPerEpoch: number;
  /** Running means over the epoch so far, and at epoch ends the validation metrics and `lr`. */
  metrics: Record<string, number>;
  samplesPerSecond: number;
  etaSeconds: number;
  phase: 'training' | 'evaluating';
}

/** What the trainer needs from its job. */
export interface TrainerContext {
  /** A compiled model (its optimizer is the one whose learning rate the schedule sets). */
  model: tf.LayersModel;
  shape: DataShape;
  plan: TrainingPlan;
  data: DataPlan;
  /** Aborts on cancel and shutdown; checked between batches, so the trainer stops within one. */
  signal: AbortSignal;
  /** A checkpoint to resume from (its tensors become the trainer's: it disposes them, also when it throws). */
  resume?: LoadedCheckpoint;
  /** Every batch and every epoch end (`epochEnd` true); throttling is the callee's business. */
  onProgress(progress: TrainerProgress, epochEnd: boolean): void | Promise<void>;
  /** After each epoch: persist this checkpoint (its tensors are the trainer's: do not dispose them). */
  onEpochEnd(checkpoint: Checkpoint): Promise<void>;
  /** Called after each batch (the job's heartbeat). */
  onBatch?(): void;
  /**
   * Trains on one batch and returns `[loss, metric]` as `trainOnBatch` does (the default): a
   * data-parallel gang's step (`Gang.step`). `step` is 1-based within `epoch`.
   */
  trainStep?(batch: Batch, at: { epoch: number; step: number }): Promise<number[]>;
}

/** The loss went to NaN or infinity: retrying the same job cannot help. */
class TrainingDivergedError extends FailedPreconditionError {}

/**
 * Trains epoch by epoch with `model.trainOnBatch` (or `trainStep`) on batches streamed from the data plan: sets
 * the scheduled learning rate at each epoch start, evaluates the validation data at each end,
 * applies early stopping (restoring the best weights when asked) and hands a checkpoint (weights,
 * best weights, optimizer slots) to `onEpochEnd`; resumes from one with the same steps an unbroken
 * run would take. Every tensor it creates is disposed. Throws `signal.reason` when aborted.
 *
 * @returns the final state (its `epoch` is the last completed one).
 */
export async function runTrainer(ctx: TrainerContext): Promise<TrainerState> {
  const { model, shape, plan, data, signal } = ctx;
  const [lossName, metricName] = metricNames(shape);
  const stepsPerEpoch = Math.ceil(data.trainRows / plan.batchSize);
  const es = plan.earlyStopping && resolveMonitor(plan.earlyStopping, data.validation !== undefined);
  const state: TrainerState = ctx.resume?.state ?? {
    epoch: 0,
    history: [],
    wait: 0,
    stopped: false,
    trainSeconds: 0,
    samples: 0,
  };
  let bestWeights = ctx.resume?.bestWeights;
  const started = { seconds: state.trainSeconds, samples: state.samples };
  try {
    if (ctx.resume) {
      try {
        model.setWeights(ctx.resume.weights);
        if (ctx.resume.optimizer) await model.optimizer.setWeights(ctx.resume.optimizer);
      } finally {
        // The optimizer's slots become new variables (sharing the data), so the loaded tensors
        // go, whether or not they fitted.
        tf.dispose(ctx.resume.weights);
        tf.dispose(ctx.resume.optimizer?.map((slot) => slot.tensor) ?? []);
      }
    }
    for (let epoch = state.epoch + 1; epoch <= plan.epochs && !state.stopped; epoch++) {
      const lr = learningRateAt(plan, epoch);
      setLearningRate(model.optimizer, lr);
      let sums = [0, 0];
      let rows = 0;
      let step = 0;
      const rate = () =>
        state.trainSeconds > started.seconds
          ? (state.samples - started.samples) / (state.trainSeconds - started.seconds)
          : 0;
      let mark = performance.now();
      const eta = (samplesPerSecond: number) => {
        const left = (plan.epochs - epoch) * data.trainRows + Math.max(0, data.trainRows - rows);
        return samplesPerSecond > 0 ? left / samplesPerSecond : 0;
      };
      for await (const batch of data.train(epoch, signal)) {
        signal.throwIfAborted();
        const result = ctx.trainStep
          ? await ctx.trainStep(batch, { epoch, step: step + 1 })
          : await trainOnBatch(model, batch, shape);
        // Wall time of the training loop (reading and decoding batches included, validation not).
        const now = performance.now();
        state.trainSeconds += (now - mark) / 1_000;
        mark = now;
        state.samples += batch.rows;
        const values = Array.isArray(result) ? result : [result];
        if (!Number.isFinite(values[0])) {
          throw new TrainingDivergedError(
            `the loss became ${values[0]} at epoch ${epoch}, step ${step + 1}: lower config.optimizer.learning_rate (now ${lr})`,
          );
        }
        values.forEach((v, i) => (sums[i]! += v * batch.rows));
        rows += batch.rows;
        step++;
        const samplesPerSecond = rate();
        void ctx.onProgress(
          {
            epoch,
            epochs: plan.epochs,
            step,
            stepsPerEpoch,
            phase: 'training',
            metrics: { [lossName]: sums[0]! / rows, ...(values.length > 1 && { [metricName]: sums[1]! / rows }) },
            samplesPerSecond,
            etaSeconds: eta(samplesPerSecond),
          },
          false,
        );
        ctx.onBatch?.();
        // Let the cancel watch and the job heartbeat run between batches.
        await yieldToEventLoop();
      }
      signal.throwIfAborted();
      if (rows === 0) throw new FailedPreconditionError(`the training split has no rows (epoch ${epoch})`);
      const logs: Record<string, number> = { [lossName]: sums[0]! / rows, [metricName]: sums[1]! / rows, lr };
      if (data.validation) {
        void ctx.onProgress(
          {
            epoch,
            epochs: plan.epochs,
            step,
            stepsPerEpoch,
            phase: 'evaluating',
            metrics: logs,
            samplesPerSecond: rate(),
            etaSeconds: eta(rate()),
          },
          false,
        );
        Object.assign(logs, await evaluateSplit(model, data.validation(signal), shape, 'val_', () => ctx.onBatch?.()));
      }
      sums = [0, 0];
      state.epoch = epoch;
      state.history.push(logs);
      if (es) bestWeights = applyEarlyStopping(es, state, logs, model, bestWeights);
      const optimizer = await model.optimizer.getWeights();
      try {
        await ctx.onEpochEnd({ state, weights: model.getWeights(), ...(bestWeights && { bestWeights }), optimizer });
      } finally {
        // The slots are the optimizer's live variables, but the iteration count is a new scalar.
        tf.dispose(optimizer.map((slot) => slot.tensor).filter((t) => !(t instanceof tf.Variable)));
      }
      const samplesPerSecond = rate();
      await ctx.onProgress(
        {
          epoch,
          epochs: plan.epochs,
          step,
          stepsPerEpoch,
          phase: 'training',
          metrics: logs,
          samplesPerSecond,
          etaSeconds: state.stopped ? 0 : eta(samplesPerSecond),
        },
        true,
      );
    }
    if (es?.restoreBestWeights && bestWeights && state.best && state.best.epoch !== state.epoch) {
      model.setWeights(bestWeights);
    }
    return state;
  } finally {
    if (bestWeights) tf.dispose(bestWeights);
  }
}

/** One `model.trainOnBatch` on a batch; returns what it returns (`[loss, metric]`). */
export async function trainOnBatch(model: tf.LayersModel, batch: Batch, shape: DataShape): Promise<number | number[]> {
  const { x, y } = toTensors(batch, shape, modelInputShape(model), modelOutputShape(model));
  try {
    return await model.trainOnBatch(x, y);
  } finally {
    tf.dispose([x, y]);
  }
}

interface Monitor {
  monitor: string;
  mode: 'min' | 'max';
  patience: number;
  minDelta: number;
  restoreBestWeights: boolean;
}

/** Without validation data, `val_x` is watched as `x` on the training data. */
function resolveMonitor(es: NonNullable<TrainingPlan['earlyStopping']>, hasValidation: boolean): Monitor {
  return { ...es, monitor: !hasValidation && es.monitor.startsWith('val_') ? es.monitor.slice(4) : es.monitor };
}

/**
 * Keras-style early stopping: an epoch improves when the monitored value beats the best by more
 * than `minDelta`; after `patience` epochs (at least 1) without improvement the run stops.
 * Returns the best weights (cloned when they change, so the caller owns them).
 */
function applyEarlyStopping(
  es: Monitor,
  state: TrainerState,
  logs: Record<string, number>,
  model: tf.LayersModel,
  bestWeights: tf.Tensor[] | undefined,
): tf.Tensor[] | undefined {
  const value = logs[es.monitor];
  if (value === undefined || !Number.isFinite(value)) return bestWeights;
  const improved =
    state.best === undefined ||
    (es.mode === 'min' ? value < state.best.value - es.minDelta : value > state.best.value + es.minDelta);
  if (improved) {
    state.best = { value, epoch: state.epoch };
    state.wait = 0;
    if (!es.restoreBestWeights) return bestWeights;
    if (bestWeights) tf.dispose(bestWeights);
    return model.getWeights().map((w) => w.clone());
  }
  state.wait += 1;
  if (state.wait >= Math.max(1, es.patience)) state.stopped = true;
  return bestWeights;
}

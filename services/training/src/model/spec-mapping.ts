import type { ModelSpec as ProtoModelSpec, SubmitTrainingJobRequest, TrainingConfig } from '@aimaas/proto';
import type { ModelSpec, OptimizerOptions } from '@aimaas/ml';

/** How the learning rate changes from epoch to epoch. */
interface ScheduleSettings {
  kind: 'constant' | 'step' | 'exponential' | 'cosine';
  /** step: factor every `stepEpochs`; exponential: factor per epoch. */
  gamma: number;
  stepEpochs: number;
  /** cosine: the rate reached at the last epoch. */
  minLearningRate: number;
}

/** Early stopping as the trainer runs it. */
interface EarlyStoppingSettings {
  monitor: string;
  /** 'min' for losses and errors, 'max' for accuracies, precision, recall, F1, R². */
  mode: 'min' | 'max';
  patience: number;
  minDelta: number;
  restoreBestWeights: boolean;
}

/** A training config with every default applied: what the trainer runs. */
export interface TrainingPlan {
  optimizer: OptimizerOptions;
  schedule: ScheduleSettings;
  batchSize: number;
  epochs: number;
  seed: number;
  earlyStopping?: EarlyStoppingSettings;
  /** Fraction of train held out as validation when the prepared dataset has no validation split. */
  validationSplit: number;
}

/** The default step size of each optimizer, used when `learning_rate` is left at 0 (unset). */
const DEFAULT_LEARNING_RATES: Readonly<Record<OptimizerOptions['optimizer'], number>> = {
  sgd: 0.01,
  adam: 0.001,
  rmsprop: 0.001,
  adagrad: 0.01,
};
/** Rows per batch when `batch_size` is 0. */
export const DEFAULT_BATCH_SIZE = 32;

/**
 * Maps the proto `ModelSpec` onto `@aimaas/ml`'s. A CNN whose `input_shape` is an image over flat
 * features gets it as `imageShape`, so the model itself takes the flat pipeline output.
 */
export function toMlModelSpec(spec: ProtoModelSpec, featureShape: readonly number[]): ModelSpec {
  if (spec.mlp) {
    const { hiddenUnits, activation, dropout, batchNorm } = spec.mlp;
    return { mlp: { hiddenUnits: [...hiddenUnits], ...(activation && { activation }), dropout, batchNorm } };
  }
  if (spec.cnn) {
    const imageShape =
      spec.inputShape.length === 3 && featureShape.length === 1
        ? { imageShape: [spec.inputShape[0]!, spec.inputShape[1]!, spec.inputShape[2]!] as [number, number, number] }
        : {};
    return {
      cnn: {
        convBlocks: spec.cnn.convBlocks.map((b) => ({
          filters: b.filters,
          kernelSize: b.kernelSize,
          ...(b.strides && { strides: b.strides }),
          ...(b.pool && { pool: b.pool as 'max' | 'avg' | 'none' }),
          ...(b.poolSize && { poolSize: b.poolSize }),
          ...(b.activation && { activation: b.activation }),
          ...(b.padding && { padding: b.padding as 'same' | 'valid' }),
        })),
        denseUnits: [...spec.cnn.denseUnits],
        dropout: spec.cnn.dropout,
        ...imageShape,
      },
    };
  }
  if (spec.rnn) {
    const { cell, units, bidirectional, dropout } = spec.rnn;
    return { rnn: { cell: cell as 'lstm' | 'gru', units: [...units], bidirectional, dropout } };
  }
  if (spec.autoencoder) {
    const { encoderUnits, latentSize, activation } = spec.autoencoder;
    return { autoencoder: { encoderUnits: [...encoderUnits], latentSize, ...(activation && { activation }) } };
  }
  if (spec.linear) return { linear: {} };
  return { layersJson: spec.layersJson ?? '' };
}

/**
 * The shape the built model's own layers expect for one example. CNNs and MLPs take the flat
 * features (a CNN reshapes inside); an RNN with a `[timesteps, features]` input_shape gets a
 * Reshape in front (see `buildTrainingModel`).
 */
export function innerInputShape(spec: ProtoModelSpec, featureShape: readonly number[]): number[] {
  if (spec.rnn && spec.inputShape.length === 2) return [...spec.inputShape];
  if (spec.layersJson !== undefined && spec.inputShape.length > 0) return [...spec.inputShape];
  return [...featureShape];
}

/** The config with defaults applied. Values are assumed validated (see `validateSubmit`). */
export function toTrainingPlan(config: TrainingConfig | undefined): TrainingPlan {
  const optimizerName = (config?.optimizer?.name || 'adam') as OptimizerOptions['optimizer'];
  const learningRate = config?.optimizer?.learningRate || DEFAULT_LEARNING_RATES[optimizerName];
  const optimizer: OptimizerOptions = {
    optimizer: optimizerName,
    learningRate,
    ...(config?.optimizer?.momentum ? { momentum: config.optimizer.momentum } : {}),
    ...(config?.optimizer?.nesterov ? { nesterov: true } : {}),
  };
  const s = config?.schedule;
  const kind = (s?.kind || 'constant') as ScheduleSettings['kind'];
  const schedule: ScheduleSettings = {
    kind,
    gamma: s?.gamma || (kind === 'step' ? 0.1 : 0.95),
    stepEpochs: s?.stepEpochs || 10,
    minLearningRate: s?.minLearningRate ?? 0,
  };
  const plan: TrainingPlan = {
    optimizer,
    schedule,
    batchSize: config?.batchSize || DEFAULT_BATCH_SIZE,
    epochs: config?.epochs ?? 0,
    seed: config?.seed ?? 0,
    validationSplit: config?.validationSplit ?? 0,
  };
  const es = config?.earlyStopping;
  if (es) {
    const monitor = es.monitor || 'val_loss';
    plan.earlyStopping = {
      monitor,
      mode: metricMode(monitor),
      patience: es.patience,
      minDelta: es.minDelta,
      restoreBestWeights: es.restoreBestWeights,
    };
  }
  return plan;
}

/** Whether a metric improves downwards (losses, errors) or upwards (accuracy and friends). */
export function metricMode(metric: string): 'min' | 'max' {
  return /(acc|precision|recall|f1|r2|auc)/i.test(metric) ? 'max' : 'min';
}

/** The learning rate of 1-based `epoch` of `epochs` under the schedule. */
export function learningRateAt(plan: TrainingPlan, epoch: number): number {
  const base = plan.optimizer.learningRate;
  const { kind, gamma, stepEpochs, minLearningRate } = plan.schedule;
  const e = epoch - 1;
  switch (kind) {
    case 'step':
      return base * gamma ** Math.floor(e / stepEpochs);
    case 'exponential':
      return base * gamma ** e;
    case 'cosine': {
      const span = Math.max(1, plan.epochs - 1);
      return minLearningRate + 0.5 * (base - minLearningRate) * (1 + Math.cos((Math.PI * Math.min(e, span)) / span));
    }
    default:
      return base;
  }
}

/**
 * The request flattened into registry params: `model.mlp.hidden_units` → `[16,16]`,
 * `config.optimizer.learning_rate` → `0.01`, with defaults applied where the trainer used them.
 */
export function flattenParams(request: SubmitTrainingJobRequest, plan: TrainingPlan): Record<string, string> {
  const params: Record<string, string> = {};
  const walk = (prefix: string, value: unknown): void => {
    if (value === undefined || value === null) return;
    if (Array.isArray(value) || typeof value !== 'object') {
      params[prefix] = typeof value === 'string' ? value : JSON.stringify(value);
      return;
    }
    for (const [key, inner] of Object.entries(value)) walk(prefix ? `${prefix}.${snake(key)}` : snake(key), inner);
  };
  const model = { ...request.model };
  if (model.layersJson !== undefined) model.layersJson = `${model.layersJson.length} chars`;
  walk('model', model);
  walk('config.optimizer', {
    name: plan.optimizer.optimizer,
    learningRate: plan.optimizer.learningRate,
    momentum: plan.optimizer.momentum ?? 0,
    nesterov: plan.optimizer.nesterov ?? false,
  });
  walk('config.schedule', plan.schedule);
  walk('config', {
    batchSize: plan.batchSize,
    epochs: plan.epochs,
    seed: plan.seed,
    validationSplit: plan.validationSplit,
  });
  if (plan.earlyStopping) walk('config.early_stopping', { ...plan.earlyStopping });
  params.prepared_dataset_id = request.preparedDatasetId;
  return params;
}

/** `hiddenUnits` → `hidden_units`. */
export function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

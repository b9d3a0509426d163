import type * as tf from '@tensorflow/tfjs';
import type { PreparedDataset, SubmitTrainingJobRequest } from '@aimaas/proto';
import {
  InvalidArgumentError,
  MEMORY_BUDGET_DEFAULTS_MB,
  positiveIntegerSetting,
  ResourceExhaustedError,
} from '@aimaas/runtime';
import { InvalidModelSpecError } from '@aimaas/ml';
import { modelLayerCount, modelParameterBound } from './model/model-size.js';
import { DEFAULT_BATCH_SIZE, snake } from './model/spec-mapping.js';
import { buildTrainingModel, dataShapeOf, type DataShape } from './model/training-model.js';

const OPTIMIZERS = ['sgd', 'adam', 'rmsprop', 'adagrad'];
const SCHEDULES = ['constant', 'step', 'exponential', 'cosine'];
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MAX_BATCH_SIZE = 65_536;
/** The most data-parallel workers of one job: each step waits for the slowest of them. */
const MAX_WORKERS = 64;

/**
 * The size limits of a model and its training (see README), checked at submit before the model is
 * built: building allocates every weight, so a spec is bounded from its numbers first.
 */
const TRAINING_LIMITS = {
  /** Most parameters, bounded from the spec (`AIMAAS_TRAINING_MAX_PARAMETERS`). */
  maxParameters: positiveIntegerSetting('AIMAAS_TRAINING_MAX_PARAMETERS', 50_000_000),
  /** Most layers (hidden layers, conv blocks + dense layers, recurrent layers, topology layers). */
  maxLayers: positiveIntegerSetting('AIMAAS_TRAINING_MAX_LAYERS', 256),
  /** Most units, filters or latent size of one layer. */
  maxUnits: positiveIntegerSetting('AIMAAS_TRAINING_MAX_UNITS', 65_536),
  /** Most epochs (`AIMAAS_TRAINING_MAX_EPOCHS`). */
  maxEpochs: positiveIntegerSetting('AIMAAS_TRAINING_MAX_EPOCHS', 10_000),
  /** Longest `layers_json` topology. */
  maxLayersJsonChars: 1 << 20,
  /** The process's memory budget in MiB (`AIMAAS_TRAINING_MEMORY_MB`, as the runtime reads it). */
  memoryMb: positiveIntegerSetting('AIMAAS_TRAINING_MEMORY_MB', MEMORY_BUDGET_DEFAULTS_MB.training!),
} as const;

/** Bytes training holds per parameter: the weights, their gradients and Adam's two moments, float32. */
const BYTES_PER_PARAMETER = 16;
/** What the process needs besides the model (runtime, TF.js, the batches in flight). */
const BASELINE_MB = 512;

function exhausted(path: string, message: string): never {
  throw new ResourceExhaustedError(`${path}: ${message}`);
}

/** The sizes of the spec against {@link TRAINING_LIMITS}, before anything is allocated. */
function checkModelSize(request: SubmitTrainingJobRequest, shape: DataShape): void {
  const model = request.model!;
  const limits = TRAINING_LIMITS;
  if (model.layersJson !== undefined && model.layersJson.length > limits.maxLayersJsonChars) {
    exhausted('model.layers_json', `at most ${limits.maxLayersJsonChars} characters, got ${model.layersJson.length}`);
  }
  const layers = modelLayerCount(model);
  if (layers > limits.maxLayers)
    exhausted('model', `${layers} layers; at most ${limits.maxLayers} (AIMAAS_TRAINING_MAX_LAYERS)`);
  const widths: Array<[string, number]> = [
    ...(model.mlp?.hiddenUnits ?? []).map((u, i): [string, number] => [`model.mlp.hidden_units[${i}]`, u]),
    ...(model.cnn?.convBlocks ?? []).map((b, i): [string, number] => [
      `model.cnn.conv_blocks[${i}].filters`,
      b.filters,
    ]),
    ...(model.cnn?.denseUnits ?? []).map((u, i): [string, number] => [`model.cnn.dense_units[${i}]`, u]),
    ...(model.rnn?.units ?? []).map((u, i): [string, number] => [`model.rnn.units[${i}]`, u]),
    ...(model.autoencoder?.encoderUnits ?? []).map((u, i): [string, number] => [
      `model.autoencoder.encoder_units[${i}]`,
      u,
    ]),
    ...(model.autoencoder ? [['model.autoencoder.latent_size', model.autoencoder.latentSize] as [string, number]] : []),
  ];
  for (const [path, width] of widths)
    if (width > limits.maxUnits)
      exhausted(path, `at most ${limits.maxUnits} (AIMAAS_TRAINING_MAX_UNITS), got ${width}`);
  const parameters = modelParameterBound(model, shape);
  if (parameters > limits.maxParameters) {
    exhausted(
      'model',
      `up to ${parameters} parameters; at most ${limits.maxParameters} (AIMAAS_TRAINING_MAX_PARAMETERS)`,
    );
  }
  const neededMb = (parameters * BYTES_PER_PARAMETER) / 1024 / 1024;
  if (neededMb + BASELINE_MB > limits.memoryMb) {
    exhausted(
      'model',
      `up to ${parameters} parameters need an estimated ${neededMb.toFixed(0)} MiB to train (${BYTES_PER_PARAMETER} bytes each) plus ${BASELINE_MB} MiB; ` +
        `the memory budget is ${limits.memoryMb} MiB (AIMAAS_TRAINING_MEMORY_MB)`,
    );
  }
}

/** Throws an INVALID_ARGUMENT naming the field path, e.g. `config.epochs: must be …`. */
function invalid(path: string, message: string): never {
  throw new InvalidArgumentError(`${path}: ${message}`);
}

const positiveNumber = (value: number): boolean => Number.isFinite(value) && value > 0;

/**
 * Checks a submit request against its prepared dataset without touching anything: the spec, the
 * shapes, the config. Every problem is an `InvalidArgumentError` whose message starts with the
 * field path (`model.input_shape`, `config.optimizer.learning_rate`, …) and says what was expected.
 * Proto3 cannot tell 0 from unset, so 0 for `learning_rate`, `batch_size` and the schedule
 * settings means "the default"; negative and non-finite values are errors.
 *
 * @returns the data shape, for the caller's convenience.
 */
export async function validateSubmit(request: SubmitTrainingJobRequest, prepared: PreparedDataset): Promise<DataShape> {
  const shape = dataShapeOf(prepared);
  validateModelSpec(request, shape, prepared.id);
  validateConfig(request, shape);
  checkModelSize(request, shape);
  if (!request.skipRegistration && request.modelName !== '' && !MODEL_NAME.test(request.modelName)) {
    invalid(
      'model_name',
      `must be 1-128 letters, digits, ".", "_" or "-" starting with a letter or digit, got ${JSON.stringify(request.modelName)}`,
    );
  }
  await checkBuilds(request, shape);
  return shape;
}

function validateModelSpec(request: SubmitTrainingJobRequest, shape: DataShape, preparedId: string): void {
  const model = request.model;
  if (!model) invalid('model', 'required: set one of mlp, cnn, rnn, autoencoder, linear, layers_json');
  const kinds = (['mlp', 'cnn', 'rnn', 'autoencoder', 'linear', 'layersJson'] as const).filter(
    (k) => model[k] !== undefined,
  );
  if (kinds.length !== 1) invalid('model', 'set exactly one of mlp, cnn, rnn, autoencoder, linear, layers_json');
  model.inputShape.forEach((d, i) => {
    if (!(Number.isInteger(d) && d > 0)) invalid(`model.input_shape[${i}]`, `must be a positive integer, got ${d}`);
  });
  if (model.inputShape.length > 0) {
    const size = model.inputShape.reduce((a, b) => a * b, 1);
    if (size !== shape.featureSize) {
      invalid(
        'model.input_shape',
        `[${model.inputShape.join(', ')}] holds ${size} values, but prepared dataset "${preparedId}" has ${shape.featureSize} features per example (feature_shape [${shape.featureShape.join(', ')}])`,
      );
    }
  }
  if (model.cnn && model.inputShape.length !== 0 && model.inputShape.length !== 3) {
    invalid('model.input_shape', `a cnn needs [height, width, channels], got [${model.inputShape.join(', ')}]`);
  }
  if (model.rnn && model.inputShape.length > 2) {
    invalid('model.input_shape', `an rnn needs [timesteps, features], got [${model.inputShape.join(', ')}]`);
  }
  if (model.rnn && !['lstm', 'gru'].includes(model.rnn.cell)) {
    invalid('model.rnn.cell', `must be "lstm" or "gru", got ${JSON.stringify(model.rnn.cell)}`);
  }
  if ((model.autoencoder !== undefined) !== (shape.task === 'reconstruction') && model.layersJson === undefined) {
    invalid(
      'model',
      model.autoencoder
        ? `an autoencoder needs a reconstruction dataset, but prepared dataset "${preparedId}" is ${shape.task}`
        : `prepared dataset "${preparedId}" is a reconstruction task: use model.autoencoder (or layers_json)`,
    );
  }
  if (shape.task === 'classification' && shape.outputSize < 2) {
    invalid(
      'prepared_dataset_id',
      `prepared dataset "${preparedId}" is a classification task with ${shape.outputSize} class labels; at least 2 are needed`,
    );
  }
}

function validateConfig(request: SubmitTrainingJobRequest, shape: DataShape): void {
  const config = request.config;
  if (!config) invalid('config', 'required: at least config.epochs must be set');
  if (!(Number.isInteger(config.epochs) && config.epochs > 0))
    invalid('config.epochs', `must be a positive integer, got ${config.epochs}`);
  if (config.epochs > TRAINING_LIMITS.maxEpochs)
    exhausted(
      'config.epochs',
      `at most ${TRAINING_LIMITS.maxEpochs} (AIMAAS_TRAINING_MAX_EPOCHS), got ${config.epochs}`,
    );
  if (config.batchSize < 0 || config.batchSize > MAX_BATCH_SIZE) {
    invalid('config.batch_size', `must be in 1..${MAX_BATCH_SIZE} (0 for the default 32), got ${config.batchSize}`);
  }
  const opt = config.optimizer;
  if (opt) {
    if (opt.name !== '' && !OPTIMIZERS.includes(opt.name))
      invalid('config.optimizer.name', `must be one of ${OPTIMIZERS.join(', ')}, got ${JSON.stringify(opt.name)}`);
    if (opt.learningRate !== 0 && !positiveNumber(opt.learningRate)) {
      invalid('config.optimizer.learning_rate', `must be a positive number, got ${opt.learningRate}`);
    }
    if (!(opt.momentum >= 0 && opt.momentum < 1))
      invalid('config.optimizer.momentum', `must be in [0, 1), got ${opt.momentum}`);
    if (opt.momentum > 0 && !['sgd', 'rmsprop'].includes(opt.name)) {
      invalid('config.optimizer.momentum', `applies to sgd and rmsprop only, not ${opt.name || 'adam (the default)'}`);
    }
    if (opt.nesterov && !(opt.name === 'sgd' && opt.momentum > 0))
      invalid('config.optimizer.nesterov', 'needs optimizer sgd with momentum > 0');
  }
  const s = config.schedule;
  if (s) {
    if (s.kind !== '' && !SCHEDULES.includes(s.kind))
      invalid('config.schedule.kind', `must be one of ${SCHEDULES.join(', ')}, got ${JSON.stringify(s.kind)}`);
    if (s.gamma !== 0 && !(positiveNumber(s.gamma) && s.gamma <= 1))
      invalid('config.schedule.gamma', `must be in (0, 1], got ${s.gamma}`);
    if (s.stepEpochs < 0) invalid('config.schedule.step_epochs', `must be a positive integer, got ${s.stepEpochs}`);
    if (!(Number.isFinite(s.minLearningRate) && s.minLearningRate >= 0)) {
      invalid('config.schedule.min_learning_rate', `must be a number ≥ 0, got ${s.minLearningRate}`);
    }
  }
  const es = config.earlyStopping;
  if (es) {
    const allowed = monitorNames(shape);
    if (es.monitor !== '' && !allowed.includes(es.monitor))
      invalid(
        'config.early_stopping.monitor',
        `must be one of ${allowed.join(', ')}, got ${JSON.stringify(es.monitor)}`,
      );
    if (!(Number.isInteger(es.patience) && es.patience >= 0))
      invalid('config.early_stopping.patience', `must be an integer ≥ 0, got ${es.patience}`);
    if (!(Number.isFinite(es.minDelta) && es.minDelta >= 0))
      invalid('config.early_stopping.min_delta', `must be a number ≥ 0, got ${es.minDelta}`);
  }
  if (!(Number.isFinite(config.validationSplit) && config.validationSplit >= 0 && config.validationSplit < 1)) {
    invalid('config.validation_split', `must be in [0, 1), got ${config.validationSplit}`);
  }
  if (!(Number.isInteger(config.workers) && config.workers >= 0 && config.workers <= MAX_WORKERS)) {
    invalid(
      'config.workers',
      `must be in 0..${MAX_WORKERS} (0 or 1 for one worker, more for data-parallel training), got ${config.workers}`,
    );
  }
  const batchSize = config.batchSize || DEFAULT_BATCH_SIZE;
  if (config.workers > batchSize) {
    invalid(
      'config.batch_size',
      `must be at least config.workers (${config.workers}) so that every worker has rows of each batch, got ${batchSize}${config.batchSize === 0 ? ' (the default)' : ''}`,
    );
  }
}

/** The metric names a job reports per epoch, and so may monitor. */
function monitorNames(shape: DataShape): string[] {
  const metric = shape.task === 'classification' ? 'accuracy' : 'mae';
  return ['loss', metric, 'val_loss', `val_${metric}`];
}

/** Builds the model once (then frees it) so spec errors surface at submit time, with field paths. */
async function checkBuilds(request: SubmitTrainingJobRequest, shape: DataShape): Promise<void> {
  let model: tf.LayersModel | undefined;
  try {
    model = await buildTrainingModel(request.model!, shape, request.config?.seed ?? 0);
  } catch (error) {
    if (error instanceof InvalidModelSpecError)
      throw new InvalidArgumentError(`model: ${protoPaths(error.message)}`, { cause: error });
    if (request.model?.layersJson !== undefined) {
      throw new InvalidArgumentError(`model.layers_json: cannot build the topology: ${(error as Error).message}`, {
        cause: error,
      });
    }
    throw error;
  } finally {
    model?.dispose();
  }
}

/** Rewrites the ML library's camelCase field names (`cnn.convBlocks[1].filters`) in proto terms. */
function protoPaths(message: string): string {
  return message
    .replace(/\binputShape\b/g, 'input_shape')
    .replace(/\bcnn\.imageShape\b/g, 'input_shape')
    .replace(
      /\b(mlp|cnn|rnn|autoencoder)\.([A-Za-z]+)/g,
      (_, kind: string, field: string) => `model.${kind}.${snake(field)}`,
    )
    .replace(/\]\.([a-z][A-Za-z]+)/g, (_, field: string) => `].${snake(field)}`);
}

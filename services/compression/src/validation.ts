import {
  SubmitTrainingJobRequest,
  Task,
  type ModelVersion,
  type PreparedDataset,
  type SubmitCompressionJobRequest,
  type TrainingConfig,
} from '@aimaas/proto';
import { InvalidArgumentError, ResourceExhaustedError } from '@aimaas/runtime';
import { dataShapeOf, validateSubmit } from '@aimaas/training';
import { CALIBRATION_ROWS } from './compress-model.js';
import { COMPRESSION_LIMITS } from './limits.js';
import { evaluationSplit, splitRows } from './split-data.js';

const DTYPES = ['float16', 'uint8', 'uint16', 'int8'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const ID = /^[-_.A-Za-z0-9]+$/;

function invalid(path: string, message: string): never {
  throw new InvalidArgumentError(`${path}: ${message}`);
}

/** `text` quoted for an error message, cut to 100 characters. */
function quote(text: string): string {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}…` : text);
}

function checkName(path: string, value: string): void {
  if (value.length > COMPRESSION_LIMITS.maxNameLength) {
    throw new ResourceExhaustedError(
      `${path}: at most ${COMPRESSION_LIMITS.maxNameLength} characters, got ${value.length}`,
    );
  }
  if (!NAME.test(value))
    invalid(path, `letters, digits, ".", "_" or "-" starting with a letter or digit, got ${quote(value)}`);
}

function checkEpochs(path: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) invalid(path, `must be an integer of at least ${min}, got ${value}`);
  if (value > COMPRESSION_LIMITS.maxEpochs)
    throw new ResourceExhaustedError(`${path}: at most ${COMPRESSION_LIMITS.maxEpochs}, got ${value}`);
}

/**
 * Checks the request's own fields before anything is looked up: the source reference, exactly one
 * method and its settings, the ids. Every problem is INVALID_ARGUMENT (or RESOURCE_EXHAUSTED over a
 * limit) whose message starts with the field path.
 */
export function validateRequestFields(request: SubmitCompressionJobRequest): void {
  if (request.requestId.length > COMPRESSION_LIMITS.maxIdLength) {
    throw new ResourceExhaustedError(
      `request_id: at most ${COMPRESSION_LIMITS.maxIdLength} characters, got ${request.requestId.length}`,
    );
  }
  const source = request.source;
  if (!source || source.name === '') invalid('source.name', 'required (the registered model to compress)');
  checkName('source.name', source.name);
  if (source.alias) checkName('source.alias', source.alias);
  if (source.version !== undefined && !(Number.isInteger(source.version) && source.version >= 1))
    invalid('source.version', `must be 1 or more, got ${source.version}`);
  if (request.modelName) checkName('model_name', request.modelName);
  if (request.preparedDatasetId) {
    if (request.preparedDatasetId.length > COMPRESSION_LIMITS.maxIdLength) {
      throw new ResourceExhaustedError(`prepared_dataset_id: at most ${COMPRESSION_LIMITS.maxIdLength} characters`);
    }
    if (!ID.test(request.preparedDatasetId))
      invalid('prepared_dataset_id', `not an id: ${quote(request.preparedDatasetId)}`);
  }
  const methods = [request.quantize, request.prune, request.distill, request.cluster].filter(Boolean).length;
  if (methods !== 1) invalid('method', 'set exactly one of quantize, prune, distill, cluster');
  if (request.quantize) {
    const { dtype } = request.quantize;
    if (!DTYPES.includes(dtype)) invalid('quantize.dtype', `must be one of ${DTYPES.join(', ')}, got ${quote(dtype)}`);
    if (request.quantize.perChannel && dtype !== 'int8')
      invalid('quantize.per_channel', `applies to int8 only (TF.js ${dtype} is one range per tensor)`);
    const { activations } = request.quantize;
    if (!['', 'static', 'dynamic'].includes(activations))
      invalid('quantize.activations', `must be "static" or "dynamic", got ${quote(activations)}`);
    if (activations && dtype !== 'int8')
      invalid('quantize.activations', `applies to int8 only (TF.js ${dtype} quantizes weights only)`);
  }
  if (request.prune) {
    const p = request.prune;
    if (!(Number.isFinite(p.targetSparsity) && p.targetSparsity >= 0 && p.targetSparsity < 1)) {
      invalid('prune.target_sparsity', `must be in [0, 1), got ${p.targetSparsity}`);
    }
    checkEpochs('prune.fine_tune_epochs', p.fineTuneEpochs, 0);
    if (!Number.isInteger(p.pruningSteps) || p.pruningSteps < 0)
      invalid('prune.pruning_steps', `must be 0 (one shot) or more, got ${p.pruningSteps}`);
    if (p.pruningSteps > COMPRESSION_LIMITS.maxPruningSteps)
      throw new ResourceExhaustedError(`prune.pruning_steps: at most ${COMPRESSION_LIMITS.maxPruningSteps}`);
    if (p.pruningSteps > 0 && p.fineTuneEpochs === 0)
      invalid('prune.pruning_steps', 'gradual pruning happens while fine-tuning: set fine_tune_epochs too');
    if (!['', 'layer', 'global'].includes(p.scope))
      invalid('prune.scope', `must be "layer" or "global", got ${quote(p.scope)}`);
  }
  if (request.cluster) {
    const c = request.cluster;
    if (!Number.isInteger(c.clusters) || c.clusters < 2)
      invalid('cluster.clusters', `must be an integer of at least 2, got ${c.clusters}`);
    if (c.clusters > COMPRESSION_LIMITS.maxClusters)
      throw new ResourceExhaustedError(
        `cluster.clusters: at most ${COMPRESSION_LIMITS.maxClusters}, got ${c.clusters}`,
      );
    checkEpochs('cluster.fine_tune_epochs', c.fineTuneEpochs, 0);
    if (!['', 'kmeans++', 'linear'].includes(c.init))
      invalid('cluster.init', `must be "kmeans++" or "linear", got ${quote(c.init)}`);
  }
  if (request.distill) {
    const d = request.distill;
    if (!(Number.isFinite(d.temperature) && d.temperature > 0))
      invalid('distill.temperature', `must be greater than 0, got ${d.temperature}`);
    if (d.temperature > COMPRESSION_LIMITS.maxTemperature)
      throw new ResourceExhaustedError(
        `distill.temperature: at most ${COMPRESSION_LIMITS.maxTemperature}, got ${d.temperature}`,
      );
    if (!(Number.isFinite(d.alpha) && d.alpha >= 0 && d.alpha <= 1))
      invalid('distill.alpha', `must be in [0, 1], got ${d.alpha}`);
    if (!d.student) invalid('distill.student', 'required (the ModelSpec of the student)');
    checkEpochs('distill.config.epochs', d.config?.epochs ?? 0, 1);
  }
}

/** Training's checks of a fine-tune's TrainingConfig (optimizer, batch size, …), reported under `<method>.config`. */
async function checkTuningConfig(
  field: string,
  config: TrainingConfig | undefined,
  prepared: PreparedDataset,
): Promise<void> {
  if (!config) return;
  // Only the optimizer, batch size and seed of a fine-tune config are used; epochs come from the method.
  await asTrainingCheck(field, () =>
    validateSubmit(
      SubmitTrainingJobRequest.fromPartial({
        preparedDatasetId: prepared.id,
        model: { linear: {} },
        config: { ...config, epochs: 1 },
        skipRegistration: true,
      }),
      prepared,
    ),
  );
}

/** Runs one of training's checks, re-rooting its field path (`config.batch_size` → `prune.config.batch_size`). */
async function asTrainingCheck(field: string, check: () => Promise<unknown>): Promise<void> {
  try {
    await check();
  } catch (error) {
    if (error instanceof InvalidArgumentError || error instanceof ResourceExhaustedError) {
      const Type = error.constructor as new (message: string, options?: ErrorOptions) => Error;
      const message = error.message.startsWith('model')
        ? `student${error.message.slice('model'.length)}`
        : error.message;
      throw new Type(`${field}.${message}`, { cause: error });
    }
    throw error;
  }
}

function checkSplitFits(prepared: PreparedDataset, split: string, featureSize: number): void {
  const values = splitRows(prepared, split) * featureSize;
  if (values > COMPRESSION_LIMITS.maxSplitValues) {
    throw new ResourceExhaustedError(
      `prepared_dataset_id: split ${split} of ${prepared.id} holds ${values} feature values; a compression job holds at most ${COMPRESSION_LIMITS.maxSplitValues}`,
    );
  }
}

/**
 * Checks the request against its resolved source and prepared dataset, before anything is queued
 * or allocated: the source's size, the dataset's fit (features, task, outputs) and split sizes,
 * the fine-tune config, and a distillation's classifier and student (training's own checks and
 * limits, which bound its size from the spec and then build it once).
 */
export async function validateAgainstSource(
  request: SubmitCompressionJobRequest,
  version: ModelVersion,
  prepared: PreparedDataset,
): Promise<void> {
  const name = `${version.name}@${version.version}`;
  const sourceBytes = version.files
    .filter((f) => f.format === 'tfjs-layers' || f.format === 'onnx')
    .reduce((sum, f) => sum + Number(f.size), 0);
  if (sourceBytes > COMPRESSION_LIMITS.maxSourceBytes) {
    throw new ResourceExhaustedError(
      `source: ${name} has ${sourceBytes} bytes of model files; a compression job takes at most ${COMPRESSION_LIMITS.maxSourceBytes}`,
    );
  }
  const shape = dataShapeOf(prepared);
  const inputSize = (version.signature?.inputs[0]?.shape ?? []).slice(1).reduce((a, b) => a * Number(b), 1);
  if (inputSize !== shape.featureSize) {
    invalid(
      'prepared_dataset_id',
      `prepared dataset ${prepared.id} has ${shape.featureSize} features per row but ${name} takes ${inputSize}`,
    );
  }
  if (shape.task === 'reconstruction' || version.task === Task.TASK_RECONSTRUCTION)
    invalid(
      'source',
      `${name} is a reconstruction model; compression measures and fine-tunes classifiers and regressors`,
    );
  const taskOf = (task: Task) => Task[task].replace('TASK_', '').toLowerCase();
  if (version.task !== Task.TASK_UNSPECIFIED && taskOf(version.task) !== shape.task) {
    invalid(
      'prepared_dataset_id',
      `prepared dataset ${prepared.id} is a ${shape.task} task but ${name} is ${taskOf(version.task)}`,
    );
  }
  const outputSize = (version.signature?.outputs[0]?.shape ?? []).slice(1).reduce((a, b) => a * Number(b), 1);
  if (outputSize !== shape.outputSize) {
    invalid(
      'prepared_dataset_id',
      `prepared dataset ${prepared.id} has ${shape.outputSize} outputs per row but ${name} gives ${outputSize}`,
    );
  }
  checkSplitFits(prepared, evaluationSplit(prepared), shape.featureSize);
  const tunes = Boolean(
    request.distill ||
      (request.prune && request.prune.fineTuneEpochs > 0) ||
      (request.cluster && request.cluster.fineTuneEpochs > 0),
  );
  if (tunes || request.quantize?.dtype === 'int8') checkSplitFits(prepared, 'train', shape.featureSize);
  if (tunes && splitRows(prepared, 'train') === 0)
    invalid('prepared_dataset_id', `prepared dataset ${prepared.id} has no train rows to fine-tune on`);
  if (request.quantize?.activations === 'static') {
    const rows = splitRows(prepared, 'train');
    if (rows < CALIBRATION_ROWS.min) {
      invalid(
        'quantize.activations',
        `static int8 calibrates on at least ${CALIBRATION_ROWS.min} training rows; prepared dataset ${prepared.id} has ${rows} (use "dynamic")`,
      );
    }
  }
  await checkTuningConfig('prune', request.prune?.config, prepared);
  await checkTuningConfig('cluster', request.cluster?.config, prepared);
  if (!request.distill) return;
  if (version.task !== Task.TASK_CLASSIFICATION)
    invalid('distill', `distillation needs a classifier; ${name} is not one`);
  const d = request.distill;
  // The student is a training job's model: training's own checks and limits apply (its size is
  // bounded from the spec before it is built, once), including that its output is the prepared
  // dataset's, which is the teacher's (checked above).
  await asTrainingCheck('distill', () =>
    validateSubmit(
      SubmitTrainingJobRequest.fromPartial({
        preparedDatasetId: prepared.id,
        model: d.student,
        config: d.config,
        skipRegistration: true,
      }),
      prepared,
    ),
  );
}

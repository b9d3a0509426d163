import { SubmitTrainingJobRequest, Task, type ModelVersion, type PreparedDataset, type SubmitCompressionJobRequest } from '@aimaas/proto';
import { InvalidArgumentError, ResourceExhaustedError } from '@aimaas/runtime';
import { buildTrainingModel, dataShapeOf, validateSubmit } from '@aimaas/training';
import { CALIBRATION_ROWS } from './compress-model.js';

/**
 * The limits of a compression request (part of the contract; see README). Fine-tune epochs are
 * bounded like training epochs; the rest bounds the work of one job before it is queued.
 */
export const COMPRESSION_LIMITS = {
  /** Longest model name, source name or alias. */
  maxNameLength: 128,
  /** Longest `request_id` and `prepared_dataset_id`. */
  maxIdLength: 256,
  /** Most fine-tune epochs (prune, cluster) and distillation epochs. */
  maxEpochs: 1_000,
  /** Most gradual pruning steps. */
  maxPruningSteps: 10_000_000,
  /** Most centroids per kernel. */
  maxClusters: 65_536,
  /** Largest distillation temperature. */
  maxTemperature: 100,
} as const;

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
    throw new ResourceExhaustedError(`${path}: at most ${COMPRESSION_LIMITS.maxNameLength} characters, got ${value.length}`);
  }
  if (!NAME.test(value)) invalid(path, `letters, digits, ".", "_" or "-" starting with a letter or digit, got ${quote(value)}`);
}

function checkEpochs(path: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) invalid(path, `must be an integer of at least ${min}, got ${value}`);
  if (value > COMPRESSION_LIMITS.maxEpochs) throw new ResourceExhaustedError(`${path}: at most ${COMPRESSION_LIMITS.maxEpochs}, got ${value}`);
}

/**
 * Checks the request's own fields before anything is looked up: the source reference, exactly one
 * method and its settings, the ids. Every problem is INVALID_ARGUMENT (or RESOURCE_EXHAUSTED over a
 * limit) whose message starts with the field path.
 */
export function validateRequestFields(request: SubmitCompressionJobRequest): void {
  if (request.requestId.length > COMPRESSION_LIMITS.maxIdLength) {
    throw new ResourceExhaustedError(`request_id: at most ${COMPRESSION_LIMITS.maxIdLength} characters, got ${request.requestId.length}`);
  }
  const source = request.source;
  if (!source || source.name === '') invalid('source.name', 'required (the registered model to compress)');
  checkName('source.name', source.name);
  if (source.alias) checkName('source.alias', source.alias);
  if (source.version !== undefined && !(Number.isInteger(source.version) && source.version >= 1)) invalid('source.version', `must be 1 or more, got ${source.version}`);
  if (request.modelName) checkName('model_name', request.modelName);
  if (request.preparedDatasetId) {
    if (request.preparedDatasetId.length > COMPRESSION_LIMITS.maxIdLength) {
      throw new ResourceExhaustedError(`prepared_dataset_id: at most ${COMPRESSION_LIMITS.maxIdLength} characters`);
    }
    if (!ID.test(request.preparedDatasetId)) invalid('prepared_dataset_id', `not an id: ${quote(request.preparedDatasetId)}`);
  }
  const methods = [request.quantize, request.prune, request.distill, request.cluster].filter(Boolean).length;
  if (methods !== 1) invalid('method', 'set exactly one of quantize, prune, distill, cluster');
  if (request.quantize) {
    const { dtype } = request.quantize;
    if (!DTYPES.includes(dtype)) invalid('quantize.dtype', `must be one of ${DTYPES.join(', ')}, got ${quote(dtype)}`);
    if (request.quantize.perChannel && dtype !== 'int8') invalid('quantize.per_channel', `applies to int8 only (TF.js ${dtype} is one range per tensor)`);
    const { activations } = request.quantize;
    if (!['', 'static', 'dynamic'].includes(activations)) invalid('quantize.activations', `must be "static" or "dynamic", got ${quote(activations)}`);
    if (activations && dtype !== 'int8') invalid('quantize.activations', `applies to int8 only (TF.js ${dtype} quantizes weights only)`);
  }
  if (request.prune) {
    const p = request.prune;
    if (!(Number.isFinite(p.targetSparsity) && p.targetSparsity >= 0 && p.targetSparsity < 1)) {
      invalid('prune.target_sparsity', `must be in [0, 1), got ${p.targetSparsity}`);
    }
    checkEpochs('prune.fine_tune_epochs', p.fineTuneEpochs, 0);
    if (!Number.isInteger(p.pruningSteps) || p.pruningSteps < 0) invalid('prune.pruning_steps', `must be 0 (one shot) or more, got ${p.pruningSteps}`);
    if (p.pruningSteps > COMPRESSION_LIMITS.maxPruningSteps) throw new ResourceExhaustedError(`prune.pruning_steps: at most ${COMPRESSION_LIMITS.maxPruningSteps}`);
    if (p.pruningSteps > 0 && p.fineTuneEpochs === 0) invalid('prune.pruning_steps', 'gradual pruning happens while fine-tuning: set fine_tune_epochs too');
    if (!['', 'layer', 'global'].includes(p.scope)) invalid('prune.scope', `must be "layer" or "global", got ${quote(p.scope)}`);
  }
  if (request.cluster) {
    const c = request.cluster;
    if (!Number.isInteger(c.clusters) || c.clusters < 2) invalid('cluster.clusters', `must be an integer of at least 2, got ${c.clusters}`);
    if (c.clusters > COMPRESSION_LIMITS.maxClusters) throw new ResourceExhaustedError(`cluster.clusters: at most ${COMPRESSION_LIMITS.maxClusters}, got ${c.clusters}`);
    checkEpochs('cluster.fine_tune_epochs', c.fineTuneEpochs, 0);
    if (!['', 'kmeans++', 'linear'].includes(c.init)) invalid('cluster.init', `must be "kmeans++" or "linear", got ${quote(c.init)}`);
  }
  if (request.distill) {
    const d = request.distill;
    if (!(Number.isFinite(d.temperature) && d.temperature > 0)) invalid('distill.temperature', `must be greater than 0, got ${d.temperature}`);
    if (d.temperature > COMPRESSION_LIMITS.maxTemperature) invalid('distill.temperature', `at most ${COMPRESSION_LIMITS.maxTemperature}, got ${d.temperature}`);
    if (!(Number.isFinite(d.alpha) && d.alpha >= 0 && d.alpha <= 1)) invalid('distill.alpha', `must be in [0, 1], got ${d.alpha}`);
    if (!d.student) invalid('distill.student', 'required (the ModelSpec of the student)');
    checkEpochs('distill.config.epochs', d.config?.epochs ?? 0, 1);
  }
}

/**
 * Checks the request against its resolved source and prepared dataset: the dataset must fit the
 * source's input, a distillation needs a classifier and a student that builds (within training's
 * limits) with the teacher's output shape.
 */
export async function validateAgainstSource(request: SubmitCompressionJobRequest, version: ModelVersion, prepared: PreparedDataset): Promise<void> {
  const shape = dataShapeOf(prepared);
  const inputSize = (version.signature?.inputs[0]?.shape ?? []).slice(1).reduce((a, b) => a * Number(b), 1);
  if (inputSize !== shape.featureSize) {
    invalid('prepared_dataset_id', `prepared dataset ${prepared.id} has ${shape.featureSize} features per row but ${version.name}@${version.version} takes ${inputSize}`);
  }
  if (request.quantize?.activations === 'static') {
    const rows = Number(prepared.splits.find((split) => split.name === 'train')?.rows ?? 0);
    if (rows < CALIBRATION_ROWS.min) {
      invalid('quantize.activations', `static int8 calibrates on at least ${CALIBRATION_ROWS.min} training rows; prepared dataset ${prepared.id} has ${rows} (use "dynamic")`);
    }
  }
  if (!request.distill) return;
  if (version.task !== Task.TASK_CLASSIFICATION) invalid('distill', `distillation needs a classifier; ${version.name}@${version.version} is not one`);
  const d = request.distill;
  // The student is a training job's model: training's own checks (limits included) apply.
  try {
    await validateSubmit(SubmitTrainingJobRequest.fromPartial({ preparedDatasetId: prepared.id, model: d.student, config: d.config, skipRegistration: true }), prepared);
  } catch (error) {
    if (error instanceof InvalidArgumentError || error instanceof ResourceExhaustedError) {
      const Type = error.constructor as new (message: string, options?: ErrorOptions) => Error;
      const message = error.message.startsWith('model') ? `student${error.message.slice('model'.length)}` : error.message;
      throw new Type(`distill.${message}`, { cause: error });
    }
    throw error;
  }
  const student = await buildTrainingModel(d.student!, shape, 1);
  try {
    const studentOut = (student.outputs[0]!.shape.slice(1) as number[]).join(',');
    const teacherOut = (version.signature?.outputs[0]?.shape ?? []).slice(1).map(Number).join(',');
    if (studentOut !== teacherOut) invalid('distill.student', `its output shape [${studentOut}] differs from the teacher's [${teacherOut}]`);
  } finally {
    student.dispose();
  }
}

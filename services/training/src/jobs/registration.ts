import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { ModelRef, Task, type ModelVersion, type PreparedDataset, type SubmitTrainingJobRequest } from '@aimaas/proto';
import { exportOnnx, MODEL_JSON, OnnxExportError, saveModelToBytes, WEIGHTS_BIN } from '@aimaas/ml';
import { uploadModelVersion, type RegistryClient, type UploadFile } from '@aimaas/sdk';
import { flattenParams, type TrainingPlan } from '../model/spec-mapping.js';
import { modelInputShape, modelOutputShape, type DataShape } from '../model/training-model.js';

/** The registry calls registration makes. */
export type RegistrySink = Pick<RegistryClient, 'createModelVersion' | 'searchModelVersions'>;

/** The ONNX file of a registered version. */
const ONNX_FILE = 'model.onnx';
/** Largest |ONNX − TF.js| accepted on the parity check before the ONNX file is left out. */
const PARITY_TOLERANCE = 1e-3;

/** What a finished job registers. */
export interface RegistrationInput {
  jobId: string;
  request: SubmitTrainingJobRequest;
  prepared: PreparedDataset;
  shape: DataShape;
  plan: TrainingPlan;
  model: tf.LayersModel;
  /** Test-split metrics. */
  metrics: Record<string, number>;
  /** Epochs actually trained (fewer than planned after early stopping). */
  epochsTrained: number;
  signal: AbortSignal;
}

/** The ONNX export and its check against TF.js: the bytes, or why there are none. */
export type OnnxResult = { bytes: Uint8Array; maxAbsDiff: number } | { error: string };

/**
 * Exports `model` to ONNX and runs it in onnxruntime on a few deterministic inputs next to
 * `model.predict`. A layer the exporter cannot express (`OnnxExportError`) or a mismatch above
 * 1e-3 gives `{ error }` instead of bytes: the version then serves with the TF.js runtime.
 */
export async function exportCheckedOnnx(model: tf.LayersModel, jobId: string): Promise<OnnxResult> {
  let bytes: Uint8Array;
  try {
    bytes = exportOnnx(model, { metadata: { training_job: jobId } });
  } catch (error) {
    if (error instanceof OnnxExportError) return { error: error.message };
    throw error;
  }
  const inputShape = modelInputShape(model);
  const rows = 4;
  const size = inputShape.reduce((a, b) => a * b, 1);
  const input = Float32Array.from({ length: rows * size }, (_, i) => Math.sin(i * 12.9898) * 2);
  const session = await ort.InferenceSession.create(bytes);
  try {
    const result = await session.run({
      [session.inputNames[0]!]: new ort.Tensor('float32', input, [rows, ...inputShape]),
    });
    const onnx = result[session.outputNames[0]!]!.data as Float32Array;
    const expected = tf.tidy(() => model.predict(tf.tensor(input, [rows, ...inputShape])) as tf.Tensor);
    const tfjs = (await expected.data()) as Float32Array;
    expected.dispose();
    let maxAbsDiff = 0;
    for (let i = 0; i < tfjs.length; i++)
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(tfjs[i]! - (onnx[i] ?? Number.NaN)));
    if (!(maxAbsDiff <= PARITY_TOLERANCE) || onnx.length !== tfjs.length) {
      return { error: `ONNX output differs from TF.js by up to ${maxAbsDiff} (tolerance ${PARITY_TOLERANCE})` };
    }
    return { bytes, maxAbsDiff };
  } finally {
    await session.release();
  }
}

/**
 * Registers a trained model as a new version of `request.model_name` (created when missing;
 * default: the imported dataset's name): `tfjs-layers` files (model.json + weights.bin) and, when
 * the export succeeds, `onnx` (model.onnx); test metrics; the request flattened into params; the
 * signature `input FP32 [-1, …input shape]` → `output FP32 [-1, …output shape]`; class labels; the
 * prepared dataset's fitted pipeline; lineage (dataset, prepared dataset, training job). The tag
 * `training_job` names the job, which lets a redelivered job find a version it registered before
 * dying (see {@link findRegisteredVersion}).
 */
export async function registerModel(
  registry: RegistrySink,
  input: RegistrationInput,
  onnx: OnnxResult,
): Promise<ModelVersion> {
  const { jobId, request, prepared, shape, plan, model } = input;
  const { files: tfjsFiles } = await saveModelToBytes(model, {
    userDefinedMetadata: { training_job: jobId, class_labels: shape.classLabels },
  });
  const files: UploadFile[] = [
    { path: MODEL_JSON, format: 'tfjs-layers', source: tfjsFiles.get(MODEL_JSON)! },
    { path: WEIGHTS_BIN, format: 'tfjs-layers', source: tfjsFiles.get(WEIGHTS_BIN)! },
  ];
  const tags: Record<string, string> = { ...request.tags, training_job: jobId };
  if ('bytes' in onnx) files.push({ path: ONNX_FILE, format: 'onnx', source: onnx.bytes });
  else tags.onnx_export_error = onnx.error.slice(0, 500);
  const params = { ...flattenParams(request, plan), 'training.epochs_trained': String(input.epochsTrained) };
  const outputShape = modelOutputShape(model);
  return uploadModelVersion(
    registry,
    {
      name: modelNameOf(request, prepared),
      description: request.description || `trained by job ${jobId} on prepared dataset ${prepared.id}`,
      tags,
      params,
      metrics: input.metrics,
      task: taskOf(shape),
      classLabels: shape.classLabels,
      signature: {
        inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, ...modelInputShape(model)] }],
        outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, ...outputShape] }],
      },
      pipelineJson: prepared.pipelineJson,
      lineage: {
        dataset: prepared.dataset,
        preparedDatasetId: prepared.id,
        trainingJobId: jobId,
        parent: undefined,
        compressionJobId: '',
      },
      createModel: true,
    },
    files,
    { signal: input.signal },
  );
}

/** The registered model name of a job: `model_name`, else the imported dataset's name. */
export function modelNameOf(request: SubmitTrainingJobRequest, prepared: PreparedDataset): string {
  return request.modelName || prepared.dataset?.name || `prepared-${prepared.id}`;
}

/** A version an earlier delivery of `jobId` registered before it could record it, if any. */
export async function findRegisteredVersion(
  registry: RegistrySink,
  name: string,
  jobId: string,
  signal: AbortSignal,
): Promise<ModelRef | undefined> {
  try {
    const found = await registry.searchModelVersions(
      { filter: `name = ${JSON.stringify(name)} AND tags.training_job = ${JSON.stringify(jobId)}`, pageSize: 1 },
      { signal },
    );
    const version = found.versions?.[0];
    return version ? ModelRef.fromPartial({ name: version.name, version: version.version }) : undefined;
  } catch {
    return undefined;
  }
}

function taskOf(shape: DataShape): Task {
  if (shape.task === 'classification') return Task.TASK_CLASSIFICATION;
  if (shape.task === 'regression') return Task.TASK_REGRESSION;
  return Task.TASK_RECONSTRUCTION;
}

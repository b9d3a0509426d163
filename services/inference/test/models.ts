import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs';
import { buildModel, exportOnnx, initBackend, saveModelToBytes } from '@aimaas/ml';
import {
  fitPipeline,
  serializePipeline,
  tableFromRecords,
  transformRecords,
  type FittedPipeline,
} from '@aimaas/pipeline';
import { Task, type ModelVersion } from '@aimaas/proto';
import { uploadModelVersion, type RegistryClient, type UploadFile } from '@aimaas/sdk';
import { fixturePath } from '@aimaas/testing';

/** A small model built in the test: its ONNX bytes, TF.js files and the model itself. */
export interface TestModel {
  model: tf.LayersModel;
  onnx: Uint8Array;
  tfjs: Map<string, Uint8Array>;
  inputSize: number;
  classes: number;
}

/** A seeded MLP classifier: `inputSize` features → `classes` softmax probabilities. */
export async function makeModel(seed: number, inputSize = 4, classes = 3, hiddenUnits = [8]): Promise<TestModel> {
  await initBackend();
  const model = await buildModel(
    { mlp: { hiddenUnits } },
    { inputShape: [inputSize], outputSize: classes, task: 'classification', seed },
  );
  const { files } = await saveModelToBytes(model);
  return { model, onnx: exportOnnx(model), tfjs: files, inputSize, classes };
}

/** Options of {@link registerModel}. */
export interface RegisterOptions {
  /** Upload the onnx file. @default true */
  onnx?: boolean;
  /** Upload the tfjs-layers files. @default true */
  tfjs?: boolean;
  classLabels?: string[];
  pipeline?: FittedPipeline;
}

/** Uploads a test model as a new version of `name` (created when missing). */
export async function registerModel(
  registry: RegistryClient,
  name: string,
  m: TestModel,
  options: RegisterOptions = {},
): Promise<ModelVersion> {
  const files: UploadFile[] = [];
  if (options.onnx ?? true) files.push({ path: 'model.onnx', format: 'onnx', source: m.onnx });
  if (options.tfjs ?? true) {
    for (const [path, bytes] of m.tfjs) files.push({ path: `tfjs/${path}`, format: 'tfjs-layers', source: bytes });
  }
  return uploadModelVersion(
    registry,
    {
      name,
      createModel: true,
      task: Task.TASK_CLASSIFICATION,
      classLabels: options.classLabels ?? Array.from({ length: m.classes }, (_, k) => `class${k}`),
      signature: {
        inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, m.inputSize] }],
        outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, m.classes] }],
      },
      pipelineJson: options.pipeline ? serializePipeline(options.pipeline) : '',
    },
    files,
  );
}

/** The same input through ONNX Runtime in this process: the reference the service must match. */
export async function onnxReference(m: TestModel, input: Float32Array, rows: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(m.onnx);
  try {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, [rows, m.inputSize]) });
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** The same input through TF.js. */
export function tfjsReference(m: TestModel, input: Float32Array, rows: number): Float32Array {
  const output = tf.tidy(() => m.model.predict(tf.tensor2d(input, [rows, m.inputSize])) as tf.Tensor);
  try {
    return output.dataSync() as Float32Array;
  } finally {
    output.dispose();
  }
}

/** Deterministic pseudo-random features in [-2, 2). */
export function features(rows: number, width: number, seed = 1): Float32Array {
  let state = seed >>> 0 || 1;
  return Float32Array.from({ length: rows * width }, () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return Math.fround((state / 2 ** 32) * 4 - 2);
  });
}

/** The iris fixture as records, its fitted pipeline, and the records' features. */
export async function irisPipeline(): Promise<{
  records: Record<string, unknown>[];
  pipeline: FittedPipeline;
  features: Float32Array;
}> {
  const [header, ...lines] = (await readFile(fixturePath('iris.csv'), 'utf8')).trim().split(/\r?\n/);
  const columns = header!.split(',');
  const records = lines.map((line) =>
    Object.fromEntries(line.split(',').map((v, i) => [columns[i]!, i < 4 ? Number(v) : v])),
  );
  const pipeline = fitPipeline(tableFromRecords(records), { target: 'species', task: 'classification' });
  const inputs = records.map(({ species: _, ...rest }) => rest);
  return { records: inputs, pipeline, features: transformRecords(pipeline, inputs, { labels: false }).features };
}

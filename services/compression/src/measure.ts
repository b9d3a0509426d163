import { gzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { ModelMeasurement } from '@aimaas/proto';
import {
  accuracy,
  argmaxRows,
  loadModelFromFiles,
  logLoss,
  meanAbsoluteError,
  rootMeanSquaredError,
  type Task,
} from '@aimaas/ml';
import type { SplitData } from './split-data.js';

/** One file of a model version, in memory. */
export interface ArtifactFile {
  path: string;
  format: string;
  bytes: Uint8Array;
}

/** What measuring a version needs besides its files. */
export interface MeasureContext {
  task: Task;
  /** Classes (classification) or outputs per row. */
  outputSize: number;
  /** The split the metrics are measured on. */
  data: SplitData;
  /** How the pipeline scaled a regression target, so errors are in the target's units. */
  scaling?: { center: number; scale: number };
  /** The format `size_bytes` / `gzipped_bytes` describe. */
  primaryFormat: string;
  /**
   * Latency runs: at least `batch1` and `batch256` runs after warm-up, and for at least `minMs`
   * milliseconds each, so a small model's median is not one scheduler hiccup.
   * @default { batch1: 100, batch256: 10, minMs: 250 }
   */
  runs?: { batch1: number; batch256: number; minMs?: number };
}

/** A batch prediction: row-major outputs for `rows` rows of features. */
type Predict = (features: Float32Array, rows: number) => Promise<Float32Array>;

/** The median of `values`. */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The metrics of `predict` on `data`: accuracy and log loss, or RMSE and MAE in target units. */
async function splitMetrics(
  predict: Predict,
  context: Pick<MeasureContext, 'task' | 'outputSize' | 'data' | 'scaling'>,
): Promise<Record<string, number>> {
  const { data, outputSize, task } = context;
  const featureSize = data.rows === 0 ? 0 : data.features.length / data.rows;
  const outputs = new Float32Array(data.rows * outputSize);
  for (let start = 0; start < data.rows; start += 256) {
    const rows = Math.min(256, data.rows - start);
    outputs.set(
      await predict(data.features.subarray(start * featureSize, (start + rows) * featureSize), rows),
      start * outputSize,
    );
  }
  if (task === 'classification') {
    return {
      accuracy: accuracy(data.labels, argmaxRows(outputs, outputSize)),
      log_loss: logLoss(data.labels, outputs, outputSize),
    };
  }
  const scale = context.scaling?.scale ?? 1;
  const truth = Float32Array.from(data.labels, (v) => v * scale);
  const predicted = Float32Array.from({ length: data.rows }, (_, i) => outputs[i * outputSize]! * scale);
  return { rmse: rootMeanSquaredError(truth, predicted), mae: meanAbsoluteError(truth, predicted) };
}

/** Predicts with a TF.js model in batches, reading outputs outside `tidy`. */
function tfjsPredict(model: tf.LayersModel): Predict {
  const inputShape = model.inputs[0]!.shape.slice(1) as number[];
  return async (features, rows) => {
    const output = tf.tidy(() => model.predict(tf.tensor(features, [rows, ...inputShape], 'float32')) as tf.Tensor);
    try {
      return (await output.data()) as Float32Array;
    } finally {
      output.dispose();
    }
  };
}

/** Opens an ONNX Runtime session the way inference serves it here (one intra- and inter-op thread). */
function openOnnxSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}

/** Predicts with an ONNX Runtime session whose one input is `[batch, …inputShape]`. */
function onnxPredict(session: ort.InferenceSession, inputShape: number[]): Predict {
  const input = session.inputNames[0]!;
  const output = session.outputNames[0]!;
  return async (features, rows) => {
    const result = await session.run({ [input]: new ort.Tensor('float32', features, [rows, ...inputShape]) });
    return result[output]!.data as Float32Array;
  };
}

/** Median milliseconds of `predict` on a batch of `rows` deterministic rows, over at least `runs` runs lasting at least `minMs`. */
async function latencyMs(
  predict: Predict,
  rows: number,
  featureSize: number,
  runs: number,
  minMs: number,
): Promise<number> {
  const input = Float32Array.from({ length: rows * featureSize }, (_, i) => Math.sin(i * 12.9898) * 1.5);
  for (let i = 0; i < Math.max(2, Math.ceil(runs / 10)); i++) await predict(input, rows);
  const times: number[] = [];
  const start = performance.now();
  // At most 100× the asked runs, so a slow model cannot make the minimum time take for ever.
  while (times.length < runs || (performance.now() - start < minMs && times.length < 100 * runs)) {
    const begin = process.hrtime.bigint();
    await predict(input, rows);
    times.push(Number(process.hrtime.bigint() - begin) / 1e6);
  }
  return median(times);
}

/**
 * Measures a version from its files, as they are (or will be) registered: bytes raw and gzipped
 * (level 9) per format; parameters and non-zero parameters of its TF.js weights as TF.js decodes
 * them; the split's metrics and ONNX Runtime latency at batch 1 and 256 from its ONNX file (the
 * runtime inference serves it with), or metrics from TF.js when it has none (latency then 0).
 */
export async function measureArtifacts(
  files: readonly ArtifactFile[],
  context: MeasureContext,
): Promise<ModelMeasurement> {
  const formats = new Map<string, { sizeBytes: number; gzippedBytes: number }>();
  for (const file of files) {
    const entry = formats.get(file.format) ?? { sizeBytes: 0, gzippedBytes: 0 };
    entry.sizeBytes += file.bytes.byteLength;
    entry.gzippedBytes += gzipSync(file.bytes, { level: 9 }).byteLength;
    formats.set(file.format, entry);
  }
  const tfjsFiles = new Map(files.filter((f) => f.format === 'tfjs-layers').map((f) => [f.path, f.bytes]));
  const model = await loadModelFromFiles(tfjsFiles);
  let parameters = 0;
  let nonzero = 0;
  let metrics: Record<string, number>;
  let latency1 = 0;
  let latency256 = 0;
  try {
    for (const weight of model.getWeights()) {
      const values = weight.dataSync();
      parameters += values.length;
      for (const v of values) if (v !== 0) nonzero++;
    }
    const onnxFile = files.find((f) => f.format === 'onnx');
    if (onnxFile) {
      const session = await openOnnxSession(onnxFile.bytes);
      try {
        const inputShape = model.inputs[0]!.shape.slice(1) as number[];
        const predict = onnxPredict(session, inputShape);
        metrics = await splitMetrics(predict, context);
        const featureSize = inputShape.reduce((a, b) => a * b, 1);
        const runs = context.runs ?? { batch1: 100, batch256: 10 };
        latency1 = await latencyMs(predict, 1, featureSize, runs.batch1, runs.minMs ?? 250);
        latency256 = await latencyMs(predict, 256, featureSize, runs.batch256, runs.minMs ?? 250);
      } finally {
        await session.release();
      }
    } else {
      metrics = await splitMetrics(tfjsPredict(model), context);
    }
  } finally {
    model.dispose();
  }
  const primary = formats.get(context.primaryFormat) ?? { sizeBytes: 0, gzippedBytes: 0 };
  return ModelMeasurement.fromPartial({
    sizeBytes: primary.sizeBytes,
    gzippedBytes: primary.gzippedBytes,
    parameters,
    nonzeroParameters: nonzero,
    metrics,
    latencyMsBatch1: latency1,
    latencyMsBatch256: latency256,
    formats: [...formats].map(([format, size]) => ({ format, ...size })),
    metricsSplit: context.data.split,
    format: context.primaryFormat,
  });
}

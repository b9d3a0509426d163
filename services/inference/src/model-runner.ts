import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs';
import type { TensorSpec } from '@aimaas/proto';
import { initBackend, loadModelFromFiles } from '@aimaas/ml';
import { FailedPreconditionError } from '@aimaas/runtime';
import { ELEMENT_TYPES, OIP_DATATYPES, type ElementArray, type ElementType, type RunnerTensor } from './datatypes.js';

/** A model input or output as the server checks requests against it: its element type included. */
export interface TensorInfo extends TensorSpec {
  type: ElementType;
}

/** A loaded model that runs batches; the runtime behind a deployment. */
export interface ModelRunner {
  readonly runtime: 'onnx' | 'tfjs';
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** Runs one batch: every input by name, every output by name. */
  run(feeds: Readonly<Record<string, RunnerTensor>>): Promise<Record<string, RunnerTensor>>;
  /** Frees the session or the model's tensors. */
  release(): Promise<void>;
}

function infoOf(name: string, datatype: string, shape: readonly (number | string | null)[]): TensorInfo {
  const type = ELEMENT_TYPES[datatype];
  if (type === undefined) {
    throw new FailedPreconditionError(
      `tensor "${name}" has datatype ${datatype}, which this server does not serve (supported: ${Object.keys(ELEMENT_TYPES).join(', ')})`,
    );
  }
  return { name, datatype, shape: shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)), type };
}

function oipOfOrt(type: string): string {
  return (OIP_DATATYPES as Record<string, string>)[type] ?? type.toUpperCase();
}

/**
 * An ONNX Runtime session over a model file's path (ONNX Runtime reads it, and any external data
 * beside it, into native memory) or its bytes. Inputs and outputs come from the model itself
 * (symbolic dimensions are -1); `signature` only fills in shapes the model leaves out.
 */
export async function createOnnxRunner(
  model: string | Uint8Array,
  signature?: { inputs: TensorSpec[]; outputs: TensorSpec[] },
): Promise<ModelRunner> {
  // No spinning worker threads: on a few shared cores they starve the event loop serving gRPC.
  const options: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
  const session =
    typeof model === 'string'
      ? await ort.InferenceSession.create(model, options)
      : await ort.InferenceSession.create(model, options);
  const describe = (
    metadata: readonly ort.InferenceSession.ValueMetadata[],
    names: readonly string[],
    specs: TensorSpec[] = [],
  ) =>
    names.map((name, i) => {
      const meta = metadata[i];
      if (meta?.isTensor) return infoOf(name, oipOfOrt(meta.type), meta.shape);
      const spec = specs.find((s) => s.name === name) ?? specs[i];
      return infoOf(name, spec?.datatype ?? 'FP32', spec?.shape ?? [-1]);
    });
  const inputs = describe(session.inputMetadata ?? [], session.inputNames, signature?.inputs);
  const outputs = describe(session.outputMetadata ?? [], session.outputNames, signature?.outputs);
  return {
    runtime: 'onnx',
    inputs,
    outputs,
    async run(feeds) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) {
        ortFeeds[name] = new ort.Tensor(t.type, t.type === 'bool' ? (t.data as Uint8Array) : t.data, t.dims);
      }
      const results = await session.run(ortFeeds);
      const out: Record<string, RunnerTensor> = {};
      for (const { name, type } of outputs) {
        const tensor = results[name]!;
        out[name] = { type, data: tensor.data as ElementArray, dims: tensor.dims.slice() };
      }
      return out;
    },
    release: () => session.release(),
  };
}

/** The serving names TF.js models get: those of the signature, else ONNX export's `input`, `input_1`… */
function tfjsNames(count: number, base: string, specs: TensorSpec[] | undefined): string[] {
  return Array.from({ length: count }, (_, i) => specs?.[i]?.name || (i === 0 ? base : `${base}_${i}`));
}

/** A TF.js layers model (the fallback runtime when a version has no ONNX file). */
export async function createTfjsRunner(
  files: ReadonlyMap<string, Uint8Array>,
  signature?: { inputs: TensorSpec[]; outputs: TensorSpec[] },
): Promise<ModelRunner> {
  await initBackend();
  const model = await loadModelFromFiles(files);
  const inputNames = tfjsNames(model.inputs.length, 'input', signature?.inputs);
  const outputNames = tfjsNames(model.outputs.length, 'output', signature?.outputs);
  const inputs = model.inputs.map((t, i) => infoOf(inputNames[i]!, t.dtype === 'int32' ? 'INT32' : 'FP32', t.shape));
  const outputs = model.outputs.map((t, i) => infoOf(outputNames[i]!, 'FP32', t.shape));
  return {
    runtime: 'tfjs',
    inputs,
    outputs,
    async run(feeds) {
      const xs = inputs.map(({ name }) => {
        const feed = feeds[name]!;
        return tf.tensor(
          feed.data as Float32Array | Int32Array,
          feed.dims,
          feed.type === 'int32' ? 'int32' : 'float32',
        );
      });
      try {
        const predicted = model.predict(xs.length === 1 ? xs[0]! : xs) as tf.Tensor | tf.Tensor[];
        const ys = Array.isArray(predicted) ? predicted : [predicted];
        const out: Record<string, RunnerTensor> = {};
        for (const [i, y] of ys.entries()) {
          out[outputNames[i]!] = { type: 'float32', data: (await y.data()) as Float32Array, dims: y.shape.slice() };
          y.dispose();
        }
        return out;
      } finally {
        for (const x of xs) x.dispose();
      }
    },
    async release() {
      model.dispose();
    },
  };
}

/** A zero-filled batch of `rows` rows for every input: the warm-up feed. */
export function zeroFeeds(inputs: readonly TensorInfo[], rows = 1): Record<string, RunnerTensor> {
  const feeds: Record<string, RunnerTensor> = {};
  for (const input of inputs) {
    const dims = input.shape.map((d, i) => (i === 0 ? rows : d < 0 ? 1 : d));
    const count = dims.reduce((n, d) => n * d, 1);
    const data: ElementArray =
      input.type === 'float32'
        ? new Float32Array(count)
        : input.type === 'float64'
          ? new Float64Array(count)
          : input.type === 'int32'
            ? new Int32Array(count)
            : input.type === 'int64'
              ? new BigInt64Array(count)
              : new Uint8Array(count);
    feeds[input.name] = { type: input.type, data, dims };
  }
  return feeds;
}

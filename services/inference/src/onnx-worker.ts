/**
 * The worker thread behind an ONNX runner: it owns one ONNX Runtime session and runs its batches,
 * so a batch's compute (ONNX Runtime's `run` is synchronous inside the call) never blocks the
 * event loop that serves gRPC. Messages: `run` → `result` or `error`; `release` → `released`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { ElementArray, ElementType } from './datatypes.js';

/** What the runner hands the worker at start. */
export interface OnnxWorkerData {
  model: string | Uint8Array;
  options: ort.InferenceSession.SessionOptions;
}

/** A tensor crossing the thread boundary. */
export interface WireRunnerTensor {
  type: ElementType;
  data: ElementArray;
  dims: number[];
}

export type ToWorker = { kind: 'run'; id: number; feeds: Record<string, WireRunnerTensor> } | { kind: 'release' };

export type FromWorker =
  | { kind: 'ready'; inputNames: string[]; outputNames: string[]; inputMetadata: ort.InferenceSession.ValueMetadata[]; outputMetadata: ort.InferenceSession.ValueMetadata[] }
  | { kind: 'failed'; message: string }
  | { kind: 'result'; id: number; outputs: Record<string, { data: ElementArray; dims: number[] }> }
  | { kind: 'error'; id: number; message: string }
  | { kind: 'released' };

/** The buffer of `data` when handing it over cannot disturb anyone else's view of it. */
function transferable(data: ElementArray): ArrayBuffer | undefined {
  const buffer = data.buffer as ArrayBuffer;
  return data.byteOffset === 0 && data.byteLength === buffer.byteLength ? buffer : undefined;
}

async function serve(port: NonNullable<typeof parentPort>, { model, options }: OnnxWorkerData): Promise<void> {
  let session: ort.InferenceSession;
  try {
    session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
  } catch (error) {
    port.postMessage({ kind: 'failed', message: error instanceof Error ? error.message : String(error) } satisfies FromWorker);
    return;
  }
  port.on('message', (message: ToWorker) => {
    if (message.kind === 'release') {
      void session.release().finally(() => port.postMessage({ kind: 'released' } satisfies FromWorker));
      return;
    }
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(message.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
    session.run(feeds).then(
      (results) => {
        const outputs: Record<string, { data: ElementArray; dims: number[] }> = {};
        const transfer: ArrayBuffer[] = [];
        for (const [name, tensor] of Object.entries(results)) {
          const data = tensor.data as ElementArray;
          outputs[name] = { data, dims: tensor.dims.slice() };
          const buffer = transferable(data);
          if (buffer) transfer.push(buffer);
        }
        port.postMessage({ kind: 'result', id: message.id, outputs } satisfies FromWorker, transfer);
      },
      (error: unknown) => port.postMessage({ kind: 'error', id: message.id, message: error instanceof Error ? error.message : String(error) } satisfies FromWorker),
    );
  });
  port.postMessage({
    kind: 'ready',
    inputNames: [...session.inputNames],
    outputNames: [...session.outputNames],
    inputMetadata: [...(session.inputMetadata ?? [])],
    outputMetadata: [...(session.outputMetadata ?? [])],
  } satisfies FromWorker);
}

if (parentPort) void serve(parentPort, workerData as OnnxWorkerData);

import * as tf from '@tensorflow/tfjs';
import { DataLossError, NotFoundError } from '@aimaas/runtime';
import type { ObjectStore } from '@aimaas/storage';

/** The object store holding training checkpoints (owned by the training service). */
export const CHECKPOINTS_BUCKET = 'aimaas_checkpoints';
const MAGIC = 0x4b434941; // "AICK" little-endian
const FORMAT = 'aimaas.training-checkpoint';

/** The trainer's bookkeeping after a finished epoch (the tensors travel beside it). */
export interface TrainerState {
  /** The last completed epoch (1-based). */
  epoch: number;
  /** Per-epoch logs: loss, accuracy/mae, val_*, lr, … */
  history: Array<Record<string, number>>;
  /** Early stopping: the best monitored value so far and its epoch. */
  best?: { value: number; epoch: number };
  /** Early stopping: epochs since the last improvement. */
  wait: number;
  /** True once early stopping ended the run. */
  stopped: boolean;
  /** Seconds spent training so far, over every attempt. */
  trainSeconds: number;
  /** Training samples seen so far, over every attempt. */
  samples: number;
}

/** One optimizer slot, as `tf.Optimizer.getWeights()` names it. */
type OptimizerSlot = Awaited<ReturnType<tf.Optimizer['getWeights']>>[number];

/** What a checkpoint holds: the state, the weights in `model.weights` order, and so on. */
export interface Checkpoint {
  state: TrainerState;
  weights: tf.Tensor[];
  /** The best weights so far, kept when early stopping restores them. */
  bestWeights?: tf.Tensor[];
  /**
   * The optimizer's slots as `optimizer.getWeights()` gives them (its iteration count, then
   * momenta / moving averages), so a resumed run takes the very steps an unbroken one would.
   */
  optimizer?: OptimizerSlot[];
}

/** A checkpoint read back; the caller owns (and disposes) its tensors. */
export type LoadedCheckpoint = Checkpoint;

interface Header {
  format: string;
  version: 1;
  jobId: string;
  state: TrainerState;
  specs: tf.io.WeightsManifestEntry[];
  bestSpecs?: tf.io.WeightsManifestEntry[];
  optimizerSpecs?: tf.io.WeightsManifestEntry[];
  weightBytes: number;
  /** Absent in checkpoints written before optimizer state was kept: the best weights run to the end. */
  bestBytes?: number;
}

/**
 * Per-job checkpoints in one object each (`training/<job id>`), so a checkpoint is replaced
 * atomically: the object store publishes an object's metadata only after all its chunks, and
 * checks its SHA-256 on every read.
 */
export class CheckpointStore {
  constructor(private readonly store: ObjectStore) {}

  /** The object name of a job's checkpoint. */
  static objectName(jobId: string): string {
    return `training/${jobId}`;
  }

  /** Writes the checkpoint of `jobId`, replacing the previous one. */
  async save(jobId: string, checkpoint: Checkpoint, signal?: AbortSignal): Promise<void> {
    const { state, weights, bestWeights, optimizer } = checkpoint;
    const current = await tf.io.encodeWeights(weights.map((tensor, i) => ({ name: `w${i}`, tensor })));
    const best = bestWeights
      ? await tf.io.encodeWeights(bestWeights.map((tensor, i) => ({ name: `w${i}`, tensor })))
      : undefined;
    // Slot names (`dense_1/kernel/m`, `iter`) are kept: setWeights carries them over.
    const slots = optimizer ? await tf.io.encodeWeights(optimizer) : undefined;
    const header: Header = {
      format: FORMAT,
      version: 1,
      jobId,
      state,
      specs: current.specs,
      ...(best && { bestSpecs: best.specs }),
      ...(slots && { optimizerSpecs: slots.specs }),
      weightBytes: current.data.byteLength,
      bestBytes: best?.data.byteLength ?? 0,
    };
    const json = new TextEncoder().encode(JSON.stringify(header));
    const prefix = new Uint8Array(8);
    const view = new DataView(prefix.buffer);
    view.setUint32(0, MAGIC, true);
    view.setUint32(4, json.byteLength, true);
    const parts = [
      prefix,
      json,
      ...[current, best, slots].flatMap((part) => (part ? [new Uint8Array(part.data)] : [])),
    ];
    await this.store.put(CheckpointStore.objectName(jobId), iterate(parts), {
      metadata: { job: jobId, epoch: String(state.epoch) },
      ...(signal && { signal }),
    });
  }

  /** The checkpoint of `jobId`, or undefined when it has none. */
  async load(jobId: string): Promise<LoadedCheckpoint | undefined> {
    let bytes: Buffer;
    try {
      bytes = await this.store.getBytes(CheckpointStore.objectName(jobId));
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.byteLength < 8 || view.getUint32(0, true) !== MAGIC) {
      throw new DataLossError(`checkpoint of training job "${jobId}" is not a training checkpoint`);
    }
    const headerLength = view.getUint32(4, true);
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Header;
    if (header.format !== FORMAT || header.version !== 1) {
      throw new DataLossError(`checkpoint of training job "${jobId}" has format ${header.format} v${header.version}`);
    }
    const start = 8 + headerLength;
    const bestStart = start + header.weightBytes;
    const bestBytes = header.bestBytes ?? bytes.byteLength - bestStart;
    const weights = decode(bytes, start, header.weightBytes, header.specs);
    const bestWeights = header.bestSpecs ? decode(bytes, bestStart, bestBytes, header.bestSpecs) : undefined;
    const slotStart = bestStart + bestBytes;
    const optimizer = header.optimizerSpecs
      ? decode(bytes, slotStart, bytes.byteLength - slotStart, header.optimizerSpecs).map((tensor, i) => ({
          name: header.optimizerSpecs![i]!.name,
          tensor,
        }))
      : undefined;
    return { state: header.state, weights, ...(bestWeights && { bestWeights }), ...(optimizer && { optimizer }) };
  }

  /** Deletes the checkpoint of `jobId`, if any (a finished job needs none). */
  async delete(jobId: string): Promise<void> {
    try {
      await this.store.delete(CheckpointStore.objectName(jobId));
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }
}

function decode(bytes: Buffer, offset: number, length: number, specs: tf.io.WeightsManifestEntry[]): tf.Tensor[] {
  const data = bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + length) as ArrayBuffer;
  const named = tf.io.decodeWeights(data, specs);
  return specs.map((spec) => named[spec.name]!);
}

async function* iterate(parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield part;
}

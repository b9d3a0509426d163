import * as tf from '@tensorflow/tfjs';
import { DataLossError, NotFoundError } from '@aimaas/runtime';
import type { ObjectStore } from '@aimaas/storage';

/** The object store holding training checkpoints (owned by the training service). */
export const CHECKPOINTS_BUCKET = 'aimaas_checkpoints';
const MAGIC = 0x4b434941; // "AICK" little-endian
const FORMAT = 'aimaas.training-checkpoint';

/** The trainer's state after a finished epoch: everything but the optimizer's slots. */
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

/** A checkpoint read back: the state and the weights, in `model.weights` order. */
export interface LoadedCheckpoint {
  state: TrainerState;
  weights: tf.Tensor[];
  /** The best weights so far, kept when early stopping restores them. */
  bestWeights?: tf.Tensor[];
}

interface Header {
  format: string;
  version: 1;
  jobId: string;
  state: TrainerState;
  specs: tf.io.WeightsManifestEntry[];
  bestSpecs?: tf.io.WeightsManifestEntry[];
  weightBytes: number;
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
  async save(jobId: string, state: TrainerState, weights: tf.Tensor[], bestWeights?: tf.Tensor[], signal?: AbortSignal): Promise<void> {
    const current = await tf.io.encodeWeights(weights.map((tensor, i) => ({ name: `w${i}`, tensor })));
    const best = bestWeights ? await tf.io.encodeWeights(bestWeights.map((tensor, i) => ({ name: `w${i}`, tensor }))) : undefined;
    const header: Header = {
      format: FORMAT,
      version: 1,
      jobId,
      state,
      specs: current.specs,
      ...(best && { bestSpecs: best.specs }),
      weightBytes: current.data.byteLength,
    };
    const json = new TextEncoder().encode(JSON.stringify(header));
    const prefix = new Uint8Array(8);
    const view = new DataView(prefix.buffer);
    view.setUint32(0, MAGIC, true);
    view.setUint32(4, json.byteLength, true);
    const parts = [prefix, json, new Uint8Array(current.data), ...(best ? [new Uint8Array(best.data)] : [])];
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
    const weights = decode(bytes, start, header.weightBytes, header.specs);
    const bestWeights = header.bestSpecs ? decode(bytes, start + header.weightBytes, bytes.byteLength - start - header.weightBytes, header.bestSpecs) : undefined;
    return { state: header.state, weights, ...(bestWeights && { bestWeights }) };
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

import type * as tf from '@tensorflow/tfjs';
import { OnnxExportError } from '../errors.js';
import type { OnnxGraph } from './onnx-graph.js';

/** Shape as TF.js reports it: batch (and any free dimension) is null. */
export type Shape = ReadonlyArray<number | null>;

/**
 * A tensor of the ONNX graph being built. `shape` is always the TF.js (logical, channels-last)
 * shape; `layout` says how a rank-4 tensor is actually stored in ONNX: `nhwc` (as TF.js) or
 * `nchw` (after a Conv/Pool, so chains of them need no transposes in between).
 */
export interface OnnxValue {
  readonly name: string;
  readonly shape: Shape;
  readonly layout: 'nhwc' | 'nchw';
}

/** A layer's weight as the exporter reads it. */
export interface WeightArray {
  readonly values: Float32Array;
  readonly shape: number[];
}

/** What a layer converter gets: the graph, the layer, its ONNX inputs and TF.js output shapes. */
export interface ConvertContext {
  readonly g: OnnxGraph;
  readonly layer: tf.layers.Layer;
  /** `layer.getConfig()`. */
  readonly config: Record<string, unknown>;
  readonly inputs: OnnxValue[];
  readonly outputShapes: Shape[];
  /** Prefix for names of the tensors this layer adds. */
  readonly hint: string;
  /** The tensor in NHWC (TF.js) layout, transposing once if needed. */
  nhwc(v: OnnxValue): string;
  /** The rank-4 tensor in NCHW layout, transposing once if needed. */
  nchw(v: OnnxValue): string;
  /** The layer weight whose name ends with `/<suffix>` (`kernel`, `bias`, `gamma`…). */
  weight(suffix: string, layer?: tf.layers.Layer): WeightArray;
  /** Like `weight` but undefined when absent. */
  maybeWeight(suffix: string, layer?: tf.layers.Layer): WeightArray | undefined;
  /** Throws the `OnnxExportError` for this layer. */
  fail(reason: string): never;
}

/** Converts one call of a layer; returns one value per layer output. */
export type LayerConverter = (ctx: ConvertContext) => OnnxValue[];

/** Reads a layer weight; copies it so later training never changes the exported bytes. */
export function readWeight(layer: tf.layers.Layer, suffix: string): WeightArray | undefined {
  const found = layer.weights.find((w) => w.originalName === suffix || w.originalName.endsWith(`/${suffix}`));
  if (!found) return undefined;
  const tensor = found.read();
  if (tensor.dtype !== 'float32') {
    throw new OnnxExportError(layer.name, layer.getClassName(), `weight ${suffix} has dtype ${tensor.dtype}`);
  }
  return { values: Float32Array.from(tensor.dataSync() as Float32Array), shape: [...found.shape] as number[] };
}

/** Normalizes a TF.js `number | number[]` config entry to a pair. */
export function pairConfig(value: unknown, fallback: number): [number, number] {
  if (value == null) return [fallback, fallback];
  if (typeof value === 'number') return [value, value];
  const arr = value as number[];
  return [arr[0] ?? fallback, arr[1] ?? arr[0] ?? fallback];
}

/**
 * ONNX begin/end pads for one spatial axis, as TF computes 'same' (the extra pixel at the end)
 * or 'valid' (none).
 */
export function spatialPads(
  size: number | null,
  kernel: number,
  stride: number,
  dilation: number,
  padding: string,
): [number, number] {
  if (padding === 'valid') return [0, 0];
  if (size == null) throw new Error('same padding needs static spatial sizes');
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + effective - size, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

import * as tf from '@tensorflow/tfjs';
import { createRandom } from '@aimaas/pipeline';
import { kernelWeights, type KernelWeight } from './prune.js';

/** How centroids start: k-means++ (seeded) or evenly spaced between the minimum and maximum. */
export type ClusterInit = 'kmeans++' | 'linear';

/** Index of the centroid nearest `v` in ascending `centroids` (binary search on the midpoints). */
function nearest(centroids: Float64Array, v: number): number {
  let lo = 0;
  let hi = centroids.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v > (centroids[mid]! + centroids[mid + 1]!) / 2) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Most values k-means is fitted on per kernel. */
const SAMPLE_SIZE = 20_000;

/**
 * One-dimensional k-means (Lloyd's iterations, at most 50) of `values` into at most `k` centroids,
 * ascending, fitted on an evenly strided sample of at most 20,000 values. k-means++ draws each next
 * centroid (seeded) with probability ∝ squared distance to the nearest chosen one.
 */
export function kMeans1d(values: Float32Array, k: number, init: ClusterInit, seed: number): Float64Array {
  if (values.length === 0) return new Float64Array(0);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const count = Math.min(k, values.length);
  // Initialisation and Lloyd's iterations run on an evenly strided sample of at most 20,000 values,
  // so a kernel of any size costs one final pass over all its values.
  const step = Math.max(1, Math.floor(values.length / SAMPLE_SIZE));
  const sample = Float64Array.from({ length: Math.ceil(values.length / step) }, (_, i) => values[i * step]!);
  let centroids = new Float64Array(count);
  if (init === 'linear' || lo === hi) {
    for (let j = 0; j < count; j++) centroids[j] = count === 1 ? lo : lo + ((hi - lo) * j) / (count - 1);
  } else {
    const random = createRandom(seed >>> 0);
    const distance = new Float64Array(sample.length).fill(Infinity);
    centroids[0] = sample[Math.floor(random() * sample.length)]!;
    for (let j = 1; j < count; j++) {
      let total = 0;
      for (let i = 0; i < sample.length; i++) {
        const d = (sample[i]! - centroids[j - 1]!) ** 2;
        if (d < distance[i]!) distance[i] = d;
        total += distance[i]!;
      }
      let target = random() * total;
      let pick = sample.length - 1;
      for (let i = 0; i < sample.length; i++) {
        target -= distance[i]!;
        if (target <= 0) {
          pick = i;
          break;
        }
      }
      centroids[j] = sample[pick]!;
    }
    centroids.sort();
  }
  const sums = new Float64Array(count);
  const counts = new Float64Array(count);
  for (let iteration = 0; iteration < 50; iteration++) {
    sums.fill(0);
    counts.fill(0);
    for (const v of sample) {
      const j = nearest(centroids, v);
      sums[j]! += v;
      counts[j]! += 1;
    }
    let moved = 0;
    const next = centroids.map((c, j) => (counts[j]! > 0 ? sums[j]! / counts[j]! : c));
    for (let j = 0; j < count; j++) moved = Math.max(moved, Math.abs(next[j]! - centroids[j]!));
    centroids = next.sort();
    if (moved <= 1e-9 * Math.max(1, hi - lo)) break;
  }
  // Centroids nobody uses are dropped, so the layer really has at most k distinct values.
  counts.fill(0);
  for (const v of values) counts[nearest(centroids, v)]! += 1;
  return centroids.filter((_, j) => counts[j]! > 0);
}

let variables = 0;

/** One clustered kernel: its centroids as a trainable variable and each weight's centroid index. */
interface ClusteredKernel extends KernelWeight {
  /** k centroids, then a fixed 0 for pruned weights (index k). */
  centroids: tf.Variable;
  indices: tf.Tensor1D;
  k: number;
}

/**
 * Weight clustering of a model's kernels (Han et al. 2016; TF-MOT): each kernel's non-zero
 * weights are grouped into at most `k` centroids and replaced by their centroid, while weights that
 * are exactly zero stay zero (so a pruned model keeps its sparsity). During a fine-tune the
 * centroids are what is trained: the gradient of a centroid is the sum of the gradients of the
 * weights assigned to it ({@link applyGradients}), and {@link tie} rewrites each kernel from its
 * centroids after every step, so the weights stay shared.
 */
export class WeightClusterer {
  readonly #kernels: ClusteredKernel[] = [];

  constructor(model: tf.LayersModel, k: number, init: ClusterInit, seed: number) {
    kernelWeights(model).forEach((kernel, n) => {
      const values = kernel.variable.dataSync() as Float32Array;
      const nonzero = values.filter((v) => v !== 0);
      // A kernel already clustered (a resumed fine-tune) keeps its very centroids.
      const distinct = new Set(nonzero);
      const centroids = distinct.size <= k ? Float64Array.from(distinct).sort() : kMeans1d(nonzero, k, init, seed + n);
      const indices = new Int32Array(values.length);
      for (let i = 0; i < values.length; i++)
        indices[i] = values[i] === 0 || centroids.length === 0 ? centroids.length : nearest(centroids, values[i]!);
      const stored = new Float32Array(centroids.length + 1);
      stored.set(centroids);
      this.#kernels.push({
        ...kernel,
        k: centroids.length,
        centroids: tf.variable(tf.tensor1d(stored), true, `${kernel.variable.name}/centroids_${++variables}`),
        indices: tf.tensor1d(indices, 'int32'),
      });
    });
    this.tie();
  }

  /** Rewrites every kernel from its centroids (the pruned slot forced back to 0). */
  tie(): void {
    for (const kernel of this.#kernels) {
      tf.tidy(() => {
        const zero = tf.zeros([1]);
        const live = kernel.centroids.slice(0, kernel.k);
        kernel.centroids.assign(tf.concat([live, zero]));
        kernel.variable.assign(tf.reshape(tf.gather(kernel.centroids, kernel.indices), kernel.variable.shape));
      });
    }
  }

  /** Applies `grads` with the kernels' gradients summed per centroid and given to the centroids. */
  applyGradients(optimizer: tf.Optimizer, grads: tf.NamedTensorMap): void {
    tf.tidy(() => {
      const named: tf.NamedTensorMap = { ...grads };
      for (const kernel of this.#kernels) {
        const grad = grads[kernel.variable.name];
        if (!grad) continue;
        delete named[kernel.variable.name];
        named[kernel.centroids.name] = tf.unsortedSegmentSum(tf.reshape(grad, [-1]), kernel.indices, kernel.k + 1);
      }
      optimizer.applyGradients(named);
    });
  }

  /** The most distinct non-zero values in any clustered kernel. */
  maxDistinct(): number {
    return Math.max(
      0,
      ...this.#kernels.map(
        (kernel) => new Set((kernel.variable.dataSync() as Float32Array).filter((v) => v !== 0)).size,
      ),
    );
  }

  dispose(): void {
    for (const kernel of this.#kernels) tf.dispose([kernel.centroids, kernel.indices]);
    this.#kernels.length = 0;
  }
}

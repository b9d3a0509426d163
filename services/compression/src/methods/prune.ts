import * as tf from '@tensorflow/tfjs';

/** One kernel a compression method rewrites: the layer's variable and its name. */
export interface KernelWeight {
  name: string;
  variable: tf.Variable;
}

/**
 * The kernels of a model that pruning and clustering rewrite: every trainable weight of rank 2 or
 * more (Dense and convolution kernels, RNN kernels). Biases, batch-norm parameters and other
 * vectors are left alone: they are few and the accuracy depends on them.
 */
export function kernelWeights(model: tf.LayersModel): KernelWeight[] {
  return model.trainableWeights
    .filter((w) => w.shape.length >= 2)
    .map((w) => ({ name: w.originalName, variable: w.read() as tf.Variable }));
}

/** The polynomial schedule of one pruning run (Zhu & Gupta 2017; TF-MOT `PolynomialDecay`). */
export interface PruningSchedule {
  initialSparsity: number;
  finalSparsity: number;
  beginStep: number;
  endStep: number;
  /** @default 3 */
  power?: number;
}

/**
 * The sparsity at `step`: `s_f + (s_i − s_f)·(1 − (t − t₀)/(t₁ − t₀))^power`, held at `s_i`
 * before the window and at `s_f` after it (a window of zero steps is one shot at `s_f`).
 */
export function polynomialSparsity(step: number, schedule: PruningSchedule): number {
  const { initialSparsity: si, finalSparsity: sf, beginStep, endStep } = schedule;
  if (step >= endStep) return sf;
  if (step < beginStep) return si;
  const progress = (step - beginStep) / (endStep - beginStep);
  return sf + (si - sf) * (1 - progress) ** (schedule.power ?? 3);
}

/**
 * Masks (1 keep, 0 prune) that prune exactly the `k` smallest |w| across `kernels` taken together:
 * everything below the k-th magnitude, then, of the weights equal to it, the first ones in order,
 * so ties (a clustered kernel has few distinct values) never overshoot the target.
 */
function smallestMasks(kernels: Float32Array[], k: number): Float32Array[] {
  const masks = kernels.map((values) => new Float32Array(values.length).fill(1));
  if (k <= 0) return masks;
  const magnitudes = new Float32Array(kernels.reduce((sum, v) => sum + v.length, 0));
  let offset = 0;
  for (const values of kernels) {
    for (let j = 0; j < values.length; j++) magnitudes[offset + j] = Math.abs(values[j]!);
    offset += values.length;
  }
  const cut = magnitudes.slice().sort()[Math.min(k, magnitudes.length) - 1]!;
  let below = 0;
  for (const m of magnitudes) if (m < cut) below++;
  let ties = k - below;
  kernels.forEach((values, i) => {
    const mask = masks[i]!;
    for (let j = 0; j < values.length; j++) {
      const m = Math.abs(values[j]!);
      if (m < cut) mask[j] = 0;
      else if (m === cut && ties > 0) {
        mask[j] = 0;
        ties--;
      }
    }
  });
  return masks;
}

/**
 * Magnitude pruning of a model's kernels with masks: `update(sparsity)` recomputes the masks so the
 * smallest-|w| fraction of each kernel (`layer`) or of all kernels together (`global`) is zero, and
 * `apply()` multiplies every kernel by its mask, as it must after every optimizer step, so pruned
 * weights stay exactly zero through the fine-tune.
 */
export class MagnitudePruner {
  readonly #kernels: KernelWeight[];
  readonly #masks = new Map<string, tf.Tensor>();

  constructor(
    model: tf.LayersModel,
    private readonly scope: 'layer' | 'global',
  ) {
    this.#kernels = kernelWeights(model);
  }

  /** Recomputes the masks for `sparsity` from the current weights and applies them. */
  update(sparsity: number): void {
    const values = this.#kernels.map((k) => k.variable.dataSync() as Float32Array);
    const masks =
      this.scope === 'global'
        ? smallestMasks(values, Math.floor(sparsity * values.reduce((sum, v) => sum + v.length, 0)))
        : values.map((v) => smallestMasks([v], Math.floor(sparsity * v.length))[0]!);
    this.#setMasks(masks);
  }

  /** Masks exactly the weights that are zero now: a resumed fine-tune's checkpoint carries its masks in its zeros. */
  maskZeros(): void {
    this.#setMasks(
      this.#kernels.map((k) => Float32Array.from(k.variable.dataSync() as Float32Array, (v) => (v === 0 ? 0 : 1))),
    );
  }

  #setMasks(masks: Float32Array[]): void {
    this.#kernels.forEach((kernel, i) => {
      this.#masks.get(kernel.variable.name)?.dispose();
      this.#masks.set(kernel.variable.name, tf.tensor(masks[i]!, kernel.variable.shape, 'float32'));
    });
    this.apply();
  }

  /** Multiplies each kernel by its mask. */
  apply(): void {
    for (const kernel of this.#kernels) {
      const mask = this.#masks.get(kernel.variable.name);
      if (mask) tf.tidy(() => kernel.variable.assign(tf.mul(kernel.variable, mask)));
    }
  }

  /** The fraction of kernel weights that are exactly zero. */
  sparsity(): number {
    let zeros = 0;
    let total = 0;
    for (const kernel of this.#kernels) {
      const values = kernel.variable.dataSync();
      for (const v of values) if (v === 0) zeros++;
      total += values.length;
    }
    return total === 0 ? 0 : zeros / total;
  }

  dispose(): void {
    for (const mask of this.#masks.values()) mask.dispose();
    this.#masks.clear();
  }
}

function _concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * The methods' arithmetic on their own, in TF.js: the pruning schedule and masks, 1-D k-means and
 * weight sharing, and the distillation loss against its formula computed by hand.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@aimaas/ml';
import { distillationLoss, kMeans1d, MagnitudePruner, polynomialSparsity, WeightClusterer } from '../src/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

function denseModel(seed: number): tf.LayersModel {
  const model = tf.sequential();
  model.add(
    tf.layers.dense({
      inputShape: [20],
      units: 30,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
    }),
  );
  model.add(
    tf.layers.dense({
      units: 5,
      activation: 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
    }),
  );
  return model;
}

function zeros(values: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === 0) n++;
  return n;
}

describe('polynomialSparsity (Zhu & Gupta 2017)', () => {
  const schedule = { initialSparsity: 0, finalSparsity: 0.8, beginStep: 0, endStep: 100 };

  it('rises from s_i to s_f along 1 − (1 − t)³ and holds outside its window', () => {
    expect(polynomialSparsity(0, schedule)).toBe(0);
    expect(polynomialSparsity(50, schedule)).toBeCloseTo(0.8 - 0.8 * 0.5 ** 3, 12);
    expect(polynomialSparsity(90, schedule)).toBeCloseTo(0.8 - 0.8 * 0.1 ** 3, 12);
    expect(polynomialSparsity(100, schedule)).toBe(0.8);
    expect(polynomialSparsity(1_000, schedule)).toBe(0.8);
    expect(polynomialSparsity(5, { ...schedule, beginStep: 10 })).toBe(0);
    // Monotone, and most of the pruning happens early (the cubic is steep at the start).
    const values = Array.from({ length: 101 }, (_, t) => polynomialSparsity(t, schedule));
    for (let t = 1; t < values.length; t++) expect(values[t]!).toBeGreaterThanOrEqual(values[t - 1]!);
    expect(values[25]!).toBeGreaterThan(0.45);
  });

  it('is one shot at s_f for an empty window', () => {
    expect(polynomialSparsity(0, { initialSparsity: 0, finalSparsity: 0.9, beginStep: 0, endStep: 0 })).toBe(0.9);
  });
});

describe('MagnitudePruner', () => {
  it('zeroes the smallest weights of each kernel, leaves biases, and re-applies its masks after an update', () => {
    const model = denseModel(3);
    const magnitudes = Array.from(model.getWeights()[0]!.dataSync(), Math.abs).sort((a, b) => a - b);
    const pruner = new MagnitudePruner(model, 'layer');
    pruner.update(0.75);
    pruner.apply();
    const [k1, b1, k2] = model.getWeights().map((w) => w.dataSync());
    expect(zeros(k1!)).toBe(Math.floor(0.75 * 600));
    expect(zeros(k2!)).toBe(Math.floor(0.75 * 150));
    expect(zeros(b1!)).toBe(30); // biases start at zero and are not touched either way
    // What survived is the largest |w| of the kernel.
    const kept = Array.from(k1!)
      .filter((v) => v !== 0)
      .map(Math.abs);
    expect(Math.min(...kept)).toBeGreaterThan(magnitudes[449]!);
    expect(Math.min(...kept)).toBe(Math.fround(magnitudes[450]!));
    // An optimizer step moves the zeros; apply() puts them back exactly.
    const variable = model.layers[0]!.trainableWeights[0]!.read() as tf.Variable;
    tf.tidy(() => variable.assign(variable.add(0.01)));
    expect(zeros(variable.dataSync())).toBe(0);
    pruner.apply();
    expect(zeros(variable.dataSync())).toBe(450);
    expect(pruner.sparsity()).toBeCloseTo(0.75, 2);
    pruner.dispose();
    model.dispose();
  });

  it('prunes all kernels against one threshold with scope global', () => {
    const model = denseModel(4);
    const pruner = new MagnitudePruner(model, 'global');
    pruner.update(0.5);
    pruner.apply();
    const [k1, , k2] = model.getWeights().map((w) => w.dataSync());
    expect(zeros(k1!) + zeros(k2!)).toBe(Math.floor(0.5 * 750));
    // The two kernels have different scales (glorot: 20+30 vs 30+5 fan), so global ≠ per layer.
    expect(zeros(k1!)).not.toBe(300);
    pruner.dispose();
    model.dispose();
  });
});

describe('MagnitudePruner on tied magnitudes', () => {
  it('prunes exactly the target fraction when many weights share the cut (a clustered kernel)', () => {
    const model = denseModel(6);
    const clusterer = new WeightClusterer(model, 4, 'linear', 1);
    clusterer.dispose();
    const pruner = new MagnitudePruner(model, 'layer');
    pruner.update(0.5);
    const [k1, , k2] = model.getWeights().map((w) => w.dataSync());
    expect(new Set(k1!).size).toBeLessThanOrEqual(5);
    expect(zeros(k1!)).toBe(300);
    expect(zeros(k2!)).toBe(75);
    // A resumed fine-tune rebuilds the masks from the zeros it restored.
    const variable = model.layers[0]!.trainableWeights[0]!.read() as tf.Variable;
    tf.tidy(() => variable.assign(variable.add(0.5)));
    pruner.maskZeros();
    expect(zeros(variable.dataSync())).toBeLessThan(300); // the shifted weights are no longer zero: nothing to mask
    pruner.dispose();
    model.dispose();
  });
});

describe('kMeans1d', () => {
  it('finds well-separated clusters exactly, seeded, ascending', () => {
    const values = Float32Array.from({ length: 3_000 }, (_, i) => [-2, 0.5, 3][i % 3]! + ((i * 7919) % 101) / 10_000);
    for (const init of ['kmeans++', 'linear'] as const) {
      const centroids = kMeans1d(values, 3, init, 11);
      expect(Array.from(centroids).map((c) => Math.round(c * 10) / 10)).toEqual([-2, 0.5, 3]);
    }
    expect(Array.from(kMeans1d(values, 3, 'kmeans++', 11))).toEqual(Array.from(kMeans1d(values, 3, 'kmeans++', 11)));
  });

  it('never returns more centroids than values', () => {
    expect(kMeans1d(Float32Array.of(1, 2), 16, 'kmeans++', 1).length).toBeLessThanOrEqual(2);
    expect(kMeans1d(new Float32Array(0), 4, 'linear', 1).length).toBe(0);
  });
});

describe('WeightClusterer', () => {
  it('replaces each kernel by at most k shared values and keeps them shared through a gradient step', () => {
    const model = denseModel(5);
    const clusterer = new WeightClusterer(model, 8, 'kmeans++', 2);
    clusterer.tie();
    const distinct = (values: Float32Array) => new Set(values).size;
    expect(distinct(model.getWeights()[0]!.dataSync() as Float32Array)).toBeLessThanOrEqual(8);
    expect(clusterer.maxDistinct()).toBeLessThanOrEqual(8);
    const optimizer = tf.train.sgd(0.1);
    const x = tf.randomNormal([16, 20], 0, 1, 'float32', 9);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0], 'int32'), 5);
    const before = Float32Array.from(model.getWeights()[0]!.dataSync());
    const { grads, value } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar,
    );
    clusterer.applyGradients(optimizer, grads);
    clusterer.tie();
    const after = model.getWeights()[0]!.dataSync() as Float32Array;
    expect(after).not.toEqual(before); // the centroids moved
    expect(distinct(after)).toBeLessThanOrEqual(8);
    // Weights that shared a centroid before still share one.
    const groups = new Map<number, Set<number>>();
    before.forEach((v, i) => groups.set(v, (groups.get(v) ?? new Set()).add(after[i]!)));
    for (const group of groups.values()) expect(group.size).toBe(1);
    tf.dispose([x, y, value, ...Object.values(grads)]);
    optimizer.dispose();
    clusterer.dispose();
    model.dispose();
  });
});

describe('distillationLoss (Hinton et al. 2015)', () => {
  it('is α·T²·KL(teacher_T ‖ student_T) + (1 − α)·CE(labels), computed from the softmax outputs', () => {
    const teacher = denseModel(7);
    const x = tf.randomNormal([4, 20], 0, 1, 'float32', 3);
    const labels = [0, 2, 4, 1];
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 5);
    const student = tf.tensor2d([
      [0.5, 0.2, 0.1, 0.1, 0.1],
      [0.1, 0.1, 0.6, 0.1, 0.1],
      [0.2, 0.2, 0.2, 0.2, 0.2],
      [0.05, 0.8, 0.05, 0.05, 0.05],
    ]);
    const t = 3;
    const alpha = 0.7;
    const loss = distillationLoss(teacher, { temperature: t, alpha })(student, { x, y });
    // By hand: q = softmax(log p / T) = p^(1/T) normalized.
    const soften = (p: number[]) => {
      const powered = p.map((v) => v ** (1 / t));
      const sum = powered.reduce((a, b) => a + b, 0);
      return powered.map((v) => v / sum);
    };
    const teacherP = (teacher.predict(x) as tf.Tensor).arraySync() as number[][];
    const studentP = student.arraySync();
    let kl = 0;
    let ce = 0;
    for (let r = 0; r < 4; r++) {
      const qt = soften(teacherP[r]!);
      const qs = soften(studentP[r]!);
      kl += qt.reduce((sum, q, c) => sum + q * Math.log(q / qs[c]!), 0) / 4;
      ce += -Math.log(studentP[r]![labels[r]!]!) / 4;
    }
    expect(loss.dataSync()[0]!).toBeCloseTo(alpha * t * t * kl + (1 - alpha) * ce, 4);
    // α = 0 is plain cross-entropy; a student equal to the teacher has zero KL.
    expect(distillationLoss(teacher, { temperature: t, alpha: 0 })(student, { x, y }).dataSync()[0]!).toBeCloseTo(
      ce,
      4,
    );
    const same = teacher.predict(x) as tf.Tensor;
    expect(distillationLoss(teacher, { temperature: t, alpha: 1 })(same, { x, y }).dataSync()[0]!).toBeCloseTo(0, 5);
    tf.dispose([x, y, student, loss, same]);
    teacher.dispose();
  });
});

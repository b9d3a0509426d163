import { beforeAll, describe, expect, it } from 'vitest';
import {
  accuracy,
  argmaxRows,
  classificationReport,
  confusionMatrix,
  initBackend,
  logLoss,
  meanAbsoluteError,
  meanSquaredError,
  precisionRecallF1,
  r2Score,
  regressionReport,
  rootMeanSquaredError,
} from '../src/index.js';

// Metrics are pure functions on arrays; the backend is pinned only so that importing the
// package never makes TF.js pick one on its own.
beforeAll(async () => {
  await initBackend('cpu');
});

describe('classification metrics', () => {
  const yTrue = Int32Array.from([0, 0, 1, 1, 2, 2, 2]);
  const yPred = Int32Array.from([0, 1, 1, 1, 2, 0, 2]);

  it('counts the confusion matrix as rows = true class, columns = predicted class', () => {
    expect(confusionMatrix(yTrue, yPred)).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 2],
    ]);
    expect(confusionMatrix([1], [1], 3)).toEqual([
      [0, 0, 0],
      [0, 1, 0],
      [0, 0, 0],
    ]);
  });

  it('computes accuracy', () => {
    expect(accuracy(yTrue, yPred)).toBe(5 / 7);
  });

  it('computes per-class and macro precision, recall and F1', () => {
    const s = precisionRecallF1(yTrue, yPred);
    expect(s.precision).toEqual([1 / 2, 2 / 3, 1]);
    expect(s.recall).toEqual([1 / 2, 1, 2 / 3]);
    expect(s.f1[0]).toBeCloseTo(0.5, 15);
    expect(s.f1[1]).toBeCloseTo(0.8, 15);
    expect(s.f1[2]).toBeCloseTo(0.8, 15);
    expect(s.support).toEqual([2, 2, 3]);
    expect(s.macroPrecision).toBeCloseTo(13 / 18, 15);
    expect(s.macroRecall).toBeCloseTo(13 / 18, 15);
    expect(s.macroF1).toBeCloseTo(0.7, 15);
  });

  it('scores undefined ratios 0 and averages only over classes that occur', () => {
    const s = precisionRecallF1([0, 0], [0, 1], 3);
    expect(s.precision).toEqual([1, 0, 0]);
    expect(s.recall).toEqual([0.5, 0, 0]);
    expect(s.macroPrecision).toBe(0.5);
    expect(s.macroRecall).toBe(0.25);
    expect(s.macroF1).toBeCloseTo(1 / 3, 15);
  });

  it('computes log loss with clipping', () => {
    expect(logLoss([0, 1], [0.8, 0.2, 0.4, 0.6], 2)).toBeCloseTo(-(Math.log(0.8) + Math.log(0.6)) / 2, 15);
    expect(logLoss([1], [1, 0], 2)).toBeCloseTo(-Math.log(1e-15), 12);
  });

  it('reports everything from probabilities', () => {
    const probs = [0.7, 0.2, 0.1, 0.1, 0.3, 0.6, 0.2, 0.5, 0.3];
    expect(Array.from(argmaxRows(probs, 3))).toEqual([0, 2, 1]);
    const r = classificationReport([0, 2, 2], probs, 3);
    expect(r.accuracy).toBe(2 / 3);
    expect(r.confusionMatrix).toEqual([
      [1, 0, 0],
      [0, 0, 0],
      [0, 1, 1],
    ]);
    expect(r.logLoss).toBeCloseTo(-(Math.log(0.7) + Math.log(0.6) + Math.log(0.3)) / 3, 15);
  });

  it('rejects mismatched lengths and out-of-range labels', () => {
    expect(() => accuracy([0, 1], [0])).toThrow(/2 labels but yPred has 1/);
    expect(() => confusionMatrix([0, 3], [0, 1], 3)).toThrow(/yTrue\[1\] must be a class index in \[0, 3\)/);
    expect(() => logLoss([0], [0.5, 0.5, 0], 2)).toThrow(/expected 1 × 2/);
  });
});

describe('regression metrics', () => {
  const yTrue = Float32Array.from([3, -0.5, 2, 7]);
  const yPred = Float32Array.from([2.5, 0, 2, 8]);

  it('computes MAE, MSE, RMSE and R²', () => {
    expect(meanAbsoluteError(yTrue, yPred)).toBe(0.5);
    expect(meanSquaredError(yTrue, yPred)).toBe(0.375);
    expect(rootMeanSquaredError(yTrue, yPred)).toBe(Math.sqrt(0.375));
    // SS_res = 1.5, SS_tot = 29.1875.
    expect(r2Score(yTrue, yPred)).toBeCloseTo(1 - 1.5 / 29.1875, 14);
    expect(regressionReport(yTrue, yPred)).toEqual({
      mae: 0.5,
      mse: 0.375,
      rmse: Math.sqrt(0.375),
      r2: r2Score(yTrue, yPred),
    });
  });

  it('averages R² uniformly over outputs', () => {
    const t = [0.5, 1, -1, 1, 7, -6];
    const p = [0, 2, -1, 2, 8, -5];
    expect(r2Score(t, p, 2)).toBeCloseTo((419 / 434 + 89 / 98) / 2, 14);
  });

  it('scores a constant target 1 when predicted exactly, else 0', () => {
    expect(r2Score([1, 1, 1], [1, 1, 1])).toBe(1);
    expect(r2Score([1, 1, 1], [1, 1, 2])).toBe(0);
  });

  it('rejects empty and mismatched inputs', () => {
    expect(() => meanAbsoluteError([], [])).toThrow(/empty/);
    expect(() => r2Score([1, 2, 3], [1, 2, 3], 2)).toThrow(/do not split into 2 outputs/);
  });
});

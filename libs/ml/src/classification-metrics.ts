/**
 * Classification metrics on plain arrays of class indices / probabilities. Pure functions,
 * computed in float64; definitions follow scikit-learn.
 */

/** Per-class precision, recall, F1 and support, plus their macro averages. */
export interface ClassScores {
  precision: number[];
  recall: number[];
  f1: number[];
  /** Number of true examples of each class. */
  support: number[];
  macroPrecision: number;
  macroRecall: number;
  macroF1: number;
}

/** Everything `classificationReport` computes. */
export interface ClassificationReport extends ClassScores {
  accuracy: number;
  logLoss: number;
  confusionMatrix: number[][];
}

function checkPair(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, what = 'yPred'): void {
  if (yTrue.length === 0) throw new RangeError('yTrue is empty');
  if (yTrue.length !== yPred.length) {
    throw new RangeError(`yTrue has ${yTrue.length} labels but ${what} has ${yPred.length}`);
  }
}

function classIndex(value: number, numClasses: number, where: string): number {
  if (!(Number.isInteger(value) && value >= 0 && value < numClasses)) {
    throw new RangeError(`${where} must be a class index in [0, ${numClasses}), got ${value}`);
  }
  return value;
}

function inferClasses(...arrays: ArrayLike<number>[]): number {
  let max = -1;
  for (const a of arrays) for (let i = 0; i < a.length; i++) max = Math.max(max, a[i]!);
  return max + 1;
}

/** Fraction of examples whose predicted class equals the true class. */
export function accuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  checkPair(yTrue, yPred);
  let hits = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) hits++;
  return hits / yTrue.length;
}

/**
 * Counts `m[true][pred]`. `numClasses` defaults to 1 + the largest label seen.
 *
 * @example confusionMatrix([0, 1, 1], [0, 0, 1]) // [[1, 0], [1, 1]]
 */
export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, numClasses?: number): number[][] {
  checkPair(yTrue, yPred);
  const k = numClasses ?? inferClasses(yTrue, yPred);
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const t = classIndex(yTrue[i]!, k, `yTrue[${i}]`);
    const p = classIndex(yPred[i]!, k, `yPred[${i}]`);
    m[t]![p]! += 1;
  }
  return m;
}

/**
 * Per-class precision, recall and F1 (0 where undefined, as scikit-learn's zero_division=0), and
 * their unweighted (macro) means over the classes that occur in `yTrue` or `yPred`. Macro F1 is
 * the mean of per-class F1 scores, not the F1 of macro precision and recall.
 */
export function precisionRecallF1(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  numClasses?: number,
): ClassScores {
  const m = confusionMatrix(yTrue, yPred, numClasses);
  const k = m.length;
  const precision: number[] = [];
  const recall: number[] = [];
  const f1: number[] = [];
  const support: number[] = [];
  const present: number[] = [];
  for (let c = 0; c < k; c++) {
    const tp = m[c]![c]!;
    let predicted = 0;
    let actual = 0;
    for (let j = 0; j < k; j++) {
      predicted += m[j]![c]!;
      actual += m[c]![j]!;
    }
    const p = predicted === 0 ? 0 : tp / predicted;
    const r = actual === 0 ? 0 : tp / actual;
    precision.push(p);
    recall.push(r);
    f1.push(p + r === 0 ? 0 : (2 * p * r) / (p + r));
    support.push(actual);
    if (predicted > 0 || actual > 0) present.push(c);
  }
  const mean = (xs: number[]): number => present.reduce((s, c) => s + xs[c]!, 0) / present.length;
  return {
    precision,
    recall,
    f1,
    support,
    macroPrecision: mean(precision),
    macroRecall: mean(recall),
    macroF1: mean(f1),
  };
}

/** The most probable class of each row of a row-major `[n, numClasses]` probability array. */
export function argmaxRows(probs: ArrayLike<number>, numClasses: number): Int32Array {
  if (!(Number.isInteger(numClasses) && numClasses >= 1) || probs.length % numClasses !== 0) {
    throw new RangeError(`probs has ${probs.length} values, not a multiple of numClasses ${numClasses}`);
  }
  const n = probs.length / numClasses;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < numClasses; c++) if (probs[i * numClasses + c]! > probs[i * numClasses + best]!) best = c;
    out[i] = best;
  }
  return out;
}

/**
 * Mean negative log-likelihood of the true classes, `−mean(log p[i, yTrue[i]])`, with
 * probabilities clipped to [eps, 1 − eps] (rows are not renormalized).
 *
 * @param probs row-major `[n, numClasses]` probabilities (e.g. softmax outputs).
 */
export function logLoss(yTrue: ArrayLike<number>, probs: ArrayLike<number>, numClasses: number, eps = 1e-15): number {
  if (probs.length !== yTrue.length * numClasses) {
    throw new RangeError(`probs has ${probs.length} values, expected ${yTrue.length} × ${numClasses}`);
  }
  if (yTrue.length === 0) throw new RangeError('yTrue is empty');
  let sum = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const t = classIndex(yTrue[i]!, numClasses, `yTrue[${i}]`);
    const p = Math.min(Math.max(probs[i * numClasses + t]!, eps), 1 - eps);
    sum -= Math.log(p);
  }
  return sum / yTrue.length;
}

/** All classification metrics from true class indices and predicted probabilities. */
export function classificationReport(
  yTrue: ArrayLike<number>,
  probs: ArrayLike<number>,
  numClasses: number,
): ClassificationReport {
  const yPred = argmaxRows(probs, numClasses);
  checkPair(yTrue, yPred, 'probs (rows)');
  return {
    accuracy: accuracy(yTrue, yPred),
    ...precisionRecallF1(yTrue, yPred, numClasses),
    logLoss: logLoss(yTrue, probs, numClasses),
    confusionMatrix: confusionMatrix(yTrue, yPred, numClasses),
  };
}

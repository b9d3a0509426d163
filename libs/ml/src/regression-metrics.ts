/**
 * Regression metrics on plain arrays. Multi-output targets are row-major `[n, outputs]`; errors
 * are averaged over every element, R² per output and then uniformly (scikit-learn's default).
 */

/** Everything `regressionReport` computes. */
export interface RegressionReport {
  mae: number;
  mse: number;
  rmse: number;
  r2: number;
}

function check(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): void {
  if (yTrue.length === 0) throw new RangeError('yTrue is empty');
  if (yTrue.length !== yPred.length)
    throw new RangeError(`yTrue has ${yTrue.length} values but yPred has ${yPred.length}`);
}

/** Mean absolute error. */
export function meanAbsoluteError(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  check(yTrue, yPred);
  let sum = 0;
  for (let i = 0; i < yTrue.length; i++) sum += Math.abs(yTrue[i]! - yPred[i]!);
  return sum / yTrue.length;
}

/** Mean squared error. */
export function meanSquaredError(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  check(yTrue, yPred);
  let sum = 0;
  for (let i = 0; i < yTrue.length; i++) sum += (yTrue[i]! - yPred[i]!) ** 2;
  return sum / yTrue.length;
}

/** Root mean squared error. */
export function rootMeanSquaredError(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  return Math.sqrt(meanSquaredError(yTrue, yPred));
}

/**
 * Coefficient of determination, 1 − SS_res / SS_tot, per output then averaged. A constant
 * target scores 1 when predicted exactly and 0 otherwise (scikit-learn's force_finite).
 *
 * @param outputs columns of the row-major arrays. @default 1
 */
export function r2Score(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, outputs = 1): number {
  check(yTrue, yPred);
  if (!(Number.isInteger(outputs) && outputs >= 1) || yTrue.length % outputs !== 0) {
    throw new RangeError(`${yTrue.length} values do not split into ${outputs} outputs`);
  }
  const n = yTrue.length / outputs;
  let total = 0;
  for (let o = 0; o < outputs; o++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += yTrue[i * outputs + o]!;
    mean /= n;
    let ssRes = 0;
    let ssTot = 0;
    for (let i = 0; i < n; i++) {
      const t = yTrue[i * outputs + o]!;
      ssRes += (t - yPred[i * outputs + o]!) ** 2;
      ssTot += (t - mean) ** 2;
    }
    total += ssTot === 0 ? (ssRes === 0 ? 1 : 0) : 1 - ssRes / ssTot;
  }
  return total / outputs;
}

/** MAE, MSE, RMSE and R² in one pass over the arguments' checks. */
export function regressionReport(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, outputs = 1): RegressionReport {
  const mse = meanSquaredError(yTrue, yPred);
  return { mae: meanAbsoluteError(yTrue, yPred), mse, rmse: Math.sqrt(mse), r2: r2Score(yTrue, yPred, outputs) };
}

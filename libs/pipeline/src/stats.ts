/**
 * Small numeric helpers shared by fitting and profiling. Every function skips NaN (missing) values
 * and returns NaN when nothing is left, so callers decide how to report an empty column.
 */

/** The non-NaN values of `values`, sorted ascending, in a new array. */
export function sortedValues(values: Float64Array): Float64Array {
  let count = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === values[i]) count++;
  const out = new Float64Array(count);
  let j = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v === v) out[j++] = v;
  }
  return out.sort();
}

/**
 * Quantile `q` (0–1) of ascending `sorted` by linear interpolation between closest ranks
 * (numpy's default, Hyndman–Fan type 7): position q·(n−1).
 */
export function quantileOfSorted(sorted: Float64Array, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const position = q * (n - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, n - 1);
  const fraction = position - below;
  const low = sorted[below]!;
  return fraction === 0 ? low : low + (sorted[above]! - low) * fraction;
}

/**
 * Quantiles of the non-NaN values (type 7, as {@link quantileOfSorted}), found by selection in
 * O(n) instead of a full sort; NaN for each when there are no values. `values` is not modified.
 */
export function quantilesOf(values: Float64Array, qs: readonly number[]): number[] {
  const work = finiteCopy(values);
  const n = work.length;
  if (n === 0) return qs.map(() => Number.NaN);
  return qs.map((q) => {
    const position = q * (n - 1);
    const below = Math.floor(position);
    const fraction = position - below;
    const low = selectKth(work, below);
    if (fraction === 0 || below + 1 >= n) return low;
    // After selecting `below`, the next order statistic is the minimum of what lies above it.
    let next = Number.POSITIVE_INFINITY;
    for (let i = below + 1; i < n; i++) if (work[i]! < next) next = work[i]!;
    return low + (next - low) * fraction;
  });
}

function finiteCopy(values: Float64Array): Float64Array {
  let count = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === values[i]) count++;
  if (count === values.length) return values.slice();
  const out = new Float64Array(count);
  for (let i = 0, j = 0; i < values.length; i++) if (values[i] === values[i]) out[j++] = values[i]!;
  return out;
}

/** Rearranges `a` so that a[k] is its k-th smallest value, smaller before, larger after (Hoare selection). */
function selectKth(a: Float64Array, k: number): number {
  let left = 0;
  let right = a.length - 1;
  let rounds = 0;
  while (right > left) {
    if (++rounds > 64) {
      // Pathological pivots: finish by sorting the remaining range.
      a.subarray(left, right + 1).sort();
      return a[k]!;
    }
    const mid = left + ((right - left) >> 1);
    const pivot = median3(a[left]!, a[mid]!, a[right]!);
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i++] = a[j]!;
        a[j--] = t;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return a[k]!;
  }
  return a[k]!;
}

function median3(a: number, b: number, c: number): number {
  return a < b ? (b < c ? b : Math.max(a, c)) : a < c ? a : Math.max(b, c);
}

/** Arithmetic mean, summed in row order. */
export function meanOf(values: Float64Array): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v === v) {
      sum += v;
      count++;
    }
  }
  return count === 0 ? Number.NaN : sum / count;
}

/** Population standard deviation (divides by n, as scikit-learn's StandardScaler does). */
export function populationStdOf(values: Float64Array, mean: number): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v === v) {
      const d = v - mean;
      sum += d * d;
      count++;
    }
  }
  return count === 0 ? Number.NaN : Math.sqrt(sum / count);
}

/** Smallest and largest non-NaN value; [NaN, NaN] when there is none. */
export function rangeOf(values: Float64Array): [number, number] {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min === Number.POSITIVE_INFINITY ? [Number.NaN, Number.NaN] : [min, max];
}

/** The most frequent value of ascending `sorted`; ties go to the smallest value. */
export function modeOfSorted(sorted: Float64Array): number {
  let best = Number.NaN;
  let bestCount = 0;
  let run = 0;
  for (let i = 0; i < sorted.length; i++) {
    run = i > 0 && sorted[i] === sorted[i - 1] ? run + 1 : 1;
    if (run > bestCount) {
      bestCount = run;
      best = sorted[i]!;
    }
  }
  return best;
}

/** Orders strings by UTF-16 code units: the same everywhere, unlike `localeCompare`. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Counts of each non-null key. */
export function countKeys(keys: readonly (string | null)[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) if (key !== null) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}

/** Entries of `counts` by count descending, then key ascending (code units). */
export function rankByCount(counts: ReadonlyMap<string, number>): [string, number][] {
  return [...counts].sort((a, b) => b[1] - a[1] || compareCodeUnits(a[0], b[0]));
}

/**
 * A seeded PRNG (mulberry32): the same seed gives the same sequence of numbers in [0, 1) on every
 * platform. Small and fast; not for cryptography.
 *
 * @example
 * const random = createRandom(42);
 * random(); // 0.6011037519201636, every time
 */
export function createRandom(seed: number): () => number {
  if (!Number.isInteger(seed)) throw new TypeError(`seed is ${String(seed)}; expected an integer`);
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Shuffles `items` in place (Fisher–Yates) with `random`. */
export function shuffleInPlace<T extends { length: number; [i: number]: number }>(items: T, random: () => number): T {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = items[i]!;
    items[i] = items[j]!;
    items[j] = swap;
  }
  return items;
}

/** Options of {@link splitIndices}. Fractions left out are 0; together they must make 1. */
export interface SplitOptions {
  train: number;
  /** @default 0 */
  validation?: number;
  /** @default 0 */
  test?: number;
  /** @default 0 */
  seed?: number;
  /** One label per row: each class is split in the same proportions. Labels compare as strings. */
  stratifyBy?: ArrayLike<unknown>;
}

/** Row indices of each split, ascending (shuffle per epoch when training). */
export interface SplitIndices {
  train: Uint32Array;
  validation: Uint32Array;
  test: Uint32Array;
}

/**
 * Splits rows 0 … n−1 at random (seeded) into train, validation and test. With `stratifyBy`,
 * every class's count in every split is within one row of exact (class size × fraction), and so
 * is every split's total; without it, the whole table is one class.
 *
 * @example
 * const { train, validation, test } = splitIndices(150, { train: 0.7, validation: 0.15, test: 0.15, seed: 7, stratifyBy: species });
 */
export function splitIndices(n: number, options: SplitOptions): SplitIndices {
  checkCount('n', n, 0);
  const fractions = [options.train, options.validation ?? 0, options.test ?? 0];
  ['train', 'validation', 'test'].forEach((name, i) => {
    const f = fractions[i]!;
    if (!(typeof f === 'number' && f >= 0 && f <= 1))
      throw new TypeError(`${name} fraction is ${String(f)}; expected a number from 0 to 1`);
  });
  const sum = fractions[0]! + fractions[1]! + fractions[2]!;
  if (Math.abs(sum - 1) > 1e-9)
    throw new TypeError(`train + validation + test is ${sum}; expected the fractions to add up to 1`);
  const random = createRandom(options.seed ?? 0);
  const outputs = [new Uint32Array(n), new Uint32Array(n), new Uint32Array(n)];
  const filled = [0, 0, 0];
  const cumulativeExact = [0, 0, 0];
  for (const members of groupRows(n, options.stratifyBy, random)) {
    const m = members.length;
    const exact = fractions.map((f) => m * f);
    const counts = exact.map((e) => Math.floor(e + 1e-9));
    let leftover = m - counts[0]! - counts[1]! - counts[2]!;
    exact.forEach((e, s) => (cumulativeExact[s]! += e));
    // Give the leftover rows to the splits furthest behind their cumulative exact share, among those
    // whose exact count is fractional, so both each class and each total stay within one row.
    const order = [0, 1, 2]
      .map((s) => ({
        s,
        fractional: exact[s]! - counts[s]! > 1e-9,
        deficit: cumulativeExact[s]! - filled[s]! - counts[s]!,
      }))
      .sort((a, b) => Number(b.fractional) - Number(a.fractional) || b.deficit - a.deficit || a.s - b.s);
    for (let k = 0; leftover > 0; k = (k + 1) % 3, leftover--) counts[order[k]!.s]!++;
    let next = 0;
    counts.forEach((c, s) => {
      outputs[s]!.set(members.subarray(next, next + c), filled[s]!);
      filled[s]! += c;
      next += c;
    });
  }
  const [train, validation, test] = outputs.map((out, s) => out.slice(0, filled[s]).sort());
  return { train: train!, validation: validation!, test: test! };
}

/** Options of {@link kFoldIndices}. */
export interface KFoldOptions {
  /** @default 0 */
  seed?: number;
  /** One label per row: each class is spread evenly over the folds. */
  stratifyBy?: ArrayLike<unknown>;
}

/** One cross-validation fold: the rows to train on and the rows held out, each ascending. */
export interface Fold {
  train: Uint32Array;
  validation: Uint32Array;
}

/**
 * Deals rows 0 … n−1 at random (seeded) into `k` folds: every row is held out in exactly one fold.
 * Fold sizes differ by at most one; with `stratifyBy`, so do each class's counts per fold.
 */
export function kFoldIndices(n: number, k: number, options: KFoldOptions = {}): Fold[] {
  checkCount('n', n, 0);
  checkCount('k', k, 2);
  if (k > n) throw new TypeError(`k is ${k}; expected at most n (${n}) folds`);
  const random = createRandom(options.seed ?? 0);
  const foldOf = new Uint32Array(n);
  let position = 0;
  for (const members of groupRows(n, options.stratifyBy, random)) {
    for (const row of members) foldOf[row] = position++ % k;
  }
  const sizes = new Array<number>(k).fill(0);
  for (let r = 0; r < n; r++) sizes[foldOf[r]!]!++;
  return sizes.map((size, fold) => {
    const validation = new Uint32Array(size);
    const train = new Uint32Array(n - size);
    for (let r = 0, v = 0, t = 0; r < n; r++) {
      if (foldOf[r] === fold) validation[v++] = r;
      else train[t++] = r;
    }
    return { train, validation };
  });
}

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min)
    throw new TypeError(`${name} is ${String(value)}; expected an integer ≥ ${min}`);
}

/** Rows grouped by label (groups ordered by label, code units), each group shuffled. */
function groupRows(n: number, labels: ArrayLike<unknown> | undefined, random: () => number): Uint32Array[] {
  if (labels === undefined) {
    const all = new Uint32Array(n);
    for (let r = 0; r < n; r++) all[r] = r;
    return [shuffleInPlace(all, random)];
  }
  if (labels.length !== n) throw new TypeError(`stratifyBy has ${labels.length} labels; expected one per row (${n})`);
  const groups = new Map<string, number[]>();
  for (let r = 0; r < n; r++) {
    const key = String(labels[r]);
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = []));
    group.push(r);
  }
  return [...groups.keys()].sort().map((key) => shuffleInPlace(Uint32Array.from(groups.get(key)!), random));
}

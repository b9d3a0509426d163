import { describe, expect, it } from 'vitest';
import { createRandom, fitTransform, kFoldIndices, splitIndices } from '../src/index.js';
import { loadCsv } from './fixtures.js';

const iris = loadCsv('iris.csv');
const species = iris.values.species as string[];

function countBy(rows: Uint32Array, labels: ArrayLike<unknown>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const row of rows) counts[String(labels[row])] = (counts[String(labels[row])] ?? 0) + 1;
  return counts;
}

function expectPartition(parts: Uint32Array[], n: number): void {
  const seen = new Uint8Array(n);
  for (const part of parts) for (const row of part) seen[row]!++;
  expect(Array.from(seen).every((times) => times === 1)).toBe(true);
}

describe('splitIndices', () => {
  const split = splitIndices(150, { train: 0.7, validation: 0.15, test: 0.15, seed: 11, stratifyBy: species });

  it('puts every iris row in exactly one split', () => {
    expectPartition([split.train, split.validation, split.test], 150);
    expect(split.train.length + split.validation.length + split.test.length).toBe(150);
  });

  it('keeps each class within one row of exact in every split (70/15/15)', () => {
    expect(countBy(split.train, species)).toEqual({ setosa: 35, versicolor: 35, virginica: 35 });
    for (const part of [split.validation, split.test]) {
      const counts = countBy(part, species);
      for (const name of ['setosa', 'versicolor', 'virginica']) expect(Math.abs(counts[name]! - 7.5)).toBe(0.5);
    }
    expect(Math.abs(split.validation.length - 22.5)).toBe(0.5);
  });

  it('stratifies the labels of a prepared iris dataset the same way', () => {
    const { data } = fitTransform(iris, { target: 'species' });
    const fromLabels = splitIndices(data.rows, {
      train: 0.7,
      validation: 0.15,
      test: 0.15,
      seed: 11,
      stratifyBy: data.labels!,
    });
    expect(countBy(fromLabels.train, data.labels!)).toEqual({ 0: 35, 1: 35, 2: 35 });
  });

  it('gives the same split for the same seed and another for another seed', () => {
    const again = splitIndices(150, { train: 0.7, validation: 0.15, test: 0.15, seed: 11, stratifyBy: species });
    expect(again).toEqual(split);
    const other = splitIndices(150, { train: 0.7, validation: 0.15, test: 0.15, seed: 12, stratifyBy: species });
    expect(Array.from(other.train)).not.toEqual(Array.from(split.train));
  });

  it('keeps classes and totals within one row of exact for uneven classes', () => {
    const labels = [...Array(7).fill('a'), ...Array(11).fill('b'), ...Array(3).fill('c')];
    for (let seed = 0; seed < 20; seed++) {
      const parts = splitIndices(labels.length, { train: 0.6, validation: 0.3, test: 0.1, seed, stratifyBy: labels });
      expectPartition([parts.train, parts.validation, parts.test], labels.length);
      (
        [
          [parts.train, 0.6],
          [parts.validation, 0.3],
          [parts.test, 0.1],
        ] as const
      ).forEach(([rows, fraction]) => {
        expect(Math.abs(rows.length - labels.length * fraction)).toBeLessThan(1);
        const counts = countBy(rows, labels);
        for (const [label, size] of [
          ['a', 7],
          ['b', 11],
          ['c', 3],
        ] as const)
          expect(Math.abs((counts[label] ?? 0) - size * fraction)).toBeLessThan(1);
      });
    }
  });

  it('returns ascending indices and splits without labels as one class', () => {
    const plain = splitIndices(10, { train: 0.8, test: 0.2, seed: 3 });
    expect([plain.train.length, plain.validation.length, plain.test.length]).toEqual([8, 0, 2]);
    expect(Array.from(plain.train)).toEqual(Array.from(plain.train).sort((a, b) => a - b));
  });

  it('rejects fractions that do not add up to 1', () => {
    expect(() => splitIndices(10, { train: 0.8, validation: 0.1 })).toThrow('train + validation + test is 0.9');
  });
});

describe('kFoldIndices', () => {
  it('holds out every row exactly once across the folds', () => {
    const folds = kFoldIndices(150, 5, { seed: 4 });
    expect(folds).toHaveLength(5);
    expectPartition(
      folds.map((f) => f.validation),
      150,
    );
    for (const fold of folds) {
      expect(fold.validation.length).toBe(30);
      expect(fold.train.length).toBe(120);
      expectPartition([fold.train, fold.validation], 150);
    }
  });

  it('spreads each class evenly over stratified folds', () => {
    const folds = kFoldIndices(150, 4, { seed: 4, stratifyBy: species });
    expectPartition(
      folds.map((f) => f.validation),
      150,
    );
    for (const fold of folds) {
      for (const count of Object.values(countBy(fold.validation, species))) expect([12, 13]).toContain(count);
      expect([37, 38]).toContain(fold.validation.length);
    }
  });

  it('is reproducible by seed', () => {
    expect(kFoldIndices(20, 3, { seed: 1 })).toEqual(kFoldIndices(20, 3, { seed: 1 }));
    expect(kFoldIndices(20, 3, { seed: 1 })).not.toEqual(kFoldIndices(20, 3, { seed: 2 }));
  });
});

describe('createRandom', () => {
  it('is mulberry32: the same seed gives the same numbers in [0, 1)', () => {
    const a = createRandom(42);
    const b = createRandom(42);
    const first = [a(), a(), a()];
    expect([b(), b(), b()]).toEqual(first);
    expect(first[0]).toBe(0.6011037519201636);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});

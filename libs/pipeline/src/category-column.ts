import { IMPUTED, STRICT, readStrings } from './column-readers.js';
import { PipelineInputError, PipelineSpecError, describeValue } from './errors.js';
import type { FittedColumn, FittedImpute, FittedOneHot, FittedOrdinal, FittedStep } from './fitted-pipeline.js';
import type { FittedOutputs } from './number-column.js';
import type { StepSpec } from './pipeline-spec.js';
import { compareCodeUnits, countKeys, rankByCount } from './stats.js';
import type { Table } from './table.js';

/** Name of the one-hot output for infrequent (and, by option, unknown) categories. */
export const OTHER_CATEGORY = '__other__';

/**
 * Fits a categorical column: optional imputation, then one-hot or ordinal encoding fitted on the
 * imputed keys (numbers and booleans are keyed by `String(value)`).
 */
export function fitCategoryColumn(
  table: Table,
  name: string,
  steps: readonly StepSpec[],
  rows: Uint32Array,
): FittedOutputs {
  const keys = readStrings(table, name, 'categorical', rows, steps[0]?.op === 'impute' ? IMPUTED : STRICT);
  const counts = countKeys(keys);
  const fitted: FittedStep[] = [];
  for (const spec of steps) {
    if (spec.op === 'impute') {
      const value = spec.strategy === 'constant' ? String(spec.value) : (rankByCount(counts)[0]?.[0] ?? null);
      if (value === null) {
        throw new PipelineSpecError(
          name,
          'impute',
          'the column has no values to find the most frequent from; give a constant, or drop the column (exclude, dropColumnsMissingAbove)',
        );
      }
      const step: FittedImpute = { op: 'impute', strategy: spec.strategy, value };
      const filled = imputeKeys(keys, step);
      if (filled > 0) counts.set(value, (counts.get(value) ?? 0) + filled);
      fitted.push(step);
    } else if (spec.op === 'onehot') {
      const ranked = rankByCount(counts);
      const keep = spec.maxCategories ?? 20;
      const unknown = spec.unknown ?? 'zeros';
      const categories = ranked
        .slice(0, keep)
        .map(([key]) => key)
        .sort(compareCodeUnits);
      // With unknown → other, infrequent and unknown categories meet in one bucket: no need to list them.
      const infrequent =
        unknown === 'other'
          ? []
          : ranked
              .slice(keep)
              .map(([key]) => key)
              .sort(compareCodeUnits);
      fitted.push({
        op: 'onehot',
        categories,
        infrequent,
        other: ranked.length > keep || unknown === 'other',
        unknown,
      });
    } else if (spec.op === 'ordinal') {
      const categories = spec.categories ? [...spec.categories] : [...counts.keys()].sort(compareCodeUnits);
      fitted.push({ op: 'ordinal', categories, unknownValue: spec.unknownValue ?? null });
    } else {
      throw new PipelineSpecError(name, spec.op, 'does not apply to a categorical column');
    }
  }
  const encoder = fitted[fitted.length - 1];
  const features =
    encoder?.op === 'onehot'
      ? [...encoder.categories.map((c) => `${name}=${c}`), ...(encoder.other ? [`${name}=${OTHER_CATEGORY}`] : [])]
      : [name];
  return { steps: fitted, features };
}

/** Fills the missing keys; returns how many there were. */
function imputeKeys(keys: (string | null)[], step: FittedImpute): number {
  const fill = step.value as string;
  let filled = 0;
  for (let i = 0; i < keys.length; i++) {
    if (keys[i] === null) {
      keys[i] = fill;
      filled++;
    }
  }
  return filled;
}

const lookups = new WeakMap<FittedOneHot | FittedOrdinal, Map<string, number>>();

/** Category → output index; for one-hot, infrequent categories map to the other output. Cached per step. */
function lookupOf(step: FittedOneHot | FittedOrdinal): Map<string, number> {
  let lookup = lookups.get(step);
  if (lookup === undefined) {
    lookup = new Map(step.categories.map((c, i) => [c, i]));
    if (step.op === 'onehot' && step.other) for (const c of step.infrequent) lookup.set(c, step.categories.length);
    lookups.set(step, lookup);
  }
  return lookup;
}

/** Writes the outputs of a fitted categorical column for `rows` into row-major `out`. */
export function encodeCategoryColumn(
  table: Table,
  column: FittedColumn,
  rows: Uint32Array,
  out: Float32Array,
  stride: number,
): void {
  const first = column.steps[0];
  const keys = readStrings(table, column.name, 'categorical', rows, first?.op === 'impute' ? IMPUTED : STRICT);
  if (first?.op === 'impute') imputeKeys(keys, first);
  const encoder = column.steps[column.steps.length - 1];
  if (encoder?.op !== 'onehot' && encoder?.op !== 'ordinal') {
    throw new PipelineSpecError(
      column.name,
      encoder?.op ?? 'steps',
      'a categorical column must end with onehot or ordinal',
    );
  }
  const lookup = lookupOf(encoder);
  const unknownError = (i: number): PipelineInputError => {
    const shown = encoder.categories
      .slice(0, 5)
      .map((c) => describeValue(c))
      .join(', ');
    const more = encoder.categories.length > 5 ? `, … (${encoder.categories.length} in all)` : '';
    return new PipelineInputError({
      record: rows[i]!,
      column: column.name,
      problem: `unknown category ${describeValue(keys[i])}`,
      expected: `a category seen at fit time: ${shown}${more}`,
    });
  };
  const offset = column.featureOffset;
  if (encoder.op === 'ordinal') {
    for (let i = 0, at = offset; i < keys.length; i++, at += stride) {
      const index = lookup.get(keys[i]!);
      if (index !== undefined) out[at] = index;
      else if (encoder.unknownValue !== null) out[at] = encoder.unknownValue;
      else throw unknownError(i);
    }
    return;
  }
  const otherIndex = encoder.other ? encoder.categories.length : -1;
  for (let i = 0, at = offset; i < keys.length; i++, at += stride) {
    let index = lookup.get(keys[i]!);
    if (index === undefined) {
      if (encoder.unknown === 'error') throw unknownError(i);
      if (encoder.unknown === 'zeros') continue;
      index = otherIndex;
    }
    out[at + index] = 1;
  }
}

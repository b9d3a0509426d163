import { COLUMN_TYPES, parseDatetimeText } from './cell-values.js';
import type { ColumnType } from './cell-values.js';
import { PipelineSpecError, describeValue } from './errors.js';
import { DATETIME_PARTS } from './fitted-pipeline.js';
import { defaultSteps } from './pipeline-spec.js';
import type { StepSpec } from './pipeline-spec.js';

const OPTIONS: Record<StepSpec['op'], readonly string[]> = {
  impute: ['strategy', 'value'],
  clip: ['method', 'lower', 'upper', 'threshold'],
  log1p: [],
  scale: ['method'],
  onehot: ['maxCategories', 'unknown'],
  ordinal: ['categories', 'unknownValue'],
  vectorize: ['weighting', 'lowercase', 'vocabularySize', 'ngrams', 'minDocumentFrequency', 'norm'],
  datetime_parts: ['parts'],
};

const OPS_BY_TYPE: Record<ColumnType, readonly StepSpec['op'][]> = {
  numeric: ['impute', 'clip', 'log1p', 'scale'],
  integer: ['impute', 'clip', 'log1p', 'scale'],
  boolean: ['impute'],
  categorical: ['impute', 'onehot', 'ordinal'],
  text: ['impute', 'vectorize'],
  datetime: ['impute', 'datetime_parts'],
};

const IMPUTE_BY_TYPE: Record<ColumnType, readonly string[]> = {
  numeric: ['mean', 'median', 'most_frequent', 'constant'],
  integer: ['mean', 'median', 'most_frequent', 'constant'],
  boolean: ['most_frequent', 'constant'],
  categorical: ['most_frequent', 'constant'],
  text: ['constant'],
  datetime: ['mean', 'median', 'most_frequent', 'constant'],
};

const ENCODERS = new Set<string>(['onehot', 'ordinal', 'vectorize', 'datetime_parts']);
const DEFAULT_ENCODER: Partial<Record<ColumnType, StepSpec>> = {
  categorical: { op: 'onehot' },
  text: { op: 'vectorize' },
  datetime: { op: 'datetime_parts' },
};

/**
 * Checks a column's type and steps and returns the steps to fit: the type's defaults when `steps`
 * is undefined, else `steps` with the type's default encoder appended when it has none.
 * @throws PipelineSpecError naming the column and step.
 */
export function validateSteps(column: string, type: ColumnType, steps: readonly StepSpec[] | undefined): StepSpec[] {
  if (!COLUMN_TYPES.includes(type)) {
    throw new PipelineSpecError(
      column,
      'type',
      `unknown type ${describeValue(type)}; expected one of ${COLUMN_TYPES.join(', ')}`,
    );
  }
  if (steps === undefined) return defaultSteps(type);
  if (!Array.isArray(steps))
    throw new PipelineSpecError(column, 'steps', `steps is ${describeValue(steps)}; expected an array of steps`);
  const allowed = OPS_BY_TYPE[type];
  steps.forEach((step, index) => {
    const op: unknown = step !== null && typeof step === 'object' ? (step as { op?: unknown }).op : undefined;
    if (typeof op !== 'string' || !Object.hasOwn(OPTIONS, op)) {
      throw new PipelineSpecError(
        column,
        `steps[${index}]`,
        `unknown op ${describeValue(op)}; expected one of ${Object.keys(OPTIONS).join(', ')}`,
      );
    }
    const options = OPTIONS[op as StepSpec['op']];
    if (!allowed.includes(step.op)) {
      throw new PipelineSpecError(
        column,
        step.op,
        `does not apply to ${type} columns; ${type} columns take ${allowed.join(', ')} (set the column's type to change this)`,
      );
    }
    for (const key of Object.keys(step)) {
      if (key !== 'op' && !options.includes(key)) {
        throw new PipelineSpecError(
          column,
          step.op,
          `unknown option "${key}"; expected ${options.join(', ') || 'none'}`,
        );
      }
    }
    if (step.op === 'impute' && index !== 0) throw new PipelineSpecError(column, 'impute', 'must be the first step');
    if (ENCODERS.has(step.op) && index !== steps.length - 1)
      throw new PipelineSpecError(column, step.op, 'must be the last step');
    checkOptions(column, type, step);
  });
  const last = steps[steps.length - 1];
  const encoder = DEFAULT_ENCODER[type];
  return encoder !== undefined && (last === undefined || !ENCODERS.has(last.op)) ? [...steps, encoder] : [...steps];
}

function checkOptions(column: string, type: ColumnType, step: StepSpec): void {
  const fail = (problem: string): never => {
    throw new PipelineSpecError(column, step.op, problem);
  };
  const oneOf = (name: string, value: unknown, choices: readonly string[]): void => {
    if (!choices.includes(value as string))
      fail(`${name} is ${describeValue(value)}; expected one of ${choices.join(', ')}`);
  };
  const integer = (name: string, value: unknown, min: number): void => {
    if (value !== undefined && (!Number.isInteger(value) || (value as number) < min))
      fail(`${name} is ${describeValue(value)}; expected an integer ≥ ${min}`);
  };
  const finite = (name: string, value: unknown): void => {
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value)))
      fail(`${name} is ${describeValue(value)}; expected a finite number`);
  };
  switch (step.op) {
    case 'impute': {
      oneOf('strategy', step.strategy, IMPUTE_BY_TYPE[type]);
      if (step.strategy !== 'constant') {
        if (step.value !== undefined) fail(`value is only used by strategy "constant", not "${step.strategy}"`);
        return;
      }
      if (!constantFits(type, step.value))
        fail(`constant value ${describeValue(step.value)} does not fit a ${type} column`);
      return;
    }
    case 'clip': {
      oneOf('method', step.method, ['quantile', 'zscore', 'range']);
      finite('lower', step.lower);
      finite('upper', step.upper);
      finite('threshold', step.threshold);
      if (step.method === 'quantile') {
        const lower = step.lower ?? 0.01;
        const upper = step.upper ?? 0.99;
        if (!(lower >= 0 && lower < upper && upper <= 1))
          fail(`quantiles ${lower} and ${upper} must satisfy 0 ≤ lower < upper ≤ 1`);
      } else if (step.method === 'zscore') {
        if (!((step.threshold ?? 3) > 0)) fail(`threshold is ${step.threshold}; expected a number > 0`);
      } else if (step.lower === undefined && step.upper === undefined)
        fail('range clipping needs lower, upper or both');
      else if (step.lower !== undefined && step.upper !== undefined && step.lower > step.upper)
        fail(`lower ${step.lower} is above upper ${step.upper}`);
      if (step.method !== 'zscore' && step.threshold !== undefined) fail(`threshold is only used by method "zscore"`);
      if (step.method === 'zscore' && (step.lower !== undefined || step.upper !== undefined))
        fail('lower and upper are not used by method "zscore" (use threshold)');
      return;
    }
    case 'scale':
      return oneOf('method', step.method, ['standard', 'minmax', 'robust']);
    case 'onehot':
      integer('maxCategories', step.maxCategories, 1);
      if (step.unknown !== undefined) oneOf('unknown', step.unknown, ['zeros', 'error', 'other']);
      return;
    case 'ordinal':
      finite('unknownValue', step.unknownValue);
      if (step.categories === undefined) return;
      if (
        !Array.isArray(step.categories) ||
        step.categories.length === 0 ||
        !step.categories.every((c) => typeof c === 'string')
      ) {
        fail('categories must be a non-empty array of strings');
      }
      if (new Set(step.categories).size !== step.categories.length) fail('categories must not repeat');
      return;
    case 'vectorize': {
      if (step.weighting !== undefined) oneOf('weighting', step.weighting, ['tfidf', 'count']);
      if (step.norm !== undefined) oneOf('norm', step.norm, ['l2', 'none']);
      if (step.lowercase !== undefined && typeof step.lowercase !== 'boolean')
        fail(`lowercase is ${describeValue(step.lowercase)}; expected a boolean`);
      integer('vocabularySize', step.vocabularySize, 1);
      integer('minDocumentFrequency', step.minDocumentFrequency, 1);
      const ngrams = step.ngrams;
      if (
        ngrams !== undefined &&
        (!Array.isArray(ngrams) ||
          ngrams.length !== 2 ||
          !ngrams.every((n) => Number.isInteger(n)) ||
          !(ngrams[0] >= 1 && ngrams[0] <= ngrams[1] && ngrams[1] <= 5))
      ) {
        fail(`ngrams is ${JSON.stringify(ngrams)}; expected [min, max] with 1 ≤ min ≤ max ≤ 5`);
      }
      return;
    }
    case 'datetime_parts': {
      const parts = step.parts;
      if (parts === undefined) return;
      if (!Array.isArray(parts) || parts.length === 0) fail('parts must be a non-empty array');
      for (const part of parts) oneOf('part', part, DATETIME_PARTS);
      if (new Set(parts).size !== parts.length) fail('parts must not repeat');
      return;
    }
    case 'log1p':
      return;
  }
}

function constantFits(type: ColumnType, value: unknown): boolean {
  switch (type) {
    case 'numeric':
    case 'integer':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean' || value === 0 || value === 1;
    case 'categorical':
      return (
        typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))
      );
    case 'text':
      return typeof value === 'string';
    case 'datetime':
      return (
        (typeof value === 'number' && Number.isFinite(value)) ||
        (typeof value === 'string' && !Number.isNaN(parseDatetimeText(value)))
      );
  }
}

import { DAY_MS, civilTime, parseDatetimeText } from './cell-values.js';
import type { CivilTime } from './cell-values.js';
import { IMPUTED, STRICT, readNumbers } from './column-readers.js';
import { PipelineInputError, PipelineSpecError } from './errors.js';
import type { DatetimePart, FittedColumn, FittedDatetimeParts, FittedStep } from './fitted-pipeline.js';
import type { StepSpec } from './pipeline-spec.js';
import { meanOf, modeOfSorted, populationStdOf, quantilesOf, rangeOf, sortedValues } from './stats.js';
import type { Table } from './table.js';

/** Column types read as numbers: booleans as 0/1, datetimes as epoch ms (UTC). */
export type NumberColumnType = 'numeric' | 'integer' | 'boolean' | 'datetime';

/** The fitted steps and output names of a numeric, integer, boolean or datetime column. */
export interface FittedOutputs {
  steps: FittedStep[];
  features: string[];
}

/**
 * Fits `steps` on `rows` of a number-like column, each step on the output of the steps before it,
 * with the same read and apply code that {@link encodeNumberColumn} runs at transform time.
 */
export function fitNumberColumn(
  table: Table,
  name: string,
  type: NumberColumnType,
  steps: readonly StepSpec[],
  rows: Uint32Array,
): FittedOutputs {
  const values = readNumbers(table, name, type, rows, steps[0]?.op === 'impute' ? IMPUTED : STRICT);
  const fitted: FittedStep[] = [];
  let parts: FittedDatetimeParts | null = null;
  for (const spec of steps) {
    if (spec.op === 'datetime_parts') {
      parts = { op: 'datetime_parts', parts: spec.parts ? [...spec.parts] : defaultParts(values) };
      fitted.push(parts);
      break;
    }
    const step = fitStep(spec, values, name);
    applyStep(step, values, rows, name);
    fitted.push(step);
  }
  const features = parts === null ? [name] : parts.parts.map((part) => `${name}:${part}`);
  return { steps: fitted, features };
}

/** Writes the outputs of a fitted number-like column for `rows` into row-major `out`. */
export function encodeNumberColumn(
  table: Table,
  column: FittedColumn,
  rows: Uint32Array,
  out: Float32Array,
  stride: number,
): void {
  const type = column.type as NumberColumnType;
  const values = readNumbers(table, column.name, type, rows, column.steps[0]?.op === 'impute' ? IMPUTED : STRICT);
  const offset = column.featureOffset;
  for (const step of column.steps) {
    if (step.op === 'datetime_parts') return writeParts(step.parts, values, out, stride, offset);
    applyStep(step, values, rows, column.name);
  }
  for (let i = 0, at = offset; i < values.length; i++, at += stride) out[at] = values[i]!;
}

function fitStep(spec: StepSpec, values: Float64Array, name: string): FittedStep {
  const nothing = (what: string): never => {
    throw new PipelineSpecError(
      name,
      spec.op,
      `the column has no values to compute the ${what} from; give a constant, or drop the column (exclude, dropColumnsMissingAbove)`,
    );
  };
  switch (spec.op) {
    case 'impute': {
      if (spec.strategy === 'constant')
        return { op: 'impute', strategy: 'constant', value: constantNumber(spec.value) };
      const value =
        spec.strategy === 'mean'
          ? meanOf(values)
          : spec.strategy === 'median'
            ? quantilesOf(values, [0.5])[0]!
            : modeOfSorted(sortedValues(values));
      return Number.isNaN(value)
        ? nothing(spec.strategy.replace('_', ' '))
        : { op: 'impute', strategy: spec.strategy, value };
    }
    case 'clip': {
      if (spec.method === 'range')
        return { op: 'clip', method: 'range', lower: spec.lower ?? null, upper: spec.upper ?? null };
      if (values.length === 0) nothing('clip bounds');
      if (spec.method === 'quantile') {
        const [lower, upper] = quantilesOf(values, [spec.lower ?? 0.01, spec.upper ?? 0.99]);
        return { op: 'clip', method: 'quantile', lower: lower!, upper: upper! };
      }
      const mean = meanOf(values);
      const spread = (spec.threshold ?? 3) * populationStdOf(values, mean);
      return { op: 'clip', method: 'zscore', lower: mean - spread, upper: mean + spread };
    }
    case 'log1p':
      return { op: 'log1p' };
    case 'scale': {
      if (values.length === 0) nothing('scale');
      let center: number;
      let scale: number;
      if (spec.method === 'standard') {
        center = meanOf(values);
        scale = populationStdOf(values, center);
      } else if (spec.method === 'minmax') {
        const [min, max] = rangeOf(values);
        center = min;
        scale = max - min;
      } else {
        const [q1, median, q3] = quantilesOf(values, [0.25, 0.5, 0.75]);
        center = median!;
        scale = q3! - q1!;
      }
      return { op: 'scale', method: spec.method, center, scale: scale > 0 ? scale : 1 };
    }
    default:
      throw new PipelineSpecError(name, spec.op, 'does not apply to a number column');
  }
}

function constantNumber(value: unknown): number {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string') return parseDatetimeText(value);
  return value as number;
}

function applyStep(step: FittedStep, values: Float64Array, rows: Uint32Array, name: string): void {
  const n = values.length;
  switch (step.op) {
    case 'impute': {
      const fill = step.value as number;
      for (let i = 0; i < n; i++) if (values[i] !== values[i]) values[i] = fill;
      return;
    }
    case 'clip': {
      const lower = step.lower ?? Number.NEGATIVE_INFINITY;
      const upper = step.upper ?? Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        values[i] = v < lower ? lower : Math.min(v, upper);
      }
      return;
    }
    case 'log1p':
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        if (!(v > -1)) {
          throw new PipelineInputError({
            record: rows[i]!,
            column: name,
            problem: `value ${v} (after the steps before log1p) is not above -1, so log1p is undefined`,
            expected: 'values above -1 (clip them first)',
          });
        }
        values[i] = Math.log1p(v);
      }
      return;
    case 'scale': {
      const { center, scale } = step;
      for (let i = 0; i < n; i++) values[i] = (values[i]! - center) / scale;
      return;
    }
    default:
      throw new PipelineSpecError(name, step.op, 'does not apply to a number column');
  }
}

function defaultParts(values: Float64Array): DatetimePart[] {
  let firstTime = Number.NaN;
  let timesVary = false;
  for (let i = 0; i < values.length && !timesVary; i++) {
    const v = values[i]!;
    if (v !== v) continue;
    const time = v - Math.floor(v / DAY_MS) * DAY_MS;
    if (firstTime !== firstTime) firstTime = time;
    else timesVary = time !== firstTime;
  }
  return timesVary ? ['year', 'month', 'day_of_week', 'hour'] : ['year', 'month', 'day_of_week'];
}

function writeParts(
  parts: readonly DatetimePart[],
  values: Float64Array,
  out: Float32Array,
  stride: number,
  offset: number,
): void {
  const civil: CivilTime = { year: 0, month: 0, day: 0, dayOfWeek: 0, hour: 0, minute: 0 };
  const fields = parts.map((part) => PART_FIELD[part]);
  for (let i = 0, at = offset; i < values.length; i++, at += stride) {
    civilTime(values[i]!, civil);
    for (let k = 0; k < fields.length; k++) out[at + k] = civil[fields[k]!];
  }
}

const PART_FIELD: Record<DatetimePart, keyof CivilTime> = {
  year: 'year',
  month: 'month',
  day: 'day',
  day_of_week: 'dayOfWeek',
  hour: 'hour',
  minute: 'minute',
};

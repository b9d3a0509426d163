import { parseNumberText } from './cell-values.js';
import type { ColumnType } from './cell-values.js';
import { STRICT, readNumbers, readStrings } from './column-readers.js';
import { PipelineInputError, PipelineSpecError, describeValue } from './errors.js';
import type { FittedClassTarget, FittedPipeline, FittedTarget, PipelineTask, ScaleMethod } from './fitted-pipeline.js';
import { compareCodeUnits, meanOf, populationStdOf, quantilesOf, rangeOf } from './stats.js';
import type { Table } from './table.js';

/**
 * Fits the target on `rows` (which hold no missing target). Classification: the distinct labels,
 * sorted numerically when all are numbers, else by code units. Regression: `method` scaling.
 */
export function fitTarget(
  table: Table,
  name: string,
  type: ColumnType,
  task: PipelineTask,
  method: ScaleMethod | 'none',
  rows: Uint32Array,
): FittedTarget {
  if (task === 'classification') {
    const labels = new Set(readLabels(table, name, type, rows));
    const numbers = [...labels].map((label) => parseNumberText(label));
    const numeric = numbers.every((value) => !Number.isNaN(value));
    const classes = [...labels].sort(
      numeric ? (a, b) => parseNumberText(a) - parseNumberText(b) || compareCodeUnits(a, b) : compareCodeUnits,
    );
    return { name, task, type, classes };
  }
  if (type !== 'numeric' && type !== 'integer') {
    throw new PipelineSpecError(
      name,
      'target',
      `regression needs a numeric or integer target, not ${type}; use task "classification" or set the column's type`,
    );
  }
  const values = readNumbers(table, name, type, rows, STRICT);
  let center = 0;
  let scale = 1;
  if (method === 'standard') {
    center = meanOf(values);
    scale = populationStdOf(values, center);
  } else if (method === 'minmax') {
    const [min, max] = rangeOf(values);
    center = min;
    scale = max - min;
  } else if (method === 'robust') {
    const [q1, median, q3] = quantilesOf(values, [0.25, 0.5, 0.75]);
    center = median!;
    scale = q3! - q1!;
  }
  return { name, task: 'regression', type, method, center, scale: scale > 0 ? scale : 1 };
}

/**
 * Class labels as strings: numbers by value (`8`, `"8"` and `"8.0"` are all "8"), anything else
 * as given (`"yes"` stays "yes", `true` is "true"), so decoded labels read like the data.
 */
function readLabels(table: Table, name: string, type: ColumnType, rows: Uint32Array): string[] {
  if (type !== 'numeric' && type !== 'integer')
    return readStrings(table, name, type === 'text' ? 'text' : 'categorical', rows, STRICT) as string[];
  const values = readNumbers(table, name, type, rows, STRICT);
  return Array.from(values, (v) => String(v));
}

const classIndexes = new WeakMap<FittedClassTarget, Map<string, number>>();

function classIndexOf(target: FittedClassTarget): Map<string, number> {
  let lookup = classIndexes.get(target);
  if (lookup === undefined) {
    lookup = new Map(target.classes.map((label, i) => [label, i]));
    classIndexes.set(target, lookup);
  }
  return lookup;
}

/** Writes the labels of `rows` (class index or scaled value) into `labels`. */
export function encodeTargetColumn<T extends Float32Array | Float64Array>(
  table: Table,
  target: FittedTarget,
  rows: Uint32Array,
  labels: T,
): T {
  if (target.task === 'classification') {
    const keys = readLabels(table, target.name, target.type, rows);
    const lookup = classIndexOf(target);
    for (let i = 0; i < keys.length; i++) {
      const index = lookup.get(keys[i]!);
      if (index === undefined) throw unknownClass(target, keys[i], rows[i]!);
      labels[i] = index;
    }
    return labels;
  }
  const values = readNumbers(table, target.name, target.type as 'numeric' | 'integer', rows, STRICT);
  for (let i = 0; i < values.length; i++) labels[i] = (values[i]! - target.center) / target.scale;
  return labels;
}

function unknownClass(target: FittedClassTarget, label: unknown, record: number | null): PipelineInputError {
  return new PipelineInputError({
    record,
    column: target.name,
    problem: `unknown class label ${describeValue(label)}`,
    expected: `one of ${target.classes.map((c) => describeValue(c)).join(', ')}`,
  });
}

function targetOf(pipeline: FittedPipeline): FittedTarget {
  if (pipeline.target === null)
    throw new PipelineSpecError(null, 'target', `the pipeline has no target (task ${pipeline.task})`);
  return pipeline.target;
}

/**
 * A raw target value → what the model is trained on: the class index (classification) or the
 * scaled value (regression).
 * @throws PipelineInputError for an unknown class or a non-numeric regression value.
 * @example encodeTarget(pipeline, 'versicolor'); // 1
 */
export function encodeTarget(pipeline: FittedPipeline, value: unknown): number {
  const target = targetOf(pipeline);
  const table: Table = { columns: [target.name], values: { [target.name]: [value] } };
  try {
    return encodeTargetColumn(table, target, Uint32Array.of(0), new Float64Array(1))[0]!;
  } catch (error) {
    if (!(error instanceof PipelineInputError)) throw error;
    throw new PipelineInputError(
      { record: null, column: error.column, problem: error.problem, expected: error.expected },
      { cause: error },
    );
  }
}

/**
 * A model output → the target's units: the class label of an index (an argmax), or the
 * unscaled value of a regression prediction (v · scale + center).
 * @throws PipelineInputError for a class index out of range.
 * @example decodeTarget(pipeline, 2); // 'virginica'
 */
export function decodeTarget(pipeline: FittedPipeline, value: number): string | number {
  const target = targetOf(pipeline);
  if (target.task === 'regression') return value * target.scale + target.center;
  const label = Number.isInteger(value) ? target.classes[value] : undefined;
  if (label === undefined) {
    throw new PipelineInputError({
      record: null,
      column: target.name,
      problem: `class index ${value} is out of range`,
      expected: `an integer from 0 to ${target.classes.length - 1}`,
    });
  }
  return label;
}

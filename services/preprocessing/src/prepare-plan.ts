/**
 * What a PrepareDataset request means for one stored dataset: its columns checked against the
 * dataset's schema, the task, whether to stratify, the pipeline spec, the columns to load, the
 * rows that can be used (those with a target), and a predefined split read from a split column.
 */
import { Task, taskName, type PrepareDatasetRequest } from '@aimaas/proto';
import type { ColumnSchema, ColumnType, ColumnValues, PipelineSpec, PipelineTask } from '@aimaas/pipeline';
import { InvalidArgumentError } from '@aimaas/runtime';
import { toPipelineSpec } from './column-steps.js';
import { isMissingAt } from './dataset-table.js';
import { toPipelineType } from './type-mapping.js';
import type { Partition } from './validation.js';

/** A checked request. */
export interface PreparePlan {
  /** The target column, or null for reconstruction. */
  target: string | null;
  task: PipelineTask;
  stratify: boolean;
  spec: PipelineSpec;
  /** Columns the pipeline sees: the input columns (in the requested order) and the target. */
  load: string[];
  /** `split.column`: the column naming each row's split (read too, never a feature), or null. */
  splitColumn: string | null;
}

/** The split names a split column may hold. */
export const SPLIT_NAMES = ['train', 'validation', 'test'] as const;

const CLASS_TYPES: readonly ColumnType[] = ['categorical', 'boolean', 'text'];

/**
 * Checks every column the request names against the dataset's `schema` and resolves the task
 * (a categorical, boolean or text target means classification, another regression, none
 * reconstruction) and stratification (default: on for classification).
 *
 * @throws InvalidArgumentError naming an unknown column, a target that does not fit the task,
 *   stratification asked for without classes, or a split column used as the target or a feature.
 */
export function planPrepare(
  request: PrepareDatasetRequest,
  schema: readonly ColumnSchema[],
  partition: Partition,
  dataset: string,
): PreparePlan {
  const types = new Map(schema.map(({ name, type }) => [name, type]));
  const unknown = (what: string, name: string): InvalidArgumentError => {
    const names = schema.map((c) => c.name);
    const list = names.length > 30 ? `${names.slice(0, 30).join(', ')}, …` : names.join(', ');
    return new InvalidArgumentError(
      `${what} ${JSON.stringify(name)} is not a column of dataset "${dataset}" (it has ${list})`,
    );
  };
  const target = request.target === '' ? null : request.target;
  if (target !== null && !types.has(target)) throw unknown('target column', target);
  for (const name of request.features) {
    if (!types.has(name)) throw unknown('feature column', name);
    if (name === target)
      throw new InvalidArgumentError(`feature column ${JSON.stringify(name)} is the target; a column cannot be both`);
  }
  for (const name of request.exclude) if (!types.has(name)) throw unknown('excluded column', name);
  for (const name of Object.keys(request.columns))
    if (!types.has(name)) throw unknown(`columns[${JSON.stringify(name)}] names`, name);
  const splitColumn = partition.kind === 'column' ? partition.column : null;
  if (splitColumn !== null) {
    if (!types.has(splitColumn)) throw unknown('split.column', splitColumn);
    checkSplitColumn(request, splitColumn);
  }

  if (request.task !== Task.TASK_UNSPECIFIED && taskName(request.task) === undefined) {
    throw new InvalidArgumentError(
      `task is ${request.task}; expected TASK_CLASSIFICATION, TASK_REGRESSION, TASK_RECONSTRUCTION or unset (inferred from the target)`,
    );
  }
  const requested = taskName(request.task);
  let task: PipelineTask;
  if (target === null) {
    if (requested !== undefined && requested !== 'reconstruction')
      throw new InvalidArgumentError(`target is empty, but task ${requested} needs a target column`);
    task = 'reconstruction';
  } else {
    if (requested === 'reconstruction')
      throw new InvalidArgumentError(
        `target is ${JSON.stringify(target)}, but task reconstruction takes no target; leave target empty`,
      );
    const targetType = toPipelineType(request.columns[target]?.type ?? 0) ?? types.get(target)!;
    task = requested ?? (CLASS_TYPES.includes(targetType) ? 'classification' : 'regression');
  }
  const stratify = partition.kind === 'column' ? false : (partition.stratify ?? task === 'classification');
  if (stratify && task !== 'classification') {
    throw new InvalidArgumentError(
      `${partition.kind === 'split' ? 'split' : 'kfold'}.stratify is true, but the task is ${task}; stratification needs classes`,
    );
  }
  const dropped = new Set([
    ...request.exclude,
    ...Object.entries(request.columns)
      .filter(([, c]) => c.drop)
      .map(([name]) => name),
  ]);
  const inputs = (request.features.length > 0 ? request.features : schema.map((c) => c.name)).filter(
    (name) => name !== target && name !== splitColumn && !dropped.has(name),
  );
  // The table holds exactly the inputs and the target, so the spec names the inputs and excludes nothing.
  const spec = { ...toPipelineSpec(request, schema, task), features: inputs };
  return { target, task, stratify, spec, load: target === null ? inputs : [...inputs, target], splitColumn };
}

/** A split column is neither the target, a feature, nor a column with steps. */
function checkSplitColumn(request: PrepareDatasetRequest, column: string): void {
  const name = JSON.stringify(column);
  if (column === request.target)
    throw new InvalidArgumentError(
      `split.column ${name} is the target; the split column names each row's split and cannot be the target`,
    );
  if (request.features.includes(column))
    throw new InvalidArgumentError(
      `feature column ${name} is split.column; the split column names each row's split and is never a feature`,
    );
  const steps = request.columns[column];
  if (steps !== undefined && !steps.drop)
    throw new InvalidArgumentError(`columns[${name}] gives steps for split.column ${name}, which is never a feature`);
}

/**
 * The positions (into `rows`) of each split, as the split column's `values` name them.
 *
 * @throws InvalidArgumentError naming the first dataset row whose value is missing or not
 *   "train", "validation" or "test", or a column that names no training row.
 */
export function predefinedSplit(
  values: ColumnValues,
  rows: Uint32Array,
  column: string,
): Record<(typeof SPLIT_NAMES)[number], Uint32Array> {
  const positions = SPLIT_NAMES.map(() => new Uint32Array(rows.length));
  const filled = [0, 0, 0];
  for (let p = 0; p < rows.length; p++) {
    const row = rows[p]!;
    const s = isMissingAt(values, row) ? -1 : SPLIT_NAMES.indexOf(String(values[row]) as (typeof SPLIT_NAMES)[number]);
    if (s < 0) {
      const value = isMissingAt(values, row) ? 'is missing' : `is ${JSON.stringify(String(values[row]))}`;
      throw new InvalidArgumentError(
        `dataset row ${row}, column ${JSON.stringify(column)} (split.column): value ${value}; expected "train", "validation" or "test"`,
      );
    }
    positions[s]![filled[s]!++] = p;
  }
  if (filled[0] === 0) {
    throw new InvalidArgumentError(
      `split.column ${JSON.stringify(column)} is "train" in none of the ${rows.length} rows it splits; expected training rows (the pipeline is fitted on them)`,
    );
  }
  const [train, validation, test] = positions.map((out, s) => out.slice(0, filled[s]));
  return { train: train!, validation: validation!, test: test! };
}

/** Rows whose target is present (every row without a target), ascending. */
export function usableRows(rows: number, targetValues: ColumnValues | undefined): Uint32Array {
  if (targetValues === undefined) return Uint32Array.from({ length: rows }, (_, i) => i);
  const out = new Uint32Array(rows);
  let n = 0;
  for (let r = 0; r < rows; r++) if (!isMissingAt(targetValues, r)) out[n++] = r;
  return out.slice(0, n);
}

/**
 * Class label keys of `rows`, as the pipeline keys classes: numbers by value (`String(8)`),
 * strings as they are.
 */
export function labelKeys(values: ColumnValues, rows: Uint32Array): string[] {
  const keys = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) keys[i] = String(values[rows[i]!]);
  return keys;
}

/**
 * Checks that a classification target has two classes or more, and that every class of the
 * validation and test rows also has training rows (the pipeline learns the classes from them);
 * `remedy` says what to do about a class without.
 */
export function checkClasses(
  target: string,
  keys: readonly string[],
  positions: { train: Uint32Array; others: Uint32Array[] } | null,
  remedy = 'give it more rows or a larger train fraction',
): void {
  const classes = new Set(keys);
  if (classes.size < 2) {
    const only = classes.size === 0 ? 'no class' : `a single class (${JSON.stringify([...classes][0])})`;
    throw new InvalidArgumentError(
      `target ${JSON.stringify(target)} has ${only} in its ${keys.length} rows; classification needs at least two classes`,
    );
  }
  if (positions === null) return;
  const trained = new Set<string>();
  for (const p of positions.train) trained.add(keys[p]!);
  for (const split of positions.others) {
    for (const p of split) {
      const key = keys[p]!;
      if (!trained.has(key)) {
        const count = keys.filter((k) => k === key).length;
        throw new InvalidArgumentError(
          `class ${JSON.stringify(key)} of target ${JSON.stringify(target)} has no training rows (it has ${count} rows in all); ${remedy}`,
        );
      }
    }
  }
}

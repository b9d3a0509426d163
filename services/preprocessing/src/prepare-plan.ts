/**
 * What a PrepareDataset request means for one stored dataset: its columns checked against the
 * dataset's schema, the task, whether to stratify, the pipeline spec, the columns to load, and
 * the rows that can be used (those with a target).
 */
import { taskName, type PrepareDatasetRequest } from '@aimaas/proto';
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
  /** Columns to read from the shards: the input columns (in the requested order) and the target. */
  load: string[];
}

const CLASS_TYPES: readonly ColumnType[] = ['categorical', 'boolean', 'text'];

/**
 * Checks every column the request names against the dataset's `schema` and resolves the task
 * (a categorical, boolean or text target means classification, another regression, none
 * reconstruction) and stratification (default: on for classification).
 *
 * @throws InvalidArgumentError naming an unknown column, a target that does not fit the task, or
 *   stratification asked for without classes.
 */
export function planPrepare(request: PrepareDatasetRequest, schema: readonly ColumnSchema[], partition: Partition, dataset: string): PreparePlan {
  const types = new Map(schema.map(({ name, type }) => [name, type]));
  const unknown = (what: string, name: string): InvalidArgumentError => {
    const names = schema.map((c) => c.name);
    const list = names.length > 30 ? `${names.slice(0, 30).join(', ')}, …` : names.join(', ');
    return new InvalidArgumentError(`${what} ${JSON.stringify(name)} is not a column of dataset "${dataset}" (it has ${list})`);
  };
  const target = request.target === '' ? null : request.target;
  if (target !== null && !types.has(target)) throw unknown('target column', target);
  for (const name of request.features) {
    if (!types.has(name)) throw unknown('feature column', name);
    if (name === target) throw new InvalidArgumentError(`feature column ${JSON.stringify(name)} is the target; a column cannot be both`);
  }
  for (const name of request.exclude) if (!types.has(name)) throw unknown('excluded column', name);
  for (const name of Object.keys(request.columns)) if (!types.has(name)) throw unknown(`columns[${JSON.stringify(name)}] names`, name);

  const requested = taskName(request.task);
  let task: PipelineTask;
  if (target === null) {
    if (requested !== undefined && requested !== 'reconstruction') throw new InvalidArgumentError(`target is empty, but task ${requested} needs a target column`);
    task = 'reconstruction';
  } else {
    if (requested === 'reconstruction') throw new InvalidArgumentError(`target is ${JSON.stringify(target)}, but task reconstruction takes no target; leave target empty`);
    const targetType = toPipelineType(request.columns[target]?.type ?? 0) ?? types.get(target)!;
    task = requested ?? (CLASS_TYPES.includes(targetType) ? 'classification' : 'regression');
  }
  const stratify = partition.stratify ?? task === 'classification';
  if (stratify && task !== 'classification') {
    throw new InvalidArgumentError(`${partition.kind === 'split' ? 'split' : 'kfold'}.stratify is true, but the task is ${task}; stratification needs classes`);
  }
  const dropped = new Set([...request.exclude, ...Object.entries(request.columns).filter(([, c]) => c.drop).map(([name]) => name)]);
  const inputs = (request.features.length > 0 ? request.features : schema.map((c) => c.name)).filter((name) => name !== target && !dropped.has(name));
  // The table holds exactly the inputs and the target, so the spec names the inputs and excludes nothing.
  const spec = { ...toPipelineSpec(request, schema, task), features: inputs };
  return { target, task, stratify, spec, load: target === null ? inputs : [...inputs, target] };
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
 * validation and test rows also has training rows (the pipeline learns the classes from them).
 */
export function checkClasses(target: string, keys: readonly string[], positions: { train: Uint32Array; others: Uint32Array[] } | null): void {
  const classes = new Set(keys);
  if (classes.size < 2) {
    const only = classes.size === 0 ? 'no class' : `a single class (${JSON.stringify([...classes][0])})`;
    throw new InvalidArgumentError(`target ${JSON.stringify(target)} has ${only} in its ${keys.length} rows; classification needs at least two classes`);
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
          `class ${JSON.stringify(key)} of target ${JSON.stringify(target)} has no training rows (it has ${count} rows in all); give it more rows or a larger train fraction`,
        );
      }
    }
  }
}

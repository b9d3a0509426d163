import { isMissingValue } from './cell-values.js';
import type { ColumnType } from './cell-values.js';
import { fitCategoryColumn } from './category-column.js';
import { PipelineSpecError, describeValue } from './errors.js';
import { PIPELINE_FORMAT, PIPELINE_VERSION } from './fitted-pipeline.js';
import type { FittedColumn, FittedPipeline, PipelineTask } from './fitted-pipeline.js';
import { fitNumberColumn } from './number-column.js';
import type { FittedOutputs } from './number-column.js';
import type { PipelineSpec, StepSpec } from './pipeline-spec.js';
import { checkTypeOverrides, inferColumnType } from './schema-inference.js';
import { validateSteps } from './step-validation.js';
import { columnValues, tableRowCount } from './table.js';
import type { ColumnSchema, Table } from './table.js';
import { fitTarget } from './target.js';
import { fitTextColumn } from './text-column.js';
import { selectRows, transformTable } from './transform.js';
import type { TransformResult } from './transform.js';

/**
 * Fits a pipeline on a table: resolves column types (`columns[name].type`, the type its encoder
 * step implies, `inferOptions.types`, `schema`, the table's `types`, then inference), drops
 * columns and rows by missing rate, fits each column's steps on the kept rows, and fits the target.
 * The result is plain JSON data; apply it with {@link transformTable} or `transformRecords`.
 *
 * @throws PipelineSpecError for a bad spec (naming the column and step or setting).
 * @throws PipelineInputError for a value that does not fit its column (naming record and column).
 * @example
 * const pipeline = fitPipeline(table, { target: 'species', task: 'classification' });
 */
export function fitPipeline(table: Table, spec: PipelineSpec = {}): FittedPipeline {
  const n = tableRowCount(table);
  checkSettings(table, spec);
  const target = spec.target;
  if (target !== undefined && columnValues(table, target) === undefined) {
    throw new PipelineSpecError(
      target,
      'target',
      `the table has no column "${target}" (it has ${table.columns.join(', ')})`,
    );
  }
  const excluded = new Set(spec.exclude ?? []);
  for (const name of [...(spec.features ?? []), ...excluded]) {
    if (columnValues(table, name) === undefined)
      throw new PipelineSpecError(
        name,
        spec.features?.includes(name) ? 'features' : 'exclude',
        'the table has no such column',
      );
  }
  if (target !== undefined && spec.features?.includes(target))
    throw new PipelineSpecError(target, 'features', 'the target cannot also be an input feature');
  const candidates = (spec.features ?? table.columns).filter((name) => name !== target && !excluded.has(name));
  for (const [name, columnSpec] of Object.entries(spec.columns ?? {})) {
    if (name === target && columnSpec.steps !== undefined)
      throw new PipelineSpecError(name, 'steps', 'the target takes a type but no steps (see task and targetScale)');
    if (name !== target && !candidates.includes(name))
      throw new PipelineSpecError(name, 'columns', 'has steps but is not an input column (check features and exclude)');
  }
  const typeOf = typeResolver(table, spec);
  const targetSchema: ColumnSchema | null = target === undefined ? null : { name: target, type: typeOf(target) };
  const task = resolveTask(spec.task, targetSchema);

  const droppedColumns: string[] = [];
  const inputs: ColumnSchema[] = [];
  for (const name of candidates) {
    const type = typeOf(name);
    if (spec.dropColumnsMissingAbove !== undefined && missingShare(table, name, type, n) > spec.dropColumnsMissingAbove)
      droppedColumns.push(name);
    else inputs.push({ name, type });
  }
  if (inputs.length === 0)
    throw new PipelineSpecError(
      null,
      'features',
      'no input columns are left to fit (check features, exclude and dropColumnsMissingAbove)',
    );
  const steps = inputs.map(({ name, type }) => validateSteps(name, type, spec.columns?.[name]?.steps));

  const threshold = spec.dropRowsMissingAbove ?? null;
  const { kept } = selectRows(table, n, inputs, threshold, targetSchema);
  if (kept.length === 0)
    throw new PipelineSpecError(
      null,
      'rows',
      `none of the ${n} rows is left to fit (check dropRowsMissingAbove and missing targets)`,
    );

  const columns: FittedColumn[] = [];
  const features: string[] = [];
  inputs.forEach(({ name, type }, i) => {
    const fitted = fitColumn(table, name, type, steps[i]!, kept);
    columns.push({
      name,
      type,
      steps: fitted.steps,
      featureOffset: features.length,
      featureCount: fitted.features.length,
    });
    features.push(...fitted.features);
  });
  return {
    format: PIPELINE_FORMAT,
    version: PIPELINE_VERSION,
    task,
    inputColumns: inputs.map(({ name }) => name),
    droppedColumns,
    dropRowsMissingAbove: threshold,
    columns,
    features,
    target:
      targetSchema === null
        ? null
        : fitTarget(table, targetSchema.name, targetSchema.type, task, spec.targetScale ?? 'standard', kept),
    fittedRows: kept.length,
  };
}

/**
 * Fits a pipeline and applies it to the same table: the training tensors. Applying the returned
 * pipeline to the same raw rows later (as records or a table) gives bit-identical output.
 */
export function fitTransform(
  table: Table,
  spec: PipelineSpec = {},
): { pipeline: FittedPipeline; data: TransformResult } {
  const pipeline = fitPipeline(table, spec);
  return { pipeline, data: transformTable(pipeline, table) };
}

function fitColumn(
  table: Table,
  name: string,
  type: ColumnType,
  steps: readonly StepSpec[],
  rows: Uint32Array,
): FittedOutputs {
  switch (type) {
    case 'categorical':
      return fitCategoryColumn(table, name, steps, rows);
    case 'text':
      return fitTextColumn(table, name, steps, rows);
    default:
      return fitNumberColumn(table, name, type, steps, rows);
  }
}

const SETTINGS = [
  'target',
  'task',
  'features',
  'exclude',
  'columns',
  'schema',
  'dropColumnsMissingAbove',
  'dropRowsMissingAbove',
  'targetScale',
  'inferOptions',
];

function checkSettings(table: Table, spec: PipelineSpec): void {
  const fail = (setting: string, value: unknown, expected: string): never => {
    throw new PipelineSpecError(null, setting, `is ${describeValue(value)}; expected ${expected}`);
  };
  for (const key of Object.keys(spec)) {
    if (!SETTINGS.includes(key))
      throw new PipelineSpecError(null, key, `unknown setting; expected one of ${SETTINGS.join(', ')}`);
  }
  for (const [name, columnSpec] of Object.entries(spec.columns ?? {})) {
    if (columnSpec === null || typeof columnSpec !== 'object')
      throw new PipelineSpecError(name, 'columns', `is ${describeValue(columnSpec)}; expected { type?, steps? }`);
    for (const key of Object.keys(columnSpec)) {
      if (key !== 'type' && key !== 'steps')
        throw new PipelineSpecError(name, key, 'unknown setting; expected type or steps');
    }
  }
  for (const setting of ['dropColumnsMissingAbove', 'dropRowsMissingAbove'] as const) {
    const value = spec[setting];
    if (value !== undefined && !(typeof value === 'number' && value >= 0 && value <= 1))
      fail(setting, value, 'a share from 0 to 1');
  }
  if (spec.task !== undefined && !['classification', 'regression', 'reconstruction'].includes(spec.task))
    fail('task', spec.task, 'classification, regression or reconstruction');
  if (spec.targetScale !== undefined && !['standard', 'minmax', 'robust', 'none'].includes(spec.targetScale))
    fail('targetScale', spec.targetScale, 'standard, minmax, robust or none');
  for (const setting of ['features', 'exclude'] as const) {
    const value = spec[setting];
    if (value !== undefined && !(Array.isArray(value) && value.every((v) => typeof v === 'string')))
      fail(setting, value, 'an array of column names');
  }
  checkTypeOverrides(spec.inferOptions?.types);
  checkTypeOverrides(table.types);
  checkTypeOverrides(Object.fromEntries((spec.schema ?? []).map((s) => [s.name, s.type])));
  checkTypeOverrides(
    Object.fromEntries(
      Object.entries(spec.columns ?? {}).flatMap(([name, c]) => (c.type === undefined ? [] : [[name, c.type]])),
    ),
  );
}

/** An encoder step names its column's type when the spec gives none (vectorize → text, …). */
const IMPLIED_TYPE: Partial<Record<StepSpec['op'], ColumnType>> = {
  onehot: 'categorical',
  ordinal: 'categorical',
  vectorize: 'text',
  datetime_parts: 'datetime',
};

function typeResolver(table: Table, spec: PipelineSpec): (name: string) => ColumnType {
  const known = new Map(Object.entries(table.types ?? {}));
  for (const { name, type } of spec.schema ?? []) known.set(name, type);
  for (const [name, type] of Object.entries(spec.inferOptions?.types ?? {})) known.set(name, type);
  for (const [name, c] of Object.entries(spec.columns ?? {})) {
    const steps: readonly (StepSpec | null)[] = Array.isArray(c.steps) ? c.steps : [];
    const implied = steps
      .map((step) => (step === null ? undefined : IMPLIED_TYPE[step.op]))
      .find((type) => type !== undefined);
    if (c.type !== undefined || implied !== undefined) known.set(name, c.type ?? implied!);
  }
  return (name) => known.get(name) ?? inferColumnType(columnValues(table, name) ?? [], spec.inferOptions);
}

function resolveTask(task: PipelineTask | undefined, target: ColumnSchema | null): PipelineTask {
  if (target === null) {
    if (task !== undefined && task !== 'reconstruction')
      throw new PipelineSpecError(null, 'target', `task "${task}" needs a target column`);
    return 'reconstruction';
  }
  if (task === 'reconstruction')
    throw new PipelineSpecError(target.name, 'target', 'a reconstruction pipeline takes no target');
  if (task !== undefined) return task;
  return target.type === 'categorical' || target.type === 'boolean' || target.type === 'text'
    ? 'classification'
    : 'regression';
}

function missingShare(table: Table, name: string, type: ColumnType, n: number): number {
  if (n === 0) return 0;
  const values = columnValues(table, name);
  if (values === undefined) return 1;
  let missing = 0;
  for (let r = 0; r < n; r++) if (isMissingValue(values[r], type)) missing++;
  return missing / n;
}

import { isMissingValue } from './cell-values.js';
import { encodeCategoryColumn } from './category-column.js';
import { PipelineInputError } from './errors.js';
import type { FittedColumn, FittedPipeline } from './fitted-pipeline.js';
import { encodeNumberColumn } from './number-column.js';
import { columnValues, tableFromRecords, tableRowCount } from './table.js';
import type { ColumnSchema, Table } from './table.js';
import { encodeTargetColumn } from './target.js';
import { encodeTextColumn } from './text-column.js';

/** Options of {@link transformTable} and {@link transformRecords}. */
export interface TransformOptions {
  /**
   * Produce labels from the target column. When true, rows whose target is missing are dropped
   * and a missing target column is an input error. @default true when the input has the target
   * column (at least one record has the key), else false
   */
  labels?: boolean;
  /**
   * Drop rows whose share of missing input values is above the pipeline's `dropRowsMissingAbove`,
   * as at fit time. When false such rows are kept (and imputed, or rejected). @default true
   */
  dropRows?: boolean;
}

/** Model inputs: a row-major float32 matrix, and labels when the input carries the target. */
export interface TransformResult {
  /** rows × featureNames.length values, row-major. */
  features: Float32Array;
  /** One per row: class index (classification) or scaled target (regression). */
  labels?: Float32Array;
  /** Rows in `features` (input rows minus dropped ones). */
  rows: number;
  /** Output feature names, in column order of `features`. */
  featureNames: readonly string[];
  /** Indices of the input rows left out (too many missing values, or a missing target), ascending. */
  droppedRows: Uint32Array;
}

/**
 * Applies a fitted pipeline to a table. This is the one code path for training tensors and for
 * inference inputs; {@link transformRecords} converts records to a table and calls it.
 *
 * @throws PipelineInputError naming the record and column of a missing column, a missing value
 *   without imputation, a value that does not read as its column's type, an unknown category (by
 *   option) or an unknown class label.
 * @example
 * const { features, rows, featureNames } = transformTable(pipeline, table);
 * features[r * featureNames.length + j]; // feature j of row r
 */
export function transformTable(
  pipeline: FittedPipeline,
  table: Table,
  options: TransformOptions = {},
): TransformResult {
  const n = tableRowCount(table);
  const target = pipeline.target;
  const withLabels = target !== null && (options.labels ?? columnValues(table, target.name) !== undefined);
  if (withLabels && columnValues(table, target.name) === undefined) {
    throw new PipelineInputError({
      record: n > 0 ? 0 : null,
      column: target.name,
      problem: 'the target column is missing from the input',
      expected: 'the target column when labels are asked for',
    });
  }
  const inputs = pipeline.columns.map(({ name, type }) => ({ name, type }));
  const threshold = options.dropRows === false ? null : pipeline.dropRowsMissingAbove;
  const { kept, dropped } = selectRows(table, n, inputs, threshold, withLabels ? target : null);
  const width = pipeline.features.length;
  const features = new Float32Array(kept.length * width);
  for (const column of pipeline.columns) encodeColumn(table, column, kept, features, width);
  const result: TransformResult = {
    features,
    rows: kept.length,
    featureNames: pipeline.features,
    droppedRows: dropped,
  };
  if (withLabels) result.labels = encodeTargetColumn(table, target, kept, new Float32Array(kept.length));
  return result;
}

/**
 * Applies a fitted pipeline to JSON records (as the inference service receives them): the records
 * become a table of their raw values ({@link tableFromRecords}) and go through
 * {@link transformTable}, so a served model sees exactly what it was trained on.
 *
 * @example
 * const { features } = transformRecords(pipeline, [{ Cylinders: 4, Horsepower: 95, Origin: 'Japan', … }]);
 */
export function transformRecords(
  pipeline: FittedPipeline,
  records: readonly unknown[],
  options: TransformOptions = {},
): TransformResult {
  const columns = pipeline.target === null ? pipeline.inputColumns : [...pipeline.inputColumns, pipeline.target.name];
  return transformTable(pipeline, tableFromRecords(records, columns), options);
}

function encodeColumn(table: Table, column: FittedColumn, rows: Uint32Array, out: Float32Array, stride: number): void {
  switch (column.type) {
    case 'categorical':
      return encodeCategoryColumn(table, column, rows, out, stride);
    case 'text':
      return encodeTextColumn(table, column, rows, out, stride);
    default:
      return encodeNumberColumn(table, column, rows, out, stride);
  }
}

/**
 * The rows to keep: those whose share of missing values over `inputs` is at most `threshold`
 * (all when null) and, when a target is given, whose target is not missing.
 */
export function selectRows(
  table: Table,
  n: number,
  inputs: readonly ColumnSchema[],
  threshold: number | null,
  target: ColumnSchema | null,
): { kept: Uint32Array; dropped: Uint32Array } {
  const drop = new Uint8Array(n);
  if (threshold !== null && inputs.length > 0) {
    const missing = new Uint32Array(n);
    for (const { name, type } of inputs) {
      const values = columnValues(table, name);
      if (values === undefined) {
        for (let r = 0; r < n; r++) missing[r]!++;
      } else if (values instanceof Float64Array) {
        for (let r = 0; r < n; r++) if (values[r] !== values[r]) missing[r]!++;
      } else {
        for (let r = 0; r < n; r++) if (isMissingValue(values[r], type)) missing[r]!++;
      }
    }
    for (let r = 0; r < n; r++) if (missing[r]! / inputs.length > threshold) drop[r] = 1;
  }
  if (target !== null) {
    const values = columnValues(table, target.name);
    for (let r = 0; r < n; r++) if (values === undefined || isMissingValue(values[r], target.type)) drop[r] = 1;
  }
  let droppedCount = 0;
  for (let r = 0; r < n; r++) droppedCount += drop[r]!;
  const kept = new Uint32Array(n - droppedCount);
  const dropped = new Uint32Array(droppedCount);
  for (let r = 0, k = 0, d = 0; r < n; r++) {
    if (drop[r] === 1) dropped[d++] = r;
    else kept[k++] = r;
  }
  return { kept, dropped };
}

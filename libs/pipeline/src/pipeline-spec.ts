import type { ColumnType } from './cell-values.js';
import type { DatetimePart, ImputeStrategy, PipelineTask, ScaleMethod } from './fitted-pipeline.js';
import type { ColumnSchema } from './table.js';
import type { InferSchemaOptions } from './schema-inference.js';

/**
 * Fill missing values. `mean` and `median` need a numeric, integer or datetime column;
 * `constant` needs `value` (an ISO date or epoch ms for datetimes). With an impute step, values that
 * cannot be read as the column's type are imputed too instead of raising PipelineInputError.
 */
export interface ImputeStepSpec {
  op: 'impute';
  strategy: ImputeStrategy;
  value?: number | string | boolean;
}

/**
 * Clamp outliers. `quantile`: bounds at quantiles `lower`/`upper` of the fitted data
 * (@default 0.01 / 0.99); `zscore`: mean ± `threshold` std (@default 3); `range`: fixed
 * `lower`/`upper` values (either may be left out).
 */
export interface ClipStepSpec {
  op: 'clip';
  method: 'quantile' | 'zscore' | 'range';
  lower?: number;
  upper?: number;
  threshold?: number;
}

/** ln(1 + x). */
export interface Log1pStepSpec {
  op: 'log1p';
}

/** Scale with statistics of the fitted data. */
export interface ScaleStepSpec {
  op: 'scale';
  method: ScaleMethod;
}

/** One-hot encoding (categorical columns). */
export interface OneHotStepSpec {
  op: 'onehot';
  /** Categories kept as their own output, the most frequent first. @default 20 */
  maxCategories?: number;
  /** Categories never seen at fit: all-zero outputs, an input error, or the other bucket. @default 'zeros' */
  unknown?: 'zeros' | 'error' | 'other';
}

/** Ordinal encoding (categorical columns) to one output. */
export interface OrdinalStepSpec {
  op: 'ordinal';
  /** Category order. @default the fitted categories, sorted by code units */
  categories?: string[];
  /** Output for unknown categories. @default undefined (an unknown category is an input error) */
  unknownValue?: number;
}

/** Text vectorization (text columns). */
export interface VectorizeStepSpec {
  op: 'vectorize';
  /** @default 'tfidf' */
  weighting?: 'tfidf' | 'count';
  /** @default true */
  lowercase?: boolean;
  /** Most frequent terms kept (by total count; ties by code units). @default 1000 */
  vocabularySize?: number;
  /** Smallest and largest n-gram length. @default [1, 1] */
  ngrams?: [number, number];
  /** Terms found in fewer documents are dropped. @default 1 */
  minDocumentFrequency?: number;
  /** @default 'l2' for tfidf, 'none' for count */
  norm?: 'l2' | 'none';
}

/** Datetime → calendar parts (UTC). */
export interface DatetimePartsStepSpec {
  op: 'datetime_parts';
  /** @default ['year', 'month', 'day_of_week'], plus 'hour' when the fitted times of day vary */
  parts?: DatetimePart[];
}

/**
 * One step of a column. Allowed per type (impute first, the encoder last, which is added with its
 * defaults when left out):
 * - numeric, integer: impute (mean, median, most_frequent, constant), clip, log1p, scale
 * - boolean: impute (most_frequent, constant); output 0/1
 * - categorical: impute (most_frequent, constant), then onehot or ordinal
 * - text: impute (constant), then vectorize
 * - datetime: impute (median, most_frequent, constant), then datetime_parts
 */
export type StepSpec =
  | ImputeStepSpec
  | ClipStepSpec
  | Log1pStepSpec
  | ScaleStepSpec
  | OneHotStepSpec
  | OrdinalStepSpec
  | VectorizeStepSpec
  | DatetimePartsStepSpec;

/** The type and steps of one column. */
export interface ColumnStepsSpec {
  /**
   * The column's type. @default the type its encoder step implies (onehot/ordinal → categorical,
   * vectorize → text, datetime_parts → datetime), else the known or inferred type
   */
  type?: ColumnType;
  /** @default the type's defaults (see {@link defaultSteps}) */
  steps?: StepSpec[];
}

/**
 * What to fit.
 *
 * @example
 * const spec: PipelineSpec = {
 *   target: 'Miles_per_Gallon',
 *   task: 'regression',
 *   exclude: ['Name'],
 *   columns: { Horsepower: { steps: [{ op: 'impute', strategy: 'mean' }, { op: 'scale', method: 'robust' }] } },
 * };
 */
export interface PipelineSpec {
  /** The label column; absent for reconstruction. */
  target?: string;
  /** @default 'classification' for a categorical, boolean or text target, 'regression' for others, 'reconstruction' without a target */
  task?: PipelineTask;
  /** Input columns. @default every table column but the target */
  features?: string[];
  /** Columns left out of the inputs. */
  exclude?: string[];
  /** Per-column type and steps; columns not named get the defaults of their type. */
  columns?: Record<string, ColumnStepsSpec>;
  /** Known column types (e.g. decided at import); `columns[name].type` wins over these. */
  schema?: ColumnSchema[];
  /** Drop input columns whose share of missing values is above this (0–1). */
  dropColumnsMissingAbove?: number;
  /** Drop rows whose share of missing input values is above this (0–1), at fit and apply time. */
  dropRowsMissingAbove?: number;
  /** Scaling of a regression target. @default 'standard' */
  targetScale?: ScaleMethod | 'none';
  /** Options for inferring the types of columns with no known type. */
  inferOptions?: InferSchemaOptions;
}

/** The steps a column of `type` gets when the spec names none. */
export function defaultSteps(type: ColumnType): StepSpec[] {
  switch (type) {
    case 'numeric':
    case 'integer':
      return [
        { op: 'impute', strategy: 'median' },
        { op: 'scale', method: 'standard' },
      ];
    case 'boolean':
      return [];
    case 'categorical':
      return [
        { op: 'impute', strategy: 'most_frequent' },
        { op: 'onehot', maxCategories: 20 },
      ];
    case 'text':
      return [{ op: 'vectorize', weighting: 'tfidf', vocabularySize: 1000, ngrams: [1, 1] }];
    case 'datetime':
      return [{ op: 'datetime_parts' }];
  }
}

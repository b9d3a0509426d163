import type { ColumnType } from './cell-values.js';

/** The `format` field of every serialised pipeline. */
export const PIPELINE_FORMAT = 'aimaas.pipeline';
/** The `version` this build writes and reads. */
export const PIPELINE_VERSION = 1;

/** What the model learns: class index, scaled value, or its own input (autoencoders). */
export type PipelineTask = 'classification' | 'regression' | 'reconstruction';
/** How missing values are filled. */
export type ImputeStrategy = 'mean' | 'median' | 'most_frequent' | 'constant';
/** `standard`: (x−mean)/std; `minmax`: (x−min)/(max−min); `robust`: (x−median)/IQR. */
export type ScaleMethod = 'standard' | 'minmax' | 'robust';
/** Calendar parts of a datetime, in UTC. `day_of_week`: 0 = Monday … 6 = Sunday. */
export type DatetimePart = 'year' | 'month' | 'day' | 'day_of_week' | 'hour' | 'minute';
/** All datetime parts, in feature order. */
export const DATETIME_PARTS: readonly DatetimePart[] = ['year', 'month', 'day', 'day_of_week', 'hour', 'minute'];

/**
 * Fill missing (and, with imputation, unreadable) values. `value` is in the column's domain:
 * a number for numeric and integer, 0/1 for boolean, epoch ms (UTC) for datetime, a string for
 * categorical and text.
 */
export interface FittedImpute {
  op: 'impute';
  strategy: ImputeStrategy;
  value: number | string;
}

/** Clamp to [lower, upper]; null = unbounded. `method` records how the bounds were found. */
export interface FittedClip {
  op: 'clip';
  method: 'quantile' | 'zscore' | 'range';
  lower: number | null;
  upper: number | null;
}

/** x → ln(1 + x); values ≤ −1 are input errors. */
export interface FittedLog1p {
  op: 'log1p';
}

/** x → (x − center) / scale; `scale` is never 0 (a constant column gets scale 1). */
export interface FittedScale {
  op: 'scale';
  method: ScaleMethod;
  center: number;
  scale: number;
}

/**
 * One output per category in `categories` (the most frequent, sorted by code units), then, when
 * `other` is true, one `<column>=__other__` output for the `infrequent` categories (and unknown
 * ones when `unknown` is `other`). Unknown categories give all zeros, an input error, or `other`.
 * `infrequent` is listed only when unknown categories must be told apart from it (not `other`).
 */
export interface FittedOneHot {
  op: 'onehot';
  categories: string[];
  infrequent: string[];
  other: boolean;
  unknown: 'zeros' | 'error' | 'other';
}

/** Category → its index in `categories`; unknown → `unknownValue`, or an input error when null. */
export interface FittedOrdinal {
  op: 'ordinal';
  categories: string[];
  unknownValue: number | null;
}

/**
 * Bag of n-grams over `vocabulary` (sorted by code units). Tokens are runs of Unicode letters and
 * digits; n-grams join tokens with one space. Weight = count (× `idf[i]` for tfidf, where
 * idf = ln((1 + documents) / (1 + documentFrequency)) + 1), then optional L2 normalisation.
 */
export interface FittedVectorize {
  op: 'vectorize';
  weighting: 'tfidf' | 'count';
  lowercase: boolean;
  ngrams: [number, number];
  norm: 'l2' | 'none';
  vocabulary: string[];
  /** One per vocabulary term for tfidf; empty for count. */
  idf: number[];
}

/** One output per part, in `parts` order. */
export interface FittedDatetimeParts {
  op: 'datetime_parts';
  parts: DatetimePart[];
}

/** A fitted step: the spec's choice together with the statistics learned at fit time. */
export type FittedStep =
  | FittedImpute
  | FittedClip
  | FittedLog1p
  | FittedScale
  | FittedOneHot
  | FittedOrdinal
  | FittedVectorize
  | FittedDatetimeParts;

/** One input column: its type, its steps in order, and where its outputs sit in a feature row. */
export interface FittedColumn {
  name: string;
  type: ColumnType;
  steps: FittedStep[];
  /** Index of the column's first output in `features`. */
  featureOffset: number;
  /** Number of outputs (1, or one per category / term / datetime part). */
  featureCount: number;
}

/**
 * Classification target: class label → its index in `classes`. Labels compare as strings; a
 * numeric or integer target's labels by value (`8`, `"8"` and `"8.0"` are all "8").
 */
export interface FittedClassTarget {
  name: string;
  task: 'classification';
  type: ColumnType;
  /** Sorted: numerically when every label is a number, else by code units. */
  classes: string[];
}

/** Regression target: y → (y − center) / scale; decode with y = v · scale + center. */
export interface FittedRegressionTarget {
  name: string;
  task: 'regression';
  type: ColumnType;
  method: ScaleMethod | 'none';
  center: number;
  scale: number;
}

export type FittedTarget = FittedClassTarget | FittedRegressionTarget;

/**
 * A fitted pipeline: plain JSON data (no functions, no typed arrays), stored with a model version
 * and applied identically by preprocessing and inference.
 */
export interface FittedPipeline {
  format: typeof PIPELINE_FORMAT;
  version: typeof PIPELINE_VERSION;
  task: PipelineTask;
  /** Raw columns read from each record, in `columns` order. */
  inputColumns: string[];
  /** Columns left out at fit time because too many values were missing. */
  droppedColumns: string[];
  /** Rows whose share of missing input values is above this are dropped; null = never. */
  dropRowsMissingAbove: number | null;
  columns: FittedColumn[];
  /** Output feature names, in tensor order: `age`, `city=Oslo`, `city=__other__`, `note:word`, `at:year`. */
  features: string[];
  target: FittedTarget | null;
  /** Rows the statistics were fitted on (after dropping). */
  fittedRows: number;
}

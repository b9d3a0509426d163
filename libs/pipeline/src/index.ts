/**
 * @aimaas/pipeline: fit a preprocessing pipeline on a columnar table, keep it as versioned JSON,
 * and apply it with one code path for training tensors and inference inputs.
 */
export { PipelineFormatError, PipelineInputError, PipelineSpecError } from './errors.js';
export type { PipelineInputProblem } from './errors.js';

export { COLUMN_TYPES, DEFAULT_MISSING_TOKENS, parseCell } from './cell-values.js';
export type { CellValue, ColumnType, ParseCellOptions } from './cell-values.js';

export { tableFromRecords, tableRowCount } from './table.js';
export { coerceTable } from './column-readers.js';
export type { ColumnSchema, ColumnValues, Table } from './table.js';

export { inferSchema } from './schema-inference.js';
export type { InferSchemaOptions } from './schema-inference.js';

export { ColumnProfiler, TableProfiler, profileTable } from './profiler.js';
export type { ColumnProfile, NumericProfile, ProfilerOptions } from './profiler.js';

export { defaultSteps } from './pipeline-spec.js';
export type {
  ClipStepSpec,
  ColumnStepsSpec,
  DatetimePartsStepSpec,
  ImputeStepSpec,
  Log1pStepSpec,
  OneHotStepSpec,
  OrdinalStepSpec,
  PipelineSpec,
  ScaleStepSpec,
  StepSpec,
  VectorizeStepSpec,
} from './pipeline-spec.js';

export { DATETIME_PARTS, PIPELINE_FORMAT, PIPELINE_VERSION } from './fitted-pipeline.js';
export type {
  DatetimePart,
  FittedClassTarget,
  FittedClip,
  FittedColumn,
  FittedDatetimeParts,
  FittedImpute,
  FittedLog1p,
  FittedOneHot,
  FittedOrdinal,
  FittedPipeline,
  FittedRegressionTarget,
  FittedScale,
  FittedStep,
  FittedTarget,
  FittedVectorize,
  ImputeStrategy,
  PipelineTask,
  ScaleMethod,
} from './fitted-pipeline.js';

export { fitPipeline, fitTransform } from './fit-pipeline.js';
export { transformRecords, transformTable } from './transform.js';
export type { TransformOptions, TransformResult } from './transform.js';
export { OTHER_CATEGORY } from './category-column.js';
export { documentTerms } from './text-column.js';
export { decodeTarget, encodeTarget } from './target.js';
export { parsePipeline, serializePipeline } from './serialization.js';

export { createRandom, kFoldIndices, shuffleInPlace, splitIndices } from './splits.js';
export type { Fold, KFoldOptions, SplitIndices, SplitOptions } from './splits.js';
export { CsvParser, recordFields } from './csv-parser.js';
export type { CsvParserOptions, CsvRecord, CsvRecordHandler } from './csv-parser.js';

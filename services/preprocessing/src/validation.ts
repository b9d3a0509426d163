/**
 * Checks of request fields that do not need stored state. Each failure is an
 * InvalidArgumentError naming the field, what it was and what was expected.
 */
import {
  ColumnType as ProtoColumnType,
  MalformedRowPolicy,
  type DatasetRef,
  type ImportHeader,
  type PrepareDatasetRequest,
} from '@aimaas/proto';
import { PipelineInputError, type ColumnType } from '@aimaas/pipeline';
import { InvalidArgumentError } from '@aimaas/runtime';
import { toImportFormat, toPipelineType, type ImportFormat } from './type-mapping.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Null markers when the header gives none (see CsvOptions.null_markers). */
const DEFAULT_NULL_MARKERS: readonly string[] = ['', 'NA', 'N/A', 'null', 'NaN'];

/** `text` quoted for an error message: at most 100 characters, then an ellipsis and the full length. */
export function quoteInput(text: string): string {
  return text.length > 100
    ? `${JSON.stringify(text.slice(0, 100))}… (${text.length} characters)`
    : JSON.stringify(text);
}

const PREPARED_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Checks a prepared dataset id before it reaches a KV key (a long one would break the NATS
 * connection's control line): 1–128 letters, digits, `.`, `_`, `-`.
 */
export function checkPreparedId(id: string, field: string): string {
  if (id === '') throw new InvalidArgumentError(`${field} is empty; expected the id PrepareDataset returned`);
  if (!PREPARED_ID.test(id))
    throw new InvalidArgumentError(
      `${field} is ${quoteInput(id)}; expected the id PrepareDataset returned (1 to 128 letters, digits, ".", "_" or "-")`,
    );
  return id;
}

/** Checks a dataset name: 1–128 letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export function checkDatasetName(name: string, field: string): string {
  if (!NAME.test(name)) {
    throw new InvalidArgumentError(
      `${field} is ${quoteInput(name)}; expected 1 to 128 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
  return name;
}

/** Checks a DatasetRef (version 0 = the latest). */
export function checkDatasetRef(ref: DatasetRef | undefined, field: string): { name: string; version: number } {
  if (ref === undefined)
    throw new InvalidArgumentError(`${field} is missing; expected a dataset name and optional version`);
  checkDatasetName(ref.name, `${field}.name`);
  if (!Number.isSafeInteger(ref.version) || ref.version < 0)
    throw new InvalidArgumentError(`${field}.version is ${ref.version}; expected 0 (the latest) or a version number`);
  return { name: ref.name, version: ref.version };
}

/** An import header with its defaults applied. */
export interface ImportPlan {
  name: string;
  format: ImportFormat;
  policy: 'fail' | 'skip';
  delimiter: string;
  quote: string;
  /** The first CSV record is the header row. */
  header: boolean;
  /** Column names given by the caller (replace the header row's, or name header-less columns). */
  columnNames: string[];
  nullMarkers: string[];
  overrides: Record<string, ColumnType>;
  description: string;
  tags: Record<string, string>;
}

/** Checks the header of ImportDataset and applies its defaults. */
export function compileImportHeader(header: ImportHeader): ImportPlan {
  const name = checkDatasetName(header.name, 'header.name');
  const format = toImportFormat(header.format);
  if (format === undefined)
    throw new InvalidArgumentError(
      `header.format is ${header.format}; expected DATA_FORMAT_CSV, DATA_FORMAT_JSONL or DATA_FORMAT_JSON`,
    );
  if (
    header.onMalformed !== MalformedRowPolicy.MALFORMED_ROW_POLICY_FAIL &&
    header.onMalformed !== MalformedRowPolicy.MALFORMED_ROW_POLICY_SKIP
  ) {
    throw new InvalidArgumentError(
      `header.on_malformed is ${header.onMalformed}; expected MALFORMED_ROW_POLICY_FAIL or MALFORMED_ROW_POLICY_SKIP`,
    );
  }
  const csv = header.csv;
  const delimiter = csv?.delimiter || ',';
  const quote = csv?.quote || '"';
  for (const [field, value] of [
    ['delimiter', delimiter],
    ['quote', quote],
  ] as const) {
    if (value.length !== 1 || value === '\n' || value === '\r') {
      throw new InvalidArgumentError(
        `header.csv.${field} is ${JSON.stringify(value)}; expected one character other than a line break`,
      );
    }
  }
  if (delimiter === quote)
    throw new InvalidArgumentError(
      `header.csv.delimiter and header.csv.quote are both ${JSON.stringify(quote)}; expected two different characters`,
    );
  const columnNames = csv?.columnNames ?? [];
  checkColumnNames(columnNames, 'header.csv.column_names');
  const overrides: Record<string, ColumnType> = Object.create(null); // column names may be __proto__ or constructor
  for (const [column, type] of Object.entries(header.columnTypes)) {
    const mapped = toPipelineType(type);
    if (mapped === undefined) {
      throw new InvalidArgumentError(
        `header.column_types["${column}"] is ${ProtoColumnType[type] ?? type}; expected NUMERIC, INTEGER, BOOLEAN, CATEGORICAL, TEXT or DATETIME`,
      );
    }
    overrides[column] = mapped;
  }
  return {
    name,
    format,
    policy: header.onMalformed === MalformedRowPolicy.MALFORMED_ROW_POLICY_SKIP ? 'skip' : 'fail',
    delimiter,
    quote,
    header: !(csv?.noHeader ?? false),
    columnNames,
    nullMarkers: csv && csv.nullMarkers.length > 0 ? [...csv.nullMarkers] : [...DEFAULT_NULL_MARKERS],
    overrides,
    description: header.description,
    tags: { ...header.tags },
  };
}

/** Checks that column names are non-empty and distinct. */
export function checkColumnNames(names: readonly string[], field: string): void {
  const seen = new Map<string, number>();
  names.forEach((name, i) => {
    if (name === '') throw new InvalidArgumentError(`${field}[${i}] is empty; expected a column name`);
    checkColumnNameLength(name, `${field}[${i}]`);
    const before = seen.get(name);
    if (before !== undefined)
      throw new InvalidArgumentError(
        `${field}: column name ${quoteInput(name)} appears twice (columns ${before + 1} and ${i + 1}); expected distinct names`,
      );
    seen.set(name, i);
  });
}

/** Longest column name, in characters. */
const MAX_COLUMN_NAME_CHARS = 256;

/** INVALID_ARGUMENT for a column name longer than {@link MAX_COLUMN_NAME_CHARS}. */
export function checkColumnNameLength(name: string, where: string): void {
  if (name.length > MAX_COLUMN_NAME_CHARS) {
    throw new InvalidArgumentError(
      `${where}: column name ${quoteInput(name)} is longer than ${MAX_COLUMN_NAME_CHARS} characters`,
    );
  }
}

/** How the rows of a prepared dataset are partitioned. */
export type Partition =
  | { kind: 'split'; train: number; validation: number; test: number; stratify: boolean | undefined }
  | { kind: 'column'; column: string }
  | { kind: 'kfold'; folds: number; stratify: boolean | undefined };

/**
 * Checks the split (fractions summing to 1, default 0.7 / 0.15 / 0.15; or a split column with
 * the fractions left 0) or the k-fold spec.
 */
export function checkPartition(request: PrepareDatasetRequest): Partition {
  if (request.kfold !== undefined) {
    const { folds, stratify } = request.kfold;
    if (!Number.isInteger(folds) || folds < 2)
      throw new InvalidArgumentError(`kfold.folds is ${folds}; expected an integer of at least 2`);
    return { kind: 'kfold', folds, stratify };
  }
  const split = request.split;
  if (split !== undefined && split.column !== '') {
    const column = JSON.stringify(split.column);
    for (const field of ['train', 'validation', 'test'] as const) {
      if (split[field] !== 0)
        throw new InvalidArgumentError(
          `split.${field} is ${split[field]}, but split.column ${column} names each row's split; leave the fractions 0`,
        );
    }
    if (split.stratify === true)
      throw new InvalidArgumentError(
        `split.stratify is true, but split.column ${column} names each row's split; leave stratify unset`,
      );
    return { kind: 'column', column: split.column };
  }
  if (split === undefined || (split.train === 0 && split.validation === 0 && split.test === 0)) {
    return { kind: 'split', train: 0.7, validation: 0.15, test: 0.15, stratify: split?.stratify };
  }
  for (const field of ['train', 'validation', 'test'] as const) {
    const value = split[field];
    if (!(Number.isFinite(value) && value >= 0 && value <= 1))
      throw new InvalidArgumentError(`split.${field} is ${value}; expected a fraction from 0 to 1`);
  }
  const sum = split.train + split.validation + split.test;
  if (Math.abs(sum - 1) > 1e-9) {
    throw new InvalidArgumentError(
      `split fractions must sum to 1: train ${split.train} + validation ${split.validation} + test ${split.test} = ${Number(sum.toFixed(12))}`,
    );
  }
  if (split.train === 0)
    throw new InvalidArgumentError(
      'split.train is 0; expected a training fraction above 0 (the pipeline is fitted on the training rows)',
    );
  return {
    kind: 'split',
    train: split.train,
    validation: split.validation,
    test: split.test,
    stratify: split.stratify,
  };
}

/** Checks a page size (0 = `fallback`). */
export function checkPageSize(pageSize: number, max: number, fallback = 50): number {
  if (!Number.isInteger(pageSize) || pageSize < 0 || pageSize > max)
    throw new InvalidArgumentError(`page_size is ${pageSize}; expected 0 (default ${fallback}) to ${max}`);
  return pageSize === 0 ? fallback : pageSize;
}

/** Checks a page token issued by ListDatasets. */
export function checkPageToken(token: string): string {
  if (token !== '' && !/^[A-Za-z0-9_-]+$/.test(token))
    throw new InvalidArgumentError(
      'page_token is not one this service issued; pass next_page_token from the previous page',
    );
  return token;
}

/**
 * A pipeline input error about record `i` of the table the pipeline saw, renamed to the row the
 * user knows (`rowOf(i)`, e.g. `dataset row 1234`); anything else unchanged. The pipeline's
 * errors carry their status (INVALID_ARGUMENT) themselves.
 */
export function namingDatasetRow(error: unknown, rowOf: (record: number) => string): unknown {
  if (!(error instanceof PipelineInputError) || error.record === null) return error;
  const where = [
    rowOf(error.record),
    ...(error.column === null ? [] : [`column ${JSON.stringify(error.column)}`]),
  ].join(', ');
  return new InvalidArgumentError(`${where}: ${error.problem}; expected ${error.expected}`, { cause: error });
}

/**
 * Errors thrown by the pipeline. Each carries `code: 'INVALID_ARGUMENT'` so that a service can map
 * it to the gRPC status of the same name (this package depends on nothing, so it does not extend
 * `@aimaas/runtime`'s `DomainError`; wrap with `new InvalidArgumentError(e.message, { cause: e })`).
 */

/** Describes one bad input value: where it is and what was expected there. */
export interface PipelineInputProblem {
  /** Zero-based index of the record (row) in the input, or null when the whole input is at fault. */
  record: number | null;
  /** The input column, or null when the problem is not about one column. */
  column: string | null;
  /** What was wrong, e.g. `value "abc" is not a number`. */
  problem: string;
  /** What was expected instead, e.g. `a number`. */
  expected: string;
}

/**
 * A record does not fit the pipeline: a required column is missing, or a value cannot be read as
 * the column's type (and the pipeline was not fitted with imputation for that column).
 *
 * @example
 * // record 3, column "Horsepower": value "abc" is not a number; expected a number
 * err.record === 3 && err.column === 'Horsepower';
 */
export class PipelineInputError extends Error {
  readonly code = 'INVALID_ARGUMENT';
  /** Zero-based index of the offending record, or null. */
  readonly record: number | null;
  /** The offending column, or null. */
  readonly column: string | null;
  /** What was wrong, without the location. */
  readonly problem: string;
  /** What was expected. */
  readonly expected: string;

  constructor(details: PipelineInputProblem, options?: { cause?: unknown }) {
    super(formatInputMessage(details), options);
    this.name = 'PipelineInputError';
    this.record = details.record;
    this.column = details.column;
    this.problem = details.problem;
    this.expected = details.expected;
  }
}

function formatInputMessage(details: PipelineInputProblem): string {
  const where: string[] = [];
  if (details.record !== null) where.push(`record ${details.record}`);
  if (details.column !== null) where.push(`column "${details.column}"`);
  const prefix = where.length > 0 ? `${where.join(', ')}: ` : '';
  return `${prefix}${details.problem}; expected ${details.expected}`;
}

/**
 * A pipeline spec (or the data it is fitted on) cannot produce a pipeline: an unknown step, a step
 * that does not apply to the column's type, an out-of-range option, a column with nothing to fit.
 *
 * @example
 * // column "price", step "scale": unknown method "zscore"; expected one of standard, minmax, robust
 */
export class PipelineSpecError extends Error {
  readonly code = 'INVALID_ARGUMENT';
  /** The column whose steps are at fault, or null for a pipeline-wide setting. */
  readonly column: string | null;
  /** The step (`op`) or the pipeline setting at fault, e.g. `scale` or `dropRowsMissingAbove`. */
  readonly step: string;

  constructor(column: string | null, step: string, problem: string, options?: { cause?: unknown }) {
    const where = column === null ? `setting "${step}"` : `column "${column}", step "${step}"`;
    super(`${where}: ${problem}`, options);
    this.name = 'PipelineSpecError';
    this.column = column;
    this.step = step;
  }
}

/**
 * A serialised pipeline cannot be read: not JSON, not an `aimaas.pipeline` document, a version this
 * build does not read, or a malformed field (named by its JSON path).
 */
export class PipelineFormatError extends Error {
  readonly code = 'INVALID_ARGUMENT';
  /** JSON path of the offending field, e.g. `columns[2].steps[0].op`; `$` for the whole document. */
  readonly path: string;

  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    super(`invalid pipeline at ${path}: ${problem}`, options);
    this.name = 'PipelineFormatError';
    this.path = path;
  }
}

/** Describes a value for an error message: strings quoted and cut to 40 characters. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const cut = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    return `"${cut}"`;
  }
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (value instanceof Date) return `Date(${Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString()})`;
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function' || typeof value === 'symbol') return `a ${typeof value}`;
  return String(value);
}

/** Input past a documented limit (a CSV field or record too large); RESOURCE_EXHAUSTED at the RPC edge. */
export class PipelineLimitError extends Error {
  readonly code = 'RESOURCE_EXHAUSTED';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PipelineLimitError';
  }
}

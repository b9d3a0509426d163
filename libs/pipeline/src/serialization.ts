import { COLUMN_TYPES } from './cell-values.js';
import { PipelineFormatError, describeValue } from './errors.js';
import { DATETIME_PARTS, PIPELINE_FORMAT, PIPELINE_VERSION } from './fitted-pipeline.js';
import type { FittedPipeline } from './fitted-pipeline.js';

/** The pipeline as JSON text (`format: "aimaas.pipeline"`, `version: 1`). */
export function serializePipeline(pipeline: FittedPipeline): string {
  return JSON.stringify(pipeline);
}

type Check = (value: unknown, path: string) => void;

const fail = (path: string, value: unknown, expected: string): never => {
  throw new PipelineFormatError(path, `is ${describeValue(value)}; expected ${expected}`);
};
const string: Check = (v, p) => void (typeof v === 'string' || fail(p, v, 'a string'));
const finite: Check = (v, p) => void ((typeof v === 'number' && Number.isFinite(v)) || fail(p, v, 'a finite number'));
const count: Check = (v, p) => void ((Number.isInteger(v) && (v as number) >= 0) || fail(p, v, 'an integer ≥ 0'));
const boolean: Check = (v, p) => void (typeof v === 'boolean' || fail(p, v, 'a boolean'));
const oneOf =
  (...choices: readonly unknown[]): Check =>
  (v, p) =>
    void (choices.includes(v) || fail(p, v, `one of ${choices.join(', ')}`));
const nullable =
  (check: Check): Check =>
  (v, p) =>
    void (v === null || check(v, p));
const arrayOf =
  (check: Check): Check =>
  (v, p) => {
    if (!Array.isArray(v)) fail(p, v, 'an array');
    (v as unknown[]).forEach((item, i) => check(item, `${p}[${i}]`));
  };
const pair: Check = (v, p) => {
  arrayOf(count)(v, p);
  const [min, max] = v as number[];
  if ((v as number[]).length !== 2 || !(min! >= 1 && min! <= max!)) fail(p, v, '[min, max] with 1 ≤ min ≤ max');
};
const object =
  (fields: Record<string, Check>): Check =>
  (v, p) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(p, v, 'an object');
    for (const [key, check] of Object.entries(fields)) check((v as Record<string, unknown>)[key], `${p}.${key}`);
  };

const STEPS: Record<string, Check> = {
  impute: object({
    strategy: oneOf('mean', 'median', 'most_frequent', 'constant'),
    value: (v, p) => void (typeof v === 'string' || finite(v, p)),
  }),
  clip: object({ method: oneOf('quantile', 'zscore', 'range'), lower: nullable(finite), upper: nullable(finite) }),
  log1p: object({}),
  scale: object({ method: oneOf('standard', 'minmax', 'robust'), center: finite, scale: finite }),
  onehot: object({
    categories: arrayOf(string),
    infrequent: arrayOf(string),
    other: boolean,
    unknown: oneOf('zeros', 'error', 'other'),
  }),
  ordinal: object({ categories: arrayOf(string), unknownValue: nullable(finite) }),
  vectorize: object({
    weighting: oneOf('tfidf', 'count'),
    lowercase: boolean,
    ngrams: pair,
    norm: oneOf('l2', 'none'),
    vocabulary: arrayOf(string),
    idf: arrayOf(finite),
  }),
  datetime_parts: object({ parts: arrayOf(oneOf(...DATETIME_PARTS)) }),
};
const step: Check = (v, p) => {
  object({ op: oneOf(...Object.keys(STEPS)) })(v, p);
  STEPS[(v as { op: string }).op]!(v, p);
};
const column = object({
  name: string,
  type: oneOf(...COLUMN_TYPES),
  steps: arrayOf(step),
  featureOffset: count,
  featureCount: count,
});
const target: Check = (v, p) => {
  object({ name: string, task: oneOf('classification', 'regression'), type: oneOf(...COLUMN_TYPES) })(v, p);
  if ((v as { task: string }).task === 'classification') object({ classes: arrayOf(string) })(v, p);
  else object({ method: oneOf('standard', 'minmax', 'robust', 'none'), center: finite, scale: finite })(v, p);
};
const pipeline = object({
  task: oneOf('classification', 'regression', 'reconstruction'),
  inputColumns: arrayOf(string),
  droppedColumns: arrayOf(string),
  dropRowsMissingAbove: nullable(finite),
  columns: arrayOf(column),
  features: arrayOf(string),
  target: nullable(target),
  fittedRows: count,
});

/**
 * Reads a serialised pipeline (JSON text or already-parsed JSON) and checks it: the `format`, the
 * `version`, every field's type, and that columns, inputs and feature names agree.
 *
 * @throws PipelineFormatError naming the JSON path of the first bad field, e.g.
 *   `invalid pipeline at version: version 2 is not supported; this build reads version 1`.
 */
export function parsePipeline(json: string | unknown): FittedPipeline {
  let document: unknown = json;
  if (typeof json === 'string') {
    try {
      document = JSON.parse(json);
    } catch (error) {
      throw new PipelineFormatError('$', `not JSON (${(error as Error).message})`, { cause: error });
    }
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document))
    fail('$', document, 'a JSON object');
  const { format, version } = document as Record<string, unknown>;
  if (format !== PIPELINE_FORMAT) fail('format', format, `"${PIPELINE_FORMAT}" (this is not an AIMaaS pipeline)`);
  if (version !== PIPELINE_VERSION) {
    const newer = typeof version === 'number' && version > PIPELINE_VERSION ? ' (written by a newer AIMaaS)' : '';
    throw new PipelineFormatError(
      'version',
      `version ${describeValue(version)} is not supported${newer}; this build reads version ${PIPELINE_VERSION}`,
    );
  }
  pipeline(document, '$');
  const parsed = document as FittedPipeline;
  checkConsistency(parsed);
  return parsed;
}

function checkConsistency(parsed: FittedPipeline): void {
  let offset = 0;
  parsed.columns.forEach((c, i) => {
    const at = `$.columns[${i}]`;
    if (parsed.inputColumns[i] !== c.name)
      fail(`$.inputColumns[${i}]`, parsed.inputColumns[i], `"${c.name}", the name of columns[${i}]`);
    if (c.featureOffset !== offset)
      fail(`${at}.featureOffset`, c.featureOffset, `${offset} (outputs follow one another)`);
    const encoder = c.steps[c.steps.length - 1];
    const outputs =
      encoder?.op === 'onehot'
        ? encoder.categories.length + (encoder.other ? 1 : 0)
        : encoder?.op === 'vectorize'
          ? encoder.vocabulary.length
          : encoder?.op === 'datetime_parts'
            ? encoder.parts.length
            : 1;
    if (c.featureCount !== outputs) fail(`${at}.featureCount`, c.featureCount, `${outputs} (the outputs of its steps)`);
    if (
      encoder?.op === 'vectorize' &&
      encoder.weighting === 'tfidf' &&
      encoder.idf.length !== encoder.vocabulary.length
    ) {
      fail(
        `${at}.steps[${c.steps.length - 1}].idf`,
        `${encoder.idf.length} values`,
        `one per vocabulary term (${encoder.vocabulary.length})`,
      );
    }
    offset += c.featureCount;
  });
  if (parsed.inputColumns.length !== parsed.columns.length)
    fail('$.inputColumns', `${parsed.inputColumns.length} names`, `one per column (${parsed.columns.length})`);
  if (parsed.features.length !== offset)
    fail('$.features', `${parsed.features.length} names`, `one per output (${offset})`);
  if ((parsed.target === null) !== (parsed.task === 'reconstruction'))
    fail('$.target', parsed.target, `a target exactly when the task is not reconstruction`);
  if (parsed.target !== null && parsed.target.task !== parsed.task)
    fail('$.target.task', parsed.target.task, `"${parsed.task}", the pipeline's task`);
}

/**
 * PrepareDatasetRequest → the pipeline library's `PipelineSpec`. Every step a request leaves
 * unset takes its column type's default (`defaultSteps`); a step that is set is passed on even
 * when it does not apply to the column's type, so the pipeline rejects it with a message naming
 * the column and step (e.g. `column "Origin", step "scale": does not apply to categorical columns`).
 */
import {
  EncodeMethod,
  ImputeStrategy,
  ScaleMethod as ProtoScaleMethod,
  TextWeighting,
  type ColumnSteps,
  type PrepareDatasetRequest,
} from '@aimaas/proto';
import {
  defaultSteps,
  parseCell,
  type ColumnSchema,
  type ColumnStepsSpec,
  type ColumnType,
  type DatetimePart,
  type PipelineSpec,
  type PipelineTask,
  type StepSpec,
} from '@aimaas/pipeline';
import { InvalidArgumentError } from '@aimaas/runtime';
import { toPipelineType } from './type-mapping.js';

/**
 * The pipeline spec of a request, given the dataset's stored schema and the resolved task.
 * Columns marked `drop` get no steps; the caller leaves them (and `exclude`) out of `features`.
 */
export function toPipelineSpec(
  request: PrepareDatasetRequest,
  schema: readonly ColumnSchema[],
  task: PipelineTask,
): PipelineSpec {
  const known = new Map(schema.map(({ name, type }) => [name, type]));
  const columns: Record<string, ColumnStepsSpec> = Object.create(null); // column names may be __proto__ or constructor
  for (const [name, steps] of Object.entries(request.columns)) {
    if (steps.drop) continue;
    const given = toPipelineType(steps.type);
    if (steps.type !== 0 && given === undefined)
      throw new InvalidArgumentError(`columns["${name}"].type is ${steps.type}; expected a column type`);
    const type = given ?? known.get(name)!;
    if (name === request.target) {
      if (given !== undefined) columns[name] = { type: given };
      continue;
    }
    columns[name] = hasSteps(steps) ? { type, steps: buildSteps(name, type, steps) } : { type };
  }
  const spec: PipelineSpec = { task, schema: [...schema], columns };
  if (request.target !== '') spec.target = request.target;
  if (request.dropColumnsMissingAbove !== 0)
    spec.dropColumnsMissingAbove = share(request.dropColumnsMissingAbove, 'drop_columns_missing_above');
  if (request.dropRowsMissingAbove !== 0)
    spec.dropRowsMissingAbove = share(request.dropRowsMissingAbove, 'drop_rows_missing_above');
  return spec;
}

function share(value: number, field: string): number {
  if (!(value >= 0 && value <= 1))
    throw new InvalidArgumentError(`${field} is ${value}; expected a share from 0 to 1 (0 keeps everything)`);
  return value;
}

function hasSteps(steps: ColumnSteps): boolean {
  return (
    steps.impute !== undefined ||
    steps.scale !== ProtoScaleMethod.SCALE_METHOD_UNSPECIFIED ||
    steps.clip !== undefined ||
    steps.log ||
    steps.encode !== EncodeMethod.ENCODE_METHOD_UNSPECIFIED ||
    steps.oneHot !== undefined ||
    steps.text !== undefined ||
    steps.datetime !== undefined
  );
}

/** Impute, clip, log, scale, then the encoder: each as set, else the type's default. */
function buildSteps(name: string, type: ColumnType, steps: ColumnSteps): StepSpec[] {
  const defaults = defaultSteps(type);
  const byOp = <T extends StepSpec['op']>(op: T): Extract<StepSpec, { op: T }> | undefined =>
    defaults.find((s) => s.op === op) as Extract<StepSpec, { op: T }> | undefined;
  const out: StepSpec[] = [];
  const impute =
    steps.impute === undefined
      ? byOp('impute')
      : toImpute(name, type, steps.impute.strategy, steps.impute.constant, byOp('impute'));
  if (impute) out.push(impute);
  if (steps.clip !== undefined) {
    const { lowerQuantile: lower, upperQuantile: upper } = steps.clip;
    out.push(
      lower === 0 && upper === 0
        ? { op: 'clip', method: 'quantile' }
        : { op: 'clip', method: 'quantile', lower, ...(upper !== 0 && { upper }) },
    );
  }
  if (steps.log) out.push({ op: 'log1p' });
  const scale =
    toScale(name, steps.scale) ??
    (steps.scale === ProtoScaleMethod.SCALE_METHOD_UNSPECIFIED ? byOp('scale') : undefined);
  if (scale) out.push(scale);
  const encoder = toEncoder(name, type, steps);
  if (encoder) out.push(encoder);
  return out;
}

function toImpute(
  name: string,
  type: ColumnType,
  strategy: ImputeStrategy,
  constant: string,
  fallback: StepSpec | undefined,
): StepSpec | undefined {
  switch (strategy) {
    case ImputeStrategy.IMPUTE_STRATEGY_UNSPECIFIED:
      return fallback;
    case ImputeStrategy.IMPUTE_STRATEGY_NONE:
      return undefined;
    case ImputeStrategy.IMPUTE_STRATEGY_MEAN:
      return { op: 'impute', strategy: 'mean' };
    case ImputeStrategy.IMPUTE_STRATEGY_MEDIAN:
      return { op: 'impute', strategy: 'median' };
    case ImputeStrategy.IMPUTE_STRATEGY_MOST_FREQUENT:
      return { op: 'impute', strategy: 'most_frequent' };
    case ImputeStrategy.IMPUTE_STRATEGY_CONSTANT:
      return { op: 'impute', strategy: 'constant', value: constantValue(name, type, constant) };
    default:
      throw new InvalidArgumentError(`columns["${name}"].impute.strategy is ${strategy}; expected an ImputeStrategy`);
  }
}

/** The constant as the column's domain value: a number, a boolean, or the text itself. */
function constantValue(name: string, type: ColumnType, constant: string): number | string | boolean {
  const field = `columns["${name}"].impute.constant`;
  if (type === 'numeric' || type === 'integer' || type === 'boolean') {
    try {
      const value = parseCell(constant, type, { missing: [] });
      if (value !== null) return value;
    } catch {
      // reported below
    }
    throw new InvalidArgumentError(
      `${field} is ${JSON.stringify(constant)}; expected ${type === 'boolean' ? 'true or false' : 'a number'} for the ${type} column "${name}"`,
    );
  }
  return constant;
}

function toScale(name: string, method: ProtoScaleMethod): StepSpec | undefined {
  switch (method) {
    case ProtoScaleMethod.SCALE_METHOD_UNSPECIFIED:
    case ProtoScaleMethod.SCALE_METHOD_NONE:
      return undefined;
    case ProtoScaleMethod.SCALE_METHOD_STANDARD:
      return { op: 'scale', method: 'standard' };
    case ProtoScaleMethod.SCALE_METHOD_MIN_MAX:
      return { op: 'scale', method: 'minmax' };
    case ProtoScaleMethod.SCALE_METHOD_ROBUST:
      return { op: 'scale', method: 'robust' };
    default:
      throw new InvalidArgumentError(`columns["${name}"].scale is ${method}; expected a ScaleMethod`);
  }
}

/** The encoder step: the one the request names, else the type's default with the request's options. */
function toEncoder(name: string, type: ColumnType, steps: ColumnSteps): StepSpec | undefined {
  if (steps.encode === EncodeMethod.ENCODE_METHOD_ORDINAL) return { op: 'ordinal' };
  if (
    steps.encode === EncodeMethod.ENCODE_METHOD_ONE_HOT ||
    steps.oneHot !== undefined ||
    (type === 'categorical' && steps.encode === EncodeMethod.ENCODE_METHOD_UNSPECIFIED)
  ) {
    if (
      steps.encode !== EncodeMethod.ENCODE_METHOD_UNSPECIFIED &&
      steps.encode !== EncodeMethod.ENCODE_METHOD_ONE_HOT
    ) {
      throw new InvalidArgumentError(`columns["${name}"].encode is ${steps.encode}; expected ONE_HOT or ORDINAL`);
    }
    if (type !== 'categorical' || steps.oneHot !== undefined || steps.encode === EncodeMethod.ENCODE_METHOD_ONE_HOT) {
      const options = steps.oneHot;
      return {
        op: 'onehot',
        maxCategories: options?.maxCategories || 20,
        unknown: options?.errorOnUnknown ? 'error' : 'zeros',
      };
    }
    return { op: 'onehot', maxCategories: 20 };
  }
  if (steps.text !== undefined || type === 'text') {
    const text = steps.text;
    const min = text?.ngramMin || 1;
    return {
      op: 'vectorize',
      weighting: text?.weighting === TextWeighting.TEXT_WEIGHTING_COUNT ? 'count' : 'tfidf',
      vocabularySize: text?.vocabularySize || 1000,
      ngrams: [min, text?.ngramMax || min],
      lowercase: text?.lowercase ?? true,
    };
  }
  if (steps.datetime !== undefined || type === 'datetime') {
    const parts = steps.datetime?.parts ?? [];
    return parts.length > 0 ? { op: 'datetime_parts', parts: parts as DatetimePart[] } : { op: 'datetime_parts' };
  }
  return undefined;
}

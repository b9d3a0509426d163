import { Task, type Classification, type PredictRequest, type PredictResponse } from '@aimaas/proto';
import { decodeTarget, transformRecords, type FittedPipeline } from '@aimaas/pipeline';
import { FailedPreconditionError, InvalidArgumentError, type CallContext } from '@aimaas/runtime';
import { decodeInput, rawBytes, type RunnerTensor } from './datatypes.js';
import { decodeInputs, type DecodedInputs } from './infer-request.js';
import type { LiveModel } from './live-model.js';

/** Parses `records_json` into objects, naming the first record that is not a JSON object. */
function parseRecords(records: readonly string[]): Record<string, unknown>[] {
  return records.map((text, i) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new InvalidArgumentError(`records_json[${i}]: not valid JSON (${(error as Error).message})`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new InvalidArgumentError(
        `records_json[${i}]: expected a JSON object of column values, got ${Array.isArray(value) ? 'an array' : String(value)}`,
      );
    }
    return value as Record<string, unknown>;
  });
}

/** Records through the fitted pipeline into the model's (first) input. */
function recordInputs(live: LiveModel, pipeline: FittedPipeline, texts: readonly string[]): DecodedInputs {
  const records = parseRecords(texts);
  if (records.length === 0) throw new InvalidArgumentError('records.records_json: expected at least one record');
  records.forEach((record, i) => {
    const missing = pipeline.inputColumns.find((column) => !(column in record));
    if (missing !== undefined) {
      throw new InvalidArgumentError(
        `records_json[${i}]: missing column "${missing}"; the pipeline needs ${pipeline.inputColumns.join(', ')} (null for a missing value)`,
      );
    }
  });
  // A PipelineInputError carries INVALID_ARGUMENT itself (see @aimaas/runtime's error-status).
  const { features } = transformRecords(pipeline, records, { labels: false, dropRows: false });
  const spec = live.runner.inputs[0]!;
  if (live.runner.inputs.length !== 1)
    throw new FailedPreconditionError(
      `model "${live.servedName}" has ${live.runner.inputs.length} inputs; records feed models with one`,
    );
  const shape = [records.length, ...spec.shape.slice(1).map((d) => (d < 0 ? 1 : d))];
  if (shape.reduce((n, d) => n * d, 1) !== features.length) {
    throw new FailedPreconditionError(
      `the pipeline gives ${pipeline.features.length} features per record, but input "${spec.name}" takes [${spec.shape.join(',')}]`,
    );
  }
  const data = decodeInput(
    {
      name: spec.name,
      datatype: 'FP32',
      shape,
      raw: new Uint8Array(features.buffer, features.byteOffset, features.byteLength),
    },
    spec.type,
  );
  return { feeds: { [spec.name]: { type: spec.type, data, dims: shape } }, rows: records.length };
}

function rowsOf(tensor: RunnerTensor): { rows: number; width: number; values: ArrayLike<number> } {
  const rows = tensor.dims[0] ?? 1;
  const values =
    tensor.data instanceof BigInt64Array ? Array.from(tensor.data, Number) : (tensor.data as ArrayLike<number>);
  return { rows, width: rows > 0 ? values.length / rows : 0, values };
}

function classify(live: LiveModel, output: RunnerTensor): Classification[] {
  const { rows, width, values } = rowsOf(output);
  const labels = Array.from({ length: width }, (_, k) => {
    const known = live.version.classLabels[k];
    if (known !== undefined) return known;
    return live.pipeline?.target?.task === 'classification' ? String(decodeTarget(live.pipeline, k)) : String(k);
  });
  return Array.from({ length: rows }, (_, r) => {
    let best = 0;
    const probabilities: Record<string, number> = {};
    for (let k = 0; k < width; k++) {
      const p = values[r * width + k]!;
      probabilities[labels[k]!] = p;
      if (p > values[r * width + best]!) best = k;
    }
    return { label: labels[best]!, score: values[r * width + best]!, probabilities };
  });
}

/**
 * Predict: tensors (raw little-endian, checked like ModelInfer) or JSON records passed through the
 * version's fitted pipeline. Classifiers also get one Classification per row (label, score and
 * per-class probabilities from the first output); regressions with a pipeline get values in the
 * target's units.
 *
 * @throws InvalidArgumentError for bad tensors, malformed records or a record missing a column.
 */
export async function predict(
  live: LiveModel,
  request: PredictRequest,
  ctx?: Pick<CallContext, 'signal' | 'deadline'>,
): Promise<PredictResponse> {
  let inputs: DecodedInputs;
  if (request.records) {
    if (!live.pipeline)
      throw new FailedPreconditionError(
        `model "${live.servedName}" version ${live.versionString} has no fitted pipeline; send tensors`,
      );
    inputs = recordInputs(live, live.pipeline, request.records.recordsJson);
  } else if (request.tensors) {
    inputs = decodeInputs(
      live.runner.inputs,
      request.tensors.tensors.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, raw: t.raw })),
    );
  } else {
    throw new InvalidArgumentError('input: expected tensors or records');
  }
  const result = await live.infer(inputs.feeds, inputs.rows, {
    ...(ctx?.signal && { signal: ctx.signal }),
    ...(ctx?.deadline && { deadline: ctx.deadline }),
  });
  const outputs = live.runner.outputs.map((spec) => {
    const tensor = result.outputs[spec.name]!;
    return { name: spec.name, datatype: spec.datatype, shape: [...tensor.dims], raw: rawBytes(tensor) };
  });
  const first = result.outputs[live.runner.outputs[0]!.name]!;
  const isClassifier =
    live.version.task === Task.TASK_CLASSIFICATION ||
    (live.version.task === Task.TASK_UNSPECIFIED && live.version.classLabels.length > 0);
  const target = live.pipeline?.target;
  const values =
    !isClassifier && target?.task === 'regression'
      ? (() => {
          const { rows, width, values: v } = rowsOf(first);
          return Array.from({ length: rows }, (_, r) => Number(decodeTarget(live.pipeline!, v[r * width]!)));
        })()
      : [];
  return {
    servedName: live.servedName,
    version: live.version.version,
    outputs,
    classifications: isClassifier ? classify(live, first) : [],
    values,
  };
}

import {
  deploymentStateToJSON,
  runtimeToJSON,
  type Deployment,
  type PredictResponse,
  type TensorSpec,
} from '@aimaas/proto';
import { formatModelRef } from '@aimaas/sdk';
import { tensorValues } from '../input/tensors.js';
import { formatBytes, formatDate, formatFields, formatNumber, formatRecord, formatTable, NONE } from './format.js';

/** An enum's JSON name without its prefix, lower-case: `RUNTIME_ONNX` → `onnx`. */
export function enumWord(json: string, prefix: string): string {
  const word = json.startsWith(prefix) ? json.slice(prefix.length) : json;
  return word === 'UNSPECIFIED' || word === 'UNRECOGNIZED' ? NONE : word.toLowerCase();
}

function state(d: Deployment): string {
  return enumWord(deploymentStateToJSON(d.state), 'DEPLOYMENT_STATE_');
}

function runtime(d: Deployment): string {
  return enumWord(runtimeToJSON(d.runtime), 'RUNTIME_');
}

/** `off`, or `32 rows, 500us, queue 1024`. */
function batching(d: Deployment): string {
  const queue = `queue ${d.maxQueueSize}`;
  if (d.maxBatchSize <= 0) return `off, ${queue}`;
  return `${d.maxBatchSize} rows, ${d.maxQueueDelayUs}us, ${queue}`;
}

function specs(list: readonly TensorSpec[]): string {
  if (list.length === 0) return NONE;
  return list.map((t) => `${t.name} ${t.datatype} [${t.shape.join(',')}]`).join('\n');
}

/** The table of `deployments`. */
export function deploymentsTable(deployments: readonly Deployment[]): string {
  return formatTable(
    [
      'served',
      'model',
      { header: 'version', align: 'right' },
      'state',
      'runtime',
      'batching',
      { header: 'memory', align: 'right' },
      'updated',
    ],
    deployments.map((d) => [
      d.servedName,
      d.model ? formatModelRef(d.model) : NONE,
      d.version > 0 ? String(d.version) : NONE,
      state(d),
      runtime(d),
      batching(d),
      d.memoryBytes > 0 ? formatBytes(d.memoryBytes) : NONE,
      formatDate(d.updatedAt ?? d.createdAt),
    ]),
  );
}

/** `deploy` and `deployments show`. */
export function deploymentDetails(d: Deployment): string {
  return formatFields([
    ['Served name', d.servedName],
    ['Model', d.model ? formatModelRef(d.model) : NONE],
    ['Version', d.version > 0 ? String(d.version) : NONE],
    ['State', state(d)],
    ['Runtime', runtime(d)],
    ['Batching', batching(d)],
    ['Inputs', specs(d.inputs)],
    ['Outputs', specs(d.outputs)],
    ['Memory', d.memoryBytes > 0 ? formatBytes(d.memoryBytes) : NONE],
    ['Created', formatDate(d.createdAt)],
    ['Updated', formatDate(d.updatedAt)],
    ...(d.error !== '' ? ([['Error', d.error]] as [string, string][]) : []),
  ]);
}

/** Up to `max` values of a tensor, then `… (n values)`. */
function valuesText(values: readonly number[], max = 12): string {
  const shown = values.slice(0, max).map(formatNumber).join(',');
  return values.length > max ? `${shown},… (${values.length} values)` : shown;
}

/**
 * The answer of `predict`: a row per record with label, score and probabilities for classifiers,
 * a row per value for regression, else each output tensor with its values.
 */
export function predictionView(response: PredictResponse): string {
  if (response.classifications.length > 0) {
    return formatTable(
      [{ header: 'row', align: 'right' }, 'label', { header: 'score', align: 'right' }, 'probabilities'],
      response.classifications.map((c, i) => [
        String(i),
        c.label,
        formatNumber(c.score),
        formatRecord(c.probabilities),
      ]),
    );
  }
  if (response.values.length > 0) {
    return formatTable(
      [
        { header: 'row', align: 'right' },
        { header: 'value', align: 'right' },
      ],
      response.values.map((v, i) => [String(i), formatNumber(v)]),
    );
  }
  return formatTable(
    ['output', 'datatype', 'shape', 'values'],
    response.outputs.map((t) => {
      const values = tensorValues(t);
      return [
        t.name,
        t.datatype,
        `[${t.shape.join(',')}]`,
        values ? valuesText(values) : `${formatBytes(t.raw.byteLength)} raw`,
      ];
    }),
  );
}

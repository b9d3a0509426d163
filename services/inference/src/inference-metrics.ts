import { Counter, Histogram, Registry } from 'prom-client';

/**
 * Per-deployment serving metrics after Triton's (`nv_inference_request_success`,
 * `nv_inference_count`, `nv_inference_exec_count`, queue and compute durations), labelled with
 * `model` (the served name) and `version`. Average batch size = inference count / execution count.
 */
export interface InferenceMetrics {
  readonly registry: Registry;
  /** Successful requests. */
  readonly requestSuccess: Counter<'model' | 'version'>;
  /** Failed requests (bad input, full queue, deadline, runtime error). */
  readonly requestFailure: Counter<'model' | 'version' | 'reason'>;
  /** Rows inferred (the batch dimension, summed over executions). */
  readonly inferenceCount: Counter<'model' | 'version'>;
  /** Model executions (one per batch). */
  readonly executionCount: Counter<'model' | 'version'>;
  /** Seconds a request waited in the batcher's queue. */
  readonly queueDuration: Histogram<'model' | 'version'>;
  /** Seconds one execution took in the runtime. */
  readonly computeDuration: Histogram<'model' | 'version'>;
}

const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * Registers the inference metrics on `registry` (the service's metrics registry when given, so
 * they are served on its `/metrics`), else on a registry of their own.
 *
 * @example
 * const metrics = createInferenceMetrics();
 * metrics.executionCount.inc({ model: 'iris', version: '3' });
 */
export function createInferenceMetrics(registry: Registry = new Registry()): InferenceMetrics {
  const registers = [registry];
  return {
    registry,
    requestSuccess: new Counter({
      name: 'aimaas_inference_request_success_total',
      help: 'Inference requests that succeeded, per deployment and version.',
      labelNames: ['model', 'version'],
      registers,
    }),
    requestFailure: new Counter({
      name: 'aimaas_inference_request_failure_total',
      help: 'Inference requests that failed, per deployment, version and status.',
      labelNames: ['model', 'version', 'reason'],
      registers,
    }),
    inferenceCount: new Counter({
      name: 'aimaas_inference_count_total',
      help: 'Rows inferred (batch dimension), per deployment and version.',
      labelNames: ['model', 'version'],
      registers,
    }),
    executionCount: new Counter({
      name: 'aimaas_inference_exec_count_total',
      help: 'Model executions (batches run), per deployment and version.',
      labelNames: ['model', 'version'],
      registers,
    }),
    queueDuration: new Histogram({
      name: 'aimaas_inference_queue_duration_seconds',
      help: 'Time requests waited in the dynamic batcher queue.',
      labelNames: ['model', 'version'],
      buckets: BUCKETS,
      registers,
    }),
    computeDuration: new Histogram({
      name: 'aimaas_inference_compute_duration_seconds',
      help: 'Time one model execution took in the runtime.',
      labelNames: ['model', 'version'],
      buckets: BUCKETS,
      registers,
    }),
  };
}

/** The current value of a counter for one label set (0 when never incremented). */
export async function counterValue(counter: Counter<string>, labels: Record<string, string>): Promise<number> {
  const { values } = await counter.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

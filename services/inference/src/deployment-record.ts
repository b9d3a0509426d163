import { type DeploymentState, Runtime, type DeployRequest, type Deployment, type ModelRef } from '@aimaas/proto';
import {
  DataLossError,
  DomainError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
  UnavailableError,
} from '@aimaas/runtime';
import { AimaasError } from '@aimaas/sdk';
import type { LiveModel } from './live-model.js';

/** Requests a deployment queues at most when DeployRequest.max_queue_size is 0. */
const DEFAULT_MAX_QUEUE_SIZE = 1024;

/**
 * A deployment as stored in the `aimaas_deployments` KV bucket (key: the encoded served name), so
 * that every replica, and a restarted one, serves the same models.
 */
export interface DeploymentRecord {
  servedName: string;
  model: { name: string; version?: number; alias?: string };
  runtime: Runtime;
  maxBatchSize: number;
  maxQueueDelayUs: number;
  maxQueueSize: number;
  /** ISO 8601. */
  createdAt: string;
}

/** A ModelRef as `name`, `name@3` or `name@alias`. */
export function formatRef(ref: DeploymentRecord['model'] | ModelRef): string {
  if (ref.version !== undefined && ref.version !== 0) return `${ref.name}@${ref.version}`;
  if (ref.alias) return `${ref.name}@${ref.alias}`;
  return ref.name;
}

/**
 * Checks a DeployRequest and turns it into the record to store.
 * @throws InvalidArgumentError naming the bad field.
 */
export function recordOf(request: DeployRequest, now = new Date()): DeploymentRecord {
  const model = request.model;
  if (!model?.name) throw new InvalidArgumentError('model.name: required (the registered model to deploy)');
  const servedName = request.servedName || model.name;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(servedName)) {
    throw new InvalidArgumentError(
      `served_name "${servedName}": expected 1-128 letters, digits, '_', '.', '-', starting with a letter or digit`,
    );
  }
  const { maxBatchSize, maxQueueDelayUs, maxQueueSize } = request;
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 0)
    throw new InvalidArgumentError(`max_batch_size ${maxBatchSize}: expected 0 (no batching) or more rows`);
  if (!Number.isInteger(maxQueueDelayUs) || maxQueueDelayUs < 0 || maxQueueDelayUs > 10_000_000) {
    throw new InvalidArgumentError(`max_queue_delay_us ${maxQueueDelayUs}: expected 0 to 10000000 microseconds`);
  }
  if (!Number.isInteger(maxQueueSize) || maxQueueSize < 0)
    throw new InvalidArgumentError(
      `max_queue_size ${maxQueueSize}: expected 0 (${DEFAULT_MAX_QUEUE_SIZE}) or more requests`,
    );
  if (model.version !== undefined && model.version < 0)
    throw new InvalidArgumentError(`model.version ${model.version}: expected a positive version number`);
  const runtime = request.runtime === Runtime.RUNTIME_UNSPECIFIED ? Runtime.RUNTIME_AUTO : request.runtime;
  if (!Object.values(Runtime).includes(runtime) || runtime === Runtime.UNRECOGNIZED) {
    throw new InvalidArgumentError(
      `runtime ${String(request.runtime)}: expected RUNTIME_AUTO, RUNTIME_ONNX or RUNTIME_TFJS`,
    );
  }
  return {
    servedName,
    model: {
      name: model.name,
      ...(model.version ? { version: model.version } : {}),
      ...(model.alias ? { alias: model.alias } : {}),
    },
    runtime,
    maxBatchSize,
    maxQueueDelayUs,
    maxQueueSize: maxQueueSize || DEFAULT_MAX_QUEUE_SIZE,
    createdAt: now.toISOString(),
  };
}

/** The in-memory state of one deployment on this replica. */
export interface DeploymentEntry {
  record: DeploymentRecord;
  state: DeploymentState;
  /** The version being served (absent while loading or failed). */
  live: LiveModel | undefined;
  error: string;
  updatedAt: Date;
  /** Swaps run one at a time per deployment. */
  swap: Promise<void>;
}

/** The Deployment message of an entry. */
export function toDeployment(entry: DeploymentEntry): Deployment {
  const { record, live } = entry;
  const spec = ({ name, datatype, shape }: { name: string; datatype: string; shape: readonly number[] }) => ({
    name,
    datatype,
    shape: [...shape],
  });
  return {
    servedName: record.servedName,
    model: { name: record.model.name, version: record.model.version, alias: record.model.alias },
    version: live?.version.version ?? 0,
    state: entry.state,
    runtime: live ? (live.runner.runtime === 'onnx' ? Runtime.RUNTIME_ONNX : Runtime.RUNTIME_TFJS) : record.runtime,
    maxBatchSize: record.maxBatchSize,
    maxQueueDelayUs: record.maxQueueDelayUs,
    maxQueueSize: record.maxQueueSize,
    createdAt: new Date(record.createdAt),
    updatedAt: entry.updatedAt,
    error: entry.error,
    inputs: live ? live.runner.inputs.map(spec) : [],
    outputs: live ? live.runner.outputs.map(spec) : [],
    memoryBytes: live?.memoryBytes ?? 0,
  };
}

/** The registry's permanent answers, passed on as they are (the caller's request or the data is at fault). */
const PERMANENT: Partial<Record<string, new (message: string, options?: ErrorOptions) => DomainError>> = {
  INVALID_ARGUMENT: InvalidArgumentError,
  NOT_FOUND: NotFoundError,
  FAILED_PRECONDITION: FailedPreconditionError,
  DATA_LOSS: DataLossError,
  RESOURCE_EXHAUSTED: ResourceExhaustedError,
  PERMISSION_DENIED: FailedPreconditionError,
};

/**
 * A registry call's failure as this service reports it: a permanent answer (INVALID_ARGUMENT,
 * NOT_FOUND, FAILED_PRECONDITION, DATA_LOSS, RESOURCE_EXHAUSTED) stays what it is, so a client does
 * not retry it; only a transport failure or an unusable registry becomes UNAVAILABLE. Domain errors
 * pass through.
 */
export function registryFailure(error: unknown, what: string): Error {
  if (error instanceof DomainError) return error;
  if (error instanceof AimaasError) {
    const message = `${what}: registry answered ${error.code}: ${error.details}`;
    const Permanent = PERMANENT[error.code];
    if (Permanent) return new Permanent(message, { cause: error });
    return new UnavailableError(message, { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}

import { hostname } from 'node:os';
import { wholeNumberSetting, type Env } from '@aimaas/runtime';

/**
 * Settings of the training service and its worker, compiled once at start by
 * {@link compileTrainingOptions}. Every worker of a queue should run with the same `ackWaitMs` and
 * `maxDeliver`: they configure the one durable consumer all workers share.
 */
export interface TrainingOptions {
  /**
   * How long a delivered job may go without a heartbeat before JetStream hands it to another
   * worker (how fast a killed worker's job resumes elsewhere). `AIMAAS_TRAINING_ACK_WAIT_MS`.
   * @default 60000
   */
  ackWaitMs?: number;
  /**
   * Deliveries of one job before it is given up (transient failures only; bad specs fail at once).
   * `AIMAAS_TRAINING_MAX_DELIVER`.
   * @default 5
   */
  maxDeliver?: number;
  /**
   * Jobs this process trains at once; 0 runs the API without a worker. `AIMAAS_TRAINING_WORKERS`.
   * @default 1
   */
  workerConcurrency?: number;
  /**
   * Fewest milliseconds between two per-batch progress updates of a job (epoch ends always go out).
   * `AIMAAS_TRAINING_PROGRESS_INTERVAL_MS`.
   * @default 200 (at most 5 updates a second)
   */
  progressIntervalMs?: number;
  /** Names this worker in job records and logs. @default `<hostname>-<pid>` */
  workerId?: string;
  /** How long CancelTrainingJob waits for a running job to stop before answering. @default 5000 */
  cancelWaitMs?: number;
  /**
   * Data-parallel jobs (`config.workers` > 1): how long the leader looks for idle workers before
   * it trains with those it found (down to itself alone). `AIMAAS_TRAINING_GANG_RECRUIT_TIMEOUT_MS`.
   * @default 5000
   */
  gangRecruitTimeoutMs?: number;
  /**
   * Data-parallel jobs: how long the leader waits for a follower's gradients, and a follower for
   * word from its leader, before the gang is given up (the job is then retried from its last
   * checkpoint). It must exceed the slowest step. `AIMAAS_TRAINING_GANG_STEP_TIMEOUT_MS`.
   * @default 60000
   */
  gangStepTimeoutMs?: number;
}

/** {@link TrainingOptions} with defaults applied. */
export type CompiledTrainingOptions = Required<TrainingOptions>;

/**
 * Applies defaults and checks every setting.
 *
 * @throws TypeError naming the bad setting.
 * @example
 * const options = compileTrainingOptions({ ackWaitMs: 2_000 });
 */
export function compileTrainingOptions(options: TrainingOptions = {}): CompiledTrainingOptions {
  return {
    ackWaitMs: int('ackWaitMs', options.ackWaitMs ?? 60_000, 1_000),
    maxDeliver: int('maxDeliver', options.maxDeliver ?? 5, 1),
    workerConcurrency: int('workerConcurrency', options.workerConcurrency ?? 1, 0),
    progressIntervalMs: int('progressIntervalMs', options.progressIntervalMs ?? 200, 0),
    workerId: nonEmpty('workerId', options.workerId ?? `${hostname()}-${process.pid}`),
    cancelWaitMs: int('cancelWaitMs', options.cancelWaitMs ?? 5_000, 0),
    gangRecruitTimeoutMs: int('gangRecruitTimeoutMs', options.gangRecruitTimeoutMs ?? 5_000, 0),
    gangStepTimeoutMs: int('gangStepTimeoutMs', options.gangStepTimeoutMs ?? 60_000, 100),
  };
}

/**
 * Reads the training settings from the environment (`AIMAAS_TRAINING_ACK_WAIT_MS`,
 * `AIMAAS_TRAINING_MAX_DELIVER`, `AIMAAS_TRAINING_WORKERS`, `AIMAAS_TRAINING_PROGRESS_INTERVAL_MS`,
 * `AIMAAS_TRAINING_WORKER_ID`, `AIMAAS_TRAINING_GANG_RECRUIT_TIMEOUT_MS`,
 * `AIMAAS_TRAINING_GANG_STEP_TIMEOUT_MS`); unset or empty variables take the defaults.
 *
 * @throws TypeError naming the variable and its bad value.
 */
export function trainingOptionsFromEnv(env: Env = process.env): CompiledTrainingOptions {
  const read = (name: string): number | undefined => wholeNumberSetting(name, env);
  const options: TrainingOptions = {};
  const ackWaitMs = read('AIMAAS_TRAINING_ACK_WAIT_MS');
  const maxDeliver = read('AIMAAS_TRAINING_MAX_DELIVER');
  const workers = read('AIMAAS_TRAINING_WORKERS');
  const progress = read('AIMAAS_TRAINING_PROGRESS_INTERVAL_MS');
  if (ackWaitMs !== undefined) options.ackWaitMs = ackWaitMs;
  if (maxDeliver !== undefined) options.maxDeliver = maxDeliver;
  if (workers !== undefined) options.workerConcurrency = workers;
  if (progress !== undefined) options.progressIntervalMs = progress;
  const recruitTimeout = read('AIMAAS_TRAINING_GANG_RECRUIT_TIMEOUT_MS');
  const stepTimeout = read('AIMAAS_TRAINING_GANG_STEP_TIMEOUT_MS');
  if (recruitTimeout !== undefined) options.gangRecruitTimeoutMs = recruitTimeout;
  if (stepTimeout !== undefined) options.gangStepTimeoutMs = stepTimeout;
  const workerId = env.AIMAAS_TRAINING_WORKER_ID?.trim();
  if (workerId) options.workerId = workerId;
  try {
    return compileTrainingOptions(options);
  } catch (error) {
    throw new TypeError(`training settings from the environment: ${(error as Error).message}`, { cause: error });
  }
}

function int(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`TrainingOptions.${name} must be an integer ≥ ${min}, got ${String(value)}`);
  }
  return value;
}

function nonEmpty(name: string, value: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new TypeError(`TrainingOptions.${name} must be a non-empty string`);
  }
  return value;
}

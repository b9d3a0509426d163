import type { JobConsumerSettings } from './ensure-streams.js';
import type { QueuedJob } from './queued-job.js';
import { checkNumber, defaultLogger, type EventsLogger } from './nats-connection.js';

/**
 * Options of `createJobQueue`. The consumer settings (`ackWaitMs`, `maxDeliver`) are applied to
 * the queue's one durable consumer, shared by all workers: give every worker the same.
 */
export interface JobQueueOptions extends JobConsumerSettings {
  /**
   * Window in which a repeated message id is recognised as the same job.
   * @default 120000 (2 minutes)
   */
  duplicateWindowMs?: number;
  /**
   * Replicas of the queue's stream when it is created here.
   * @default 1
   */
  replicas?: number;
  /**
   * Redelivery delay after the first failed attempt; doubled for each next one.
   * @default 5000
   */
  retryBaseMs?: number;
  /**
   * Upper bound of the redelivery delay.
   * @default 300000 (5 minutes)
   */
  retryMaxMs?: number;
  /**
   * How long `enqueue` waits for the stream's ack of one attempt.
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * Attempts of one `enqueue` when publishing fails transiently (same message id each time).
   * @default 4
   */
  publishAttempts?: number;
  /**
   * How long one pull request waits for jobs before the worker asks again.
   * @default 5000
   */
  pullExpiresMs?: number;
  /** Where failures, retries and terminations are logged. @default a pino logger named `events` */
  logger?: EventsLogger;
}

/** Options of `JobQueue.consume`. */
export interface ConsumeJobsOptions {
  /** Runs one job; see `JobQueue.consume` for what returning and throwing mean. */
  handler: (job: QueuedJob) => Promise<void>;
  /**
   * Jobs handled at once by this worker.
   * @default 1
   */
  concurrency?: number;
  /** Aborting stops the worker: no more pulls, running jobs see `job.signal` abort. */
  signal?: AbortSignal;
  /**
   * How long to wait for running jobs once `signal` aborts before returning anyway.
   * @default 30000
   */
  graceMs?: number;
}

/** {@link JobQueueOptions} with defaults applied and checked. */
export interface CompiledJobQueueOptions {
  ackWaitMs: number | undefined;
  maxDeliver: number | undefined;
  duplicateWindowMs: number;
  replicas: number;
  retryBaseMs: number;
  retryMaxMs: number;
  timeoutMs: number;
  publishAttempts: number;
  pullExpiresMs: number;
  logger: EventsLogger;
}

/** Applies defaults and validates, throwing a TypeError naming the bad setting. */
export function compileJobQueueOptions(options: JobQueueOptions): CompiledJobQueueOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('createJobQueue: options must be an object');
  }
  const retryBaseMs = checkNumber('JobQueueOptions.retryBaseMs', options.retryBaseMs ?? 5_000, 0);
  return {
    ackWaitMs: options.ackWaitMs,
    maxDeliver: options.maxDeliver,
    duplicateWindowMs: checkNumber('JobQueueOptions.duplicateWindowMs', options.duplicateWindowMs ?? 120_000, 100),
    replicas: Math.floor(checkNumber('JobQueueOptions.replicas', options.replicas ?? 1, 1)),
    retryBaseMs,
    retryMaxMs: checkNumber('JobQueueOptions.retryMaxMs', options.retryMaxMs ?? 300_000, retryBaseMs),
    timeoutMs: checkNumber('JobQueueOptions.timeoutMs', options.timeoutMs ?? 5_000, 1),
    publishAttempts: Math.floor(checkNumber('JobQueueOptions.publishAttempts', options.publishAttempts ?? 4, 1)),
    pullExpiresMs: checkNumber('JobQueueOptions.pullExpiresMs', options.pullExpiresMs ?? 5_000, 1_000),
    logger: options.logger ?? defaultLogger(),
  };
}

import { JobState } from '@aimaas/proto';
import { PoisonJobError, type JobQueue, type QueuedJob } from '@aimaas/events';
import { CancelledError, FailedPreconditionError, isDomainError } from '@aimaas/runtime';
import { MlError } from '@aimaas/ml';
import type { Logger } from '@aimaas/telemetry';
import { runCompressionJob, type RunnerDeps, type RunOutcome } from './compression-runner.js';
import { isTerminal, type CompressionJobStore, type CompressionRecord } from './job-store.js';
import { CompressionProgress, phaseUpdate, publishJobEvent, type CompressionEventPublisher } from './progress.js';

/** Options of a compression worker. */
export interface CompressionWorkerOptions {
  /** Names this worker in job records and logs. @default `compression-<pid>` */
  workerId?: string;
  /** Ack wait of the queue's consumer; a dead worker's job comes back after it. @default 30000 */
  ackWaitMs?: number;
  /** Deliveries of one job before it fails for good. @default 5 */
  maxDeliver?: number;
  /** Throttle of per-batch progress. @default 1000 */
  progressIntervalMs?: number;
}

/** What a worker needs. */
export interface CompressionWorkerDeps extends RunnerDeps {
  store: CompressionJobStore;
  queue: Pick<JobQueue, 'consume'>;
  events: CompressionEventPublisher;
  logger: Logger;
  options: Required<CompressionWorkerOptions>;
}

/** Error codes after which a delivery is retried (until the last one) rather than failing the job. */
const TRANSIENT = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'ABORTED']);

class SkipJob extends Error {}

/**
 * Pulls compression jobs from `AIMAAS_JOBS_COMPRESSION` until `signal` aborts, one at a time. Each
 * delivery: claim the record (RUNNING, attempts + 1, this worker), `compression.job.started`, watch
 * the record for a cancel, run (resuming from the last fine-tune checkpoint on redelivery), record
 * SUCCEEDED with the report and the registered version. Bad input fails the job at once; an
 * unavailable dependency is retried with backoff until the last delivery. On shutdown the running
 * job stops at its next batch and is handed back.
 */
export async function runCompressionWorker(deps: CompressionWorkerDeps, signal: AbortSignal): Promise<void> {
  const { store, logger, options } = deps;

  function beat(delivery: QueuedJob): void {
    try {
      delivery.working();
    } catch (err) {
      logger.debug({ err, jobId: delivery.id }, 'could not heartbeat a job');
    }
  }

  async function handle(delivery: QueuedJob): Promise<void> {
    const { jobId } = delivery.json<{ jobId?: string }>();
    if (!jobId) throw new PoisonJobError('compression job message without a jobId');
    const existing = await store.get(jobId);
    if (!existing) throw new PoisonJobError(`compression job ${jobId} has no record`);
    if (isTerminal(existing.job.state)) return;
    // A first delivery of a job another worker runs is a duplicate message (a retried submit), not a redelivery.
    if (
      existing.job.state === JobState.JOB_STATE_RUNNING &&
      delivery.deliveryCount === 1 &&
      existing.job.worker !== options.workerId
    )
      return;
    if (existing.job.attempts >= options.maxDeliver - 1) {
      // The queue stops redelivering after maxDeliver: end the job rather than leave it RUNNING if this worker dies too.
      await fail(
        jobId,
        delivery,
        new FailedPreconditionError(
          `stopped after ${existing.job.attempts} attempts: the workers running it died or were stopped mid-job`,
        ),
      );
      return;
    }
    let record: CompressionRecord;
    try {
      record = await store.mutate(jobId, (r) => {
        if (isTerminal(r.job.state)) throw new SkipJob();
        // A delivery that died while registering left `registering`; registration looks for its version first.
        return {
          ...r,
          registering: false,
          job: {
            ...r.job,
            state: JobState.JOB_STATE_RUNNING,
            startedAt: r.job.startedAt ?? new Date(),
            attempts: r.job.attempts + 1,
            worker: options.workerId,
            error: '',
          },
        };
      });
    } catch (error) {
      if (error instanceof SkipJob) return;
      throw error;
    }
    logger.info({ jobId, attempt: record.job.attempts }, 'compression job started');
    await publishJobEvent(deps.events, 'started', record.job, logger);
    const cancel = new AbortController();
    const stopWatch = new AbortController();
    const jobSignal = AbortSignal.any([cancel.signal, delivery.signal]);
    const timer = setInterval(() => beat(delivery), Math.max(250, options.ackWaitMs / 3));
    void (async () => {
      try {
        for await (const r of store.watch(jobId, stopWatch.signal)) {
          if (r.job.state === JobState.JOB_STATE_CANCELLED)
            cancel.abort(new CancelledError(`compression job ${jobId} was cancelled`));
        }
      } catch {
        // a failed watch only delays the cancel to the next check (beforeRegister)
      }
    })();
    try {
      const progress = new CompressionProgress(record.job, store, deps.events, options.progressIntervalMs, logger);
      const outcome = await runCompressionJob(deps, record.job, record.source!, {
        progress,
        signal: jobSignal,
        heartbeat: () => beat(delivery),
        beforeRegister: async () => {
          await store.mutate(jobId, (r) => {
            if (r.job.state === JobState.JOB_STATE_CANCELLED)
              throw new CancelledError(`compression job ${jobId} was cancelled`);
            return { ...r, registering: true };
          });
        },
      });
      await finish(jobId, outcome);
    } catch (error) {
      if (cancel.signal.aborted || (error instanceof CancelledError && !delivery.signal.aborted)) {
        logger.info({ jobId }, 'compression job cancelled; nothing registered');
        await deps.checkpoints.delete(jobId).catch(() => undefined);
        return;
      }
      if (delivery.signal.aborted) throw error; // shutdown: the queue hands the job back
      await fail(jobId, delivery, error);
    } finally {
      clearInterval(timer);
      stopWatch.abort();
    }
  }

  async function finish(jobId: string, outcome: RunOutcome): Promise<void> {
    let done: CompressionRecord;
    try {
      done = await store.mutate(jobId, (r) => {
        if (r.job.state === JobState.JOB_STATE_CANCELLED) throw new SkipJob();
        const update = phaseUpdate(
          jobId,
          'succeeded',
          `registered ${outcome.modelVersion.name}@${outcome.modelVersion.version}`,
          r.job.progress,
        );
        return {
          ...r,
          registering: false,
          history: [...r.history, update],
          job: {
            ...r.job,
            state: JobState.JOB_STATE_SUCCEEDED,
            finishedAt: new Date(),
            report: outcome.report,
            modelVersion: outcome.modelVersion,
            progress: update,
          },
        };
      });
    } catch (error) {
      if (error instanceof SkipJob) return;
      throw error;
    }
    logger.info({ jobId, version: outcome.modelVersion }, 'compression job succeeded');
    await publishJobEvent(deps.events, 'succeeded', done.job, logger);
    await deps.checkpoints.delete(jobId).catch(() => undefined);
  }

  async function fail(jobId: string, delivery: QueuedJob, error: unknown): Promise<void> {
    const code = (error as { code?: string }).code ?? '';
    const raw = error instanceof Error ? error.message : String(error);
    const message = raw.length > 300 ? `${raw.slice(0, 300)}…` : raw;
    if (TRANSIENT.has(code) && delivery.deliveryCount < options.maxDeliver) {
      logger.warn(
        { err: error, jobId, delivery: delivery.deliveryCount },
        'compression job hit a transient failure; it will be retried',
      );
      await store
        .mutate(jobId, (r) => ({
          ...r,
          registering: false,
          job: { ...r.job, error: `attempt ${r.job.attempts}: ${message}` },
        }))
        .catch(() => undefined);
      throw error;
    }
    const unexpected = !isDomainError(error) && !(error instanceof MlError) && !code;
    if (unexpected) logger.error({ err: error, jobId }, 'compression job failed unexpectedly');
    // An unexpected error's message, or an unreachable dependency's (hosts, ports), is an internal:
    // the record says only what kind it was; the worker's log has the rest.
    const reason = unexpected
      ? `internal error (${error instanceof Error ? error.name : 'unknown'}); the compression worker logged its details for job ${jobId}`
      : TRANSIENT.has(code)
        ? `${code}: a service this job needs (registry or preprocessing) did not answer in ${delivery.deliveryCount} attempts`
        : message;
    let failed: CompressionRecord;
    try {
      failed = await store.mutate(jobId, (r) => {
        if (isTerminal(r.job.state)) throw new SkipJob();
        const update = phaseUpdate(jobId, 'failed', reason, r.job.progress);
        return {
          ...r,
          registering: false,
          history: [...r.history, update],
          job: { ...r.job, state: JobState.JOB_STATE_FAILED, finishedAt: new Date(), error: reason, progress: update },
        };
      });
    } catch (e) {
      if (e instanceof SkipJob) return;
      throw e;
    }
    logger.warn({ jobId, error: reason }, 'compression job failed');
    await publishJobEvent(deps.events, 'failed', failed.job, logger);
    await deps.checkpoints.delete(jobId).catch(() => undefined);
  }

  await deps.queue.consume({ handler: handle, concurrency: 1, signal, graceMs: 5_000 });
}

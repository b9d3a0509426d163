import { JobState } from '@aimaas/proto';
import { PoisonJobError, type JobQueue, type QueuedJob } from '@aimaas/events';
import { CancelledError, isDomainError } from '@aimaas/runtime';
import type { ExperimentStore } from '../experiments/experiment-store.js';
import { createExperimentTracker, finalizeSearch, type FinalizeSearchPayload } from '../experiments/experiments.js';
import { GANG_GRADIENT_BUDGET_BYTES, createGangLeader } from '../gang/gang-leader.js';
import { createGangFollower } from '../gang/gang-member.js';
import type { NatsConnection } from '@aimaas/storage';
import { isSearchTrial, isTerminal, type JobRecord } from './job-store.js';
import { runTrainingJob, type JobOutcome, type JobRunnerDeps } from './job-runner.js';
import { phaseUpdate, publishJobEvent } from './progress-reporter.js';
import { SlotPool, type ReleaseSlot } from './slot-pool.js';
import type { CompiledTrainingOptions } from '../training-options.js';

/** What a training worker needs: the runner's dependencies, the queue and the options. */
export interface TrainingWorkerDeps extends Omit<JobRunnerDeps, 'gangs'> {
  /** The training job queue (`createJobQueue(nc, 'training', { ackWaitMs, maxDeliver })`). */
  queue: Pick<JobQueue, 'consume' | 'enqueue'>;
  /**
   * A NATS connection for data-parallel gangs alone (core NATS), opened apart from the one of the
   * queue and the stores (`connectNats(url, { name: 'training-<worker>-gang' })`): gradients
   * arriving while the leader computes can get a connection cut as a slow consumer, which must
   * not take the job queue and the stores with it.
   */
  gangNc: NatsConnection;
  /** Searches and cross-validations, which finished member jobs report to. */
  experiments: ExperimentStore;
  options: CompiledTrainingOptions;
}

/** A worker pulling training jobs from `AIMAAS_JOBS_TRAINING`. */
export interface TrainingWorker {
  /**
   * Pulls and trains jobs until `signal` aborts (the server's `stopping` signal): then it takes no
   * more, the running job stops at its next batch and is handed back (it resumes elsewhere from
   * its last checkpoint), and the promise resolves.
   */
  run(signal: AbortSignal): Promise<void>;
}

/** A job that has nothing left to do on this delivery (finished or cancelled meanwhile). */
class SkipJob extends Error {}

const TRANSIENT = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'ABORTED', 'RESOURCE_EXHAUSTED']);

/**
 * Creates a training worker. Each delivery: claim the job in its record (RUNNING, attempts + 1,
 * this worker), publish `training.job.started`, watch the record for a cancel, run it (resuming
 * from the last checkpoint on redelivery), then record SUCCEEDED with metrics and the registered
 * version and publish `training.job.succeeded`. A bad spec or a diverging loss fails the job at
 * once (`training.job.failed`); an unavailable dependency is retried with backoff until the last
 * allowed delivery. A job cancelled meanwhile stops within one batch and registers nothing.
 *
 * A job with `config.workers` > 1 makes this worker the leader of a data-parallel gang it recruits
 * over NATS; in turn, each free slot of this worker offers itself to other workers' gangs. A slot
 * serving a gang is busy: a job pulled meanwhile waits for a slot (its delivery kept alive).
 *
 * @example
 * const gangNc = await connectNats(natsUrl, { name: `training-${workerId}-gang` });
 * const worker = createTrainingWorker({ ...deps, gangNc, queue: createJobQueue(nc, 'training', { ackWaitMs }) });
 * void worker.run(server.stopping);
 */
export function createTrainingWorker(workerDeps: TrainingWorkerDeps): TrainingWorker {
  const { store, options, logger, gangNc } = workerDeps;
  const slots = new SlotPool(options.workerConcurrency);
  const gang = {
    nc: gangNc,
    logger,
    workerId: options.workerId,
    recruitTimeoutMs: options.gangRecruitTimeoutMs,
    stepTimeoutMs: options.gangStepTimeoutMs,
  };
  // Every slot may lead a gang at once over the one gang connection: they share the budget.
  const gradientBudgetBytes = Math.floor(GANG_GRADIENT_BUDGET_BYTES / Math.max(1, options.workerConcurrency));
  const deps = { ...workerDeps, gangs: createGangLeader({ ...gang, gradientBudgetBytes }) };
  const follower = createGangFollower({ ...gang, preprocessing: deps.preprocessing, slots });
  const onJobFinished = createExperimentTracker(deps);

  /**
   * Extends the delivery's ack deadline. A timer may fire while the connection closes or drains
   * (shutdown), when `working()` throws: the job is handed back anyway then.
   */
  function working(delivery: QueuedJob): void {
    try {
      delivery.working();
    } catch (err) {
      logger.debug({ err, jobId: delivery.id }, 'could not heartbeat a job');
    }
  }

  /** Waits (heartbeating the job) while gangs this worker follows hold every slot. */
  async function handleInSlot(delivery: QueuedJob): Promise<void> {
    const beat = setInterval(() => working(delivery), Math.max(250, options.ackWaitMs / 3));
    let release: ReleaseSlot;
    try {
      release = await slots.acquire(delivery.signal);
    } finally {
      clearInterval(beat);
    }
    try {
      await handle(delivery);
    } finally {
      release();
    }
  }

  async function handle(delivery: QueuedJob): Promise<void> {
    const payload = delivery.json<{ jobId?: string } | FinalizeSearchPayload>();
    if ('kind' in payload && payload.kind === 'finalize-search')
      return finalizeSearch(deps, payload.searchId, delivery.signal);
    const jobId = delivery.id;
    const existing = await store.get(jobId);
    if (!existing) throw new PoisonJobError(`training job ${jobId} has no record`);
    if (isTerminal(existing.record.job.state)) return;
    let record: JobRecord;
    try {
      record = await store.mutate(jobId, (r) => {
        if (isTerminal(r.job.state)) throw new SkipJob();
        const now = new Date();
        return {
          ...r,
          job: {
            ...r.job,
            state: JobState.JOB_STATE_RUNNING,
            startedAt: r.job.startedAt ?? now,
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
    logger.info({ jobId, attempt: record.job.attempts, redelivered: delivery.redelivered }, 'training job started');
    await publishJobEvent(deps.events, 'started', record.job, logger);

    const cancel = new AbortController();
    const stopWatch = new AbortController();
    const signal = AbortSignal.any([delivery.signal, cancel.signal]);
    let lastBeat = Date.now();
    const heartbeat = () => {
      if (Date.now() - lastBeat < options.ackWaitMs / 4) return;
      lastBeat = Date.now();
      working(delivery);
    };
    const timer = setInterval(() => working(delivery), Math.max(250, options.ackWaitMs / 3));
    try {
      await store.watch(
        jobId,
        (r) => {
          if (r.job.state === JobState.JOB_STATE_CANCELLED)
            cancel.abort(new CancelledError(`training job ${jobId} was cancelled`));
        },
        stopWatch.signal,
      );
      const outcome = await runTrainingJob(deps, record, {
        signal,
        heartbeat,
        beforeRegister: async () => {
          await store.mutate(jobId, (r) => {
            if (r.job.state === JobState.JOB_STATE_CANCELLED)
              throw new CancelledError(`training job ${jobId} was cancelled`);
            return { ...r, registering: true };
          });
        },
      });
      await finish(record, outcome);
    } catch (error) {
      if (cancel.signal.aborted || (error instanceof CancelledError && !delivery.signal.aborted)) {
        logger.info({ jobId }, 'training job cancelled');
        await deps.checkpoints.delete(jobId).catch(() => undefined);
        await afterFinal(jobId);
        return;
      }
      if (delivery.signal.aborted) throw error; // shutdown: the queue hands the job back
      await fail(jobId, delivery, error);
    } finally {
      clearInterval(timer);
      stopWatch.abort();
    }
  }

  async function finish(record: JobRecord, outcome: JobOutcome): Promise<void> {
    const jobId = record.job.id;
    let done: JobRecord;
    try {
      done = await store.mutate(jobId, (r) => {
        if (r.job.state === JobState.JOB_STATE_CANCELLED) throw new SkipJob();
        const last = r.job.progress;
        return {
          ...r,
          registering: false,
          job: {
            ...r.job,
            state: JobState.JOB_STATE_SUCCEEDED,
            finishedAt: new Date(),
            metrics: outcome.metrics,
            modelVersion: outcome.modelVersion,
            error: outcome.onnxError ? `registered without ONNX: ${outcome.onnxError}` : '',
            progress: phaseUpdate(jobId, 'succeeded', summary(outcome), last),
          },
        };
      });
    } catch (error) {
      if (error instanceof SkipJob) return;
      throw error;
    }
    logger.info({ jobId, metrics: outcome.metrics, version: outcome.modelVersion }, 'training job succeeded');
    await publishJobEvent(deps.events, 'succeeded', done.job, logger);
    if (!isSearchTrial(done)) await deps.checkpoints.delete(jobId).catch(() => undefined);
    await afterFinal(jobId);
  }

  async function fail(jobId: string, delivery: QueuedJob, error: unknown): Promise<void> {
    const code = (error as { code?: string }).code ?? '';
    const message = error instanceof Error ? error.message : String(error);
    const transient = TRANSIENT.has(code) && delivery.deliveryCount < options.maxDeliver;
    if (!isDomainError(error) && !code) logger.error({ err: error, jobId }, 'training job failed unexpectedly');
    if (transient) {
      logger.warn(
        { err: error, jobId, delivery: delivery.deliveryCount },
        'training job hit a transient failure; it will be retried',
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
    let failed: JobRecord;
    try {
      failed = await store.mutate(jobId, (r) => {
        if (isTerminal(r.job.state)) throw new SkipJob();
        return {
          ...r,
          registering: false,
          job: {
            ...r.job,
            state: JobState.JOB_STATE_FAILED,
            finishedAt: new Date(),
            error: message,
            progress: phaseUpdate(jobId, 'failed', message, r.job.progress),
          },
        };
      });
    } catch (e) {
      if (e instanceof SkipJob) return;
      throw e;
    }
    logger.warn({ jobId, error: message }, 'training job failed');
    await publishJobEvent(deps.events, 'failed', failed.job, logger);
    await deps.checkpoints.delete(jobId).catch(() => undefined);
    await afterFinal(jobId);
  }

  async function afterFinal(jobId: string): Promise<void> {
    const stored = await store.get(jobId);
    if (stored?.record.parent)
      await onJobFinished(stored.record).catch((err) =>
        logger.warn({ err, jobId }, 'aggregating a finished job failed'),
      );
  }

  return {
    async run(signal) {
      if (options.workerConcurrency === 0) return;
      const stop = new AbortController();
      const following = follower.run(AbortSignal.any([signal, stop.signal]));
      try {
        while (!signal.aborted) {
          // While gangs hold every slot, pull nothing: a job pulled now would sit here until the
          // gang ends while other workers may be idle. A job caught waiting is handed back.
          await slots.untilNotAllFollowing(signal);
          const pause = new AbortController();
          const off = slots.onChange(() => slots.allFollowing && pause.abort());
          if (slots.allFollowing) pause.abort();
          try {
            await deps.queue.consume({
              handler: handleInSlot,
              concurrency: options.workerConcurrency,
              signal: AbortSignal.any([signal, pause.signal]),
              graceMs: 5_000,
            });
          } finally {
            off();
          }
        }
      } finally {
        stop.abort();
        await following;
      }
    },
  };
}

function summary(outcome: JobOutcome): string {
  const metrics = Object.entries(outcome.metrics)
    .map(([k, v]) => `${k}=${v.toFixed(4)}`)
    .join(' ');
  const version = outcome.modelVersion ? ` → ${outcome.modelVersion.name}@${outcome.modelVersion.version}` : '';
  return `${outcome.epochsTrained} epochs; ${metrics}${version}`;
}

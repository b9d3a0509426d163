import {
  JobState,
  TrainingJob,
  type PreparedDataset,
  type ProgressUpdate,
  type SubmitTrainingJobRequest,
  type TrainingServiceService,
} from '@aimaas/proto';
import type { JobQueue } from '@aimaas/events';
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  type ServiceImplementation,
} from '@aimaas/runtime';
import type { PreprocessingClient } from '@aimaas/sdk';
import { createLogger, type Logger } from '@aimaas/telemetry';
import { isTerminal, jobIdFor, type JobRecord, type JobStore } from './jobs/job-store.js';
import type { ProgressHub } from './jobs/progress-hub.js';
import { phaseUpdate, publishJobEvent, type TrainingEventPublisher } from './jobs/progress-reporter.js';
import type { ExperimentStore } from './experiments/experiment-store.js';
import { createExperimentHandlers, createExperimentTracker } from './experiments/experiments.js';
import { validateSubmit } from './validation.js';

/** What the TrainingService handlers need. All state lives in NATS, so replicas share it. */
export interface TrainingServiceDeps {
  /** Job records (`aimaas_jobs`). */
  store: JobStore;
  /** Searches and cross-validations (same bucket). */
  experiments: ExperimentStore;
  /** Where submitted jobs are queued (`AIMAAS_JOBS_TRAINING`). */
  queue: Pick<JobQueue, 'enqueue'>;
  /** Publishes `training.job.*` events. */
  events: TrainingEventPublisher;
  /** Reads prepared datasets (validation at submit). */
  preprocessing: Pick<PreprocessingClient, 'getPreparedDataset'>;
  /** Live `training.job.*` events for WatchTrainingJob. */
  hub: Pick<ProgressHub, 'listen'>;
  /** @default createLogger('training') */
  logger?: Logger;
}

/** The handlers of `aimaas.v1.TrainingService`, for `server.add(TrainingServiceService, …)`. */
export type TrainingServiceHandlers = ServiceImplementation<typeof TrainingServiceService>;

/** Progress states after which WatchTrainingJob ends. */
const FINAL_EVENTS = new Set(['succeeded', 'failed', 'cancelled']);
const MAX_PAGE = 1_000;

/**
 * Creates the TrainingService handlers: submit (validated against the prepared dataset, stored
 * QUEUED, `training.job.submitted`, queued on `AIMAAS_JOBS_TRAINING`; a repeated `request_id`
 * returns the same job), get, list, cancel (the worker stops within one batch), watch (history,
 * then live progress from the events stream, so any replica can serve it), searches and
 * cross-validation (see `experiments.ts`).
 *
 * @example
 * server.add(TrainingServiceService, createTrainingService({ store, queue, events, preprocessing, hub }));
 */
export function createTrainingService(deps: TrainingServiceDeps): TrainingServiceHandlers {
  const logger = deps.logger ?? createLogger('training');
  const { store } = deps;

  /** Submits one job; `extra` marks search trials and cross-validation folds. */
  async function submit(
    request: SubmitTrainingJobRequest,
    signal: AbortSignal,
    extra: Pick<JobRecord, 'fold' | 'parent'> = {},
  ): Promise<TrainingJob> {
    const id = jobIdFor(request.requestId);
    if (request.requestId) {
      const existing = await store.get(id);
      if (existing) return requeueIfQueued(existing.record);
    }
    const prepared = await loadPrepared(request.preparedDatasetId, signal);
    await validateSubmit(request, prepared);
    const job = TrainingJob.fromPartial({
      id,
      state: JobState.JOB_STATE_QUEUED,
      request,
      createdAt: new Date(),
      progress: phaseUpdate(id, 'queued', 'waiting for a worker'),
    });
    try {
      await store.create({ job, history: [], ...extra });
    } catch (error) {
      if (error instanceof AlreadyExistsError) return requeueIfQueued((await store.require(id)).record);
      throw error;
    }
    await publishJobEvent(deps.events, 'submitted', job, logger);
    await deps.queue.enqueue(id, { jobId: id });
    logger.info({ jobId: id, preparedDatasetId: request.preparedDatasetId }, 'training job queued');
    return job;
  }

  /** A retried submit re-queues a job that may have missed its enqueue (same message id: queued once). */
  async function requeueIfQueued(record: JobRecord): Promise<TrainingJob> {
    if (record.job.state === JobState.JOB_STATE_QUEUED)
      await deps.queue.enqueue(record.job.id, { jobId: record.job.id });
    return record.job;
  }

  async function loadPrepared(id: string, signal: AbortSignal): Promise<PreparedDataset> {
    if (!id) throw new InvalidArgumentError('prepared_dataset_id: required (the id PrepareDataset returned)');
    try {
      return await deps.preprocessing.getPreparedDataset({ id }, { signal });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'NOT_FOUND')
        throw new InvalidArgumentError(`prepared_dataset_id: prepared dataset "${id}" not found`, { cause: error });
      if (code === 'INVALID_ARGUMENT')
        throw new InvalidArgumentError(`prepared_dataset_id: ${(error as Error).message}`, { cause: error });
      throw error;
    }
  }

  const experiments = createExperimentHandlers({
    experiments: deps.experiments,
    queue: deps.queue,
    submit,
    loadPrepared,
    logger,
  });
  const onJobFinished = createExperimentTracker({ experiments: deps.experiments, queue: deps.queue, logger });

  return {
    async submitTrainingJob(request, ctx) {
      return submit(request, ctx.signal);
    },

    async getTrainingJob(request) {
      return (await store.require(request.id)).record.job;
    },

    async listTrainingJobs(request) {
      const pageSize = request.pageSize === 0 ? 100 : request.pageSize;
      if (!(pageSize >= 1 && pageSize <= MAX_PAGE))
        throw new InvalidArgumentError(`page_size: must be in 1..${MAX_PAGE}, got ${request.pageSize}`);
      const offset =
        request.pageToken === '' ? 0 : Number.parseInt(Buffer.from(request.pageToken, 'base64url').toString(), 10);
      if (!(Number.isInteger(offset) && offset >= 0))
        throw new InvalidArgumentError('page_token: not a token this service returned');
      const jobs = (await store.list())
        .map((r) => r.job)
        .filter((j) => request.state === JobState.JOB_STATE_UNSPECIFIED || j.state === request.state)
        .sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0) || a.id.localeCompare(b.id));
      const page = jobs.slice(offset, offset + pageSize);
      const next = offset + pageSize < jobs.length ? Buffer.from(String(offset + pageSize)).toString('base64url') : '';
      return { jobs: page, nextPageToken: next };
    },

    async cancelTrainingJob(request) {
      let changed = false;
      const record = await store.mutate(request.id, (r) => {
        changed = false;
        if (r.job.state === JobState.JOB_STATE_CANCELLED) return r;
        if (isTerminal(r.job.state)) {
          throw new FailedPreconditionError(
            `training job "${request.id}" already ended ${JobState[r.job.state].replace('JOB_STATE_', '')}`,
          );
        }
        if (r.registering)
          throw new FailedPreconditionError(
            `training job "${request.id}" is registering its model; too late to cancel`,
          );
        changed = true;
        return {
          ...r,
          job: {
            ...r.job,
            state: JobState.JOB_STATE_CANCELLED,
            finishedAt: new Date(),
            progress: phaseUpdate(request.id, 'cancelled', 'cancelled by request', r.job.progress),
          },
        };
      });
      if (changed) {
        logger.info({ jobId: request.id }, 'training job cancelled');
        await publishJobEvent(deps.events, 'cancelled', record.job, logger);
        await onJobFinished(record).catch((err) =>
          logger.warn({ err, jobId: request.id }, 'recording a cancelled member failed'),
        );
      }
      return record.job;
    },

    async *watchTrainingJob(request, ctx) {
      const listener = deps.hub.listen(request.id);
      try {
        const { record } = await store.require(request.id);
        const cursor = new Cursor();
        for (const update of record.history) if (cursor.advance(update)) yield update;
        if (record.job.progress && cursor.advance(record.job.progress)) yield record.job.progress;
        if (isTerminal(record.job.state)) return;
        while (!ctx.signal.aborted) {
          const event = await listener.next(1_000);
          if (!event) {
            // Quiet for a second: the record is the source of truth (an event may have been missed).
            const now = await store.get(request.id);
            if (now && isTerminal(now.record.job.state)) {
              if (now.record.job.progress && cursor.advance(now.record.job.progress)) yield now.record.job.progress;
              return;
            }
            continue;
          }
          const update = event.job.progress;
          if (update && cursor.advance(update)) yield update;
          if (FINAL_EVENTS.has(event.kind)) return;
        }
      } finally {
        listener.close();
      }
    },

    submitSearch: experiments.submitSearch,
    crossValidate: experiments.crossValidate,
  };
}

/** Yields each progress update once, in order, across the replayed history and live events. */
class Cursor {
  #time = -1;
  #keys = new Set<string>();

  advance(update: ProgressUpdate): boolean {
    const time = update.time?.getTime() ?? 0;
    if (time < this.#time) return false;
    const key = `${update.epoch}/${update.step}/${update.phase}/${update.message}`;
    if (time === this.#time && this.#keys.has(key)) return false;
    if (time > this.#time) this.#keys.clear();
    this.#time = time;
    this.#keys.add(key);
    return true;
  }
}

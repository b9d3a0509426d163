import {
  CompressionJob,
  JobState,
  ModelRef,
  SubmitCompressionJobRequest,
  type CompressionServiceService,
  type ModelVersion,
  type PreparedDataset,
  type ProgressUpdate,
} from '@aimaas/proto';
import type { JobQueue } from '@aimaas/events';
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  type ServiceImplementation,
} from '@aimaas/runtime';
import type { PreprocessingClient, RegistryClient } from '@aimaas/sdk';
import type { Logger } from '@aimaas/telemetry';
import { checkCompressible } from './compression-runner.js';
import { compressionJobIdFor, isTerminal, type CompressionJobStore, type CompressionRecord } from './job-store.js';
import { phaseUpdate, publishJobEvent, type CompressionEventPublisher } from './progress.js';
import { validateAgainstSource, validateRequestFields } from './validation.js';

/** The handlers of `aimaas.v1.CompressionService`. */
export type CompressionServiceHandlers = ServiceImplementation<typeof CompressionServiceService>;

/** What the handlers need; all state lives in NATS, so replicas share it. */
export interface CompressionServiceDeps {
  store: CompressionJobStore;
  queue: Pick<JobQueue, 'enqueue'>;
  events: CompressionEventPublisher;
  registry: Pick<RegistryClient, 'getModelVersion'>;
  preprocessing: Pick<PreprocessingClient, 'getPreparedDataset'>;
  logger: Logger;
}

const MAX_PAGE = 1_000;

/** The job id of a Get, Cancel or Watch request: required. */
function jobId(request: { id: string }): string {
  if (request.id === '') throw new InvalidArgumentError('id: required (a compression job id)');
  return request.id;
}

/**
 * Creates the CompressionService handlers: submit (validated against the resolved source and its
 * prepared dataset, stored QUEUED, `compression.job.submitted`, queued on
 * `AIMAAS_JOBS_COMPRESSION`; a repeated `request_id` returns the same job), get, list (paged, by
 * state), cancel (the worker stops within one fine-tune batch and registers nothing) and watch
 * (history first, then live progress from the record, so any replica serves it).
 */
export function createCompressionService(deps: CompressionServiceDeps): CompressionServiceHandlers {
  const { store, logger } = deps;

  async function resolveSource(request: SubmitCompressionJobRequest, signal: AbortSignal): Promise<ModelVersion> {
    try {
      return await deps.registry.getModelVersion({ ref: request.source! }, { signal });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'NOT_FOUND') throw new NotFoundError(`source: ${(error as Error).message}`, { cause: error });
      if (code === 'INVALID_ARGUMENT')
        throw new InvalidArgumentError(`source: ${(error as Error).message}`, { cause: error });
      throw error;
    }
  }

  async function loadPrepared(
    request: SubmitCompressionJobRequest,
    version: ModelVersion,
    signal: AbortSignal,
  ): Promise<PreparedDataset> {
    const id = request.preparedDatasetId || version.lineage?.preparedDatasetId || '';
    const field = request.preparedDatasetId
      ? 'prepared_dataset_id'
      : `source ${version.name}@${version.version} lineage.prepared_dataset_id`;
    if (!id)
      throw new InvalidArgumentError(
        `prepared_dataset_id: ${version.name}@${version.version} has no dataset lineage; name the prepared dataset to measure and fine-tune on`,
      );
    try {
      return await deps.preprocessing.getPreparedDataset({ id }, { signal });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'NOT_FOUND' || code === 'INVALID_ARGUMENT')
        throw new InvalidArgumentError(`${field}: prepared dataset "${id.slice(0, 100)}" not found`, { cause: error });
      throw error;
    }
  }

  /** The job an earlier submit with this request_id made, if it asked for the very same thing. */
  function sameRequest(record: CompressionRecord, request: SubmitCompressionJobRequest): CompressionRecord {
    const canonical = (r: SubmitCompressionJobRequest) => JSON.stringify(SubmitCompressionJobRequest.toJSON(r));
    if (canonical(record.job.request!) !== canonical(request)) {
      throw new AlreadyExistsError(
        `request_id: already used by compression job ${record.job.id} for a different request`,
      );
    }
    return record;
  }

  async function requeueIfQueued(record: CompressionRecord): Promise<CompressionJob> {
    if (record.job.state === JobState.JOB_STATE_QUEUED)
      await deps.queue.enqueue(record.job.id, { jobId: record.job.id });
    return record.job;
  }

  return {
    async submitCompressionJob(request, ctx) {
      validateRequestFields(request);
      const id = compressionJobIdFor(request.requestId);
      if (request.requestId) {
        const existing = await store.get(id);
        if (existing) return requeueIfQueued(sameRequest(existing, request));
      }
      const version = await resolveSource(request, ctx.signal);
      checkCompressible(version);
      const prepared = await loadPrepared(request, version, ctx.signal);
      await validateAgainstSource(request, version, prepared);
      const job = CompressionJob.fromPartial({
        id,
        state: JobState.JOB_STATE_QUEUED,
        request,
        createdAt: new Date(),
        progress: phaseUpdate(id, 'queued', `waiting for a worker (source ${version.name}@${version.version})`),
      });
      const source = ModelRef.fromPartial({ name: version.name, version: version.version });
      try {
        await store.create({ job, history: [job.progress!], source });
      } catch (error) {
        if (error instanceof AlreadyExistsError) return requeueIfQueued(sameRequest(await store.require(id), request));
        throw error;
      }
      await publishJobEvent(deps.events, 'submitted', job, logger);
      await deps.queue.enqueue(id, { jobId: id });
      logger.info({ jobId: id, source: `${version.name}@${version.version}` }, 'compression job queued');
      return job;
    },

    async getCompressionJob(request) {
      return (await store.require(jobId(request))).job;
    },

    async listCompressionJobs(request) {
      const pageSize = request.pageSize === 0 ? 100 : request.pageSize;
      if (!(pageSize >= 1 && pageSize <= MAX_PAGE))
        throw new InvalidArgumentError(`page_size: must be in 1..${MAX_PAGE}, got ${request.pageSize}`);
      const decoded =
        request.pageToken === '' ? '0' : Buffer.from(request.pageToken.slice(0, 32), 'base64url').toString();
      if (!/^\d{1,9}$/.test(decoded)) throw new InvalidArgumentError('page_token: not a token this service returned');
      const offset = Number(decoded);
      const jobs = (await store.list())
        .map((r) => r.job)
        .filter((j) => request.state === JobState.JOB_STATE_UNSPECIFIED || j.state === request.state)
        .sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0) || a.id.localeCompare(b.id));
      const next = offset + pageSize < jobs.length ? Buffer.from(String(offset + pageSize)).toString('base64url') : '';
      return { jobs: jobs.slice(offset, offset + pageSize), nextPageToken: next };
    },

    async cancelCompressionJob(request) {
      let changed = false;
      const record = await store.mutate((await store.require(jobId(request))).job.id, (r) => {
        changed = false;
        if (r.job.state === JobState.JOB_STATE_CANCELLED) return r;
        if (isTerminal(r.job.state))
          throw new FailedPreconditionError(
            `compression job "${request.id}" already ended ${JobState[r.job.state].replace('JOB_STATE_', '')}`,
          );
        if (r.registering)
          throw new FailedPreconditionError(
            `compression job "${request.id}" is registering its result; too late to cancel`,
          );
        changed = true;
        const update = phaseUpdate(request.id, 'cancelled', 'cancelled by request', r.job.progress);
        return {
          ...r,
          history: [...r.history, update],
          job: { ...r.job, state: JobState.JOB_STATE_CANCELLED, finishedAt: new Date(), progress: update },
        };
      });
      if (changed) {
        logger.info({ jobId: request.id }, 'compression job cancelled');
        await publishJobEvent(deps.events, 'cancelled', record.job, logger);
      }
      return record.job;
    },

    async *watchCompressionJob(request, ctx) {
      const { job } = await store.require(jobId(request));
      const seen = new Set<string>();
      const fresh = (update: ProgressUpdate | undefined): update is ProgressUpdate => {
        if (!update) return false;
        const key = `${update.time?.getTime()}/${update.phase}/${update.epoch}/${update.step}/${update.message}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      };
      for await (const record of store.watch(job.id, ctx.signal)) {
        for (const update of record.history) if (fresh(update)) yield update;
        if (fresh(record.job.progress)) yield record.job.progress;
        if (isTerminal(record.job.state)) return;
      }
    },
  };
}

import { createHash, randomUUID } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import {
  JobState,
  SubmitTrainingJobRequest,
  type CrossValidation,
  type CrossValidateRequest,
  type PreparedDataset,
  type Search,
  type SubmitSearchRequest,
  type TrainingJob,
} from '@aimaas/proto';
import type { JobQueue } from '@aimaas/events';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, type CallContext } from '@aimaas/runtime';
import type { Logger } from '@aimaas/telemetry';
import {
  baseRequest,
  type ExperimentStore,
  toCrossValidation,
  toSearch,
  type ExperimentRecord,
} from './experiment-store.js';
import { jobIdFor, type JobRecord } from '../jobs/job-store.js';
import type { JobRunnerDeps } from '../jobs/job-runner.js';
import { exportCheckedOnnx, registerModel } from '../jobs/registration.js';
import { applyTrial, trialPoints } from './search-space.js';
import { metricMode, toTrainingPlan } from '../model/spec-mapping.js';
import { buildTrainingModel, dataShapeOf } from '../model/training-model.js';
import { validateSubmit } from '../validation.js';

/** The payload of the queued job that registers a finished search's best trial. */
export interface FinalizeSearchPayload {
  kind: 'finalize-search';
  searchId: string;
}

/** What searches and cross-validations need from the service. */
export interface ExperimentDeps {
  experiments: ExperimentStore;
  queue: Pick<JobQueue, 'enqueue'>;
  /** Submits one member job (validated again, stored, queued). */
  submit(
    request: SubmitTrainingJobRequest,
    signal: AbortSignal,
    extra: Pick<JobRecord, 'fold' | 'parent'>,
  ): Promise<TrainingJob>;
  loadPrepared(id: string, signal: AbortSignal): Promise<PreparedDataset>;
  logger: Logger;
}

/** The experiment handlers, plus the hook every member job's end goes through. */
export interface ExperimentHandlers {
  submitSearch(request: SubmitSearchRequest, ctx: CallContext): Promise<Search>;
  crossValidate(request: CrossValidateRequest, ctx: CallContext): Promise<CrossValidation>;
}

const idFor = (prefix: string, requestId: string) =>
  requestId
    ? `${prefix}-${createHash('sha256').update(`${prefix}:${requestId}`).digest('hex').slice(0, 32)}`
    : `${prefix}-${randomUUID()}`;

/**
 * SubmitSearch and CrossValidate. Both answer at once with the experiment's current state; calling
 * again with the same `base.request_id` returns its progress (trial states and objectives, then
 * the best trial and its registered version; fold jobs, then mean/std metrics), as there is no Get
 * RPC for them. Every member is an ordinary training job (listed, watched, cancelled as any).
 *
 * - Search: `grid` or `random` points over `dimensions`, one trial job each with
 *   `skip_registration`; the objective (default `val_accuracy` maximised for classification, else
 *   `val_loss` minimised) is the best value over a trial's epochs; the best trial's final weights
 *   are registered under `base.model_name` by a queued finalize step.
 * - Cross-validation: one job per fold of a k-fold prepared dataset (`fold-<i>/train`, validated on
 *   `fold-<i>/validation`); mean and std of each metric across the folds that succeeded.
 */
export function createExperimentHandlers(deps: ExperimentDeps): ExperimentHandlers {
  const { experiments } = deps;

  async function existing<T>(id: string, view: (r: ExperimentRecord) => T): Promise<T | undefined> {
    const record = await experiments.get(id);
    return record && view(record);
  }

  async function start(
    record: ExperimentRecord,
    requests: Array<{ request: SubmitTrainingJobRequest; fold?: number }>,
    signal: AbortSignal,
  ): Promise<ExperimentRecord> {
    try {
      await experiments.create(record);
    } catch (error) {
      if (error instanceof AlreadyExistsError) return (await experiments.get(record.id))!;
      throw error;
    }
    for (const { request, fold } of requests) {
      await deps.submit(request, signal, { parent: record.id, ...(fold === undefined ? {} : { fold }) });
    }
    return record;
  }

  return {
    async submitSearch(request, ctx) {
      const base = request.base;
      if (!base) throw new InvalidArgumentError('base: required (the training job each trial varies)');
      const id = idFor('ts', base.requestId);
      const found = await existing(id, toSearch);
      if (found) return found;
      const prepared = await deps.loadPrepared(base.preparedDatasetId, ctx.signal);
      const shape = dataShapeOf(prepared);
      const points = trialPoints(request.dimensions, request.strategy, request.maxTrials, base.config?.seed ?? 0);
      const trials = points.map((values, i) => ({
        values,
        request: { ...applyTrial(base, values), requestId: `${id}/trial-${i}` },
      }));
      for (const [i, trial] of trials.entries()) {
        try {
          await validateSubmit(trial.request, prepared);
        } catch (error) {
          throw new InvalidArgumentError(`trial ${i} ${JSON.stringify(trial.values)}: ${(error as Error).message}`, {
            cause: error,
          });
        }
      }
      const objective = request.objective || (shape.task === 'classification' ? 'val_accuracy' : 'val_loss');
      const minimize = request.objective ? request.minimize : metricMode(objective) === 'min';
      const record = await start(
        {
          kind: 'search',
          id,
          base: SubmitTrainingJobRequest.toJSON(base),
          objective,
          minimize,
          state: JobState.JOB_STATE_QUEUED,
          members: trials.map((t) => ({
            jobId: jobIdFor(t.request.requestId),
            state: JobState.JOB_STATE_QUEUED,
            values: t.values,
          })),
        },
        trials.map((t) => ({ request: t.request })),
        ctx.signal,
      );
      deps.logger.info({ searchId: id, trials: trials.length, objective }, 'search submitted');
      return toSearch(record);
    },

    async crossValidate(request, ctx) {
      const base = request.base;
      if (!base) throw new InvalidArgumentError('base: required (the training job each fold runs)');
      const id = idFor('cv', base.requestId);
      const found = await existing(id, toCrossValidation);
      if (found) return found;
      const prepared = await deps.loadPrepared(base.preparedDatasetId, ctx.signal);
      if (prepared.folds < 2) {
        throw new InvalidArgumentError(
          `base.prepared_dataset_id: prepared dataset "${prepared.id}" has no k-fold splits; prepare it with kfold`,
        );
      }
      const folds = request.folds === 0 ? prepared.folds : request.folds;
      if (!(Number.isInteger(folds) && folds >= 2 && folds <= prepared.folds)) {
        throw new InvalidArgumentError(
          `folds: must be in 2..${prepared.folds} (the prepared dataset's folds) or 0 for all, got ${request.folds}`,
        );
      }
      const fold = (i: number) => ({ ...base, skipRegistration: true, requestId: `${id}/fold-${i}` });
      await validateSubmit(fold(0), prepared);
      const record = await start(
        {
          kind: 'cv',
          id,
          base: SubmitTrainingJobRequest.toJSON(base),
          state: JobState.JOB_STATE_QUEUED,
          members: Array.from({ length: folds }, (_, i) => ({
            jobId: jobIdFor(fold(i).requestId),
            state: JobState.JOB_STATE_QUEUED,
          })),
        },
        Array.from({ length: folds }, (_, i) => ({ request: fold(i), fold: i })),
        ctx.signal,
      );
      deps.logger.info({ crossValidationId: id, folds }, 'cross-validation submitted');
      return toCrossValidation(record);
    },
  };
}

/**
 * The hook every member job's end goes through (in the worker, and in CancelTrainingJob): records
 * the member in its experiment and, when that completes a search, queues the finalize step that
 * registers the best trial (on whichever worker takes it).
 */
export function createExperimentTracker(
  deps: Pick<ExperimentDeps, 'experiments' | 'queue' | 'logger'>,
): (record: JobRecord) => Promise<void> {
  return async (record) => {
    if (!record.parent) return;
    const { record: experiment, completed } = await deps.experiments.recordMember(record);
    if (!completed) return;
    deps.logger.info(
      { experiment: experiment.id, kind: experiment.kind, best: experiment.bestJobId },
      'experiment members all ended',
    );
    if (experiment.kind === 'search' && experiment.bestJobId) {
      const payload: FinalizeSearchPayload = { kind: 'finalize-search', searchId: experiment.id };
      await deps.queue.enqueue(`${experiment.id}-finalize`, payload);
    }
  };
}

/**
 * Registers the best trial of a finished search (the finalize step queued when its last trial
 * ended): rebuilds the trial's model, loads the final weights its job kept, exports and registers
 * it under the base request's `model_name` with the trial's test metrics and the tag `search`,
 * then marks the search SUCCEEDED with the version and drops the trials' weights. Idempotent: a
 * search that already has a version, or ended, is left alone.
 */
export async function finalizeSearch(
  deps: JobRunnerDeps & { experiments: ExperimentStore },
  searchId: string,
  signal: AbortSignal,
): Promise<void> {
  const search = await deps.experiments.get(searchId);
  if (
    !search ||
    search.modelVersion ||
    search.state === JobState.JOB_STATE_SUCCEEDED ||
    search.state === JobState.JOB_STATE_FAILED
  )
    return;
  if (!search.bestJobId) throw new FailedPreconditionError(`search ${searchId} has no best trial yet`);
  const base = baseRequest(search);
  try {
    let version: { name: string; version: number } | undefined;
    if (!base.skipRegistration) {
      const best = (await deps.store.require(search.bestJobId)).record;
      const request = {
        ...best.job.request!,
        modelName: base.modelName,
        description: base.description,
        tags: { ...base.tags, search: searchId },
      };
      const prepared = await deps.preprocessing.getPreparedDataset({ id: request.preparedDatasetId }, { signal });
      const shape = dataShapeOf(prepared);
      const plan = toTrainingPlan(request.config);
      const checkpoint = await deps.checkpoints.load(best.job.id);
      if (!checkpoint) throw new FailedPreconditionError(`the weights of trial ${best.job.id} are gone`);
      const model = await buildTrainingModel(request.model!, shape, plan.seed);
      try {
        model.setWeights(checkpoint.weights);
        const onnx = await exportCheckedOnnx(model, best.job.id);
        const registered = await registerModel(
          deps.registry,
          {
            jobId: best.job.id,
            request,
            prepared,
            shape,
            plan,
            model,
            metrics: best.job.metrics,
            epochsTrained: checkpoint.state.epoch,
            signal,
          },
          onnx,
        );
        version = { name: registered.name, version: registered.version };
      } finally {
        model.dispose();
        tf.dispose([
          ...checkpoint.weights,
          ...(checkpoint.bestWeights ?? []),
          ...(checkpoint.optimizer ?? []).map((slot) => slot.tensor),
        ]);
      }
    }
    await deps.experiments.mutate(searchId, (r) => ({
      ...r,
      state: JobState.JOB_STATE_SUCCEEDED,
      ...(version && { modelVersion: version }),
    }));
    deps.logger.info({ searchId, best: search.bestJobId, version }, 'search finished');
  } catch (error) {
    if (signal.aborted) throw error;
    const code = (error as { code?: string }).code;
    if (code === 'UNAVAILABLE' || code === 'DEADLINE_EXCEEDED' || code === 'ABORTED') throw error;
    await deps.experiments.mutate(searchId, (r) => ({
      ...r,
      state: JobState.JOB_STATE_FAILED,
      error: (error as Error).message,
    }));
    deps.logger.warn({ searchId, err: error }, 'registering the best trial failed');
  }
  for (const member of search.members) await deps.checkpoints.delete(member.jobId).catch(() => undefined);
}

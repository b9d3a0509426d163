import * as tf from '@tensorflow/tfjs';
import type { ModelRef, PreparedDataset } from '@aimaas/proto';
import { InvalidArgumentError } from '@aimaas/runtime';
import type { PreprocessingClient } from '@aimaas/sdk';
import type { Logger } from '@aimaas/telemetry';
import type { CheckpointStore, TrainerState } from './checkpoints.js';
import { createDataPlan, type Batch } from '../data/data-source.js';
import { epochLogsInTargetUnits, testMetrics } from '../model/evaluation.js';
import type { Gang, GangJob, GangLeader } from '../gang/gang-leader.js';
import { isSearchTrial, isTerminal, type JobRecord, type JobStore } from './job-store.js';
import { ProgressReporter, type TrainingEventPublisher } from './progress-reporter.js';
import {
  exportCheckedOnnx,
  findRegisteredVersion,
  modelNameOf,
  registerModel,
  type RegistrySink,
} from './registration.js';
import { toTrainingPlan } from '../model/spec-mapping.js';
import { runTrainer } from '../model/trainer.js';
import {
  buildTrainingModel,
  compileTrainingModel,
  dataShapeOf,
  regressionTargetScaling,
} from '../model/training-model.js';

/** What running a job needs. */
export interface JobRunnerDeps {
  preprocessing: Pick<PreprocessingClient, 'getPreparedDataset' | 'readSplit'>;
  registry: RegistrySink;
  store: JobStore;
  checkpoints: CheckpointStore;
  events: TrainingEventPublisher;
  logger: Logger;
  progressIntervalMs: number;
  /** Leads data-parallel jobs (`config.workers` > 1); without it every job trains on this worker alone. */
  gangs?: GangLeader;
}

/** How a job ended when it was not cancelled and did not fail. */
export interface JobOutcome {
  /** Test-split metrics (the last epoch's logs when there is no test split). */
  metrics: Record<string, number>;
  /** The registered version, unless the job skips registration. */
  modelVersion?: ModelRef;
  /** Why the version has no ONNX file, when it has none. */
  onnxError?: string;
  epochsTrained: number;
  /** The trainer's final state (history of per-epoch logs). */
  state: TrainerState;
}

/** Hooks the worker gives the runner. */
export interface JobRunnerHooks {
  /** Aborts on cancel and shutdown. */
  signal: AbortSignal;
  /** Keeps the queued job's ack deadline moving. */
  heartbeat(): void;
  /**
   * Called once the model is trained and evaluated, before anything is registered: throws when
   * the job was cancelled meanwhile (then nothing is registered).
   */
  beforeRegister(): Promise<void>;
}

/**
 * Runs one claimed job from start (or from its last checkpoint) to a registered version: reads
 * the prepared dataset through the preprocessing service, builds and compiles the model with the
 * job's seed, resumes from the checkpoint when there is one, trains with per-epoch checkpoints and
 * progress, evaluates the test split, then exports and registers. The model is always disposed.
 */
export async function runTrainingJob(
  deps: JobRunnerDeps,
  record: JobRecord,
  hooks: JobRunnerHooks,
): Promise<JobOutcome> {
  const { job } = record;
  const request = job.request!;
  const { signal } = hooks;
  const reporter = new ProgressReporter(
    job.id,
    job.attempts,
    deps.store,
    deps.events,
    deps.progressIntervalMs,
    deps.logger,
  );
  await reporter.phase('loading', `reading prepared dataset ${request.preparedDatasetId}`);
  const prepared = await loadPrepared(deps, request.preparedDatasetId, signal);
  const shape = dataShapeOf(prepared);
  const plan = toTrainingPlan(request.config);
  const model = await buildTrainingModel(request.model!, shape, plan.seed);
  try {
    compileTrainingModel(model, plan.optimizer, shape.task);
    const data = createDataPlan(deps.preprocessing, prepared, plan, shape.featureSize, record.fold);
    const gang = await startGang(deps, record, { model, shape, signal }, reporter);
    let state: TrainerState;
    let ending = 'training ended';
    try {
      // Loaded only now, and handed straight to the trainer, which disposes its tensors whatever
      // happens: nothing can fail in between (recruiting comes first).
      const resume = await deps.checkpoints.load(job.id);
      if (resume) deps.logger.info({ jobId: job.id, epoch: resume.state.epoch }, 'resuming from checkpoint');
      let checkpointEpoch = resume?.state.epoch ?? 0;
      state = await runTrainer({
        model,
        shape,
        plan,
        data,
        signal,
        ...(resume && { resume }),
        ...(gang && { trainStep: (batch: Batch, at: { epoch: number; step: number }) => gang.step(batch, at) }),
        onBatch: hooks.heartbeat,
        onProgress: (progress, epochEnd) => reporter.report(progress, epochEnd, checkpointEpoch),
        async onEpochEnd(checkpoint) {
          await deps.checkpoints.save(job.id, checkpoint, signal);
          checkpointEpoch = checkpoint.state.epoch;
          hooks.heartbeat();
        },
      });
    } catch (error) {
      ending = `the leader stopped: ${(error as Error).message}`;
      throw error;
    } finally {
      gang?.close(ending);
    }
    await reporter.phase(
      'evaluating',
      data.test ? 'scoring the test split' : 'no test split: reporting the last epoch',
    );
    const metrics = data.test
      ? await testMetrics(model, data.test(signal), shape, hooks.heartbeat, regressionTargetScaling(prepared))
      : epochLogsInTargetUnits(
          state.history[state.history.length - 1] ?? {},
          shape.task === 'regression' ? regressionTargetScaling(prepared) : undefined,
        );
    delete metrics.lr;
    const outcome: JobOutcome = { metrics, epochsTrained: state.epoch, state };
    if (request.skipRegistration) {
      if (isSearchTrial(record)) await deps.checkpoints.save(job.id, { state, weights: model.getWeights() }, signal);
      return outcome;
    }
    await hooks.beforeRegister();
    await reporter.phase('exporting', 'exporting to ONNX and checking it against TF.js');
    const onnx = await exportCheckedOnnx(model, job.id);
    if ('error' in onnx) {
      outcome.onnxError = onnx.error;
      deps.logger.warn({ jobId: job.id, reason: onnx.error }, 'registering without ONNX');
    }
    hooks.heartbeat();
    await reporter.phase('registering', `registering a version of ${modelNameOf(request, prepared)}`);
    const earlier =
      job.attempts > 1
        ? await findRegisteredVersion(deps.registry, modelNameOf(request, prepared), job.id, signal)
        : undefined;
    if (earlier) {
      outcome.modelVersion = earlier;
    } else {
      const version = await registerModel(
        deps.registry,
        { jobId: job.id, request, prepared, shape, plan, model, metrics, epochsTrained: state.epoch, signal },
        onnx,
      );
      outcome.modelVersion = { name: version.name, version: version.version };
    }
    return outcome;
  } finally {
    // compileModel hands the model an optimizer instance, which model.dispose() leaves alone.
    model.optimizer?.dispose();
    model.dispose();
    if (tf.memory().numTensors > 10_000)
      deps.logger.warn({ tensors: tf.memory().numTensors }, 'many live tensors after a job');
  }
}

/**
 * For a data-parallel job (`config.workers` > 1), recruits its gang and records who is in it (the
 * record's `gang`, kept current at each epoch end); undefined for other jobs.
 */
async function startGang(
  deps: JobRunnerDeps,
  record: JobRecord,
  training: Pick<GangJob, 'model' | 'shape' | 'signal'>,
  reporter: ProgressReporter,
): Promise<Gang | undefined> {
  const { job } = record;
  const workers = job.request!.config?.workers ?? 0;
  if (workers <= 1 || !deps.gangs) return undefined;
  await reporter.phase('loading', `recruiting up to ${workers - 1} more workers for data-parallel training`);
  const gang = await deps.gangs.start({
    jobId: job.id,
    request: job.request!,
    followers: workers - 1,
    ...training,
    ...(record.fold !== undefined && { fold: record.fold }),
  });
  try {
    const members = gang.members();
    const names = members.map((m) => m.worker);
    reporter.gang = () => gang.members();
    await deps.store.mutate(job.id, (r) => (isTerminal(r.job.state) ? r : { ...r, job: { ...r.job, gang: members } }));
    deps.logger.info({ jobId: job.id, gang: gang.id, workers: names }, 'data-parallel training');
    await reporter.phase(
      'loading',
      `data-parallel training on ${gang.size} of ${workers} workers: ${names.join(', ')}`,
    );
    return gang;
  } catch (error) {
    gang.close(`the leader stopped: ${(error as Error).message}`);
    throw error;
  }
}

async function loadPrepared(deps: JobRunnerDeps, id: string, signal: AbortSignal): Promise<PreparedDataset> {
  try {
    return await deps.preprocessing.getPreparedDataset({ id }, { signal });
  } catch (error) {
    if ((error as { code?: string }).code === 'NOT_FOUND') {
      throw new InvalidArgumentError(`prepared_dataset_id: prepared dataset "${id}" no longer exists`, {
        cause: error,
      });
    }
    throw error;
  }
}

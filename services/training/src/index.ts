/**
 * @aimaas/training: the training service of AIMaaS. TF.js models trained as queued jobs on
 * prepared datasets (read through the preprocessing service), checkpointed each epoch and resumed
 * after a crash, exported to ONNX and registered in the model registry; plus hyperparameter
 * searches and cross-validation. All state lives in NATS (KV `aimaas_jobs`, object store
 * `aimaas_checkpoints`, queue `AIMAAS_JOBS_TRAINING`), so any number of replicas can serve.
 *
 * @example
 * server.add(TrainingServiceService, createTrainingService({ store, experiments, queue, events, preprocessing, hub }));
 * void createTrainingWorker({ ...deps, gangNc, queue, experiments, options }).run(server.stopping);
 */
export { openTraining } from './open-training.js';
export type { OpenTrainingConfig, TrainingReplica } from './open-training.js';
export { createTrainingService } from './training-service.js';
export type { TrainingServiceDeps, TrainingServiceHandlers } from './training-service.js';
export { createTrainingWorker } from './worker.js';
export type { TrainingWorker, TrainingWorkerDeps } from './worker.js';
export type { JobRunnerDeps } from './job-runner.js';
export { JobStore, JOBS_BUCKET, isTerminal, jobIdFor } from './job-store.js';
export type { JobRecord, StoredJob } from './job-store.js';
export { ExperimentStore } from './experiment-store.js';
export type { ExperimentRecord, ExperimentMember } from './experiment-store.js';
export { CheckpointStore, CHECKPOINTS_BUCKET } from './checkpoints.js';
export type { Checkpoint, TrainerState, LoadedCheckpoint } from './checkpoints.js';
export { ProgressHub } from './progress-hub.js';
export type { JobEvent, JobListener } from './progress-hub.js';
export type { TrainingEventPublisher } from './progress-reporter.js';
export { openTrainingStores } from './buckets.js';
export type { TrainingStores } from './buckets.js';
export { compileTrainingOptions, trainingOptionsFromEnv } from './training-options.js';
export type { TrainingOptions, CompiledTrainingOptions } from './training-options.js';
export { validateSubmit, monitorNames, TRAINING_LIMITS } from './validation.js';
export { modelLayerCount, modelParameterBound } from './model-size.js';
export {
  learningRateAt,
  toTrainingPlan,
  toMlModelSpec,
  flattenParams,
  DEFAULT_LEARNING_RATES,
} from './spec-mapping.js';
export type { TrainingPlan, ScheduleSettings, EarlyStoppingSettings } from './spec-mapping.js';
export { trialPoints, applyTrial } from './search-space.js';
export {
  buildTrainingModel,
  dataShapeOf,
  modelInputShape,
  modelOutputShape,
  regressionTargetScaling,
} from './training-model.js';
export type { DataShape } from './training-model.js';
export { createDataPlan } from './data-source.js';
export type { Batch, DataPlan } from './data-source.js';

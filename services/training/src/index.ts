/**
 * @aimaas/training: the training service of AIMaaS. TF.js models trained as queued jobs on
 * prepared datasets (read through the preprocessing service), checkpointed each epoch and resumed
 * after a crash, exported to ONNX and registered in the model registry; plus hyperparameter
 * searches and cross-validation. All state lives in NATS (KV `aimaas_jobs`, object store
 * `aimaas_checkpoints`, queue `AIMAAS_JOBS_TRAINING`), so any number of replicas can serve.
 *
 * @example
 * const training = await openTraining(nc, gangNc, { logger, options, preprocessing, registry });
 * server.add(TrainingServiceService, training.handlers);
 * const working = training.run(server.stopping);
 */
export { openTraining } from './open-training.js';
export type { OpenTrainingConfig, TrainingReplica } from './open-training.js';
export { JOBS_BUCKET } from './jobs/job-store.js';
export { CheckpointStore } from './jobs/checkpoints.js';
export type { LoadedCheckpoint } from './jobs/checkpoints.js';
export { openTrainingStores } from './buckets.js';
export { compileTrainingOptions } from './training-options.js';
export type { TrainingOptions } from './training-options.js';
export { validateSubmit } from './validation.js';
export { modelLayerCount, modelParameterBound } from './model/model-size.js';
export { learningRateAt, toTrainingPlan } from './model/spec-mapping.js';
export { buildTrainingModel, dataShapeOf, regressionTargetScaling } from './model/training-model.js';
export type { DataShape } from './model/training-model.js';
export type { Batch, DataPlan } from './data/data-source.js';

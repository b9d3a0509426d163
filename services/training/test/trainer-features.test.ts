import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobState, Task, type ProgressUpdate, type SubmitTrainingJobRequest, type TrainingConfig } from '@aimaas/proto';
import { fixturePath } from '@aimaas/testing';
import { learningRateAt, toTrainingPlan } from '../src/index.js';
import { startMesh, type Mesh } from './support/harness.js';
import type { PrepareCsvOptions } from './support/service-preprocessing.js';
import { irisJob, readWholeSplit, watchAll } from './support/helpers.js';

const epochLogs = (updates: ProgressUpdate[]) =>
  updates.filter((u) => u.message.endsWith('done')).map((u) => u.metrics);

describe('learning-rate schedules', () => {
  const plan = (schedule: TrainingConfig['schedule'], epochs = 10) =>
    toTrainingPlan({
      ...irisJob('x').config!,
      optimizer: { name: 'sgd', learningRate: 0.1, momentum: 0, nesterov: false },
      schedule,
      epochs,
    });

  it('keeps a constant rate by default', () => {
    expect([1, 5, 10].map((e) => learningRateAt(plan(undefined), e))).toEqual([0.1, 0.1, 0.1]);
  });
  it('multiplies by gamma every step_epochs with "step"', () => {
    const p = plan({ kind: 'step', gamma: 0.5, stepEpochs: 3, minLearningRate: 0 });
    expect([1, 3, 4, 7].map((e) => learningRateAt(p, e))).toEqual([0.1, 0.1, 0.05, 0.025]);
  });
  it('multiplies by gamma each epoch with "exponential"', () => {
    const p = plan({ kind: 'exponential', gamma: 0.9, stepEpochs: 0, minLearningRate: 0 });
    expect(learningRateAt(p, 3)).toBeCloseTo(0.1 * 0.81, 12);
  });
  it('decays to min_learning_rate over the run with "cosine"', () => {
    const p = plan({ kind: 'cosine', gamma: 0, stepEpochs: 0, minLearningRate: 0.01 }, 11);
    expect(learningRateAt(p, 1)).toBeCloseTo(0.1, 12);
    expect(learningRateAt(p, 6)).toBeCloseTo(0.055, 12);
    expect(learningRateAt(p, 11)).toBeCloseTo(0.01, 12);
  });
});

describe('training options over the service', () => {
  let mesh: Mesh;
  const ids: Record<string, string> = {};
  const base = () => irisJob(ids.iris!);
  const run = async (request: Partial<SubmitTrainingJobRequest>) => {
    const job = await mesh.clients.training.submitTrainingJob(request);
    const updates = await watchAll(mesh.clients, job.id);
    return { job: await mesh.clients.training.getTrainingJob({ id: job.id }), updates };
  };

  beforeAll(async () => {
    mesh = await startMesh();
    const prepare = async (key: string, path: string, options: Omit<PrepareCsvOptions, 'id'>) => {
      ids[key] = (await mesh.preprocessing.prepareCsv(fixturePath(path), { id: key, ...options })).id;
    };
    await prepare('iris', 'iris.csv', { name: 'iris', target: 'species', seed: 5 });
    await prepare('noval', 'iris.csv', { name: 'iris', target: 'species', split: [0.8, 0, 0.2] });
    await prepare('width', 'iris.csv', { name: 'iris', target: 'petal_width', task: 'regression' });
    await prepare('width-notest', 'iris.csv', {
      name: 'iris',
      target: 'petal_width',
      task: 'regression',
      split: [0.8, 0.2, 0],
    });
    await prepare('digits', 'digits.csv', { name: 'digits', target: 'digit' });
  });
  afterAll(() => mesh?.close());

  it('applies the schedule to the optimizer each epoch', async () => {
    const { job, updates } = await run({
      ...base(),
      skipRegistration: true,
      config: {
        ...base().config!,
        epochs: 4,
        optimizer: { name: 'sgd', learningRate: 0.2, momentum: 0.9, nesterov: true },
        schedule: { kind: 'step', gamma: 0.5, stepEpochs: 2, minLearningRate: 0 },
      },
    });
    expect(job.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(epochLogs(updates).map((m) => m.lr)).toEqual([0.2, 0.2, 0.1, 0.1]);
  });

  it.each(['rmsprop', 'adagrad'])('trains with %s', async (name) => {
    const { job, updates } = await run({
      ...base(),
      skipRegistration: true,
      config: { ...base().config!, epochs: 5, optimizer: { name, learningRate: 0.05, momentum: 0, nesterov: false } },
    });
    expect(job.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    const losses = epochLogs(updates).map((m) => m.loss!);
    expect(losses.at(-1)).toBeLessThan(losses[0]!);
  });

  it('stops early when the monitored metric stops improving, and says so in the history', async () => {
    const { job, updates } = await run({
      ...base(),
      skipRegistration: true,
      config: {
        ...base().config!,
        epochs: 50,
        earlyStopping: { monitor: 'val_loss', patience: 2, minDelta: 10, restoreBestWeights: true },
      },
    });
    expect(job.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(epochLogs(updates)).toHaveLength(3);
    expect(job.checkpointEpoch).toBe(3);
    expect(job.progress?.message).toMatch(/^3 epochs;/);
  });

  it('holds out validation_split of train when the dataset has no validation split', async () => {
    const { job, updates } = await run({
      ...irisJob(ids.noval!),
      skipRegistration: true,
      config: { ...base().config!, epochs: 2, validationSplit: 0.25 },
    });
    expect(job.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(Object.keys(epochLogs(updates)[0]!)).toContain('val_accuracy');
    expect(updates.find((u) => u.message.endsWith('done'))?.stepsPerEpoch).toBe(Math.ceil(90 / 16));
    const { updates: without } = await run({
      ...irisJob(ids.noval!),
      skipRegistration: true,
      config: { ...base().config!, epochs: 1 },
    });
    expect(Object.keys(epochLogs(without)[0]!).sort()).toEqual(['accuracy', 'loss', 'lr']);
  });

  it('trains a regression and reports MAE, MSE, RMSE and R²', async () => {
    const { job } = await run({
      ...irisJob(ids.width!),
      modelName: 'iris-width',
      config: { ...base().config!, epochs: 20 },
    });
    expect(job.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(Object.keys(job.metrics).sort()).toEqual(['mae', 'mse', 'r2', 'rmse']);
    expect(job.metrics.r2).toBeGreaterThan(0.8);
    // Errors are in the target's own units (cm of petal width), not the pipeline's standardized
    // ones: R² = 1 − MSE / Var(y) must hold with the test labels decoded back to centimetres.
    const prepared = await mesh.clients.preprocessing.getPreparedDataset({ id: ids.width! });
    const target = JSON.parse(prepared.pipelineJson).target as { center: number; scale: number };
    expect(target.scale).not.toBeCloseTo(1, 1);
    const test = await readWholeSplit(mesh.clients, ids.width!, 'test');
    const cm = Array.from(test.labels, (v) => v * target.scale + target.center);
    const mean = cm.reduce((a, b) => a + b, 0) / cm.length;
    const variance = cm.reduce((a, b) => a + (b - mean) ** 2, 0) / cm.length;
    expect(job.metrics.mse! / variance).toBeCloseTo(1 - job.metrics.r2!, 4);
    expect(job.metrics.rmse!).toBeCloseTo(Math.sqrt(job.metrics.mse!), 6);
    expect(job.metrics.mae!).toBeLessThan(0.3);
    const version = await mesh.clients.registry.getModelVersion({ ref: job.modelVersion! });
    expect(version.task).toBe(Task.TASK_REGRESSION);
    expect(version.signature?.outputs[0]?.shape).toEqual([-1, 1]);
  });

  it("without a test split registers the last epoch's regression errors in the target's own units too", async () => {
    const { job, updates } = await run({
      ...irisJob(ids['width-notest']!),
      modelName: 'iris-width-notest',
      config: { ...base().config!, epochs: 5 },
    });
    expect(job.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    const scaled = epochLogs(updates).at(-1)!; // the epoch logs stay in the scaled units the model trains on
    const prepared = await mesh.clients.preprocessing.getPreparedDataset({ id: ids['width-notest']! });
    const { scale } = JSON.parse(prepared.pipelineJson).target as { scale: number };
    expect(scale).not.toBeCloseTo(1, 1);
    expect(job.metrics.val_mae! / scaled.val_mae!).toBeCloseTo(scale, 6);
    expect(job.metrics.val_loss! / scaled.val_loss!).toBeCloseTo(scale ** 2, 6);
    expect(job.metrics.mae! / scaled.mae!).toBeCloseTo(scale, 6);
  });

  it('trains a CNN on flat pixels reshaped by input_shape, and exports it to ONNX', async () => {
    const { job } = await run({
      preparedDatasetId: ids.digits!,
      modelName: 'digits-cnn',
      model: {
        cnn: {
          convBlocks: [
            { filters: 8, kernelSize: 3, strides: 1, pool: 'max', poolSize: 2, activation: 'relu', padding: 'valid' },
          ],
          denseUnits: [32],
          dropout: 0,
        },
        inputShape: [8, 8, 1],
      },
      config: { ...base().config!, epochs: 3, batchSize: 32 },
    });
    expect(job.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(job.metrics.accuracy).toBeGreaterThan(0.8);
    const version = await mesh.clients.registry.getModelVersion({ ref: job.modelVersion! });
    expect(version.files.map((f) => f.format)).toContain('onnx');
    expect(version.signature?.inputs[0]?.shape).toEqual([-1, 64]);
  });

  it('wraps an RNN over [timesteps, features] behind a reshape of the flat features', async () => {
    const { job } = await run({
      ...base(),
      modelName: 'iris-gru',
      model: { rnn: { cell: 'gru', units: [8], bidirectional: false, dropout: 0 }, inputShape: [2, 2] },
      config: { ...base().config!, epochs: 3 },
    });
    expect(job.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    const version = await mesh.clients.registry.getModelVersion({ ref: job.modelVersion! });
    expect(version.files.map((f) => f.path).sort()).toEqual(['model.json', 'model.onnx', 'weights.bin']);
    expect(version.signature?.inputs[0]?.shape).toEqual([-1, 4]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { JobState, Task, type PreparedDataset } from '@aimaas/proto';
import { argmaxRows } from '@aimaas/ml';
import { fixturePath } from '@aimaas/testing';
import { startMesh, type Mesh } from './support/harness.js';
import { downloadFiles, irisJob, readWholeSplit, waitForEnd, watchAll } from './support/helpers.js';

describe('a training job on iris', () => {
  let mesh: Mesh;
  let iris: PreparedDataset;

  beforeAll(async () => {
    mesh = await startMesh();
    iris = await mesh.preprocessing.prepareCsv(fixturePath('iris.csv'), {
      id: 'iris-prepared',
      name: 'iris',
      target: 'species',
      seed: 5,
    });
  });
  afterAll(() => mesh?.close());

  it('reaches ≥ 0.93 test accuracy and registers tfjs-layers and onnx files, metrics, signature, pipeline and lineage', async () => {
    const submitted = await mesh.clients.training.submitTrainingJob(
      irisJob(iris.id, { modelName: 'iris-mlp', tags: { team: 'ml' } }),
    );
    expect(submitted.state).toBe(JobState.JOB_STATE_QUEUED);
    const updates = await watchAll(mesh.clients, submitted.id);
    const job = await mesh.clients.training.getTrainingJob({ id: submitted.id });

    expect(job.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(job.metrics.accuracy).toBeGreaterThanOrEqual(0.93);
    expect(Object.keys(job.metrics).sort()).toEqual([
      'accuracy',
      'f1_macro',
      'log_loss',
      'precision_macro',
      'recall_macro',
    ]);
    expect(job.attempts).toBe(1);
    expect(job.checkpointEpoch).toBe(60);
    expect(updates.at(-1)).toMatchObject({ phase: 'succeeded', epoch: 60, epochs: 60 });
    const epochEnds = updates.filter((u) => u.message.endsWith('done')).map((u) => u.epoch);
    expect(epochEnds).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(new Set(updates.map((u) => u.phase))).toEqual(
      new Set(['queued', 'loading', 'training', 'evaluating', 'exporting', 'registering', 'succeeded']),
    );
    const lastEpoch = updates.filter((u) => u.message.endsWith('done')).at(-1)!;
    expect(Object.keys(lastEpoch.metrics).sort()).toEqual(['accuracy', 'loss', 'lr', 'val_accuracy', 'val_loss']);
    expect(lastEpoch.samplesPerSecond).toBeGreaterThan(0);
    expect(lastEpoch.stepsPerEpoch).toBe(Math.ceil(Number(iris.splits.find((s) => s.name === 'train')!.rows) / 16));

    const version = await mesh.clients.registry.getModelVersion({ ref: job.modelVersion! });
    expect(version.name).toBe('iris-mlp');
    expect(version.files.map((f) => [f.path, f.format]).sort()).toEqual([
      ['model.json', 'tfjs-layers'],
      ['model.onnx', 'onnx'],
      ['weights.bin', 'tfjs-layers'],
    ]);
    expect(version.metrics).toEqual(job.metrics);
    expect(version.task).toBe(Task.TASK_CLASSIFICATION);
    expect(version.classLabels).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(version.signature?.inputs).toEqual([{ name: 'input', datatype: 'FP32', shape: [-1, 4] }]);
    expect(version.signature?.outputs).toEqual([{ name: 'output', datatype: 'FP32', shape: [-1, 3] }]);
    expect(version.pipelineJson).toBe(iris.pipelineJson);
    expect(version.lineage).toMatchObject({
      dataset: { name: 'iris', version: 1 },
      preparedDatasetId: iris.id,
      trainingJobId: job.id,
    });
    expect(version.tags).toMatchObject({ team: 'ml', training_job: job.id });
    expect(version.params).toMatchObject({
      'model.mlp.hidden_units': '[16,16]',
      'config.optimizer.name': 'adam',
      'config.optimizer.learning_rate': '0.01',
      'config.epochs': '60',
      'config.batch_size': '16',
      'config.seed': '1',
      'training.epochs_trained': '60',
    });

    // The registered ONNX file scores the test split as the job reported.
    const files = await downloadFiles(mesh.clients, job.modelVersion as { name: string; version: number });
    const test = await readWholeSplit(mesh.clients, iris.id, 'test');
    const session = await ort.InferenceSession.create(files.get('model.onnx')!);
    const out = await session.run({ input: new ort.Tensor('float32', test.features, [test.rows, 4]) });
    const predicted = argmaxRows(out.output!.data as Float32Array, 3);
    const hits = predicted.filter((p, i) => p === test.labels[i]).length;
    expect(hits / test.rows).toBeCloseTo(job.metrics.accuracy!, 6);
    await session.release();
  });

  it('replays the whole history to a watcher that comes after the end', async () => {
    const job = await mesh.clients.training.submitTrainingJob(
      irisJob(iris.id, { config: { ...irisJob(iris.id).config!, epochs: 5 } }),
    );
    await waitForEnd(mesh.clients, job.id);
    const updates = await watchAll(mesh.clients, job.id);
    expect(updates.filter((u) => u.message.endsWith('done')).map((u) => u.epoch)).toEqual([1, 2, 3, 4, 5]);
    expect(updates.at(-1)?.phase).toBe('succeeded');
  });

  it('sends per-batch updates at most 5 a second', async () => {
    const job = await mesh.clients.training.submitTrainingJob(
      irisJob(iris.id, { config: { ...irisJob(iris.id).config!, epochs: 10, batchSize: 2 }, skipRegistration: true }),
    );
    const updates = await watchAll(mesh.clients, job.id);
    const batchUpdates = updates.filter((u) => u.phase === 'training' && u.message === '');
    expect(batchUpdates.length).toBeGreaterThan(1);
    for (let i = 1; i < batchUpdates.length; i++) {
      expect(batchUpdates[i]!.time!.getTime() - batchUpdates[i - 1]!.time!.getTime()).toBeGreaterThanOrEqual(200);
    }
  });

  it('gives identical metrics for the same seed', async () => {
    const request = irisJob(iris.id, {
      skipRegistration: true,
      config: { ...irisJob(iris.id).config!, epochs: 15, seed: 42 },
    });
    const first = await mesh.clients.training.submitTrainingJob(request);
    const second = await mesh.clients.training.submitTrainingJob(request);
    const [a, b] = [await waitForEnd(mesh.clients, first.id), await waitForEnd(mesh.clients, second.id)];
    expect(a.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(b.metrics).toEqual(a.metrics);
    const historyOf = async (id: string) =>
      (await watchAll(mesh.clients, id)).filter((u) => u.message.endsWith('done')).map((u) => u.metrics);
    expect(await historyOf(second.id)).toEqual(await historyOf(first.id));
    expect(a.modelVersion).toBeUndefined();
  });

  it('returns the same job for a repeated request_id', async () => {
    const request = irisJob(iris.id, {
      requestId: 'retry-me',
      skipRegistration: true,
      config: { ...irisJob(iris.id).config!, epochs: 2 },
    });
    const first = await mesh.clients.training.submitTrainingJob(request);
    const again = await mesh.clients.training.submitTrainingJob(request);
    expect(again.id).toBe(first.id);
    await waitForEnd(mesh.clients, first.id);
    const { jobs } = await mesh.clients.training.listTrainingJobs({});
    expect(jobs.filter((j) => j.id === first.id)).toHaveLength(1);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobState, SubmitTrainingJobRequest, type CrossValidateRequest, type SubmitSearchRequest } from '@aimaas/proto';
import { fixturePath, waitFor } from '@aimaas/testing';
import { startMesh, type Mesh } from './support/harness.js';
import { irisJob } from './support/helpers.js';

describe('SubmitSearch and CrossValidate', () => {
  let mesh: Mesh;
  let iris: string;
  let iris3fold: string;

  beforeAll(async () => {
    mesh = await startMesh();
    iris = (
      await mesh.preprocessing.prepareCsv(fixturePath('iris.csv'), {
        id: 'iris-s',
        name: 'iris',
        target: 'species',
        seed: 5,
      })
    ).id;
    iris3fold = (
      await mesh.preprocessing.prepareCsv(fixturePath('iris.csv'), {
        id: 'iris-3fold',
        name: 'iris',
        target: 'species',
        kfold: 3,
      })
    ).id;
  });
  afterAll(() => mesh?.close());

  it('runs a grid search, one trial job per point, and registers the best trial by the objective', async () => {
    const base = irisJob(iris, {
      modelName: 'iris-searched',
      requestId: 'search-1',
      config: { ...irisJob(iris).config!, epochs: 8 },
    });
    const request: Partial<SubmitSearchRequest> = {
      base: SubmitTrainingJobRequest.fromPartial(base),
      dimensions: [
        { path: 'config.optimizer.learning_rate', valuesJson: ['0.0001', '0.03'], min: 0, max: 0, logScale: false },
        { path: 'model.mlp.hidden_units', valuesJson: ['[2]', '[16]'], min: 0, max: 0, logScale: false },
      ],
    };
    const submitted = await mesh.clients.training.submitSearch(request);
    expect(submitted.trials.map((t) => t.valuesJson)).toEqual([
      { 'config.optimizer.learning_rate': '0.0001', 'model.mlp.hidden_units': '[2]' },
      { 'config.optimizer.learning_rate': '0.0001', 'model.mlp.hidden_units': '[16]' },
      { 'config.optimizer.learning_rate': '0.03', 'model.mlp.hidden_units': '[2]' },
      { 'config.optimizer.learning_rate': '0.03', 'model.mlp.hidden_units': '[16]' },
    ]);
    // The same request_id reports the search's progress.
    const search = await waitFor(
      async () => {
        const s = await mesh.clients.training.submitSearch(request);
        return s.state === JobState.JOB_STATE_SUCCEEDED && s;
      },
      { timeoutMs: 60_000, intervalMs: 200, message: 'the search to finish' },
    );
    expect(search.id).toBe(submitted.id);
    const best = search.trials.reduce((a, b) => (b.objective > a.objective ? b : a));
    expect(search.bestJobId).toBe(best.jobId);
    expect(search.trials.every((t) => t.state === JobState.JOB_STATE_SUCCEEDED)).toBe(true);
    const version = await mesh.clients.registry.getModelVersion({ ref: search.modelVersion! });
    expect(version).toMatchObject({ name: 'iris-searched', tags: { search: search.id, training_job: best.jobId } });
    expect(version.files.map((f) => f.format).sort()).toEqual(['onnx', 'tfjs-layers', 'tfjs-layers']);
    expect(version.params['config.optimizer.learning_rate']).toBe(best.valuesJson['config.optimizer.learning_rate']);
    const { versions } = await mesh.clients.registry.searchModelVersions({ filter: 'name = "iris-searched"' });
    expect(versions).toHaveLength(1);
  });

  it('rejects a search whose points are not valid jobs, naming the trial and the field', async () => {
    const error = await mesh.clients.training
      .submitSearch({
        base: SubmitTrainingJobRequest.fromPartial(irisJob(iris)),
        dimensions: [
          { path: 'config.optimizer.learning_rate', valuesJson: ['0.01', '-1'], min: 0, max: 0, logScale: false },
        ],
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((error as Error & { details: string }).details).toBe(
      'trial 1 {"config.optimizer.learning_rate":"-1"}: config.optimizer.learning_rate: must be a positive number, got -1',
    );
  });

  it('cross-validates over the folds of a k-fold dataset with mean and std metrics', async () => {
    const request: Partial<CrossValidateRequest> = {
      base: SubmitTrainingJobRequest.fromPartial(
        irisJob(iris3fold, { requestId: 'cv-1', config: { ...irisJob(iris3fold).config!, epochs: 5 } }),
      ),
      folds: 0,
    };
    const started = await mesh.clients.training.crossValidate(request);
    expect(started.foldJobIds).toHaveLength(3);
    const cv = await waitFor(
      async () => {
        const c = await mesh.clients.training.crossValidate(request);
        return c.state === JobState.JOB_STATE_SUCCEEDED && c;
      },
      { timeoutMs: 60_000, intervalMs: 200, message: 'the cross-validation to finish' },
    );
    expect(Object.keys(cv.meanMetrics).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    const folds = await Promise.all(cv.foldJobIds.map((id) => mesh.clients.training.getTrainingJob({ id })));
    const accuracies = folds.map((f) => f.metrics.val_accuracy!);
    const mean = accuracies.reduce((a, b) => a + b, 0) / 3;
    expect(cv.meanMetrics.val_accuracy).toBeCloseTo(mean, 10);
    expect(cv.stdMetrics.val_accuracy).toBeCloseTo(
      Math.sqrt(accuracies.reduce((a, b) => a + (b - mean) ** 2, 0) / 3),
      10,
    );
    expect(folds.every((f) => f.modelVersion === undefined)).toBe(true);
  });

  it('refuses to cross-validate a dataset that has no folds', async () => {
    const error = await mesh.clients.training
      .crossValidate({ base: SubmitTrainingJobRequest.fromPartial(irisJob(iris)), folds: 3 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: `base.prepared_dataset_id: prepared dataset "${iris}" has no k-fold splits; prepare it with kfold`,
    });
  });
});

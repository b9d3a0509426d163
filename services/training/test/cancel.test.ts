import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobState, type ProgressUpdate } from '@aimaas/proto';
import { subscribeEvents } from '@aimaas/events';
import { connectNats } from '@aimaas/storage';
import { fixturePath, waitFor } from '@aimaas/testing';
import { startMesh, type Mesh } from './support/harness.js';
import { irisJob, waitForEnd } from './support/helpers.js';

describe('CancelTrainingJob', () => {
  let mesh: Mesh;
  let iris: string;

  beforeAll(async () => {
    // Every batch reports progress here, so the test can see where the worker stopped.
    mesh = await startMesh({ training: { progressIntervalMs: 0 } });
    iris = (
      await mesh.preprocessing.prepareCsv(fixturePath('iris.csv'), { id: 'iris-c', name: 'iris', target: 'species' })
    ).id;
  });
  afterAll(() => mesh?.close());

  it('stops a running job within one batch; it ends CANCELLED and registers nothing', async () => {
    const long = irisJob(iris, {
      modelName: 'iris-cancelled',
      config: { ...irisJob(iris).config!, epochs: 1_000, batchSize: 2 },
    });
    const job = await mesh.clients.training.submitTrainingJob(long);
    await waitFor(async () => (await mesh.clients.training.getTrainingJob({ id: job.id })).checkpointEpoch >= 2, {
      timeoutMs: 30_000,
      message: 'two checkpointed epochs',
    });

    const cancelled = await mesh.clients.training.cancelTrainingJob({ id: job.id });
    expect(cancelled.state).toBe(JobState.JOB_STATE_CANCELLED);
    expect(cancelled.progress?.phase).toBe('cancelled');

    // The worker is free again: the next job runs to the end.
    const next = await mesh.clients.training.submitTrainingJob(
      irisJob(iris, { skipRegistration: true, config: { ...irisJob(iris).config!, epochs: 2 } }),
    );
    expect((await waitForEnd(mesh.clients, next.id)).state).toBe(JobState.JOB_STATE_SUCCEEDED);

    const final = await mesh.clients.training.getTrainingJob({ id: job.id });
    expect(final.state).toBe(JobState.JOB_STATE_CANCELLED);
    expect(final.modelVersion).toBeUndefined();
    const { versions } = await mesh.clients.registry.searchModelVersions({ filter: 'name = "iris-cancelled"' });
    expect(versions).toEqual([]);

    // The worker learns of the cancel through a KV watch and stops before its next batch. How many
    // 2-row batches fit in the watch's delivery time depends on the machine's load, so the test
    // checks what does not: the worker never finished another epoch after the cancel.
    const updates = await progressOf(job.id);
    const after = updates.filter((u) => u.time!.getTime() > final.finishedAt!.getTime() && u.phase === 'training');
    const stepsPerEpoch = updates.find((u) => u.stepsPerEpoch > 0)!.stepsPerEpoch;
    expect(after.length).toBeLessThan(stepsPerEpoch);
    expect(final.checkpointEpoch).toBeLessThanOrEqual(cancelled.checkpointEpoch + 1);
  });

  it('cancels a queued job before any worker runs it', async () => {
    const submitted = await mesh.clients.training.submitTrainingJob(
      irisJob(iris, { config: { ...irisJob(iris).config!, epochs: 300, batchSize: 2 } }),
    );
    const queued = await mesh.clients.training.submitTrainingJob(irisJob(iris, { modelName: 'never-trained' }));
    const cancelled = await mesh.clients.training.cancelTrainingJob({ id: queued.id });
    expect(cancelled.state).toBe(JobState.JOB_STATE_CANCELLED);
    await mesh.clients.training.cancelTrainingJob({ id: submitted.id });
    await waitForEnd(mesh.clients, submitted.id);
    const again = await mesh.clients.training.getTrainingJob({ id: queued.id });
    expect(again).toMatchObject({ state: JobState.JOB_STATE_CANCELLED, attempts: 0 });
  });

  it('refuses to cancel a job that already ended', async () => {
    const job = await mesh.clients.training.submitTrainingJob(
      irisJob(iris, { skipRegistration: true, config: { ...irisJob(iris).config!, epochs: 1 } }),
    );
    await waitForEnd(mesh.clients, job.id);
    const error = await mesh.clients.training.cancelTrainingJob({ id: job.id }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'FAILED_PRECONDITION',
      details: `training job "${job.id}" already ended SUCCEEDED`,
    });
  });

  async function progressOf(jobId: string): Promise<ProgressUpdate[]> {
    const nc = await connectNats(mesh.nats.url, { name: 'cancel-test' });
    const updates: ProgressUpdate[] = [];
    const done = new AbortController();
    let last = Date.now();
    const sub = await subscribeEvents({
      nc,
      types: ['training.job.progress'],
      deliver: 'all',
      signal: done.signal,
      handler: (event) => {
        last = Date.now();
        if (event.payload.job?.id === jobId && event.payload.job.progress) updates.push(event.payload.job.progress);
      },
    });
    await waitFor(() => Date.now() - last > 500, { timeoutMs: 30_000 });
    await sub.stop();
    await nc.drain();
    return updates;
  }
});

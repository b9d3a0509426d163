import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobState, type PreparedDataset, type TrainingJob } from '@aimaas/proto';
import { fixturePath, waitFor } from '@aimaas/testing';
import { shareOf } from '../src/gang/shard-gradients.js';
import { startMesh, type Mesh } from './support/harness.js';
import { downloadFiles, irisJob, waitForEnd, watchAll } from './support/helpers.js';

/** Two training workers in this process (each its own NATS connection and job consumer). */
describe('data-parallel training (config.workers = 2)', () => {
  let mesh: Mesh;
  let iris: PreparedDataset;
  let trainRows: number;
  const gangOptions = { gangRecruitTimeoutMs: 5_000, gangStepTimeoutMs: 30_000 };

  beforeAll(async () => {
    mesh = await startMesh({ training: gangOptions });
    await mesh.startTraining(gangOptions);
    iris = await mesh.preprocessing.prepareCsv(fixturePath('iris.csv'), {
      id: 'iris-dp',
      name: 'iris',
      target: 'species',
      seed: 5,
    });
    trainRows = Number(iris.splits.find((s) => s.name === 'train')!.rows);
  });
  afterAll(() => mesh?.close());

  /** Rows that `rank` of 2 computes over `epochs` epochs of `batchSize`-row batches. */
  function rowsOfRank(rank: number, epochs: number, batchSize: number): number {
    let rows = 0;
    for (let start = 0; start < trainRows; start += batchSize) {
      const [from, to] = shareOf(Math.min(batchSize, trainRows - start), rank, 2);
      rows += to - from;
    }
    return rows * epochs;
  }

  it('trains on both workers, each computing the gradients of its half of every batch, to ≥ 0.93 test accuracy', async () => {
    const config = { ...irisJob(iris.id).config!, workers: 2 };
    const submitted = await mesh.clients.training.submitTrainingJob(irisJob(iris.id, { modelName: 'iris-dp', config }));
    const updates = await watchAll(mesh.clients, submitted.id);
    const job = await mesh.clients.training.getTrainingJob({ id: submitted.id });

    expect(job.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(job.metrics.accuracy).toBeGreaterThanOrEqual(0.93);
    expect(job.attempts).toBe(1);
    const stepsPerEpoch = Math.ceil(trainRows / 16);
    expect(job.gang).toEqual([
      { worker: job.worker, rank: 0, steps: 60 * stepsPerEpoch, samples: rowsOfRank(0, 60, 16) },
      {
        worker: job.worker === 'test-0' ? 'test-1' : 'test-0',
        rank: 1,
        steps: 60 * stepsPerEpoch,
        samples: rowsOfRank(1, 60, 16),
      },
    ]);
    expect(
      updates.some(
        (u) => u.message === `data-parallel training on 2 of 2 workers: ${job.gang.map((m) => m.worker).join(', ')}`,
      ),
    ).toBe(true);
    // The leader reports the whole batch: the same steps and samples per second as one worker would.
    const lastEpoch = updates.filter((u) => u.message.endsWith('done')).at(-1)!;
    expect(lastEpoch).toMatchObject({ epoch: 60, stepsPerEpoch });
    expect(job.modelVersion?.name).toBe('iris-dp');
  });

  it('reaches the weights and metrics of one worker training with the same batch size and seed', async () => {
    const config = { ...irisJob(iris.id).config!, epochs: 20, seed: 11, batchSize: 8 };
    const run = async (workers: number): Promise<TrainingJob> => {
      const job = await mesh.clients.training.submitTrainingJob(
        irisJob(iris.id, { modelName: `iris-w${workers}`, config: { ...config, workers } }),
      );
      return waitForEnd(mesh.clients, job.id);
    };
    const one = await run(1);
    const two = await run(2);
    expect([one.state, two.state]).toEqual([JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_SUCCEEDED]);
    expect(one.gang).toEqual([]);
    expect(two.gang.map((m) => m.samples)).toEqual([rowsOfRank(0, 20, 8), rowsOfRank(1, 20, 8)]);

    for (const [name, value] of Object.entries(one.metrics))
      expect(Math.abs(two.metrics[name]! - value), name).toBeLessThan(1e-4);
    const historyOf = async (id: string) =>
      (await watchAll(mesh.clients, id)).filter((u) => u.message.endsWith('done')).map((u) => u.metrics);
    const [h1, h2] = [await historyOf(one.id), await historyOf(two.id)];
    expect(h2).toHaveLength(20);
    h1.forEach((logs, epoch) => {
      for (const [name, value] of Object.entries(logs))
        expect(Math.abs(h2[epoch]![name]! - value), `epoch ${epoch + 1} ${name}`).toBeLessThan(1e-4);
    });

    const weightsOf = async (job: TrainingJob) => {
      const bytes = (await downloadFiles(mesh.clients, job.modelVersion as { name: string; version: number })).get(
        'weights.bin',
      )!;
      return new Float32Array(Uint8Array.from(bytes).buffer);
    };
    const [w1, w2] = [await weightsOf(one), await weightsOf(two)];
    expect(w2.length).toBe(w1.length);
    let maxDiff = 0;
    w1.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - w2[i]!))));
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it('stops the whole gang on cancel: both workers are free for the next data-parallel job at once', async () => {
    const config = { ...irisJob(iris.id).config!, epochs: 500, batchSize: 2, workers: 2 };
    const long = await mesh.clients.training.submitTrainingJob(irisJob(iris.id, { skipRegistration: true, config }));
    await waitFor(
      async () => {
        const j = await mesh.clients.training.getTrainingJob({ id: long.id });
        return j.gang.length === 2 && j.checkpointEpoch >= 1;
      },
      { timeoutMs: 30_000, intervalMs: 20, message: 'the gang to train an epoch' },
    );
    const cancelled = await mesh.clients.training.cancelTrainingJob({ id: long.id });
    expect(cancelled.state).toBe(JobState.JOB_STATE_CANCELLED);

    // A follower still in the cancelled gang would hold its slot until its step timeout (30 s),
    // past the next job's recruit timeout (5 s): that job would then train on one worker.
    const next = await mesh.clients.training.submitTrainingJob(
      irisJob(iris.id, { skipRegistration: true, config: { ...config, epochs: 2 } }),
    );
    const done = await waitForEnd(mesh.clients, next.id);
    expect(done.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(done.gang.map((m) => m.worker).sort()).toEqual(['test-0', 'test-1']);
    const stopped = await mesh.clients.training.getTrainingJob({ id: long.id });
    expect(stopped.state).toBe(JobState.JOB_STATE_CANCELLED);
    expect(stopped.checkpointEpoch).toBeLessThan(500);
  });
});

describe('a data-parallel job no other worker joins', () => {
  let mesh: Mesh;
  let iris: PreparedDataset;

  beforeAll(async () => {
    // Two slots in one process: the free one must not join its own worker's gang.
    mesh = await startMesh({
      training: { workerConcurrency: 2, gangRecruitTimeoutMs: 500, gangStepTimeoutMs: 30_000 },
    });
    iris = await mesh.preprocessing.prepareCsv(fixturePath('iris.csv'), {
      id: 'iris-dp-alone',
      name: 'iris',
      target: 'species',
      seed: 5,
    });
  });
  afterAll(() => mesh?.close());

  it("trains on its leader alone, bit for bit as a one-worker job, with the leader's steps recorded", async () => {
    const config = { ...irisJob(iris.id).config!, epochs: 5, seed: 13, batchSize: 8 };
    const run = async (workers: number): Promise<TrainingJob> => {
      const job = await mesh.clients.training.submitTrainingJob(
        irisJob(iris.id, { modelName: `iris-alone-w${workers}`, config: { ...config, workers } }),
      );
      return waitForEnd(mesh.clients, job.id);
    };
    const one = await run(1);
    const alone = await run(3);
    expect([one.state, alone.state]).toEqual([JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_SUCCEEDED]);
    const trainRows = Number(iris.splits.find((s) => s.name === 'train')!.rows);
    expect(alone.gang).toEqual([
      { worker: 'test-0', rank: 0, steps: 5 * Math.ceil(trainRows / 8), samples: 5 * trainRows },
    ]);
    expect(alone.metrics).toEqual(one.metrics);
    const weightsOf = async (job: TrainingJob) =>
      (await downloadFiles(mesh.clients, job.modelVersion as { name: string; version: number })).get('weights.bin')!;
    expect((await weightsOf(alone)).equals(await weightsOf(one))).toBe(true);
  });
});

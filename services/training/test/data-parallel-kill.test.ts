import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobState, type TrainingJob } from '@aimaas/proto';
import { createClients, type AimaasClients } from '@aimaas/sdk';
import { fixturePath, freePort, waitFor } from '@aimaas/testing';
import { startMesh, type Mesh } from './support/harness.js';
import { irisJob } from './support/helpers.js';
import { ensureBuilt, spawnTrainingProcess, type ServiceProcess } from './support/service-process.js';

/** A training service process (`dist/main.js`) and a client of its API. */
interface Worker extends ServiceProcess {
  id: string;
  clients: AimaasClients;
}

describe('a data-parallel job that loses a worker (real processes, SIGKILL)', () => {
  let mesh: Mesh;
  let iris: string;
  const workers: Worker[] = [];

  beforeAll(async () => {
    ensureBuilt();
    mesh = await startMesh({ training: false });
    iris = (
      await mesh.preprocessing.prepareCsv(fixturePath('iris.csv'), { id: 'iris-dpk', name: 'iris', target: 'species' })
    ).id;
  }, 180_000);

  afterAll(async () => {
    for (const w of workers) {
      w.clients.close();
      if (w.child.exitCode === null) w.child.kill('SIGKILL');
    }
    await mesh?.close();
  });

  async function start(id: string): Promise<Worker> {
    const address = `127.0.0.1:${await freePort()}`;
    const p = spawnTrainingProcess({
      NATS_URL: mesh.nats.url,
      AIMAAS_TRAINING_ADDR: address,
      AIMAAS_PREPROCESSING_ADDR: mesh.preprocessing.address,
      AIMAAS_REGISTRY_ADDR: mesh.registryAddress,
      AIMAAS_TRAINING_WORKER_ID: id,
      AIMAAS_TRAINING_ACK_WAIT_MS: '2000',
      // Generous: cold processes on a loaded machine (a follower reads the dataset and builds
      // the model before it answers its join; a step may stall behind a GC or another job).
      AIMAAS_TRAINING_GANG_RECRUIT_TIMEOUT_MS: '10000',
      AIMAAS_TRAINING_GANG_STEP_TIMEOUT_MS: '10000',
    });
    const worker: Worker = {
      ...p,
      id,
      clients: createClients({ addresses: { training: address }, tls: false, tracing: false }),
    };
    workers.push(worker);
    await waitFor(() => worker.clients.training.listTrainingJobs({ pageSize: 1 }, { deadlineMs: 1_000 }), {
      timeoutMs: 30_000,
      message: `training process ${id} to serve (output: ${p.output().slice(-500)})`,
    });
    return worker;
  }

  /** Submits a 2-worker job and waits until both workers trained it past epoch 2. */
  async function gangJobUnderWay(via: Worker, modelName: string): Promise<TrainingJob> {
    const job = await via.clients.training.submitTrainingJob(
      irisJob(iris, { modelName, config: { ...irisJob(iris).config!, epochs: 40, batchSize: 4, seed: 3, workers: 2 } }),
    );
    return waitFor(
      async () => {
        const j = await via.clients.training.getTrainingJob({ id: job.id });
        return j.gang.length === 2 && j.checkpointEpoch >= 2 && j;
      },
      { timeoutMs: 60_000, intervalMs: 10, message: 'both workers to train the job past epoch 2' },
    );
  }

  async function end(via: Worker, id: string): Promise<TrainingJob> {
    return waitFor(
      async () => {
        const j = await via.clients.training.getTrainingJob({ id });
        return j.state !== JobState.JOB_STATE_RUNNING && j.state !== JobState.JOB_STATE_QUEUED && j;
      },
      { timeoutMs: 90_000, intervalMs: 100, message: `job ${id} to end` },
    );
  }

  it('a killed follower ends the attempt; the job is retried from its checkpoint and succeeds', async () => {
    const [a, b] = await Promise.all([start('worker-a'), start('worker-b')]);
    const running = await gangJobUnderWay(a, 'iris-dp-follower-lost');
    const [leader, follower] = running.worker === a.id ? [a, b] : [b, a];
    expect(running.gang.map((m) => m.worker)).toEqual([leader.id, follower.id]);
    expect(running.gang[1]!.steps).toBeGreaterThan(0);

    follower.child.kill('SIGKILL');
    expect(await follower.exited).toBe('SIGKILL');
    const done = await end(leader, running.id);

    expect(done).toMatchObject({ state: JobState.JOB_STATE_SUCCEEDED, worker: leader.id, checkpointEpoch: 40 });
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    expect(done.modelVersion?.name).toBe('iris-dp-follower-lost');
    // No other worker was left to recruit: the retry trained on the leader alone.
    expect(done.gang.map((m) => m.worker)).toEqual([leader.id]);
    expect(leader.output()).toContain(`gradients from ${follower.id} (rank 1): nothing within 10000 ms`);
    expect(leader.output()).toContain('resuming from checkpoint');
  }, 180_000);

  it('a killed leader: its follower drops the gang, then takes the redelivered job and finishes it', async () => {
    const survivor = workers.find((w) => w.child.exitCode === null && w.child.signalCode === null)!;
    const fresh = await start('worker-c');
    const running = await gangJobUnderWay(fresh, 'iris-dp-leader-lost');
    const [leader, follower] = running.worker === fresh.id ? [fresh, survivor] : [survivor, fresh];

    leader.child.kill('SIGKILL');
    expect(await leader.exited).toBe('SIGKILL');
    const done = await end(follower, running.id);

    expect(done).toMatchObject({ state: JobState.JOB_STATE_SUCCEEDED, worker: follower.id, checkpointEpoch: 40 });
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    expect(done.gang.map((m) => m.worker)).toEqual([follower.id]);
    expect(follower.output()).toContain('dropped a data-parallel job');
    expect(follower.output()).toContain('resuming from checkpoint');

    follower.child.kill('SIGTERM');
    expect(await follower.exited).toBe(0);
  }, 180_000);
});

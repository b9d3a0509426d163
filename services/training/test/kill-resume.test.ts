import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobState, type TrainingJob } from '@aimaas/proto';
import { subscribeEvents } from '@aimaas/events';
import { createClients, type AimaasClients } from '@aimaas/sdk';
import { connectNats } from '@aimaas/storage';
import { fixturePath, freePort, waitFor } from '@aimaas/testing';
import { openTrainingStores } from '../src/index.js';
import { startMesh, type Mesh } from './support/harness.js';
import { irisJob } from './support/helpers.js';
import { ensureBuilt, spawnTrainingProcess, type ServiceProcess } from './support/service-process.js';

describe('a training worker killed mid-job', () => {
  let mesh: Mesh;
  let clients: AimaasClients;
  let env: Record<string, string>;
  let iris: string;
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    mesh = await startMesh({ training: false });
    iris = (
      await mesh.preprocessing.prepareCsv(fixturePath('iris.csv'), { id: 'iris-k', name: 'iris', target: 'species' })
    ).id;
    const address = `127.0.0.1:${await freePort()}`;
    env = {
      NATS_URL: mesh.nats.url,
      AIMAAS_TRAINING_ADDR: address,
      AIMAAS_PREPROCESSING_ADDR: mesh.preprocessing.address,
      AIMAAS_REGISTRY_ADDR: mesh.registryAddress,
      AIMAAS_TRAINING_ACK_WAIT_MS: '2000',
    };
    clients = createClients({ addresses: { training: address }, tls: false, tracing: false });
  }, 180_000);

  afterAll(async () => {
    clients?.close();
    for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await mesh?.close();
  });

  async function start(): Promise<ServiceProcess> {
    const p = spawnTrainingProcess(env);
    processes.push(p);
    await waitFor(() => clients.training.listTrainingJobs({ pageSize: 1 }, { deadlineMs: 1_000 }), {
      timeoutMs: 30_000,
      message: `the training process to serve (output: ${p.output().slice(-500)})`,
    });
    return p;
  }

  it('is redelivered after the ack wait and resumes from the last checkpoint, not from zero', async () => {
    const first = await start();
    const job = await clients.training.submitTrainingJob(
      irisJob(iris, {
        modelName: 'iris-resumed',
        config: { ...irisJob(iris).config!, epochs: 40, batchSize: 2, seed: 3 },
      }),
    );
    await waitFor(async () => (await clients.training.getTrainingJob({ id: job.id })).checkpointEpoch >= 2, {
      timeoutMs: 60_000,
      intervalMs: 10,
      message: 'epoch 2 to be checkpointed',
    });
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    // No training process is up now: read the job record from NATS itself.
    const nc = await connectNats(mesh.nats.url, { name: 'kill-test' });
    const atKill = (await (await openTrainingStores(nc)).jobs.require(job.id)).record.job;
    expect(atKill.state).toBe(JobState.JOB_STATE_RUNNING);
    expect(atKill.checkpointEpoch).toBeGreaterThanOrEqual(2);
    expect(atKill.checkpointEpoch).toBeLessThan(40);

    // Follow what the next worker does with the job.
    const resumed: TrainingJob[] = [];
    const sub = await subscribeEvents({
      nc,
      types: ['training.job.progress'],
      handler: (event) => {
        if (event.payload.job?.id === job.id) resumed.push(event.payload.job);
      },
    });
    const second = await start();
    const done = await waitFor(
      async () => {
        const j = await clients.training.getTrainingJob({ id: job.id });
        return j.state !== JobState.JOB_STATE_RUNNING && j;
      },
      { timeoutMs: 90_000, intervalMs: 100, message: 'the resumed job to end' },
    );
    await sub.stop();
    await nc.drain();

    expect(done).toMatchObject({ state: JobState.JOB_STATE_SUCCEEDED, attempts: 2, checkpointEpoch: 40 });
    expect(done.modelVersion?.name).toBe('iris-resumed');
    expect(resumed[0]?.progress?.phase).toBe('loading');
    expect(resumed.every((j) => j.attempts === 2)).toBe(true);
    const firstTraining = resumed.find((j) => j.progress?.phase === 'training');
    expect(firstTraining?.progress?.epoch).toBeGreaterThanOrEqual(atKill.checkpointEpoch + 1);
    expect(second.output()).toContain('resuming from checkpoint');

    // SIGTERM: an orderly shutdown that exits 0.
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});

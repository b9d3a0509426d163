/**
 * Compression jobs as jobs, through real gRPC and a real nats-server: idempotent submit, list,
 * watch, the `compression.job.*` events, cancel (queued and mid fine-tune) and a job that fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribeEvents, type EventSubscription } from '@aimaas/events';
import { JobState, type CompressionJob, type SubmitCompressionJobRequest } from '@aimaas/proto';
import { connectNats, type NatsConnection } from '@aimaas/storage';
import { waitFor } from '@aimaas/testing';
import {
  failure,
  startCompressionMesh,
  trainSource,
  waitForCompression,
  type CompressionMesh,
  type CompressionUnderTest,
} from './support/harness.js';

let mesh: CompressionMesh;
let iris: { name: string; version: number };
let nc: NatsConnection;
let subscription: EventSubscription;
const events: Array<{ type: string; job: CompressionJob }> = [];

beforeAll(async () => {
  mesh = await startCompressionMesh();
  iris = await trainSource(mesh, 'iris.csv', { name: 'iris', target: 'species' });
  nc = await connectNats(mesh.base.nats.url, { name: 'compression-events-test' });
  subscription = await subscribeEvents({
    nc,
    types: ['compression.job.*'],
    handler: (event) => {
      events.push({ type: event.type, job: event.payload.job! });
    },
  });
}, 300_000);

afterAll(async () => {
  await subscription?.stop();
  await nc?.drain();
  await mesh?.close();
});

const quantize = (overrides: Partial<SubmitCompressionJobRequest> = {}): Partial<SubmitCompressionJobRequest> => ({
  source: { name: 'iris', version: iris.version },
  quantize: { dtype: 'uint8', perChannel: false, activations: '' },
  ...overrides,
});

/** A prune with a fine-tune long enough to be caught mid-way (iris, batch 1, 300 epochs). */
const longPrune = (modelName: string): Partial<SubmitCompressionJobRequest> => ({
  source: { name: 'iris', version: iris.version },
  prune: {
    targetSparsity: 0.5,
    fineTuneEpochs: 300,
    pruningSteps: 100,
    scope: 'layer',
    config: {
      optimizer: { name: 'sgd', learningRate: 0.001, momentum: 0, nesterov: false },
      schedule: undefined,
      batchSize: 1,
      epochs: 0,
      seed: 1,
      earlyStopping: undefined,
      validationSplit: 0,
      workers: 0,
    },
  },
  modelName,
});

function typesOf(jobId: string): string[] {
  return events.filter((e) => e.job.id === jobId).map((e) => e.type);
}

describe('compression jobs', () => {
  let done: CompressionJob;

  it('a retried submit with the same request_id is the same job, queued once', async () => {
    const first = await mesh.clients.compression.submitCompressionJob(
      quantize({ requestId: 'retry-me', modelName: 'iris-once' }),
    );
    const again = await mesh.clients.compression.submitCompressionJob(
      quantize({ requestId: 'retry-me', modelName: 'iris-once' }),
    );
    expect(again.id).toBe(first.id);
    expect(first.state).toBe(JobState.JOB_STATE_QUEUED);
    done = await waitForCompression(mesh.clients, first.id);
    expect(done.state, done.error).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(done).toMatchObject({ attempts: 1, modelVersion: { name: 'iris-once', version: 1 } });
    expect(done.startedAt!.getTime()).toBeGreaterThanOrEqual(done.createdAt!.getTime());
    expect(done.finishedAt!.getTime()).toBeGreaterThanOrEqual(done.startedAt!.getTime());
    // After it ended, the same request_id still answers the same (finished) job and queues nothing.
    const late = await mesh.clients.compression.submitCompressionJob(
      quantize({ requestId: 'retry-me', modelName: 'iris-once' }),
    );
    expect(late).toMatchObject({ id: first.id, state: JobState.JOB_STATE_SUCCEEDED });
    // The same request_id for a different request is refused, not answered with the old job.
    const reused = await failure(
      mesh.clients.compression.submitCompressionJob(quantize({ requestId: 'retry-me', modelName: 'iris-other' })),
    );
    expect(reused).toMatchObject({
      code: 'ALREADY_EXISTS',
      details: `request_id: already used by compression job ${first.id} for a different request`,
    });
    const versions = await mesh.clients.registry.searchModelVersions({ filter: 'name = "iris-once"', pageSize: 10 });
    expect(versions.versions.length).toBe(1);
    await waitFor(() => typesOf(first.id).includes('compression.job.succeeded'), {
      timeoutMs: 5_000,
      message: 'the succeeded event',
    });
    const types = typesOf(first.id);
    expect(types.filter((t) => t === 'compression.job.submitted').length).toBe(1);
    expect(types[0]).toBe('compression.job.submitted');
    expect(types).toContain('compression.job.started');
    expect(types).toContain('compression.job.progress');
    expect(types.at(-1)).toBe('compression.job.succeeded');
    const succeeded = events.find((e) => e.job.id === first.id && e.type === 'compression.job.succeeded')!.job;
    expect(succeeded.report?.after?.sizeBytes).toBe(done.report?.after?.sizeBytes);
  });

  it('watch replays the history of a finished job, phases in order, and ends', async () => {
    const phases: string[] = [];
    for await (const update of mesh.clients.compression.watchCompressionJob({ id: done.id })) phases.push(update.phase);
    const order = ['queued', 'loading', 'measuring', 'quantize', 'exporting', 'registering', 'succeeded'].map((p) =>
      phases.indexOf(p),
    );
    expect(
      order.every((i) => i >= 0),
      phases.join(','),
    ).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(phases.at(-1)).toBe('succeeded');
  });

  it('lists jobs newest first, paged, filtered by state', async () => {
    await waitForCompression(
      mesh.clients,
      (await mesh.clients.compression.submitCompressionJob(quantize({ modelName: 'iris-second' }))).id,
    );
    const page1 = await mesh.clients.compression.listCompressionJobs({ pageSize: 1 });
    expect(page1.jobs.length).toBe(1);
    expect(page1.jobs[0]!.request?.modelName).toBe('iris-second');
    expect(page1.nextPageToken).not.toBe('');
    const page2 = await mesh.clients.compression.listCompressionJobs({ pageSize: 1, pageToken: page1.nextPageToken });
    expect(page2.jobs[0]!.id).toBe(done.id);
    const succeeded = await mesh.clients.compression.listCompressionJobs({ state: JobState.JOB_STATE_SUCCEEDED });
    expect(succeeded.jobs.length).toBeGreaterThanOrEqual(2);
    expect((await mesh.clients.compression.listCompressionJobs({ state: JobState.JOB_STATE_FAILED })).jobs).toEqual([]);
    expect((await failure(mesh.clients.compression.listCompressionJobs({ pageSize: 5_000 }))).details).toMatch(
      /^page_size: /,
    );
    expect((await failure(mesh.clients.compression.listCompressionJobs({ pageToken: '!!' }))).details).toMatch(
      /^page_token: /,
    );
  });

  it('get, cancel and watch name a missing or empty id', async () => {
    for (const call of [
      () => mesh.clients.compression.getCompressionJob({ id: 'cj-nope' }),
      () => mesh.clients.compression.cancelCompressionJob({ id: 'cj-nope' }),
    ]) {
      expect(await failure(call())).toMatchObject({
        code: 'NOT_FOUND',
        details: 'compression job "cj-nope" not found',
      });
    }
    expect(await failure(mesh.clients.compression.getCompressionJob({ id: '' }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: expect.stringMatching(/^id: required/),
    });
    const watching = (async () => {
      for await (const _ of mesh.clients.compression.watchCompressionJob({ id: '' })) void _;
    })();
    expect((await failure(watching)).code).toBe('INVALID_ARGUMENT');
    // A finished job cannot be cancelled.
    expect(await failure(mesh.clients.compression.cancelCompressionJob({ id: done.id }))).toMatchObject({
      code: 'FAILED_PRECONDITION',
    });
  });

  it('cancel mid fine-tune stops the worker within a batch and registers nothing', async () => {
    const job = await mesh.clients.compression.submitCompressionJob(longPrune('iris-cancelled'));
    await waitFor(
      async () => ((await mesh.clients.compression.getCompressionJob({ id: job.id })).progress?.step ?? 0) > 5,
      {
        timeoutMs: 60_000,
        intervalMs: 20,
        message: 'the fine-tune to be under way',
      },
    );
    const cancelled = await mesh.clients.compression.cancelCompressionJob({ id: job.id });
    expect(cancelled.state).toBe(JobState.JOB_STATE_CANCELLED);
    // The worker is free again at once: the next job runs and succeeds.
    const next = await waitForCompression(
      mesh.clients,
      (await mesh.clients.compression.submitCompressionJob(quantize({ modelName: 'iris-after-cancel' }))).id,
      30_000,
    );
    expect(next.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    const final = await mesh.clients.compression.getCompressionJob({ id: job.id });
    expect(final.state).toBe(JobState.JOB_STATE_CANCELLED);
    expect(final.modelVersion).toBeUndefined();
    expect(final.progress?.phase).toBe('cancelled');
    const registered = await mesh.clients.registry.searchModelVersions({
      filter: 'name = "iris-cancelled"',
      pageSize: 10,
    });
    expect(registered.versions).toEqual([]);
    expect(typesOf(job.id)).toContain('compression.job.cancelled');
    expect(typesOf(job.id)).not.toContain('compression.job.succeeded');
  }, 120_000);

  describe('on a replica without a worker', () => {
    let rpcOnly: CompressionUnderTest;
    let clients: CompressionMesh['clients'];

    beforeAll(async () => {
      // Stop the worker of the mesh so jobs stay queued, and serve RPCs from a worker-less replica.
      await mesh.compression.stop();
      rpcOnly = await mesh.startCompression(false);
      const { createClients } = await import('@aimaas/sdk');
      clients = createClients({ addresses: { compression: rpcOnly.address }, tls: false, tracing: false });
    });

    afterAll(() => clients?.close());

    it('a queued job cancelled before any worker took it never runs', async () => {
      const job = await clients.compression.submitCompressionJob(quantize({ modelName: 'iris-never' }));
      expect((await clients.compression.cancelCompressionJob({ id: job.id })).state).toBe(JobState.JOB_STATE_CANCELLED);
      const worker = await mesh.startCompression({});
      try {
        const other = await waitForCompression(
          clients,
          (await clients.compression.submitCompressionJob(quantize({ modelName: 'iris-later' }))).id,
          30_000,
        );
        expect(other.state).toBe(JobState.JOB_STATE_SUCCEEDED);
        expect(await clients.compression.getCompressionJob({ id: job.id })).toMatchObject({
          state: JobState.JOB_STATE_CANCELLED,
          attempts: 0,
        });
        expect(
          (await mesh.clients.registry.searchModelVersions({ filter: 'name = "iris-never"', pageSize: 1 })).versions,
        ).toEqual([]);
      } finally {
        await worker.stop();
      }
    }, 60_000);

    it('a job whose source is gone by the time it runs fails, says why and registers nothing', async () => {
      // iris-later@1, registered by the test above, is the source; it is deleted before a worker runs the job.
      const doomed = await waitFor(
        async () =>
          (await mesh.clients.registry.searchModelVersions({ filter: 'name = "iris-later"', pageSize: 1 })).versions[0],
        {
          timeoutMs: 5_000,
          message: 'iris-later to exist',
        },
      );
      const job = await clients.compression.submitCompressionJob({
        source: { name: doomed.name, version: doomed.version },
        quantize: { dtype: 'float16', perChannel: false, activations: '' },
        modelName: 'from-doomed',
      });
      await mesh.clients.registry.deleteModelVersion({ name: doomed.name, version: doomed.version });
      const worker = await mesh.startCompression({});
      try {
        const failed = await waitForCompression(clients, job.id, 30_000);
        expect(failed.state).toBe(JobState.JOB_STATE_FAILED);
        expect(failed.error).toMatch(/iris-later/);
        expect(failed.error).toMatch(/NOT_FOUND|not found/);
        expect(failed.modelVersion).toBeUndefined();
        expect(
          (await mesh.clients.registry.searchModelVersions({ filter: 'name = "from-doomed"', pageSize: 1 })).versions,
        ).toEqual([]);
        await waitFor(() => typesOf(job.id).includes('compression.job.failed'), {
          timeoutMs: 5_000,
          message: 'the failed event',
        });
      } finally {
        await worker.stop();
      }
    }, 60_000);
  });
});

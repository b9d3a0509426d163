import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, UnavailableError } from '@aimaas/runtime';
import { waitFor } from '@aimaas/testing';
import { JOB_QUEUES, PoisonJobError, createJobQueue, type JobQueueOptions, type QueuedJob } from '../src/index.js';
import { captureLogs, startNats, watchTerminations, type NatsFixture } from './helpers.js';

const { stream, consumer } = JOB_QUEUES.training;

describe('createJobQueue', () => {
  let nats: NatsFixture;
  let options: JobQueueOptions;
  let lines: ReturnType<typeof captureLogs>['lines'];
  beforeAll(async () => {
    nats = await startNats();
    const logs = captureLogs();
    lines = logs.lines;
    options = { ackWaitMs: 2_000, maxDeliver: 3, retryBaseMs: 10, pullExpiresMs: 1_000, logger: logs.logger };
  });
  afterAll(() => nats?.close());

  /** Runs one worker until `done` holds, then stops it and waits for it to return. */
  async function work(handler: (job: QueuedJob) => Promise<void>, done: () => boolean | Promise<boolean>) {
    const controller = new AbortController();
    const running = createJobQueue(nats.nc, 'training', options).consume({ handler, signal: controller.signal });
    await waitFor(done, { timeoutMs: 15_000 });
    controller.abort();
    await running;
  }

  const queueIsEmpty = async () => (await nats.jsm.streams.info(stream)).state.messages === 0;

  it('shares jobs between two workers and processes each once', async () => {
    const queue = createJobQueue(nats.nc, 'training', options);
    const ids = Array.from({ length: 12 }, (_, i) => `job-${i}`);
    for (const id of ids) await queue.enqueue(id, { id });
    const processed: { id: string; worker: string }[] = [];
    const busy = new Set<string>();
    const controller = new AbortController();
    const worker = async (name: string) => {
      const nc = await nats.connect(name);
      return createJobQueue(nc, 'training', options).consume({
        signal: controller.signal,
        handler: async (job) => {
          busy.add(name);
          // Each worker's first job waits until the other one holds a job too: both take part.
          await waitFor(() => busy.size === 2);
          expect(job.json()).toEqual({ id: job.id });
          processed.push({ id: job.id, worker: name });
        },
      });
    };
    const workers = [worker('worker-a'), worker('worker-b')];
    await waitFor(async () => processed.length === ids.length && (await queueIsEmpty()), { timeoutMs: 15_000 });
    controller.abort();
    await Promise.all(workers);
    expect(processed.map((p) => p.id).sort()).toEqual([...ids].sort());
    expect(new Set(processed.map((p) => p.worker))).toEqual(new Set(['worker-a', 'worker-b']));
  });

  it('queues a job once when it is enqueued twice with the same id', async () => {
    const queue = createJobQueue(nats.nc, 'training', options);
    const first = await queue.enqueue('same-job', new Uint8Array([1, 2, 3]));
    const second = await queue.enqueue('same-job', new Uint8Array([1, 2, 3]));
    expect(second).toEqual({ seq: first.seq, duplicate: true });
    const seen: QueuedJob[] = [];
    await work(
      async (job) => void seen.push(job),
      async () => seen.length === 1 && (await queueIsEmpty()),
    );
    expect(seen.map((job) => [job.id, [...job.data], job.headers['content-type']])).toEqual([
      ['same-job', [1, 2, 3], 'application/octet-stream'],
    ]);
  });

  it('naks a job whose handler failed and handles its redelivery', async () => {
    const queue = createJobQueue(nats.nc, 'training', options);
    await queue.enqueue('flaky', { step: 1 });
    const deliveries: [number, boolean][] = [];
    await work(
      async (job) => {
        deliveries.push([job.deliveryCount, job.redelivered]);
        if (job.deliveryCount === 1) throw new Error('object store briefly unavailable');
      },
      async () => deliveries.length === 2 && (await queueIsEmpty()),
    );
    expect(deliveries).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(lines.find((line) => line.msg === 'job failed; it will be redelivered')).toMatchObject({
      jobId: 'flaky',
      delayMs: 10,
    });
  });

  it('terms poison jobs at once: PoisonJobError, INVALID_ARGUMENT, unreadable JSON', async () => {
    const terms = await watchTerminations(nats.nc, stream, consumer);
    const queue = createJobQueue(nats.nc, 'training', options);
    const poison = await queue.enqueue('poison', { layers: null });
    const invalid = await queue.enqueue('invalid', { epochs: -1 });
    const garbage = await queue.enqueue('garbage', new TextEncoder().encode('{not json'));
    const calls: string[] = [];
    await work(
      async (job) => {
        calls.push(job.id);
        if (job.id === 'poison') throw new PoisonJobError('spec.layers is missing');
        if (job.id === 'invalid') throw new InvalidArgumentError('spec.epochs must be ≥ 1, got -1');
        job.json();
      },
      async () => terms.streamSeqs.length === 3 && (await queueIsEmpty()),
    );
    expect(calls).toEqual(['poison', 'invalid', 'garbage']);
    expect(terms.streamSeqs).toEqual([poison.seq, invalid.seq, garbage.seq]);
    expect(lines.filter((line) => line.msg === 'job terminated').map((line) => [line.jobId, line.reason])).toEqual([
      ['poison', 'poison job: spec.layers is missing'],
      ['invalid', 'poison job: spec.epochs must be ≥ 1, got -1'],
      ['garbage', expect.stringMatching(/^poison job: job garbage: payload is not UTF-8 JSON/)],
    ]);
  });

  it('terms a job that failed on its last allowed delivery', async () => {
    const terms = await watchTerminations(nats.nc, stream, consumer);
    const queue = createJobQueue(nats.nc, 'training', options);
    const doomed = await queue.enqueue('doomed', {});
    const deliveries: number[] = [];
    await work(
      async (job) => {
        deliveries.push(job.deliveryCount);
        throw new Error('always fails');
      },
      () => terms.streamSeqs.length === 1,
    );
    expect(deliveries).toEqual([1, 2, 3]);
    expect(terms.streamSeqs).toEqual([doomed.seq]);
  });

  it('redelivers the job of a worker that died mid-job, after the ack wait', async () => {
    const queue = createJobQueue(nats.nc, 'training', options);
    await queue.enqueue('survivor', { epochs: 3 });
    const doomedNc = await nats.connect('doomed-worker');
    let started!: () => void;
    const isStarted = new Promise<void>((resolve) => (started = resolve));
    const dead = createJobQueue(doomedNc, 'training', options)
      .consume({
        handler: async () => {
          started();
          await new Promise(() => undefined); // never finishes: the process "dies" under it
        },
      })
      .catch((err: unknown) => err);
    await isStarted;
    await doomedNc.close();
    expect(await dead).toBeInstanceOf(UnavailableError);

    const resumed: [string, number, boolean][] = [];
    await work(
      async (job) => void resumed.push([job.id, job.deliveryCount, job.redelivered]),
      async () => resumed.length === 1 && (await queueIsEmpty()),
    );
    expect(resumed).toEqual([['survivor', 2, true]]);
  });

  it('on abort stops pulling, lets the running job finish within the grace time and acks it', async () => {
    const queue = createJobQueue(nats.nc, 'training', options);
    await queue.enqueue('long', {});
    await queue.enqueue('next', {});
    const controller = new AbortController();
    const handled: string[] = [];
    let sawAbort = false;
    const running = queue.consume({
      signal: controller.signal,
      graceMs: 10_000,
      handler: async (job) => {
        handled.push(job.id);
        queueMicrotask(() => controller.abort());
        await new Promise((resolve) => job.signal.addEventListener('abort', resolve, { once: true }));
        sawAbort = job.signal.aborted;
        job.working();
      },
    });
    await running;
    expect(handled).toEqual(['long']);
    expect(sawAbort).toBe(true);
    const info = await nats.jsm.streams.info(stream);
    expect(info.state.messages).toBe(1);
    await work(
      async (job) => void handled.push(job.id),
      async () => await queueIsEmpty(),
    );
    expect(handled).toEqual(['long', 'next']);
  });

  it('rejects bad settings with a TypeError naming them', async () => {
    expect(() => createJobQueue(nats.nc, 'tuning' as 'training')).toThrow(/kind must be one of training, compression/);
    expect(() => createJobQueue(nats.nc, 'training', { ackWaitMs: 5 })).toThrow(/JobQueueOptions.ackWaitMs/);
    const queue = createJobQueue(nats.nc, 'training', options);
    await expect(queue.consume({ handler: async () => undefined, concurrency: 0 })).rejects.toThrow(/concurrency/);
    await expect(queue.enqueue('', {})).rejects.toThrow(/jobId/);
  });
});

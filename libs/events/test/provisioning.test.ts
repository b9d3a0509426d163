import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckPolicy, RetentionPolicy, StorageType, jetstream } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { FailedPreconditionError } from '@aimaas/runtime';
import { EVENTS_STREAM, JOB_QUEUES, ensureStreams } from '../src/index.js';
import { startNats, type NatsFixture } from './helpers.js';

describe('ensureStreams', () => {
  let nats: NatsFixture;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(() => nats?.close());

  it('creates the events stream and both job queues when several replicas start at once', async () => {
    const replicas = await Promise.all([nats.connect('a'), nats.connect('b'), nats.connect('c')]);
    await Promise.all(replicas.map((nc) => ensureStreams(nc)));

    const events = await nats.jsm.streams.info(EVENTS_STREAM);
    expect(events.config).toMatchObject({
      subjects: ['aimaas.events.>'],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: nanos(7 * 24 * 3_600_000),
      duplicate_window: nanos(120_000),
    });
    for (const { stream, subject, consumer } of Object.values(JOB_QUEUES)) {
      const info = await nats.jsm.streams.info(stream);
      expect(info.config).toMatchObject({
        subjects: [subject],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
      });
      const workers = await nats.jsm.consumers.info(stream, consumer);
      expect(workers.config).toMatchObject({
        durable_name: 'workers',
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(60_000),
        max_deliver: 10,
        filter_subject: subject,
      });
    }
    const names: string[] = [];
    for await (const name of nats.jsm.streams.names()) names.push(name);
    expect(names.sort()).toEqual(['AIMAAS_EVENTS', 'AIMAAS_JOBS_COMPRESSION', 'AIMAAS_JOBS_TRAINING']);
  });

  it('is idempotent and keeps stored events when run again', async () => {
    await nats.jsm.streams.purge(EVENTS_STREAM);
    const { seq } = await jetstream(nats.nc).publish('aimaas.events.dataset.imported', '{}');
    await ensureStreams(nats.nc);
    await ensureStreams(nats.jsm);
    const info = await nats.jsm.streams.info(EVENTS_STREAM);
    expect(info.state.last_seq).toBe(seq);
    expect(info.state.messages).toBe(1);
  });

  it('updates settings that differ: event retention and the job consumers', async () => {
    await ensureStreams(nats.nc, { eventsMaxAgeMs: 3_600_000, jobs: { ackWaitMs: 5_000, maxDeliver: 4 } });
    expect((await nats.jsm.streams.info(EVENTS_STREAM)).config.max_age).toBe(nanos(3_600_000));
    const workers = await nats.jsm.consumers.info('AIMAAS_JOBS_TRAINING', 'workers');
    expect(workers.config.ack_wait).toBe(nanos(5_000));
    expect(workers.config.max_deliver).toBe(4);
  });

  it('refuses a stream whose retention cannot be changed in place, naming it', async () => {
    await nats.jsm.streams.delete('AIMAAS_JOBS_COMPRESSION');
    await nats.jsm.streams.add({ name: 'AIMAAS_JOBS_COMPRESSION', subjects: ['aimaas.jobs.compression'] });
    const failure = ensureStreams(nats.nc);
    await expect(failure).rejects.toBeInstanceOf(FailedPreconditionError);
    await expect(failure).rejects.toThrow(/AIMAAS_JOBS_COMPRESSION has retention=limits but workqueue is required/);
  });

  it('rejects bad options with a TypeError naming the setting', async () => {
    await expect(ensureStreams(nats.nc, { duplicateWindowMs: -1 })).rejects.toThrow(
      /EnsureStreamsOptions.duplicateWindowMs must be a finite number/,
    );
    await expect(ensureStreams(nats.nc, { jobs: { ackWaitMs: 10 } })).rejects.toThrow(/jobs.ackWaitMs/);
  });
});

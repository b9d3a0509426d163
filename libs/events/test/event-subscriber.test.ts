import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { waitFor } from '@aimaas/testing';
import { ModelVersionEvent, RegisteredModelEvent } from '@aimaas/proto';
import {
  EVENTS_STREAM,
  createEventPublisher,
  ensureStreams,
  subscribeEvents,
  type EventPublisher,
  type EventSubscription,
  type ReceivedEvent,
} from '../src/index.js';
import { aliasMoved, captureLogs, startNats, watchTerminations, type NatsFixture } from './helpers.js';

describe('subscribeEvents', () => {
  let nats: NatsFixture;
  let events: EventPublisher;
  const subscriptions: EventSubscription[] = [];
  beforeAll(async () => {
    nats = await startNats();
    await ensureStreams(nats.nc);
    events = createEventPublisher(nats.nc, { source: '/aimaas/registry' });
  });
  afterEach(async () => {
    await Promise.all(subscriptions.splice(0).map((s) => s.stop()));
  });
  afterAll(() => nats?.close());

  it('hands the handler the typed payload and the CloudEvents attributes', async () => {
    const received: ReceivedEvent<'registry.alias.set' | 'registry.alias.deleted'>[] = [];
    subscriptions.push(
      await subscribeEvents({
        nc: nats.nc,
        types: ['registry.alias.*'],
        handler: (event) => void received.push(event),
      }),
    );
    const time = new Date('2024-05-01T12:00:01.000Z');
    const published = await events.publish('registry.alias.set', aliasMoved('fmnist', 3), {
      id: 'e-1',
      subject: 'fmnist@3',
      time,
    });
    await waitFor(() => received.length === 1);
    const [event] = received;
    expect(event).toMatchObject({
      type: 'registry.alias.set',
      id: 'e-1',
      source: '/aimaas/registry',
      time,
      subject: 'fmnist@3',
      seq: published.seq,
      deliveryCount: 1,
      payload: aliasMoved('fmnist', 3),
    });
    if (event.type === 'registry.alias.set') expect(event.payload.change?.toVersion).toBe(3);
    expect(event.headers).toEqual({
      'ce-specversion': '1.0',
      'ce-type': 'registry.alias.set',
      'ce-source': '/aimaas/registry',
      'ce-id': 'e-1',
      'ce-time': '2024-05-01T12:00:01.000Z',
      'ce-subject': 'fmnist@3',
      'content-type': 'application/json',
      'Nats-Msg-Id': 'e-1',
    });
  });

  it("with deliver 'new' sees only what is published after it started; patterns select types", async () => {
    await events.publish('registry.alias.set', aliasMoved('before', 1));
    const types: string[] = [];
    subscriptions.push(
      await subscribeEvents({
        nc: nats.nc,
        types: ['registry.alias.*', 'registry.model.created'],
        deliver: 'new',
        handler: (event) => void types.push(`${event.type}:${event.seq}`),
      }),
    );
    const a = await events.publish(
      'registry.version.created',
      ModelVersionEvent.create({ version: { name: 'x', version: 1 } }),
    );
    const b = await events.publish('registry.model.created', RegisteredModelEvent.create({ model: { name: 'x' } }));
    const c = await events.publish('registry.alias.deleted', aliasMoved('x', 0, 1));
    await waitFor(() => types.length === 2);
    expect(a.seq).toBeLessThan(b.seq);
    expect(types).toEqual([`registry.model.created:${b.seq}`, `registry.alias.deleted:${c.seq}`]);
  });

  it("with deliver 'all' or a start sequence replays stored events in order", async () => {
    const last = (await nats.jsm.streams.info(EVENTS_STREAM)).state.last_seq;
    const all: number[] = [];
    const from: number[] = [];
    subscriptions.push(
      await subscribeEvents({
        js: jetstream(nats.nc),
        types: ['>'],
        deliver: 'all',
        handler: (e) => void all.push(e.seq),
      }),
      await subscribeEvents({
        nc: nats.nc,
        types: ['>'],
        deliver: { startSeq: last },
        handler: (e) => void from.push(e.seq),
      }),
    );
    await waitFor(() => all.length === last && from.length === 1);
    expect(all).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    expect(from).toEqual([last]);
  });

  it('shares a durable consumer: each event is handled by one subscriber', async () => {
    const handledBy = new Map<string, string[]>();
    const handler = (who: string) => (event: ReceivedEvent) => {
      handledBy.set(event.id, [...(handledBy.get(event.id) ?? []), who]);
    };
    for (const who of ['replica-a', 'replica-b']) {
      subscriptions.push(
        await subscribeEvents({
          nc: await nats.connect(who),
          durable: 'shared',
          types: ['registry.model.*'],
          handler: handler(who),
          prefetch: 1,
        }),
      );
    }
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      ids.push(
        (await events.publish('registry.model.created', RegisteredModelEvent.create({ model: { name: `m${i}` } }))).id,
      );
    }
    await waitFor(() => handledBy.size === 20);
    await waitFor(async () => (await nats.jsm.consumers.info(EVENTS_STREAM, 'shared')).num_ack_pending === 0);
    expect([...handledBy.keys()].sort()).toEqual([...ids].sort());
    expect([...handledBy.values()].every((who) => who.length === 1)).toBe(true);
  });

  it('redelivers an event whose handler threw and handles it again (durable)', async () => {
    const { logger, lines } = captureLogs();
    const attempts: number[] = [];
    subscriptions.push(
      await subscribeEvents({
        nc: nats.nc,
        durable: 'flaky',
        types: ['registry.version.deleted'],
        retryBaseMs: 10,
        logger,
        handler: (event) => {
          attempts.push(event.deliveryCount);
          if (event.deliveryCount === 1) throw new Error('registry briefly unreachable');
        },
      }),
    );
    await events.publish('registry.version.deleted', ModelVersionEvent.create({ version: { name: 'x', version: 1 } }));
    await waitFor(async () => (await nats.jsm.consumers.info(EVENTS_STREAM, 'flaky')).ack_floor.stream_seq > 0);
    expect(attempts).toEqual([1, 2]);
    expect(lines.find((line) => line.msg === 'event handler failed; redelivering')).toMatchObject({
      level: 'warn',
      type: 'registry.version.deleted',
      attempt: 1,
      err: { message: 'registry briefly unreachable' },
    });
  });

  it('gives an event up after maxAttempts (termed) and goes on with the next one', async () => {
    const { logger, lines } = captureLogs();
    const terms = await watchTerminations(nats.nc, EVENTS_STREAM, 'doomed');
    const handled: string[] = [];
    subscriptions.push(
      await subscribeEvents({
        nc: nats.nc,
        durable: 'doomed',
        types: ['registry.version.updated'],
        maxAttempts: 2,
        retryBaseMs: 10,
        logger,
        handler: (event) => {
          if (event.subject === 'poison') throw new Error('cannot apply');
          handled.push(event.subject ?? '');
        },
      }),
    );
    const payload = ModelVersionEvent.create({ version: { name: 'x', version: 2 } });
    const poison = await events.publish('registry.version.updated', payload, { subject: 'poison' });
    await events.publish('registry.version.updated', payload, { subject: 'fine' });
    await waitFor(() => handled.length === 1 && terms.streamSeqs.length === 1);
    expect(handled).toEqual(['fine']);
    expect(terms.streamSeqs).toEqual([poison.seq]);
    expect(lines.find((line) => line.msg === 'event handler failed; giving up (termed)')).toMatchObject({
      level: 'error',
      attempts: 2,
    });
  });

  it('retries a failing handler in place on an ephemeral subscription', async () => {
    const attempts: number[] = [];
    subscriptions.push(
      await subscribeEvents({
        nc: nats.nc,
        types: ['registry.version.created'],
        retryBaseMs: 10,
        logger: captureLogs().logger,
        handler: (event) => {
          attempts.push(event.deliveryCount);
          if (attempts.length < 3) throw new Error('not yet');
        },
      }),
    );
    await events.publish('registry.version.created', ModelVersionEvent.create({ version: { name: 'x', version: 3 } }));
    await waitFor(() => attempts.length === 3);
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('terms and logs malformed messages and keeps going', async () => {
    const { logger, lines } = captureLogs();
    const terms = await watchTerminations(nats.nc, EVENTS_STREAM, 'strict');
    const received: string[] = [];
    subscriptions.push(
      await subscribeEvents({
        nc: nats.nc,
        durable: 'strict',
        types: ['registry.alias.set'],
        logger,
        handler: (e) => void received.push(e.id),
      }),
    );
    const js = jetstream(nats.nc);
    const subject = 'aimaas.events.registry.alias.set';
    const noHeaders = await js.publish(subject, '{}');
    const h = natsHeaders();
    for (const [key, value] of Object.entries({
      'ce-specversion': '1.0',
      'ce-type': 'registry.alias.set',
      'ce-source': '/x',
      'ce-id': 'bad-json',
      'ce-time': '2024-05-01T12:00:00Z',
    })) {
      h.set(key, value);
    }
    const badJson = await js.publish(subject, '{"change": ', { headers: h });
    h.set('ce-type', 'registry.alias.moved');
    h.set('ce-id', 'unknown-type');
    const unknownType = await js.publish(subject, '{}', { headers: h });
    await events.publish('registry.alias.set', aliasMoved('fmnist', 5), { id: 'good' });

    await waitFor(() => received.length === 1 && terms.streamSeqs.length === 3);
    expect(received).toEqual(['good']);
    expect(terms.streamSeqs).toEqual([noHeaders.seq, badJson.seq, unknownType.seq]);
    const dropped = lines.filter((line) => line.msg === 'malformed event dropped');
    expect(dropped.map((line) => (line.err as { message: string }).message)).toEqual([
      `malformed event on ${subject}: header ce-specversion is missing`,
      expect.stringMatching(/^malformed event on aimaas.events.registry.alias.set: body is not UTF-8 JSON/),
      `malformed event on ${subject}: ce-type "registry.alias.moved" is not an AIMaaS event type`,
    ]);
  });

  it('stops on abort: the ephemeral consumer is deleted and closed resolves', async () => {
    const controller = new AbortController();
    const sub = await subscribeEvents({
      nc: nats.nc,
      types: ['dataset.*'],
      signal: controller.signal,
      handler: () => undefined,
    });
    expect((await nats.jsm.consumers.info(EVENTS_STREAM, sub.consumer)).name).toBe(sub.consumer);
    controller.abort();
    await sub.closed;
    await sub.stop();
    await expect(nats.jsm.consumers.info(EVENTS_STREAM, sub.consumer)).rejects.toThrow(/consumer not found/);
  });

  it('rejects a selector that matches no event type, and ambiguous sources', async () => {
    const handler = () => undefined;
    await expect(
      subscribeEvents({ nc: nats.nc, types: ['registry.alias.moved' as 'registry.alias.set'], handler }),
    ).rejects.toThrow(/types: "registry.alias.moved" matches no event type/);
    await expect(subscribeEvents({ nc: nats.nc, types: ['aimaas.events.>' as '>'], handler })).rejects.toThrow(
      /is a subject/,
    );
    await expect(subscribeEvents({ nc: nats.nc, js: jetstream(nats.nc), types: ['>'], handler })).rejects.toThrow(
      /exactly one of `nc`/,
    );
    await expect(subscribeEvents({ nc: nats.nc, types: ['>'], durable: 'a.b', handler })).rejects.toThrow(
      /durable must be/,
    );
  });
});

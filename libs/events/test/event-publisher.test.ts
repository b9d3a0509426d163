import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { UnavailableError } from '@aimaas/runtime';
import { waitFor } from '@aimaas/testing';
import { AliasEvent, RegisteredModelEvent } from '@aimaas/proto';
import { EVENTS_STREAM, createEventPublisher, ensureStreams, type EventType } from '../src/index.js';
import { aliasMoved, captureLogs, startNats, type NatsFixture } from './helpers.js';

describe('createEventPublisher', () => {
  let nats: NatsFixture;
  beforeAll(async () => {
    nats = await startNats();
    await ensureStreams(nats.nc);
  });
  afterAll(() => nats?.close());

  it('stores a binary-mode CloudEvent: exact ce-* headers, Nats-Msg-Id = ce-id, protobuf-JSON body', async () => {
    const events = createEventPublisher(nats.nc, { source: '/aimaas/registry' });
    const payload = aliasMoved('fmnist', 3);
    const time = new Date('2024-05-01T12:00:01.250Z');
    const published = await events.publish('registry.alias.set', payload, {
      id: 'alias-fmnist-prod-3',
      subject: 'fmnist@3',
      time,
    });
    expect(published).toEqual({ seq: expect.any(Number), duplicate: false, id: 'alias-fmnist-prod-3' });

    const stored = await nats.jsm.streams.getMessage(EVENTS_STREAM, { seq: published.seq });
    expect(stored?.subject).toBe('aimaas.events.registry.alias.set');
    const headers = Object.fromEntries([...stored!.header].map(([key, values]) => [key, values]));
    expect(headers).toEqual({
      'ce-specversion': ['1.0'],
      'ce-type': ['registry.alias.set'],
      'ce-source': ['/aimaas/registry'],
      'ce-id': ['alias-fmnist-prod-3'],
      'ce-time': ['2024-05-01T12:00:01.250Z'],
      'ce-subject': ['fmnist@3'],
      'content-type': ['application/json'],
      'Nats-Msg-Id': ['alias-fmnist-prod-3'],
    });
    expect(JSON.parse(new TextDecoder().decode(stored!.data))).toEqual({
      change: {
        name: 'fmnist',
        alias: 'prod',
        fromVersion: 2,
        toVersion: 3,
        actor: 'ci',
        changedAt: '2024-05-01T12:00:00.000Z',
        reason: 'promote',
      },
    });
    expect(AliasEvent.fromJSON(JSON.parse(new TextDecoder().decode(stored!.data)))).toEqual(payload);
  });

  it('gives each event a new UUID ce-id and the current time when none is given', async () => {
    const events = createEventPublisher(jetstream(nats.nc), { source: '/aimaas/registry' });
    const before = Date.now();
    const a = await events.publish('registry.model.created', RegisteredModelEvent.create({ model: { name: 'iris' } }));
    const b = await events.publish('registry.model.created', RegisteredModelEvent.create({ model: { name: 'iris' } }));
    expect(a.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(b.id).not.toBe(a.id);
    expect(b.seq).toBe(a.seq + 1);
    const stored = await nats.jsm.streams.getMessage(EVENTS_STREAM, { seq: a.seq });
    expect(stored!.header.get('ce-id')).toBe(a.id);
    expect(stored!.header.has('ce-subject')).toBe(false);
    expect(Date.parse(stored!.header.get('ce-time'))).toBeGreaterThanOrEqual(before - 1);
  });

  it('stores an event once when it is published twice with the same ce-id', async () => {
    const events = createEventPublisher(nats.nc, { source: '/aimaas/registry' });
    const before = (await nats.jsm.streams.info(EVENTS_STREAM)).state.messages;
    const first = await events.publish('registry.alias.set', aliasMoved('fmnist', 4), { id: 'retry-me' });
    const second = await events.publish('registry.alias.set', aliasMoved('fmnist', 4), { id: 'retry-me' });
    expect(first.duplicate).toBe(false);
    expect(second).toEqual({ seq: first.seq, duplicate: true, id: 'retry-me' });
    expect((await nats.jsm.streams.info(EVENTS_STREAM)).state.messages).toBe(before + 1);
  });

  it('rejects what is not an event of the catalog, and bad attributes, naming them', async () => {
    expect(() => createEventPublisher(nats.nc, { source: '' })).toThrow(/EventPublisherOptions.source/);
    expect(() => createEventPublisher(nats.nc, { source: '/x', maxAttempts: 0 })).toThrow(/maxAttempts/);
    const events = createEventPublisher(nats.nc, { source: '/aimaas/registry' });
    await expect(events.publish('registry.alias.moved' as EventType, aliasMoved('a', 1))).rejects.toThrow(
      /"registry.alias.moved" is not an event type/,
    );
    await expect(events.publish('registry.alias.set', aliasMoved('a', 1), { id: 'a\r\nb' })).rejects.toThrow(
      /PublishEventOptions.id/,
    );
    await expect(events.publish('registry.alias.set', aliasMoved('a', 1), { time: new Date('nope') })).rejects.toThrow(
      /PublishEventOptions.time/,
    );
  });
});

describe('createEventPublisher before the stream exists', () => {
  let nats: NatsFixture;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(() => nats?.close());

  it('gives up with UnavailableError after maxAttempts when nothing stores the event', async () => {
    const { logger, lines } = captureLogs();
    const events = createEventPublisher(nats.nc, {
      source: '/aimaas/registry',
      maxAttempts: 2,
      retryBaseMs: 1,
      logger,
    });
    const failure = events.publish('registry.alias.set', aliasMoved('fmnist', 3), { id: 'lost' });
    await expect(failure).rejects.toBeInstanceOf(UnavailableError);
    await expect(failure).rejects.toThrow(/registry.alias.set \(ce-id lost\) failed after 2 attempts/);
    expect(lines.filter((line) => line.msg === 'event publish failed transiently; retrying')).toHaveLength(1);
  });

  it('retries with the same ce-id until the stream appears, storing the event once', async () => {
    const { logger, lines } = captureLogs();
    const events = createEventPublisher(nats.nc, {
      source: '/aimaas/registry',
      maxAttempts: 20,
      retryBaseMs: 50,
      logger,
    });
    const publishing = events.publish('registry.alias.set', aliasMoved('fmnist', 3), { id: 'eventually' });
    await waitFor(() => lines.some((line) => line.msg === 'event publish failed transiently; retrying'));
    await ensureStreams(nats.nc);
    const published = await publishing;
    expect(published).toEqual({ seq: 1, duplicate: false, id: 'eventually' });
    const info = await nats.jsm.streams.info(EVENTS_STREAM);
    expect(info.state.messages).toBe(1);
  });
});

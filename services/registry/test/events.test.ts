import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribeEvents, type EventSubscription, type ReceivedEvent } from '@aimaas/events';
import { waitFor } from '@aimaas/testing';
import { actor } from './client.js';
import { useRegistrySuite } from './harness.js';

const suite = useRegistrySuite();
let subscription: EventSubscription;
const received: ReceivedEvent[] = [];

beforeAll(async () => {
  subscription = await subscribeEvents({
    nc: suite.registry.nc,
    types: ['registry.>'],
    deliver: 'all',
    handler: (event) => {
      received.push(event);
    },
  });
});

afterAll(async () => {
  await subscription?.stop();
});

/** Waits for `count` events of `type` about `subject` and returns them. */
function eventsOf(type: string, subject: string, count = 1): Promise<ReceivedEvent[]> {
  return waitFor(
    () => {
      const found = received.filter((e) => e.type === type && e.subject === subject);
      return found.length >= count && found;
    },
    { message: `${count} ${type} event(s) about ${subject}` },
  );
}

describe('registry events', () => {
  it('publishes registry.model.created and registry.version.created as CloudEvents', async () => {
    const model = await suite.registry.api.createRegisteredModel({ name: 'evented', tags: { team: 'ml' } });
    const version = await suite.registry.api.createModelVersion({ name: 'evented', metrics: { accuracy: 0.8 } }, [
      { path: 'model.onnx', format: 'onnx', data: Buffer.from('bytes') },
    ]);
    const [created] = await eventsOf('registry.model.created', 'evented');
    expect(created!.source).toBe('/aimaas/registry');
    expect(created!.headers['ce-type']).toBe('registry.model.created');
    expect(created!.headers['ce-specversion']).toBe('1.0');
    expect(created!.payload).toEqual({ model });
    const [versionCreated] = await eventsOf('registry.version.created', 'evented@1');
    expect(versionCreated!.headers['ce-type']).toBe('registry.version.created');
    expect(versionCreated!.payload).toEqual({ version });
  });

  it('publishes registry.version.updated and registry.alias.set / deleted with the change', async () => {
    await suite.registry.api.updateModelVersion({ name: 'evented', version: 1, setTags: { stage: 'qa' } });
    const [updated] = await eventsOf('registry.version.updated', 'evented@1');
    expect(updated!.payload).toMatchObject({ version: { name: 'evented', version: 1, tags: { stage: 'qa' } } });

    await suite.registry.api.setAlias(
      { name: 'evented', alias: 'production', version: 1, reason: 'go live' },
      actor('dana'),
    );
    const [set] = await eventsOf('registry.alias.set', 'evented@production');
    expect(set!.payload).toMatchObject({
      change: { name: 'evented', alias: 'production', fromVersion: 0, toVersion: 1, actor: 'dana', reason: 'go live' },
    });

    await suite.registry.api.deleteAlias({ name: 'evented', alias: 'production' });
    const [deleted] = await eventsOf('registry.alias.deleted', 'evented@production');
    expect(deleted!.payload).toMatchObject({ change: { fromVersion: 1, toVersion: 0, actor: 'anonymous' } });
  });

  it('publishes registry.version.deleted and registry.model.deleted', async () => {
    await suite.registry.api.createModelVersion({ name: 'evented' });
    await suite.registry.api.deleteModelVersion({ name: 'evented', version: 2 });
    const [versionDeleted] = await eventsOf('registry.version.deleted', 'evented@2');
    expect(versionDeleted!.payload).toMatchObject({ version: { name: 'evented', version: 2 } });

    await suite.registry.api.deleteRegisteredModel({ name: 'evented' });
    const [modelDeleted] = await eventsOf('registry.model.deleted', 'evented');
    expect(modelDeleted!.payload).toMatchObject({ model: { name: 'evented', latestVersion: 2 } });
    expect(await eventsOf('registry.version.deleted', 'evented@1')).toHaveLength(1);
  });

  it('publishes one event per change, in commit order', () => {
    const about = received.filter((e) => e.subject?.startsWith('evented')).map((e) => e.type);
    expect(about).toEqual([
      'registry.model.created',
      'registry.version.created',
      'registry.version.updated',
      'registry.alias.set',
      'registry.alias.deleted',
      'registry.version.created',
      'registry.version.deleted',
      'registry.version.deleted',
      'registry.model.deleted',
    ]);
  });
});

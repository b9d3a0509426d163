import { describe, expect, it } from 'vitest';
import type { KvStore } from '@aimaas/storage';
import { REGISTRY_KEYS, VersionIndex } from '../src/index.js';

// apply() needs no bucket: these cases feed it the way the watch and local writes do.
const index = () => new VersionIndex(undefined as unknown as KvStore<unknown>);

function model(name: string, aliases: Record<string, number> = {}) {
  return {
    name,
    description: '',
    tags: {},
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    latestVersion: 3,
    deletedVersions: [],
    aliases,
    aliasSeq: 0,
    uid: 'u1',
  };
}

function version(name: string, v: number, description = '') {
  return {
    name,
    version: v,
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    description,
    tags: {},
    params: {},
    metrics: {},
    task: 0,
    classLabels: [],
    pipelineJson: '',
    files: [],
    createdBy: 'anonymous',
    modelUid: 'u1',
  };
}

const listed = (i: VersionIndex, name?: string) =>
  [...i.versions(name)]
    .map((e) => `${e.stored.name}@${e.stored.version}:${e.stored.description}:${e.search.aliases.join('+')}`)
    .sort();

describe('VersionIndex', () => {
  it('holds versions of live models and keeps their aliases current as the model record moves', () => {
    const i = index();
    i.apply(REGISTRY_KEYS.version('fm.nist', 1), version('fm.nist', 1), 2);
    expect(listed(i)).toEqual([]); // its model record has not arrived yet
    i.apply(REGISTRY_KEYS.model('fm.nist'), model('fm.nist', { prod: 1 }), 1);
    i.apply(REGISTRY_KEYS.version('fm.nist', 2), version('fm.nist', 2), 3);
    expect(listed(i)).toEqual(['fm.nist@1::prod', 'fm.nist@2::']);
    i.apply(REGISTRY_KEYS.model('fm.nist'), model('fm.nist', { prod: 2, canary: 2 }), 4);
    expect(listed(i, 'fm.nist')).toEqual(['fm.nist@1::', 'fm.nist@2::canary+prod']);
    expect(i.models().map((m) => m.name)).toEqual(['fm.nist']);
  });

  it('ignores a watch event older than what a local write already applied', () => {
    const i = index();
    i.apply(REGISTRY_KEYS.model('m'), model('m'), 1);
    i.apply(REGISTRY_KEYS.version('m', 1), version('m', 1, 'new'), 5); // local write
    i.apply(REGISTRY_KEYS.version('m', 1), version('m', 1, 'old'), 4); // late watch event
    i.apply(REGISTRY_KEYS.version('m', 1), version('m', 1, 'new'), 5); // the watch echoing it
    expect(listed(i)).toEqual(['m@1:new:']);
  });

  it('keeps a deleted version deleted until a newer revision recreates it', () => {
    const i = index();
    i.apply(REGISTRY_KEYS.model('m'), model('m'), 1);
    i.apply(REGISTRY_KEYS.version('m', 1), version('m', 1, 'a'), 2);
    const before = i.generation;
    i.apply(REGISTRY_KEYS.version('m', 1), undefined, 2); // local delete, at the revision it read
    expect(i.generation).toBeGreaterThan(before);
    i.apply(REGISTRY_KEYS.version('m', 1), version('m', 1, 'a'), 2); // the watch replaying the put
    expect(listed(i)).toEqual([]);
    i.apply(REGISTRY_KEYS.version('m', 1), undefined, 6); // the watch delivering the delete
    i.apply(REGISTRY_KEYS.version('m', 1), version('m', 1, 'b'), 9);
    expect(listed(i)).toEqual(['m@1:b:']);
    expect(i.size).toBe(1);
  });

  it('leaves out versions of a model being deleted, and ignores keys it does not own', () => {
    const i = index();
    i.apply(REGISTRY_KEYS.model('m'), { ...model('m'), deleting: true }, 1);
    i.apply(REGISTRY_KEYS.version('m', 1), version('m', 1), 2);
    i.apply('aliashist.m.1', undefined, 3);
    i.apply('not.a=ZZkey', undefined, 4);
    expect(listed(i)).toEqual([]);
    expect(i.models()).toEqual([]);
  });
});

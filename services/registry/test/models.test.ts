import { describe, expect, it } from 'vitest';
import { failure, status } from './client.js';
import { useRegistrySuite } from './harness.js';

const suite = useRegistrySuite();

describe('CreateRegisteredModel', () => {
  it('creates a model with description and tags, and no versions', async () => {
    const model = await suite.registry.api.createRegisteredModel({
      name: 'iris',
      description: 'Iris classifier',
      tags: { team: 'ml' },
    });
    expect(model).toMatchObject({
      name: 'iris',
      description: 'Iris classifier',
      tags: { team: 'ml' },
      latestVersion: 0,
      versionCount: 0,
      aliases: {},
    });
    expect(model.createdAt).toBeInstanceOf(Date);
    expect(model.updatedAt).toEqual(model.createdAt);
  });

  it('refuses an existing name with ALREADY_EXISTS', async () => {
    await suite.registry.api.createRegisteredModel({ name: 'dup' });
    expect(await failure(suite.registry.api.createRegisteredModel({ name: 'dup' }))).toEqual({
      code: status.ALREADY_EXISTS,
      details: 'model "dup" already exists',
    });
  });

  it('refuses an empty name with INVALID_ARGUMENT', async () => {
    expect(await failure(suite.registry.api.createRegisteredModel({ name: '' }))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'name: must not be empty',
    });
  });

  it('refuses a name outside [A-Za-z0-9][A-Za-z0-9._-]{0,127}, saying what is allowed', async () => {
    for (const name of ['bad name', '-leading', 'x'.repeat(129), 'a/b', 'ünï']) {
      const { code, details } = await failure(suite.registry.api.createRegisteredModel({ name }));
      expect(code).toBe(status.INVALID_ARGUMENT);
      expect(details).toBe(
        `name: ${JSON.stringify(name)} is not a valid model name; expected 1 to 128 characters of [A-Za-z0-9._-] ` +
          'starting with a letter or digit ([A-Za-z0-9][A-Za-z0-9._-]{0,127})',
      );
    }
  });

  it('accepts dots, dashes and underscores in names', async () => {
    const model = await suite.registry.api.createRegisteredModel({ name: 'resnet-50.v2_final' });
    expect(model.name).toBe('resnet-50.v2_final');
    expect((await suite.registry.api.getRegisteredModel({ name: 'resnet-50.v2_final' })).name).toBe(
      'resnet-50.v2_final',
    );
  });
});

describe('GetRegisteredModel', () => {
  it('answers NOT_FOUND naming the model', async () => {
    expect(await failure(suite.registry.api.getRegisteredModel({ name: 'nope' }))).toEqual({
      code: status.NOT_FOUND,
      details: 'model "nope" not found',
    });
  });
});

describe('ListRegisteredModels', () => {
  it('lists by name prefix in name order, paging with next_page_token', async () => {
    for (const name of ['list-c', 'list-a', 'list-b', 'list-e', 'list-d'])
      await suite.registry.api.createRegisteredModel({ name });
    const first = await suite.registry.api.listRegisteredModels({ namePrefix: 'list-', pageSize: 2 });
    expect(first.models.map((m) => m.name)).toEqual(['list-a', 'list-b']);
    const second = await suite.registry.api.listRegisteredModels({
      namePrefix: 'list-',
      pageSize: 2,
      pageToken: first.nextPageToken,
    });
    expect(second.models.map((m) => m.name)).toEqual(['list-c', 'list-d']);
    const third = await suite.registry.api.listRegisteredModels({
      namePrefix: 'list-',
      pageSize: 2,
      pageToken: second.nextPageToken,
    });
    expect(third.models.map((m) => m.name)).toEqual(['list-e']);
    expect(third.nextPageToken).toBe('');
  });

  it('refuses a negative page size and a foreign page token', async () => {
    expect(await failure(suite.registry.api.listRegisteredModels({ pageSize: -1 }))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'page_size: must be 0 (default 100) or a positive number, got -1',
    });
    expect((await failure(suite.registry.api.listRegisteredModels({ pageToken: 'garbage' }))).code).toBe(
      status.INVALID_ARGUMENT,
    );
  });
});

describe('UpdateRegisteredModel', () => {
  it('sets the description, sets and removes tags, and moves updated_at', async () => {
    const created = await suite.registry.api.createRegisteredModel({ name: 'upd', tags: { a: '1', b: '2' } });
    const updated = await suite.registry.api.updateRegisteredModel({
      name: 'upd',
      description: 'new',
      setTags: { c: '3', a: 'x' },
      removeTags: ['b'],
    });
    expect(updated).toMatchObject({ name: 'upd', description: 'new', tags: { a: 'x', c: '3' } });
    expect(updated.updatedAt!.getTime()).toBeGreaterThanOrEqual(created.updatedAt!.getTime());
    const untouched = await suite.registry.api.updateRegisteredModel({ name: 'upd' });
    expect(untouched.description).toBe('new');
  });

  it('refuses a tag both set and removed, and an unknown model', async () => {
    await suite.registry.api.createRegisteredModel({ name: 'upd2' });
    expect(
      await failure(suite.registry.api.updateRegisteredModel({ name: 'upd2', setTags: { k: 'v' }, removeTags: ['k'] })),
    ).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'remove_tags: "k" is also in set_tags; set or remove it, not both',
    });
    expect((await failure(suite.registry.api.updateRegisteredModel({ name: 'ghost', description: 'x' }))).code).toBe(
      status.NOT_FOUND,
    );
  });
});

describe('DeleteRegisteredModel', () => {
  it('deletes the model with its versions and artifacts', async () => {
    await suite.registry.api.createModelVersion({ name: 'gone', createModel: true }, [
      { path: 'model.onnx', format: 'onnx', data: Buffer.from('onnx-bytes') },
    ]);
    await suite.registry.api.createModelVersion({ name: 'gone' }, [
      { path: 'model.onnx', format: 'onnx', data: Buffer.from('more') },
    ]);
    const objectsBefore = (await suite.registry.artifacts.list()).filter((o) => o.name.startsWith('gone/'));
    expect(objectsBefore).toHaveLength(2);
    expect(await suite.registry.api.deleteRegisteredModel({ name: 'gone' })).toEqual({ deletedVersions: 2 });
    expect((await failure(suite.registry.api.getRegisteredModel({ name: 'gone' }))).code).toBe(status.NOT_FOUND);
    expect((await failure(suite.registry.api.getModelVersion({ ref: { name: 'gone', version: 1 } }))).code).toBe(
      status.NOT_FOUND,
    );
    expect((await suite.registry.artifacts.list()).filter((o) => o.name.startsWith('gone/'))).toEqual([]);
    const search = await suite.registry.api.searchModelVersions({ filter: 'name = "gone"' });
    expect(search.totalSize).toBe(0);
  });

  it('refuses a model with aliases unless force, naming the aliases', async () => {
    await suite.registry.api.createModelVersion({ name: 'aliased', createModel: true });
    await suite.registry.api.setAlias({ name: 'aliased', alias: 'production', version: 1 });
    expect(await failure(suite.registry.api.deleteRegisteredModel({ name: 'aliased' }))).toEqual({
      code: status.FAILED_PRECONDITION,
      details: 'model "aliased" has aliases "production" → 1; delete them first or pass force',
    });
    expect(await suite.registry.api.deleteRegisteredModel({ name: 'aliased', force: true })).toEqual({
      deletedVersions: 1,
    });
    expect(await suite.registry.api.listAliasHistory({ name: 'aliased' }).catch((e: { code: number }) => e.code)).toBe(
      status.NOT_FOUND,
    );
  });

  it('lets a deleted name be created again, starting at version 1', async () => {
    await suite.registry.api.createModelVersion({ name: 'reborn', createModel: true });
    await suite.registry.api.createModelVersion({ name: 'reborn' });
    await suite.registry.api.deleteRegisteredModel({ name: 'reborn' });
    const version = await suite.registry.api.createModelVersion({ name: 'reborn', createModel: true });
    expect(version.version).toBe(1);
  });

  it('answers NOT_FOUND for an unknown model', async () => {
    expect(await failure(suite.registry.api.deleteRegisteredModel({ name: 'never' }))).toEqual({
      code: status.NOT_FOUND,
      details: 'model "never" not found',
    });
  });
});

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Task } from '@aimaas/proto';
import { actor, failure, status } from './client.js';
import { useRegistrySuite } from './harness.js';

const suite = useRegistrySuite();

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const modelJson = Buffer.from(JSON.stringify({ modelTopology: {}, weightsManifest: [] }));
const weights = Buffer.alloc(300_000, 7);
const onnx = Buffer.from('onnx model bytes');

async function objectsOf(model: string): Promise<string[]> {
  return (await suite.registry.artifacts.list()).filter((o) => o.name.startsWith(`${model}/`)).map((o) => o.name);
}

describe('CreateModelVersion', () => {
  it('stores several files of several formats and records their size and SHA-256', async () => {
    await suite.registry.api.createRegisteredModel({ name: 'fmnist' });
    // Every header field that a version keeps, sent here and expected back unchanged.
    const header = {
      description: 'first',
      tags: { team: 'vision' },
      params: { epochs: '5' },
      metrics: { accuracy: 0.91 },
      task: Task.TASK_CLASSIFICATION,
      classLabels: ['a', 'b'],
      signature: { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 784] }], outputs: [] },
      pipelineJson: '{"version":1}',
    };
    const version = await suite.registry.api.createModelVersion(
      { name: 'fmnist', ...header },
      [
        {
          path: 'tfjs/model.json',
          format: 'tfjs-layers',
          data: modelJson,
          size: modelJson.length,
          sha256: sha256(modelJson),
        },
        { path: 'tfjs/group1-shard1of1.bin', format: 'tfjs-layers', data: weights },
        { path: 'model.onnx', format: 'onnx', data: onnx },
      ],
      actor('alice'),
    );
    expect(version).toMatchObject({
      name: 'fmnist',
      version: 1,
      ...header,
      aliases: [],
      createdBy: 'alice',
    });
    expect(version.files).toEqual([
      { path: 'tfjs/model.json', format: 'tfjs-layers', size: modelJson.length, sha256: sha256(modelJson) },
      { path: 'tfjs/group1-shard1of1.bin', format: 'tfjs-layers', size: weights.length, sha256: sha256(weights) },
      { path: 'model.onnx', format: 'onnx', size: onnx.length, sha256: sha256(onnx) },
    ]);
    const second = await suite.registry.api.createModelVersion({ name: 'fmnist' }, [
      { path: 'model.onnx', format: 'onnx', data: onnx },
    ]);
    expect(second.version).toBe(2);
    expect(second.createdBy).toBe('anonymous');
    const model = await suite.registry.api.getRegisteredModel({ name: 'fmnist' });
    expect(model).toMatchObject({ latestVersion: 2, versionCount: 2 });
  });

  it('answers NOT_FOUND for an unknown model unless create_model is set', async () => {
    expect(await failure(suite.registry.api.createModelVersion({ name: 'unknown-model' }))).toEqual({
      code: status.NOT_FOUND,
      details: 'model "unknown-model" not found',
    });
    const version = await suite.registry.api.createModelVersion({ name: 'unknown-model', createModel: true });
    expect(version.version).toBe(1);
    expect((await suite.registry.api.getRegisteredModel({ name: 'unknown-model' })).latestVersion).toBe(1);
  });

  it('refuses a stream whose first message is not a header', async () => {
    expect(
      await failure(suite.registry.api.sendRaw([{ file: { path: 'a.bin', format: '', size: 0, sha256: '' } }])),
    ).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'CreateModelVersion: the first message must be a header, got a file header ("a.bin")',
    });
    expect(await failure(suite.registry.api.sendRaw([]))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'CreateModelVersion: the stream ended without a message; send a header first',
    });
  });

  it('refuses a chunk before any file header', async () => {
    await suite.registry.api.createRegisteredModel({ name: 'chunky' });
    expect(
      await failure(suite.registry.api.sendRaw([{ header: { name: 'chunky' } as never }, { chunk: Buffer.from('x') }])),
    ).toEqual({
      code: status.INVALID_ARGUMENT,
      details:
        'CreateModelVersion message 2: a chunk came before any file header; send a file header (path, format) before its chunks',
    });
  });

  it('refuses bad paths: "..", absolute, duplicate, empty', async () => {
    await suite.registry.api.createRegisteredModel({ name: 'paths' });
    const cases: Array<[string[], string]> = [
      [['../escape.bin'], 'files[0].path: "../escape.bin" contains ".."; paths must stay inside the version'],
      [['/etc/passwd'], 'files[0].path: "/etc/passwd" is absolute; expected a path relative to the version'],
      [['a.bin', 'a.bin'], 'files[1].path: "a.bin" appears twice in this version'],
      [[''], 'files[0].path: must not be empty'],
    ];
    for (const [paths, details] of cases) {
      const files = paths.map((path) => ({ path, data: Buffer.from('x') }));
      expect(await failure(suite.registry.api.createModelVersion({ name: 'paths' }, files))).toEqual({
        code: status.INVALID_ARGUMENT,
        details,
      });
    }
    expect(await objectsOf('paths')).toEqual([]);
    expect((await suite.registry.api.getRegisteredModel({ name: 'paths' })).latestVersion).toBe(0);
  });

  it('refuses a wrong SHA-256 or size, leaving no file and consuming no version number', async () => {
    await suite.registry.api.createRegisteredModel({ name: 'checked' });
    const good = { path: 'good.bin', format: 'raw', data: Buffer.from('good') };
    const wrongSha = { path: 'bad.bin', data: Buffer.from('payload'), sha256: 'ab'.repeat(32) };
    expect(await failure(suite.registry.api.createModelVersion({ name: 'checked' }, [good, wrongSha]))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: `file "bad.bin": SHA-256 of the received bytes is ${sha256(Buffer.from('payload'))} but its header announced ${'ab'.repeat(32)}; the version was not created`,
    });
    const tooShort = { path: 'bad.bin', data: Buffer.from('payload'), size: 8 };
    expect((await failure(suite.registry.api.createModelVersion({ name: 'checked' }, [good, tooShort]))).details).toBe(
      'file "bad.bin": received 7 bytes but its header announced 8; the version was not created',
    );
    const tooLong = { path: 'bad.bin', data: Buffer.from('payload'), size: 3 };
    expect((await failure(suite.registry.api.createModelVersion({ name: 'checked' }, [good, tooLong]))).details).toBe(
      'file "bad.bin": received more than the 3 bytes its header announced; the version was not created',
    );
    expect(await objectsOf('checked')).toEqual([]);
    const version = await suite.registry.api.createModelVersion({ name: 'checked' }, [good]);
    expect(version.version).toBe(1);
  });

  it('refuses metrics that are not finite numbers', async () => {
    await suite.registry.api.createRegisteredModel({ name: 'nan' });
    expect(
      await failure(suite.registry.api.createModelVersion({ name: 'nan', metrics: { loss: Number.NaN } })),
    ).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'header.metrics.loss: must be a finite number, got NaN',
    });
    expect(
      (await failure(suite.registry.api.createModelVersion({ name: 'nan', metrics: { loss: Infinity } }))).details,
    ).toBe('header.metrics.loss: must be a finite number, got Infinity');
  });

  it('refuses pipeline JSON that is not JSON or too large for a version record', async () => {
    await suite.registry.api.createRegisteredModel({ name: 'piped' });
    expect(
      (await failure(suite.registry.api.createModelVersion({ name: 'piped', pipelineJson: '{oops' }))).details,
    ).toMatch(/^header\.pipeline_json: not valid JSON \(/);
    expect(
      await failure(
        suite.registry.api.createModelVersion({ name: 'piped', pipelineJson: JSON.stringify('x'.repeat(600 * 1024)) }),
      ),
    ).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'header.pipeline_json: is 614402 characters; at most 524288',
    });
  });

  it('refuses an empty header name', async () => {
    expect(await failure(suite.registry.api.createModelVersion({ name: '' }))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'header.name: must not be empty',
    });
  });
});

describe('GetModelVersion', () => {
  it('resolves by version, by alias, and to the latest live version', async () => {
    await suite.registry.api.createRegisteredModel({ name: 'refs' });
    for (let i = 0; i < 3; i++) await suite.registry.api.createModelVersion({ name: 'refs', description: `v${i + 1}` });
    await suite.registry.api.setAlias({ name: 'refs', alias: 'champion', version: 2 });
    expect((await suite.registry.api.getModelVersion({ ref: { name: 'refs', version: 1 } })).description).toBe('v1');
    const byAlias = await suite.registry.api.getModelVersion({ ref: { name: 'refs', alias: 'champion' } });
    expect(byAlias).toMatchObject({ version: 2, aliases: ['champion'] });
    expect((await suite.registry.api.getModelVersion({ ref: { name: 'refs' } })).version).toBe(3);
    await suite.registry.api.deleteModelVersion({ name: 'refs', version: 3 });
    expect((await suite.registry.api.getModelVersion({ ref: { name: 'refs' } })).version).toBe(2);
  });

  it('answers NOT_FOUND naming the model and the version or alias', async () => {
    await suite.registry.api.createRegisteredModel({ name: 'sparse' });
    expect(await failure(suite.registry.api.getModelVersion({ ref: { name: 'sparse', version: 7 } }))).toEqual({
      code: status.NOT_FOUND,
      details: 'model "sparse" has no version 7',
    });
    expect(await failure(suite.registry.api.getModelVersion({ ref: { name: 'sparse', alias: 'prod' } }))).toEqual({
      code: status.NOT_FOUND,
      details: 'model "sparse" has no alias "prod"',
    });
    expect(await failure(suite.registry.api.getModelVersion({ ref: { name: 'sparse' } }))).toEqual({
      code: status.NOT_FOUND,
      details: 'model "sparse" has no versions',
    });
    expect(await failure(suite.registry.api.getModelVersion({ ref: { name: '' } }))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'ref.name: must not be empty',
    });
    expect((await failure(suite.registry.api.getModelVersion({}))).code).toBe(status.INVALID_ARGUMENT);
  });
});

describe('UpdateModelVersion', () => {
  it('updates description, tags and metrics', async () => {
    await suite.registry.api.createModelVersion({
      name: 'upd-v',
      createModel: true,
      tags: { a: '1', b: '2' },
      metrics: { acc: 0.5 },
    });
    const updated = await suite.registry.api.updateModelVersion({
      name: 'upd-v',
      version: 1,
      description: 'tuned',
      setTags: { c: '3' },
      removeTags: ['a'],
      setMetrics: { acc: 0.75, f1: 0.7 },
    });
    expect(updated).toMatchObject({ description: 'tuned', tags: { b: '2', c: '3' }, metrics: { acc: 0.75, f1: 0.7 } });
    expect((await suite.registry.api.getModelVersion({ ref: { name: 'upd-v', version: 1 } })).metrics).toEqual({
      acc: 0.75,
      f1: 0.7,
    });
  });

  it('refuses non-finite metrics and unknown versions', async () => {
    await suite.registry.api.createModelVersion({ name: 'upd-bad', createModel: true });
    expect(
      await failure(
        suite.registry.api.updateModelVersion({ name: 'upd-bad', version: 1, setMetrics: { acc: -Infinity } }),
      ),
    ).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'set_metrics.acc: must be a finite number, got -Infinity',
    });
    expect(await failure(suite.registry.api.updateModelVersion({ name: 'upd-bad', version: 9 }))).toEqual({
      code: status.NOT_FOUND,
      details: 'model "upd-bad" has no version 9',
    });
    expect(await failure(suite.registry.api.updateModelVersion({ name: 'upd-bad', version: 0 }))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'version: must be a version number 1 or greater, got 0',
    });
  });
});

describe('DeleteModelVersion', () => {
  it('deletes the version and its files; the number is not reused', async () => {
    await suite.registry.api.createModelVersion({ name: 'del', createModel: true }, [
      { path: 'a.bin', data: Buffer.from('a') },
    ]);
    await suite.registry.api.createModelVersion({ name: 'del' }, [{ path: 'a.bin', data: Buffer.from('b') }]);
    expect(await objectsOf('del')).toHaveLength(2);
    expect(await suite.registry.api.deleteModelVersion({ name: 'del', version: 2 })).toEqual({});
    expect(await objectsOf('del')).toHaveLength(1);
    expect((await failure(suite.registry.api.getModelVersion({ ref: { name: 'del', version: 2 } }))).code).toBe(
      status.NOT_FOUND,
    );
    expect(await suite.registry.api.getRegisteredModel({ name: 'del' })).toMatchObject({
      latestVersion: 2,
      versionCount: 1,
    });
    expect((await suite.registry.api.createModelVersion({ name: 'del' })).version).toBe(3);
    expect(await failure(suite.registry.api.deleteModelVersion({ name: 'del', version: 2 }))).toEqual({
      code: status.NOT_FOUND,
      details: 'model "del" has no version 2',
    });
  });

  it('refuses to delete a version an alias points at, naming the alias', async () => {
    await suite.registry.api.createModelVersion({ name: 'pinned', createModel: true });
    await suite.registry.api.setAlias({ name: 'pinned', alias: 'production', version: 1 });
    expect(await failure(suite.registry.api.deleteModelVersion({ name: 'pinned', version: 1 }))).toEqual({
      code: status.FAILED_PRECONDITION,
      details: 'model "pinned" version 1 is the target of alias "production"; move or delete the alias first',
    });
    await suite.registry.api.deleteAlias({ name: 'pinned', alias: 'production' });
    expect(await suite.registry.api.deleteModelVersion({ name: 'pinned', version: 1 })).toEqual({});
  });
});

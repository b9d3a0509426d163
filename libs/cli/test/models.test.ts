import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMemoryRegistry, type MemoryRegistry } from './memory-registry.js';
import { cliRunner } from './run-cli-harness.js';

let registry: MemoryRegistry;
let dir: string;

beforeAll(async () => {
  registry = await startMemoryRegistry();
  dir = await mkdtemp(join(tmpdir(), 'aimaas-cli-'));
});
afterAll(async () => {
  await registry.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Runs the CLI in-process against the memory registry (through AIMAAS_REGISTRY_ADDR). */
const aimaas = cliRunner(() => ({ env: { AIMAAS_REGISTRY_ADDR: registry.address }, cwd: dir }));

describe('aimaas models list', () => {
  it('prints an aligned table of every model', async () => {
    const result = await aimaas('models', 'list');
    expect(result).toEqual({
      code: 0,
      stderr: '',
      stdout: [
        'NAME    LATEST  VERSIONS  ALIASES       UPDATED               DESCRIPTION',
        'fmnist       3         3  production=2  2025-03-01T12:00:00Z  Fashion-MNIST classifier',
        'iris         -         0  -             2025-02-01T08:30:00Z  -',
        '',
      ].join('\n'),
    });
  });

  it('prints protobuf JSON with --json, after reading every page', async () => {
    const result = await aimaas('models', 'list', '--json', '--page-size', '1');
    expect(result.code).toBe(0);
    expect(registry.requests.listRegisteredModels).toEqual({ pageSize: 1, pageToken: '1', namePrefix: '' });
    expect(result.stdout).toBe(
      `${JSON.stringify(
        {
          models: [
            {
              name: 'fmnist',
              description: 'Fashion-MNIST classifier',
              createdAt: '2025-01-10T09:00:00.000Z',
              updatedAt: '2025-03-01T12:00:00.000Z',
              latestVersion: 3,
              aliases: { production: 2 },
              versionCount: 3,
            },
            { name: 'iris', createdAt: '2025-02-01T08:30:00.000Z' },
          ],
        },
        null,
        2,
      )}\n`,
    );
  });
});

describe('aimaas models versions and search', () => {
  it('lists the versions of a model newest first', async () => {
    const result = await aimaas('models', 'versions', 'fmnist');
    expect(result.stdout).toBe(
      [
        'VERSION  ALIASES     TASK            METRICS                      FILES    SIZE  CREATED',
        '      3  -           classification  accuracy=0.8312,loss=0.1667      1  4.5 kB  2025-03-01T10:00:00Z',
        '      2  production  classification  accuracy=0.8212,loss=0.25        1    3 kB  2025-02-01T10:00:00Z',
        '      1  -           classification  accuracy=0.8112,loss=0.5         1  1.5 kB  2025-01-01T10:00:00Z',
        '',
      ].join('\n'),
    );
  });

  it('passes filter, order and page size through and says how to get the next page', async () => {
    const result = await aimaas(
      'models',
      'search',
      'name = "fmnist" AND metrics.accuracy > 0.8',
      '--order-by',
      'version DESC',
      '--page-size',
      '2',
    );
    expect(result.code).toBe(0);
    expect(registry.requests.searchModelVersions).toEqual({
      filter: 'name = "fmnist" AND metrics.accuracy > 0.8',
      orderBy: 'version DESC',
      pageSize: 2,
      pageToken: '',
    });
    expect(result.stdout.split('\n').map((line) => line.split(/\s+/).slice(0, 2).join(' '))).toEqual([
      'NAME VERSION',
      'fmnist 3',
      'fmnist 2',
      '',
    ]);
    expect(result.stderr).toBe('2 of 3 shown; next page: --page-token page-2\n');
  });
});

describe('aimaas models show', () => {
  it('prints error: NOT_FOUND and exits 1 for an unknown model', async () => {
    expect(await aimaas('models', 'show', 'nope')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: NOT_FOUND: model "nope" not found\n',
    });
  });

  it('shows the version an alias points at', async () => {
    const result = await aimaas('models', 'show', 'fmnist@production');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Version:       2\n');
    expect(result.stdout).toContain('Lineage:       training job job-2, parent fmnist@1\n');
    expect(result.stdout).toContain('model.onnx  onnx    3 kB  abababababab');
  });
});

describe('aimaas models alias and history', () => {
  it('moves an alias, reports the previous version, and lists the move in the history', async () => {
    const set = await aimaas('models', 'alias', 'set', 'fmnist', 'production', '3', '--reason', 'better accuracy');
    expect(set).toEqual({ code: 0, stderr: '', stdout: 'fmnist@production -> version 3 (was version 2).\n' });
    const history = await aimaas('models', 'history', 'fmnist', '--alias', 'production');
    expect(history.stdout).toBe(
      [
        'TIME                  ALIAS       FROM  TO  ACTOR  REASON',
        '2025-05-01T00:00:00Z  production     2   3  alice  better accuracy',
        '',
      ].join('\n'),
    );
  });

  it('prints SetAliasResponse JSON with --json', async () => {
    const result = await aimaas('--json', 'models', 'alias', 'set', 'fmnist', 'staging', '1');
    expect(JSON.parse(result.stdout)).toEqual({
      change: {
        name: 'fmnist',
        alias: 'staging',
        toVersion: 1,
        actor: 'alice',
        changedAt: '2025-05-02T00:00:00.000Z',
      },
    });
  });
});

describe('aimaas models upload and download', () => {
  it('uploads files as a new version and downloads them back, with progress bars on request', async () => {
    const onnx = Buffer.alloc(700 * 1024, 7);
    const labels = Buffer.from('["shirt","shoe"]');
    await writeFile(join(dir, 'model.onnx'), onnx);
    await writeFile(join(dir, 'labels.json'), labels);
    const up = await aimaas(
      'models',
      'upload',
      'fmnist',
      'model.onnx',
      'labels.json',
      '--metrics',
      'accuracy=0.93',
      '--progress',
    );
    expect(up.code).toBe(0);
    expect(up.stdout.split('\n')[0]).toBe('Created fmnist@4: 2 files, 717 kB.');
    expect(up.stderr).toMatch(/^\rupload {4}\[/);
    expect(up.stderr).toMatch(/\[#{24}\] 100% {2}717 kB \/ 717 kB {2}[\d.]+ [kMG]?B\/s\s*\n$/);
    expect(registry.versions.at(-1)?.metrics).toEqual({ accuracy: 0.93 });

    const down = await aimaas('models', 'download', 'fmnist@4', '--out', 'fmnist-4', '--format', 'onnx');
    expect(down.code).toBe(0);
    expect(down.stderr).toBe('');
    expect(down.stdout.split('\n')[0]).toBe(`Downloaded fmnist@4: 1 file, 717 kB to ${join(dir, 'fmnist-4')}`);
    expect((await readFile(join(dir, 'fmnist-4', 'model.onnx'))).equals(onnx)).toBe(true);
  });

  it('refuses a metric that is not a number as a usage error', async () => {
    const result = await aimaas('models', 'upload', 'fmnist', 'model.onnx', '--metrics', 'accuracy=high');
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe('error: --metrics accuracy=high: expected a number');
  });
});

describe('aimaas models lineage', () => {
  it('lists the version and its ancestors, then the edges', async () => {
    const result = await aimaas('models', 'lineage', 'fmnist@2');
    expect(result.stdout).toBe(
      [
        'NODE            KIND           CREATED               METRICS',
        'model:fmnist@2  model-version  2025-02-01T10:00:00Z  accuracy=0.8212,loss=0.25',
        'model:fmnist@1  model-version  2025-01-01T10:00:00Z  accuracy=0.8112,loss=0.5',
        '',
        'FROM            RELATION      TO',
        'model:fmnist@2  derived_from  model:fmnist@1',
        '',
      ].join('\n'),
    );
  });
});

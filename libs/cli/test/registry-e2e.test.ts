import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useCliStack } from './e2e-stack.js';
import { cliRunner, runCaptured } from './run-cli-harness.js';

const TOKEN = 'e2e-token';
const stack = useCliStack({ name: 'cli-e2e', registry: { authToken: TOKEN }, graceMs: 1_000 });

/** Runs the CLI in-process the way a user would: the address and token from the environment. */
const aimaas = cliRunner(() => ({ env: { ...stack.env, AIMAAS_AUTH_TOKEN: TOKEN }, cwd: stack.dir }));

describe('aimaas against the real registry', () => {
  it('is refused with UNAUTHENTICATED without the token', async () => {
    const { code, stderr } = await runCaptured(['models', 'list'], {
      env: { AIMAAS_REGISTRY_ADDR: stack.env.AIMAAS_REGISTRY_ADDR },
    });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^error: UNAUTHENTICATED: /);
  });

  it('creates a model, uploads two versions, moves an alias, and downloads what the alias points at', async () => {
    expect(await aimaas('models', 'create', 'demo', '--description', 'CLI end-to-end')).toEqual({
      code: 0,
      stdout: 'Created model demo.\n',
      stderr: '',
    });
    const v1 = Buffer.alloc(300_000, 1);
    const v2 = Buffer.alloc(600_000, 2);
    await writeFile(join(stack.dir, 'model.onnx'), v1);
    const up1 = await aimaas(
      'models',
      'upload',
      'demo',
      'model.onnx',
      '--metrics',
      'accuracy=0.81',
      '--actor',
      'alice',
    );
    expect(up1.stdout.split('\n')[0]).toBe('Created demo@1: 1 file, 300 kB.');
    await writeFile(join(stack.dir, 'model.onnx'), v2);
    const up2 = await aimaas(
      'models',
      'upload',
      'demo',
      'model.onnx',
      '--metrics',
      'accuracy=0.93',
      '--tags',
      'team=vision',
    );
    expect(up2.stdout.split('\n')[0]).toBe('Created demo@2: 1 file, 600 kB.');

    expect((await aimaas('models', 'alias', 'set', 'demo', 'production', '1')).stdout).toBe(
      'demo@production -> version 1 (new alias).\n',
    );
    expect((await aimaas('models', 'alias', 'set', 'demo', 'production', '2', '--reason', 'better')).stdout).toBe(
      'demo@production -> version 2 (was version 1).\n',
    );

    const shown = await aimaas('--json', 'models', 'show', 'demo@production');
    expect(JSON.parse(shown.stdout)).toMatchObject({
      name: 'demo',
      version: 2,
      metrics: { accuracy: 0.93 },
      tags: { team: 'vision' },
      aliases: ['production'],
    });

    const search = await aimaas('--json', 'models', 'search', 'name = "demo" AND metrics.accuracy > 0.9');
    expect(JSON.parse(search.stdout).versions.map((v: { version: number }) => v.version)).toEqual([2]);

    const versions = await aimaas('models', 'versions', 'demo');
    expect(versions.stdout.split('\n').map((line) => line.trim().split(/\s+/).slice(0, 2).join(' '))).toEqual([
      'VERSION ALIASES',
      '2 production',
      '1 -',
      '',
    ]);

    const history = await aimaas('--json', 'models', 'history', 'demo');
    expect(JSON.parse(history.stdout).changes.map((c: { toVersion: number }) => c.toVersion)).toEqual([2, 1]);

    const down = await aimaas('models', 'download', 'demo@production');
    expect(down.code).toBe(0);
    expect((await readFile(join(stack.dir, 'demo-production', 'model.onnx'))).equals(v2)).toBe(true);

    const first = await aimaas('--json', 'models', 'show', 'demo@1');
    expect(JSON.parse(first.stdout).createdBy).toBe('alice');

    const lineage = await aimaas('models', 'lineage', 'demo@2');
    expect(lineage.code).toBe(0);
    expect(lineage.stdout.split('\n')[1]).toMatch(/^model:demo@2\s+model-version\s/);
  });

  it('prints error: NOT_FOUND for a model that does not exist', async () => {
    const result = await aimaas('models', 'show', 'ghost');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: NOT_FOUND: .*ghost/);
  });
});

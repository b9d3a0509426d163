import { tmpdir } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendUnavailableError, initBackend } from '../src/index.js';

describe('initBackend', () => {
  const cwd = process.cwd();
  const env = process.env.AIMAAS_TF_BACKEND;

  beforeAll(() => {
    // The wasm binaries must be found from the package, not from the working directory.
    process.chdir(tmpdir());
  });
  afterAll(() => {
    process.chdir(cwd);
    if (env === undefined) delete process.env.AIMAAS_TF_BACKEND;
    else process.env.AIMAAS_TF_BACKEND = env;
  });

  it('starts the wasm backend with SIMD and one thread from any working directory', async () => {
    const info = await initBackend('wasm');
    expect(info).toMatchObject({
      backend: 'wasm',
      requested: 'wasm',
      packageName: '@tensorflow/tfjs-backend-wasm',
      simd: true,
      multiThreaded: false,
    });
    expect(tf.getBackend()).toBe('wasm');
    const total = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])));
    const sum = total.dataSync();
    total.dispose();
    expect(Array.from(sum)).toEqual([4, 6]);
  });

  it('falls back from the absent native packages to wasm on auto, saying why', async () => {
    const info = await initBackend('auto');
    expect(info.backend).toBe('wasm');
    expect(info.skipped).toEqual([
      { packageName: '@tensorflow/tfjs-node-gpu', reason: 'not installed' },
      { packageName: '@tensorflow/tfjs-node', reason: 'not installed' },
    ]);
  });

  it('is idempotent and switches when asked for another backend', async () => {
    const first = await initBackend('cpu');
    expect(first.backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(await initBackend('cpu')).toBe(first);
    const [a, b] = await Promise.all([initBackend('wasm'), initBackend('wasm')]);
    expect(a).toBe(b);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('reads AIMAAS_TF_BACKEND when no choice is given', async () => {
    process.env.AIMAAS_TF_BACKEND = 'cpu';
    expect((await initBackend()).backend).toBe('cpu');
    process.env.AIMAAS_TF_BACKEND = 'WASM';
    expect((await initBackend()).backend).toBe('wasm');
  });

  it('fails clearly when tensorflow is required but not installed', async () => {
    const attempt = initBackend('tensorflow');
    await expect(attempt).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(attempt).rejects.toThrow(
      /@tensorflow\/tfjs-node-gpu: not installed; @tensorflow\/tfjs-node: not installed/,
    );
  });

  it('rejects an unknown choice, naming the setting', async () => {
    await expect(initBackend('gpu')).rejects.toThrow(
      /AIMAAS_TF_BACKEND must be one of auto\|tensorflow\|wasm\|cpu, got "gpu"/,
    );
  });
});

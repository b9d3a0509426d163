import { createServer } from 'node:net';
import { isAbsolute } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, fixturePath, freePort, repoRoot, waitFor } from '../src/index.js';

describe('freePort', () => {
  it('returns a port that can be bound on 127.0.0.1', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    server.close();
  });
});

describe('fixturePath', () => {
  it('points into <repo>/test/fixtures', () => {
    const path = fixturePath('iris.csv');
    expect(isAbsolute(path)).toBe(true);
    expect(path).toBe(`${repoRoot()}/test/fixtures/iris.csv`);
  });

  it('finds the root whose package.json declares the workspaces', async () => {
    const { readFile } = await import('node:fs/promises');
    const pkg = JSON.parse(await readFile(`${repoRoot()}/package.json`, 'utf8')) as { workspaces: string[] };
    expect(pkg.workspaces).toContain('libs/*');
  });

  it('refuses a name that escapes the fixtures folder', () => {
    expect(() => fixturePath('../../etc/passwd')).toThrow(/leaves/);
  });
});

describe('waitFor', () => {
  it('returns the first truthy value of the predicate', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? `ready after ${calls}` : undefined), { intervalMs: 1 });
    expect(value).toBe('ready after 3');
  });

  it('times out naming what it waited for and the last error', async () => {
    const err = await waitFor(
      () => {
        throw new Error('replica count is 1, expected 2');
      },
      { timeoutMs: 50, intervalMs: 5, message: 'two replicas' },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      /timed out after 50 ms .* waiting for two replicas; last error: replica count is 1/,
    );
    expect((err as Error).cause).toBeInstanceOf(Error);
  });

  it('stops when its signal aborts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('suite is over'));
    await expect(waitFor(() => false, { signal: controller.signal })).rejects.toThrow('suite is over');
  });
});

describe('collect', () => {
  async function* count(n: number) {
    for (let i = 0; i < n; i++) yield i;
  }

  it('drains an async iterable into an array', async () => {
    expect(await collect(count(4))).toEqual([0, 1, 2, 3]);
  });

  it('stops after limit items and closes the iterator', async () => {
    let closed = false;
    async function* endless() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    expect(await collect(endless(), 2)).toEqual([0, 1]);
    expect(closed).toBe(true);
  });
});

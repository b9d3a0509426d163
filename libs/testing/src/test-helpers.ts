import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A TCP port that is free on 127.0.0.1 right now: binds port 0, reads the port the kernel chose,
 * and closes. Another process may take it before you bind it, so prefer letting a server pick its
 * own port (as {@link startNatsServer} does) and use this only where that is impossible.
 *
 * @example
 * const port = await freePort();
 * server.bindAsync(`127.0.0.1:${port}`, credentials, cb);
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`cannot read the port bound on ${host}`));
        return;
      }
      server.close((err) => (err ? reject(err) : resolve(address.port)));
    });
  });
}

let cachedRoot: string | undefined;

/**
 * The monorepo root: the nearest directory above this file whose package.json declares
 * `workspaces`. Works from `src/` (vitest) and from `dist/` (built) alike.
 */
export function repoRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { workspaces?: unknown };
      if (pkg.workspaces !== undefined) return (cachedRoot = dir);
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`no package.json with "workspaces" above ${fileURLToPath(import.meta.url)}`);
    }
    dir = parent;
  }
}

/**
 * Absolute path of a shared test fixture under `<repo>/test/fixtures/`. The file need not exist;
 * `name` may contain sub-folders but must stay inside the fixtures folder.
 *
 * @example
 * const csv = await readFile(fixturePath('iris.csv'), 'utf8');
 */
export function fixturePath(name: string): string {
  const base = join(repoRoot(), 'test', 'fixtures');
  const path = resolvePath(base, name);
  if (path !== base && !path.startsWith(base + '/')) {
    throw new Error(`fixture name "${name}" leaves ${base}`);
  }
  return path;
}

/** Options for {@link waitFor}. */
export interface WaitForOptions {
  /**
   * Give up after this long.
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * Pause between two attempts.
   * @default 25
   */
  intervalMs?: number;
  /** What is being waited for, quoted in the timeout error ("deployment fmnist to be ready"). */
  message?: string;
  /** Stops waiting early, rejecting with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Poll `predicate` until it returns a truthy value (which is returned) or the timeout passes.
 * A predicate that throws counts as "not yet"; its last error is attached as the `cause` of the
 * timeout error, so an assertion inside the predicate explains what was still wrong.
 *
 * @example
 * const job = await waitFor(async () => {
 *   const j = await client.getTrainingJob({ id });
 *   return j.state === 'SUCCEEDED' && j;
 * }, { timeoutMs: 30_000, message: `training job ${id} to succeed` });
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  opts: WaitForOptions = {},
): Promise<Exclude<T, false | 0 | '' | null | undefined>> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const intervalMs = opts.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  let lastError: unknown;
  for (;;) {
    opts.signal?.throwIfAborted();
    attempts++;
    try {
      const value = await predicate();
      if (value) return value as Exclude<T, false | 0 | '' | null | undefined>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const what = opts.message ?? 'condition';
      const why = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms (${attempts} attempts) waiting for ${what}${why}`, {
        cause: lastError,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
}

/**
 * Drain an async iterable into an array. With `limit`, stop (and close the iterator) after that
 * many items, which is how to read a few entries of a live subscription.
 *
 * @example
 * const names = await collect(store.listNames());
 * const firstThree = await collect(watcher, 3);
 */
export async function collect<T>(source: AsyncIterable<T>, limit = Infinity): Promise<T[]> {
  const out: T[] = [];
  if (limit <= 0) return out;
  for await (const item of source) {
    out.push(item);
    if (out.length >= limit) break;
  }
  return out;
}

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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
  const path = resolve(base, name);
  if (path !== base && !path.startsWith(base + '/')) {
    throw new Error(`fixture name "${name}" leaves ${base}`);
  }
  return path;
}

import { readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

/** Tests import workspace packages from their sources, so no build is needed to run a suite. */
const alias = Object.fromEntries(
  ['libs', 'services'].flatMap((group) =>
    readdirSync(`${root}${group}`)
      .filter((name) => existsSync(`${root}${group}/${name}/src/index.ts`))
      .map((name) => [`@aimaas/${name}`, `${root}${group}/${name}/src/index.ts`]),
  ),
);

export default defineConfig({
  resolve: { alias },
  test: {
    include: ['libs/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});

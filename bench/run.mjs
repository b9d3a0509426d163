#!/usr/bin/env node
// `npm run bench [-- name…]`: runs each bench/<name>.bench.mjs in its own process (so one's memory
// and threads don't colour the next), then writes bench/results/<name>.json and a markdown summary
// bench/results/README.md with every table.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

const here = fileURLToPath(new URL('.', import.meta.url));
const resultsDir = `${here}results/`;
mkdirSync(resultsDir, { recursive: true });
const wanted = process.argv.slice(2);
const benches = readdirSync(here)
  .filter((file) => file.endsWith('.bench.mjs'))
  .map((file) => file.slice(0, -'.bench.mjs'.length))
  .filter((name) => wanted.length === 0 || wanted.includes(name));

let failed = 0;
for (const name of benches) {
  console.log(`\n== ${name}`);
  const result = spawnSync(process.execPath, ['--expose-gc', `${here}${name}.bench.mjs`, `${resultsDir}${name}.json`], {
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    console.error(`bench ${name} failed (exit ${result.status ?? result.signal})`);
    failed += 1;
  }
}

const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const sections = readdirSync(resultsDir)
  .filter((file) => file.endsWith('.json'))
  .sort()
  .map((file) => JSON.parse(readFileSync(`${resultsDir}${file}`, 'utf8')))
  .map((result) => `## ${result.title}\n\n${result.markdown}\n\n_${result.when}_`);
writeFileSync(`${resultsDir}README.md`, `# Benchmarks\n\nMachine: ${machine}\n\n${sections.join('\n\n')}\n`);
console.log(`\nwrote ${resultsDir}README.md`);
process.exit(failed ? 1 : 0);

// Shared helpers for benchmarks: timing, percentiles, markdown tables, result files.
import { writeFileSync } from 'node:fs';

/** Runs `fn` repeatedly for `seconds` (after `warmup` runs); returns ops/s and latency stats in ms. */
export async function measure(fn, { seconds = 3, concurrency = 1, warmup = 20 } = {}) {
  for (let i = 0; i < warmup; i += 1) await fn();
  const latencies = [];
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await fn();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  return { opsPerSecond: latencies.length / elapsed, ...percentiles(latencies) };
}

function percentiles(values) {
  const sorted = Float64Array.from(values).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99) };
}

export function table(headers, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

export const fmt = (value, digits = 1) =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: digits }) : String(value);

/** Writes the result JSON that bench/run.mjs gathers into bench/results/README.md. */
export function writeResult(file, { title, markdown, data }) {
  writeFileSync(file, JSON.stringify({ title, when: new Date().toISOString(), markdown, data }, null, 2));
  console.log(`${title}\n\n${markdown}\n`);
}

#!/usr/bin/env node
// Preprocessing: ImportDataset + PrepareDataset of a generated 1,000,000 × 20 CSV (numeric,
// categorical and missing values) through the running service process, with the service's peak
// RSS (VmHWM) per phase; and, when python3 has pandas and scikit-learn, pandas.read_csv +
// SimpleImputer/StandardScaler/OneHotEncoder on the same file for comparison.
// Run with `npm run bench -- preprocessing` (builds first) or `node bench/preprocessing.bench.mjs out.json`.
import { spawn, spawnSync } from 'node:child_process';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { once } from 'node:events';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials } from '@grpc/grpc-js';
import { DataFormat, ImportDatasetRequest, PrepareDatasetRequest, PreprocessingServiceClient } from '@aimaas/proto';
import { freePort, startNatsServer, waitFor } from '@aimaas/testing';
import { fmt, table, writeResult } from './report.mjs';

// Debian's python3-pandas / python3-sklearn live beside the system python, which a pyenv shim may hide.
const PYTHON = process.env.BENCH_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

const root = fileURLToPath(new URL('..', import.meta.url));
const resultFile = process.argv[2] ?? join(root, 'bench', 'results', 'preprocessing.json');
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const CHUNK = 1024 * 1024;

const work = mkdtempSync(join(tmpdir(), 'aimaas-bench-pre-'));
const csvPath = join(work, 'data.csv');

/** Writes the CSV: 12 numeric (4 with 5% missing), 6 categorical (one with 3% missing), 1 integer, 1 target. */
async function generate(path, rows) {
  let state = 12345;
  const random = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296;
  const out = createWriteStream(path);
  const header = [
    ...Array.from({ length: 12 }, (_, i) => `n${i}`),
    ...Array.from({ length: 6 }, (_, i) => `c${i}`),
    'i0',
    'y',
  ];
  const levels = [3, 5, 8, 12, 20, 40];
  let buffer = header.join(',') + '\n';
  for (let r = 0; r < rows; r++) {
    const cells = [];
    let y = 0;
    for (let i = 0; i < 12; i++) {
      const v = (random() - 0.5) * 10 ** (i % 4);
      y += v * (i % 3);
      cells.push(i < 4 && random() < 0.05 ? '' : v.toFixed(4));
    }
    for (let i = 0; i < 6; i++)
      cells.push(i === 0 && random() < 0.03 ? '' : `k${i}_${Math.floor(random() ** 2 * levels[i])}`);
    cells.push(String(Math.floor(random() * 1000)));
    cells.push((y + random()).toFixed(3));
    buffer += cells.join(',') + '\n';
    if (buffer.length > CHUNK) {
      if (!out.write(buffer)) await once(out, 'drain');
      buffer = '';
    }
  }
  out.end(buffer);
  await once(out, 'finish');
}

/** Peak resident set of a process since start or the last reset, in MiB. */
function peakRssMiB(pid) {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Resets VmHWM (Linux: writing 5 to clear_refs); false when not allowed. */
function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

function importFile(client, name, path) {
  return new Promise((resolve, reject) => {
    let failed = false;
    const call = client.importDataset((error, response) =>
      error ? ((failed = true), reject(error)) : resolve(response),
    );
    (async () => {
      call.write(ImportDatasetRequest.fromPartial({ header: { name, format: DataFormat.DATA_FORMAT_CSV } }));
      for await (const chunk of createReadStream(path, { highWaterMark: CHUNK })) {
        if (failed) return;
        if (!call.write({ chunk })) await once(call, 'drain');
      }
      call.end();
    })().catch(reject);
  });
}

const unary = (client, method, request) =>
  new Promise((resolve, reject) =>
    client[method](request, (error, response) => (error ? reject(error) : resolve(response))),
  );

function pandasBaseline(path) {
  const probe = spawnSync(PYTHON, ['-c', 'import pandas, sklearn'], { encoding: 'utf8' });
  if (probe.status !== 0) return { available: false, reason: 'python3 with pandas and scikit-learn not found' };
  const script = `
import json, sys, time
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, StandardScaler
t0 = time.perf_counter()
df = pd.read_csv(sys.argv[1])
t1 = time.perf_counter()
num = [c for c in df.columns if c.startswith('n') or c == 'i0']
cat = [c for c in df.columns if c.startswith('c')]
x_num = StandardScaler().fit_transform(SimpleImputer(strategy='median').fit_transform(df[num]))
x_cat = OneHotEncoder(handle_unknown='ignore').fit_transform(SimpleImputer(strategy='most_frequent').fit_transform(df[cat]))
t2 = time.perf_counter()
print(json.dumps({'rows': len(df), 'read_s': t1 - t0, 'transform_s': t2 - t1, 'features': x_num.shape[1] + x_cat.shape[1]}))
`;
  const run = spawnSync(PYTHON, ['-c', script, path], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (run.status !== 0) return { available: false, reason: `python3 failed: ${run.stderr.trim().split('\n').at(-1)}` };
  return { available: true, ...JSON.parse(run.stdout.trim().split('\n').at(-1)) };
}

const nats = await startNatsServer();
let service;
try {
  const t0 = performance.now();
  await generate(csvPath, ROWS);
  const bytes = statSync(csvPath).size;
  console.log(`generated ${ROWS} rows, ${fmt(bytes / 2 ** 20)} MiB in ${fmt((performance.now() - t0) / 1000)} s`);

  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  // BENCH_SERVICE_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the service.
  const nodeArgs = (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  service = spawn(process.execPath, [...nodeArgs, join(root, 'services/preprocessing/dist/main.js')], {
    env: {
      ...process.env,
      NATS_URL: nats.url,
      AIMAAS_PREPROCESSING_ADDR: addr,
      AIMAAS_METRICS_ADDR: 'off',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const client = new PreprocessingServiceClient(addr, credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 << 20,
  });
  await waitFor(() => unary(client, 'listDatasets', { pageSize: 1, pageToken: '', name: '' }).then(() => true), {
    timeoutMs: 30_000,
    message: 'the preprocessing service',
  });
  const baseRss = peakRssMiB(service.pid);
  const canReset = resetPeak(service.pid);

  const c0 = cpuSeconds(service.pid);
  const i0 = performance.now();
  const dataset = await importFile(client, 'bench', csvPath);
  const importSeconds = (performance.now() - i0) / 1000;
  const importPeak = peakRssMiB(service.pid);
  const c1 = cpuSeconds(service.pid);
  if (canReset) resetPeak(service.pid);

  const p0 = performance.now();
  const prepared = await unary(
    client,
    'prepareDataset',
    PrepareDatasetRequest.fromPartial({ dataset: { name: 'bench', version: dataset.version }, target: 'y', seed: 1 }),
  );
  const prepareSeconds = (performance.now() - p0) / 1000;
  const preparePeak = peakRssMiB(service.pid);
  const c2 = cpuSeconds(service.pid);
  client.close();

  const ours = ROWS / (importSeconds + prepareSeconds);
  const pandas = pandasBaseline(csvPath);
  const pandasRate = pandas.available ? pandas.rows / (pandas.read_s + pandas.transform_s) : Number.NaN;
  const load = os.loadavg()[0];
  const rows = [
    [
      'AIMaaS ImportDataset (gRPC stream, parse, profile, store)',
      fmt(importSeconds, 2),
      fmt(ROWS / importSeconds, 0),
      fmt(c1 - c0, 1),
      fmt(importPeak, 0),
    ],
    [
      'AIMaaS PrepareDataset (fit, split, float32 tensors stored)',
      fmt(prepareSeconds, 2),
      fmt(ROWS / prepareSeconds, 0),
      fmt(c2 - c1, 1),
      canReset ? fmt(preparePeak, 0) : `≤ ${fmt(preparePeak, 0)}`,
    ],
    [
      'AIMaaS import + prepare',
      fmt(importSeconds + prepareSeconds, 2),
      fmt(ours, 0),
      fmt(c2 - c0, 1),
      fmt(Math.max(importPeak, preparePeak), 0),
    ],
  ];
  if (pandas.available) {
    rows.push(['pandas.read_csv', fmt(pandas.read_s, 2), fmt(ROWS / pandas.read_s, 0), '', '']);
    rows.push([
      'pandas.read_csv + sklearn impute/StandardScaler/OneHotEncoder',
      fmt(pandas.read_s + pandas.transform_s, 2),
      fmt(pandasRate, 0),
      '',
      '',
    ]);
  }
  const ratio = pandas.available
    ? `AIMaaS import + prepare runs at ${fmt(ours / pandasRate, 2)}× pandas + scikit-learn's rows/s.`
    : `pandas baseline skipped: ${pandas.reason}.`;
  const markdown = [
    `${fmt(ROWS, 0)} rows × 20 columns (12 numeric, 4 of them with 5% missing; 6 categorical with 3–40 levels, one with 3% missing; 1 integer; target y), ${fmt(bytes / 2 ** 20)} MiB CSV, streamed in 1 MiB chunks to \`services/preprocessing/dist/main.js\` over loopback gRPC with a local nats-server. Prepare: regression on y, default steps (median impute + standard scale; most-frequent impute + one-hot), 70/15/15 split, ${prepared.featureNames.length} float32 features.`,
    '',
    table(['phase', 'seconds', 'rows/s', 'service CPU s', 'service peak RSS (MiB)'], rows),
    '',
    `Service RSS at start: ${fmt(baseRss, 0)} MiB. Load average at the end: ${fmt(load, 2)} on ${os.availableParallelism()} cores (the service's CPU seconds are less sensitive to other load than the wall time). ${ratio}`,
  ].join('\n');
  writeResult(resultFile, {
    title: 'Preprocessing: import + prepare of a 1,000,000 × 20 CSV',
    markdown,
    data: {
      rows: ROWS,
      bytes,
      importSeconds,
      prepareSeconds,
      importCpuSeconds: c1 - c0,
      prepareCpuSeconds: c2 - c1,
      loadAverage: load,
      importPeakMiB: importPeak,
      preparePeakMiB: preparePeak,
      peakResetWorked: canReset,
      features: prepared.featureNames.length,
      rowsPerSecond: ours,
      pandas,
    },
  });
} finally {
  if (service && service.exitCode === null) {
    service.kill('SIGTERM');
    await once(service, 'exit');
  }
  await nats.stop();
  rmSync(work, { recursive: true, force: true });
}

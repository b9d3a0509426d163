#!/usr/bin/env node
// Compression: every method of the compression service on Fashion-MNIST models trained through the
// mesh, each measured by the service itself (CompressionJob.report: sizes raw and gzipped per
// format, parameters, test accuracy and ONNX Runtime latency at batch 1 and 256, before and after),
// against the targets of the compression issue.
//
// 1. A nats-server, the registry (in this process), and the preprocessing, training and compression
//    services as processes (`services/<name>/dist/main.js`).
// 2. Fashion-MNIST (AIMAAS_FASHION_MNIST_DIR, default /work/shared/datasets/fashion-mnist) imported
//    as the training bench does (IDX → CSV stream with a split column: the first BENCH_TRAIN_ROWS
//    training images, the first BENCH_TEST_ROWS of the canonical 10,000 test images), prepared with
//    min-max pixels; the MLP 784-256-128-10 and the TensorFlow-tutorial CNN of the training bench
//    (same specs, adam 1e-3 with a cosine decay, batch 64, seed 7) trained once through the
//    training service.
// 3. One compression job per row, submitted through the gRPC client and watched to its end:
//    quantize uint8 / float16 / int8 (ONNX: static activations per tensor and per channel, dynamic
//    per tensor) on both models; prune 80% and 90% (gradual over all fine-tune epochs but the last,
//    per-layer and global scope) on the MLP, and 80% per layer on the CNN (BENCH_CNN_PRUNE_EPOCHS,
//    0 skips it); cluster 16 with a short fine-tune on the MLP; distill the
//    MLP into a 784-28-10 student (under 1/10 of its parameters), beside the same student trained on
//    the labels alone through the training service with the same config and seed (and through the
//    distillation loop itself with α = 0); and the chain
//    prune 80% → cluster 16 → quantize uint8, each step's source the previous step's version (the
//    chain starts from the global prune-80% job's version).
// Reports per row sizes, accuracy, latency before → after, the job's wall time, and the issue's
// target with PASS or MISS and the measured figure. The JSON holds every report as returned.
//
// Knobs: BENCH_TRAIN_ROWS=30000  BENCH_TEST_ROWS=10000  BENCH_MLP_EPOCHS=10  BENCH_CNN_EPOCHS=1
//        BENCH_PRUNE_EPOCHS=3  BENCH_CNN_PRUNE_EPOCHS=1  BENCH_CLUSTER_EPOCHS=2  BENCH_DISTILL_EPOCHS=10
//        BENCH_BATCH=64  BENCH_MODELS=mlp,cnn
// Run: `npm run bench -- compression` (builds first) or `node bench/compression.bench.mjs out.json`.
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DataFormat,
  ImportHeader,
  JobState,
  PrepareDatasetRequest,
  RegistryServiceService,
  ScaleMethod,
  SubmitCompressionJobRequest,
  SubmitTrainingJobRequest,
  Task,
} from '../libs/proto/dist/index.js';
import { createGrpcServer } from '../libs/runtime/dist/index.js';
import { initBackend } from '../libs/ml/dist/index.js';
import { createClients } from '../libs/sdk/dist/index.js';
import { connectNats } from '../libs/storage/dist/index.js';
import { createLogger } from '../libs/telemetry/dist/index.js';
import { freePort, startNatsServer } from '../libs/testing/dist/index.js';
import { openRegistry } from '../services/registry/dist/index.js';
import { root, startProcess } from './processes.mjs';
import { fmt, table, writeResult } from './report.mjs';

const resultFile = process.argv[2] ?? join(root, 'bench', 'results', 'compression.json');
const dataDir = process.env.AIMAAS_FASHION_MNIST_DIR ?? '/work/shared/datasets/fashion-mnist';
const knob = (name, fallback) => Number(process.env[name] ?? fallback);
const MODELS = (process.env.BENCH_MODELS ?? 'mlp,cnn').split(',');
const TRAIN_ROWS = Math.min(knob('BENCH_TRAIN_ROWS', 30_000), 60_000);
const TEST_ROWS = Math.min(knob('BENCH_TEST_ROWS', 10_000), 10_000);
const EPOCHS = { mlp: knob('BENCH_MLP_EPOCHS', 10), cnn: knob('BENCH_CNN_EPOCHS', 1) };
const PRUNE_EPOCHS = knob('BENCH_PRUNE_EPOCHS', 3);
const CNN_PRUNE_EPOCHS = knob('BENCH_CNN_PRUNE_EPOCHS', 1);
const CLUSTER_EPOCHS = knob('BENCH_CLUSTER_EPOCHS', 2);
const DISTILL_EPOCHS = knob('BENCH_DISTILL_EPOCHS', 10);
const BATCH = knob('BENCH_BATCH', 64);
const SEED = 7;
const MIN_LR = 1e-5;
const PIXELS = Array.from({ length: 784 }, (_, i) => `px${i}`);
/** Bytes per ImportDataset chunk message, as the CLI sends them. */
const CHUNK_BYTES = 256 * 1024;
const logger = createLogger('bench', 'silent');

/** The training bench's two models, as the proto ModelSpec. */
const SPECS = {
  mlp: {
    name: 'MLP 784-256-128-10',
    proto: { mlp: { hiddenUnits: [256, 128], activation: 'relu', dropout: 0, batchNorm: false }, inputShape: [] },
  },
  cnn: {
    name: 'CNN (TF tutorial)',
    proto: {
      cnn: {
        convBlocks: [
          { filters: 32, kernelSize: 5, strides: 1, pool: 'max', poolSize: 2, activation: 'relu', padding: 'same' },
          { filters: 64, kernelSize: 5, strides: 1, pool: 'max', poolSize: 2, activation: 'relu', padding: 'same' },
        ],
        denseUnits: [1024],
        dropout: 0.4,
      },
      inputShape: [28, 28, 1],
    },
  },
};
/** The distillation student: one hidden layer of 28, 22,270 parameters (the teacher has 235,146). */
const STUDENT = { mlp: { hiddenUnits: [28], activation: 'relu', dropout: 0, batchNorm: false }, inputShape: [] };
/** The fine-tune settings of pruning and clustering (epochs come from the spec). */
const tuneConfig = (learningRate) => ({ optimizer: { name: 'adam', learningRate }, batchSize: BATCH, seed: SEED });
/** The distillation config, and the label-only student's training config: the same, constant LR. */
const STUDENT_CONFIG = {
  optimizer: { name: 'adam', learningRate: 0.001 },
  schedule: { kind: 'constant' },
  batchSize: BATCH,
  epochs: DISTILL_EPOCHS,
  seed: SEED,
};
const stepsPerEpoch = Math.ceil(TRAIN_ROWS / BATCH);
/** Distillation temperature and soft-loss weight (T=2, α=0.5 beat T=4, α=0.7 by about half a point in side runs at 12k and 30k rows). */
const DISTILL_T = 2;
const DISTILL_ALPHA = 0.5;

// ---------------------------------------------------------------------------------------------
// Data: the training bench's import and prepare.

/** Reads an IDX file (gzipped): its count and its uint8 values (pixels or labels). */
function readIdx(name) {
  const bytes = gunzipSync(readFileSync(join(dataDir, name)));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = view.getUint8(3);
  return { rows: view.getUint32(4), values: bytes.subarray(4 + 4 * dims) };
}

/** ImportDataset requests: the header, then the IDX images as CSV (px0..px783, label, split) in chunks. */
async function* fashionMnistCsv(name) {
  yield {
    header: ImportHeader.fromPartial({
      name,
      format: DataFormat.DATA_FORMAT_CSV,
      description: 'Fashion-MNIST, canonical train/test split in column "split"',
    }),
  };
  const cells = Array.from({ length: 256 }, (_, v) => String(v));
  const parts = [
    {
      split: 'train',
      images: readIdx('train-images-idx3-ubyte.gz'),
      labels: readIdx('train-labels-idx1-ubyte.gz'),
      limit: TRAIN_ROWS,
    },
    {
      split: 'test',
      images: readIdx('t10k-images-idx3-ubyte.gz'),
      labels: readIdx('t10k-labels-idx1-ubyte.gz'),
      limit: TEST_ROWS,
    },
  ];
  let text = `${PIXELS.join(',')},label,split\n`;
  const row = new Array(786);
  for (const { split, images, labels, limit } of parts) {
    row[785] = split;
    for (let r = 0; r < Math.min(limit, images.rows); r++) {
      for (let p = 0; p < 784; p++) row[p] = cells[images.values[r * 784 + p]];
      row[784] = cells[labels.values[r]];
      text += row.join(',') + '\n';
      if (text.length >= CHUNK_BYTES) {
        const chunk = Buffer.from(text, 'latin1');
        text = '';
        yield { chunk };
      }
    }
  }
  yield { chunk: Buffer.from(text, 'latin1') };
}

async function importAndPrepare(clients) {
  const t0 = performance.now();
  const dataset = await clients.preprocessing.importDataset(fashionMnistCsv('fashion-mnist'));
  const prepared = await clients.preprocessing.prepareDataset(
    PrepareDatasetRequest.fromPartial({
      dataset: { name: dataset.name, version: dataset.version },
      target: 'label',
      task: Task.TASK_CLASSIFICATION,
      split: { column: 'split' },
      columns: Object.fromEntries(PIXELS.map((name) => [name, { scale: ScaleMethod.SCALE_METHOD_MIN_MAX }])),
      seed: SEED,
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const rowsOf = (name) => Number(prepared.splits.find((s) => s.name === name)?.rows ?? 0);
  if (rowsOf('train') !== TRAIN_ROWS || rowsOf('test') !== TEST_ROWS)
    throw new Error(`unexpected split sizes: ${JSON.stringify(prepared.splits)}`);
  console.log(
    `import + prepare: ${dataset.rows} rows, train ${rowsOf('train')}, test ${rowsOf('test')} in ${fmt(seconds, 1)} s`,
  );
  return { dataset, prepared, seconds };
}

// ---------------------------------------------------------------------------------------------
// Jobs.

/** Trains `spec` through the training service; resolves the job's accuracy, version and wall time. */
async function train(clients, preparedId, { modelName, spec, config }) {
  const t0 = performance.now();
  const job = await clients.training.submitTrainingJob(
    SubmitTrainingJobRequest.fromPartial({ preparedDatasetId: preparedId, model: spec, config, modelName }),
  );
  for await (const update of clients.training.watchTrainingJob({ id: job.id })) {
    if (update.message.endsWith('done'))
      console.log(
        `  ${modelName} epoch ${update.epoch}: ${JSON.stringify(update.metrics)} ${fmt(update.samplesPerSecond, 0)} samples/s`,
      );
  }
  const done = await clients.training.getTrainingJob({ id: job.id });
  if (done.state !== JobState.JOB_STATE_SUCCEEDED)
    throw new Error(`training job ${job.id} ended ${JobState[done.state]}: ${done.error}`);
  const wallSeconds = (performance.now() - t0) / 1000;
  console.log(
    `  ${modelName}: test accuracy ${fmt(done.metrics.accuracy, 4)}, registered ${done.modelVersion.name}@${done.modelVersion.version} in ${fmt(wallSeconds, 0)} s`,
  );
  return {
    jobId: job.id,
    accuracy: done.metrics.accuracy,
    metrics: done.metrics,
    version: done.modelVersion,
    wallSeconds,
  };
}

/** Submits a compression job, watches it to its end, and returns it with its wall time. */
async function compress(clients, label, request) {
  const t0 = performance.now();
  const submitted = await clients.compression.submitCompressionJob(
    SubmitCompressionJobRequest.fromPartial({ seed: SEED, ...request }),
  );
  for await (const update of clients.compression.watchCompressionJob({ id: submitted.id })) {
    if (update.phase === 'fine-tuning' ? update.message.endsWith('done') : update.phase !== 'queued') {
      console.log(
        `  ${label}: ${update.phase} ${update.message}${update.phase === 'fine-tuning' ? ` ${JSON.stringify(update.metrics)}` : ''}`,
      );
    }
  }
  const job = await clients.compression.getCompressionJob({ id: submitted.id });
  const wallSeconds = (performance.now() - t0) / 1000;
  if (job.state !== JobState.JOB_STATE_SUCCEEDED)
    throw new Error(`compression job ${label} (${job.id}) ended ${JobState[job.state]}: ${job.error}`);
  if (job.attempts > 1) console.log(`  ${label}: WARNING ran ${job.attempts} deliveries`);
  const workerSeconds = (job.finishedAt.getTime() - job.startedAt.getTime()) / 1000;
  console.log(
    `  ${label}: registered ${job.modelVersion.name}@${job.modelVersion.version} in ${fmt(wallSeconds, 1)} s`,
  );
  return { job, wallSeconds, workerSeconds };
}

// ---------------------------------------------------------------------------------------------
// Figures and targets.

const accuracyOf = (m) => m.metrics.accuracy;
const formatSize = (m, format) => m.formats.find((f) => f.format === format) ?? { sizeBytes: NaN, gzippedBytes: NaN };
/** Points of accuracy lost from `before` to `after` (negative: gained). */
const drop = (before, after) => (accuracyOf(before) - accuracyOf(after)) * 100;
const bytes = (n) => (n >= 2 ** 20 ? `${fmt(n / 2 ** 20, 2)} MiB` : `${fmt(n / 2 ** 10, 1)} KiB`);
const times = (x) => `${fmt(x, 2)}×`;
const check = (label, measured, ok) => ({ label, measured, ok, text: `${label}: ${measured} ${ok ? 'PASS' : 'MISS'}` });

/** The figures of one row from its source and result measurements, in the format that matters. */
function figures(before, after, format) {
  const b = formatSize(before, format);
  const a = formatSize(after, format);
  return {
    format,
    rawBefore: b.sizeBytes,
    rawAfter: a.sizeBytes,
    rawRatio: b.sizeBytes / a.sizeBytes,
    gzipBefore: b.gzippedBytes,
    gzipAfter: a.gzippedBytes,
    gzipRatio: b.gzippedBytes / a.gzippedBytes,
    accuracyBefore: accuracyOf(before),
    accuracyAfter: accuracyOf(after),
    dropPoints: drop(before, after),
    b1Before: before.latencyMsBatch1,
    b1After: after.latencyMsBatch1,
    b1Ratio: after.latencyMsBatch1 / before.latencyMsBatch1,
    b256Before: before.latencyMsBatch256,
    b256After: after.latencyMsBatch256,
    b256Ratio: after.latencyMsBatch256 / before.latencyMsBatch256,
    parametersBefore: before.parameters,
    parametersAfter: after.parameters,
    nonzeroBefore: before.nonzeroParameters,
    nonzeroAfter: after.nonzeroParameters,
  };
}

/** The issue's targets, by method key; each takes the row's figures (and extra context). */
const TARGETS = {
  uint8: (f) => [
    check('raw ≥3.9× smaller', times(f.rawRatio), f.rawRatio >= 3.9),
    check('drop ≤0.3 pt', `${fmt(f.dropPoints, 2)} pt`, f.dropPoints <= 0.3),
  ],
  float16: (f) => [
    check('raw ≥1.95× smaller', times(f.rawRatio), f.rawRatio >= 1.95),
    check('drop ≤0.05 pt', `${fmt(f.dropPoints, 2)} pt`, f.dropPoints <= 0.05),
  ],
  int8: (f) => [
    check('onnx raw ≥3.5× smaller', times(f.rawRatio), f.rawRatio >= 3.5),
    check('drop ≤0.5 pt', `${fmt(f.dropPoints, 2)} pt`, f.dropPoints <= 0.5),
    check('b256 ≤0.6× float32', times(f.b256Ratio), f.b256Ratio <= 0.6),
  ],
  prune80: (f) => [
    check('drop ≤1 pt', `${fmt(f.dropPoints, 2)} pt`, f.dropPoints <= 1),
    check('gzip ≥3× smaller', times(f.gzipRatio), f.gzipRatio >= 3),
  ],
  prune90: (f) => [check('drop ≤2 pt', `${fmt(f.dropPoints, 2)} pt`, f.dropPoints <= 2)],
  cluster16: (f) => [
    check('drop ≤1 pt', `${fmt(f.dropPoints, 2)} pt`, f.dropPoints <= 1),
    check('gzip ≥4× smaller', times(f.gzipRatio), f.gzipRatio >= 4),
  ],
  distill: (f, { labelOnlyAccuracy }) => [
    check(
      'params ≤1/10 teacher',
      `1/${fmt(f.parametersBefore / f.parametersAfter, 1)}`,
      f.parametersAfter * 10 <= f.parametersBefore,
    ),
    check('within 2 pt of teacher', `${fmt(f.dropPoints, 2)} pt`, f.dropPoints <= 2),
    check(
      'beats label-only student',
      `${fmt(f.accuracyAfter, 4)} vs ${fmt(labelOnlyAccuracy, 4)}`,
      f.accuracyAfter > labelOnlyAccuracy,
    ),
  ],
  chain: (f) => [
    check('gzip ≥10× smaller than source', times(f.gzipRatio), f.gzipRatio >= 10),
    check('drop ≤1.5 pt', `${fmt(f.dropPoints, 2)} pt`, f.dropPoints <= 1.5),
  ],
};

// ---------------------------------------------------------------------------------------------
// The run.

const backend = await initBackend();
console.log(
  `Fashion-MNIST from ${dataDir}: ${TRAIN_ROWS} train, ${TEST_ROWS} test rows; TF.js backend here ${backend.backend}`,
);
const benchStart = performance.now();
const nats = await startNatsServer();
const registryNc = await connectNats(nats.url, { name: 'bench-registry' });
const registry = await openRegistry(registryNc, { logger });
const registryServer = createGrpcServer({ serviceName: 'registry', logger, metricsAddr: 'off' }).add(
  RegistryServiceService,
  registry.handlers,
);
const registryAddress = `127.0.0.1:${await registryServer.listen('127.0.0.1:0')}`;
const addresses = {
  preprocessing: `127.0.0.1:${await freePort()}`,
  training: `127.0.0.1:${await freePort()}`,
  compression: `127.0.0.1:${await freePort()}`,
  registry: registryAddress,
};
const env = {
  NATS_URL: nats.url,
  LOG_LEVEL: 'info',
  AIMAAS_TF_BACKEND: backend.backend,
  AIMAAS_REGISTRY_ADDR: addresses.registry,
  AIMAAS_PREPROCESSING_ADDR: addresses.preprocessing,
  AIMAAS_TRAINING_ADDR: addresses.training,
  AIMAAS_COMPRESSION_ADDR: addresses.compression,
};
const started = [];
let clients;

let data;
const sources = {};
const rows = [];
let labelOnly;
try {
  for (const name of ['preprocessing', 'training', 'compression']) {
    started.push(
      await startProcess(`services/${name}/dist/main.js`, {
        env,
        ready: (out) => out.includes(`"msg":"${name} serving"`),
      }),
    );
  }
  clients = createClients({ addresses, tls: false, tracing: false });
  data = await importAndPrepare(clients);
  const preparedDatasetId = data.prepared.id;

  for (const kind of MODELS) {
    console.log(`train ${kind}: ${EPOCHS[kind]} epoch(s) through the training service`);
    sources[kind] = await train(clients, preparedDatasetId, {
      modelName: `fashion-mnist-${kind}`,
      spec: SPECS[kind].proto,
      config: {
        optimizer: { name: 'adam', learningRate: 0.001 },
        schedule: { kind: 'cosine', minLearningRate: MIN_LR },
        batchSize: BATCH,
        epochs: EPOCHS[kind],
        seed: SEED,
      },
    });
  }

  /** Runs one row's job and keeps its figures. */
  async function row(kind, method, key, request, format) {
    const label = `${kind} ${method}`;
    console.log(`compress ${label}`);
    const source = request.source ?? sources[kind].version;
    const t0 = performance.now();
    let run;
    try {
      run = await compress(clients, label, { source, ...request });
    } catch (error) {
      // A failed job is a row of its own (reported, never hidden); the rows built on it are skipped.
      console.log(`  ${label}: FAILED ${error.message}`);
      rows.push({ kind, method, key, source, error: error.message, wallSeconds: (performance.now() - t0) / 1000 });
      return undefined;
    }
    const { before, after } = run.job.report;
    const registered = await clients.registry.getModelVersion({ ref: run.job.modelVersion });
    const tags = Object.fromEntries(Object.entries(registered.tags).filter(([k]) => k.startsWith('compression.')));
    const entry = {
      kind,
      method,
      key,
      source,
      version: run.job.modelVersion,
      jobId: run.job.id,
      attempts: run.job.attempts,
      tags,
      wallSeconds: run.wallSeconds,
      workerSeconds: run.workerSeconds,
      report: run.job.report,
      figures: figures(before, after, format),
    };
    rows.push(entry);
    return entry;
  }

  for (const kind of MODELS) {
    const name = (suffix) => `fashion-mnist-${kind}-${suffix}`;
    await row(
      kind,
      'quantize uint8',
      'uint8',
      { quantize: { dtype: 'uint8' }, modelName: name('uint8') },
      'tfjs-layers',
    );
    await row(
      kind,
      'quantize float16',
      'float16',
      { quantize: { dtype: 'float16' }, modelName: name('float16') },
      'tfjs-layers',
    );
    // int8: static activations (the service's default, calibrated on training rows) per tensor and per channel, and dynamic.
    for (const [activations, perChannel] of [
      ['static', false],
      ['static', true],
      ['dynamic', false],
    ]) {
      const form = `${activations}, per ${perChannel ? 'channel' : 'tensor'}`;
      await row(
        kind,
        `quantize int8 (ONNX, ${form})`,
        'int8',
        {
          quantize: { dtype: 'int8', perChannel, activations },
          modelName: name(`int8-${activations}${perChannel ? '-per-channel' : ''}`),
        },
        'onnx',
      );
    }
  }
  if (MODELS.includes('mlp')) {
    // Gradual pruning over every fine-tune epoch but the last, which recovers at the final sparsity.
    // Both scopes: "global" (the default: all kernels' weights ranked together) and "layer" (every kernel at the target, the 128×10 output kernel too).
    const prune = (sparsity, scope) => ({
      targetSparsity: sparsity,
      fineTuneEpochs: PRUNE_EPOCHS,
      pruningSteps: Math.max(0, PRUNE_EPOCHS - 1) * stepsPerEpoch,
      scope,
      config: tuneConfig(5e-4),
    });
    let pruned80;
    for (const scope of ['layer', 'global']) {
      for (const sparsity of [0.8, 0.9]) {
        const percent = Math.round(sparsity * 100);
        const entry = await row(
          'mlp',
          `prune ${percent}% (${scope}), ${PRUNE_EPOCHS} ep`,
          `prune${percent}`,
          { prune: prune(sparsity, scope), modelName: `fashion-mnist-mlp-prune${percent}-${scope}` },
          'tfjs-layers',
        );
        if (sparsity === 0.8 && scope === 'global' && entry) (pruned80 = entry).chainStart = true;
      }
    }
    const cluster = { clusters: 16, fineTuneEpochs: CLUSTER_EPOCHS, init: 'kmeans++', config: tuneConfig(1e-4) };
    await row(
      'mlp',
      `cluster 16, ${CLUSTER_EPOCHS} ep`,
      'cluster16',
      { cluster, modelName: 'fashion-mnist-mlp-cluster16' },
      'tfjs-layers',
    );

    console.log(`train the label-only student: ${DISTILL_EPOCHS} epochs, the distillation config`);
    labelOnly = await train(clients, preparedDatasetId, {
      modelName: 'fashion-mnist-student-labels',
      spec: STUDENT,
      config: STUDENT_CONFIG,
    });
    await row(
      'mlp',
      `distill → 784-28-10, ${DISTILL_EPOCHS} ep`,
      'distill',
      {
        distill: { student: STUDENT, temperature: DISTILL_T, alpha: DISTILL_ALPHA, config: STUDENT_CONFIG },
        modelName: 'fashion-mnist-student-distilled',
      },
      'tfjs-layers',
    );
    // The same student through the same fine-tune loop on the labels alone (α = 0): distillation's own effect.
    await row(
      'mlp',
      `distill α=0 (labels only) → 784-28-10, ${DISTILL_EPOCHS} ep`,
      'distill-labels',
      {
        distill: { student: STUDENT, temperature: DISTILL_T, alpha: 0, config: STUDENT_CONFIG },
        modelName: 'fashion-mnist-student-labels-compression-loop',
      },
      'tfjs-layers',
    );

    // The chain: prune 80% (the global-scope job above) → cluster 16 → quantize uint8.
    const clustered =
      pruned80 &&
      (await row(
        'mlp',
        'chain 2: cluster 16 of prune 80% (global)',
        'chain-cluster',
        { source: pruned80.version, cluster, modelName: 'fashion-mnist-mlp-chain' },
        'tfjs-layers',
      ));
    if (clustered)
      await row(
        'mlp',
        'chain 3: uint8 of chain 2',
        'chain-uint8',
        { source: clustered.version, quantize: { dtype: 'uint8' }, modelName: 'fashion-mnist-mlp-chain' },
        'tfjs-layers',
      );
  }
  if (MODELS.includes('cnn') && CNN_PRUNE_EPOCHS > 0) {
    await row(
      'cnn',
      `prune 80% (layer), ${CNN_PRUNE_EPOCHS} ep`,
      'prune80',
      {
        prune: {
          targetSparsity: 0.8,
          fineTuneEpochs: CNN_PRUNE_EPOCHS,
          pruningSteps: Math.max(0, CNN_PRUNE_EPOCHS - 1) * stepsPerEpoch,
          scope: 'layer',
          config: tuneConfig(5e-4),
        },
        modelName: 'fashion-mnist-cnn-prune80',
      },
      'tfjs-layers',
    );
  }
} finally {
  clients?.close();
  for (const child of started.reverse()) await child.stop();
  await registryServer.shutdown({ graceMs: 500 });
  await registry.close();
  await registryNc.drain();
  await nats.stop();
}
const totalSeconds = (performance.now() - benchStart) / 1000;

// The chain's end-to-end row: the prune-80% job's source against the last step's result.
const chainStart = rows.find((r) => r.chainStart && !r.error);
const chainEnd = rows.find((r) => r.key === 'chain-uint8' && !r.error);
const chainSteps = rows.filter((r) => r === chainStart || r.key.startsWith('chain-'));
const summaryRows = [...rows];
if (chainStart && chainEnd) {
  summaryRows.push({
    kind: 'mlp',
    method: 'chain total: prune 80% (global) → cluster 16 → uint8',
    key: 'chain',
    source: chainStart.source,
    version: chainEnd.version,
    wallSeconds: chainSteps.reduce((s, r) => s + r.wallSeconds, 0),
    workerSeconds: chainSteps.reduce((s, r) => s + r.workerSeconds, 0),
    figures: figures(chainStart.report.before, chainEnd.report.after, 'tfjs-layers'),
  });
}
for (const r of summaryRows) {
  const targets = TARGETS[r.key];
  if (r.error) r.targets = targets ? [check('job', `failed: ${r.error}`, false)] : [];
  else r.targets = targets ? targets(r.figures, { labelOnlyAccuracy: labelOnly?.accuracy }) : [];
}

const lat = (before, after, ratio) => `${fmt(before, 3)} → ${fmt(after, 3)} (${times(ratio)})`;
const mainTable = table(
  [
    'model',
    'method',
    'format',
    'raw before → after',
    'raw ×',
    'gzip before → after',
    'gzip ×',
    'acc before → after',
    'drop pt',
    'ONNX b1 ms',
    'ONNX b256 ms',
    'job s',
    'target',
  ],
  summaryRows.map((r) => {
    const f = r.figures;
    if (r.error)
      return [
        r.kind.toUpperCase(),
        r.method,
        ...Array(9).fill('—'),
        fmt(r.wallSeconds, 1),
        r.targets.map((t) => t.text).join('; ') || `failed: ${r.error}`,
      ];
    return [
      r.kind.toUpperCase(),
      r.method,
      f.format,
      `${bytes(f.rawBefore)} → ${bytes(f.rawAfter)}`,
      times(f.rawRatio),
      `${bytes(f.gzipBefore)} → ${bytes(f.gzipAfter)}`,
      times(f.gzipRatio),
      `${fmt(f.accuracyBefore, 4)} → ${fmt(f.accuracyAfter, 4)}`,
      fmt(f.dropPoints, 2),
      lat(f.b1Before, f.b1After, f.b1Ratio),
      lat(f.b256Before, f.b256After, f.b256Ratio),
      fmt(r.wallSeconds, 1),
      r.targets.length ? r.targets.map((t) => t.text).join('; ') : '—',
    ];
  }),
);
const formatCell = (before, after, format) => {
  const b = formatSize(before, format);
  const a = formatSize(after, format);
  return `${bytes(b.sizeBytes)} → ${bytes(a.sizeBytes)} / gz ${bytes(b.gzippedBytes)} → ${bytes(a.gzippedBytes)}`;
};
const formatTable = table(
  [
    'model',
    'method',
    'tfjs-layers raw / gzip',
    'onnx raw / gzip',
    'parameters',
    'non-zero',
    'registered',
    'deliveries',
    'worker s',
  ],
  rows
    .filter((r) => !r.error)
    .map((r) => {
      const { before, after } = r.report;
      return [
        r.kind.toUpperCase(),
        r.method,
        formatCell(before, after, 'tfjs-layers'),
        formatCell(before, after, 'onnx'),
        `${fmt(before.parameters, 0)} → ${fmt(after.parameters, 0)}`,
        `${fmt(before.nonzeroParameters, 0)} → ${fmt(after.nonzeroParameters, 0)}`,
        `${r.version.name}@${r.version.version}`,
        String(r.attempts),
        fmt(r.workerSeconds, 1),
      ];
    }),
);
const distilled = rows.find((r) => r.key === 'distill' && !r.error);
const labelsLoop = rows.find((r) => r.key === 'distill-labels' && !r.error);
const distillTable =
  distilled && labelOnly
    ? table(
        ['model', 'parameters', 'test accuracy', 'how'],
        [
          [
            'teacher MLP 784-256-128-10',
            fmt(distilled.report.before.parameters, 0),
            fmt(accuracyOf(distilled.report.before), 4),
            `training service, ${EPOCHS.mlp} epochs, cosine LR (ONNX, compression report)`,
          ],
          [
            'student 784-28-10, distilled',
            fmt(distilled.report.after.parameters, 0),
            fmt(accuracyOf(distilled.report.after), 4),
            `compression service, T=${DISTILL_T}, α=${DISTILL_ALPHA}, ${DISTILL_EPOCHS} epochs (ONNX, compression report)`,
          ],
          [
            'student 784-28-10, labels only',
            fmt(distilled.report.after.parameters, 0),
            fmt(labelOnly.accuracy, 4),
            `training service, same config and seed (TF.js, training job's test metrics)`,
          ],
          ...(labelsLoop
            ? [
                [
                  'student 784-28-10, labels only (α=0)',
                  fmt(labelsLoop.report.after.parameters, 0),
                  fmt(accuracyOf(labelsLoop.report.after), 4),
                  'compression service, the distillation loop with α=0 (ONNX, compression report)',
                ],
              ]
            : []),
        ],
      )
    : '';
const misses = summaryRows.flatMap((r) =>
  r.targets.filter((t) => !t.ok).map((t) => `${r.kind.toUpperCase()} ${r.method}: ${t.text}`),
);
const trainedLine = MODELS.map(
  (k) =>
    `${SPECS[k].name} ${EPOCHS[k]} epoch(s), test accuracy ${fmt(sources[k].accuracy, 4)} (${fmt(sources[k].wallSeconds, 0)} s)`,
).join('; ');
const markdown = [
  mainTable,
  '',
  formatTable,
  '',
  distillTable,
  '',
  `Fashion-MNIST: the first ${fmt(TRAIN_ROWS, 0)} training images and ${TEST_ROWS === 10_000 ? 'the canonical 10,000 test images' : `the first ${fmt(TEST_ROWS, 0)} of the canonical test images`}, min-max pixels; ` +
    `sources trained through the training service (batch ${BATCH}, adam 1e-3 cosine to ${MIN_LR}, seed ${SEED}): ${trainedLine}. ` +
    `Every figure is the compression job's own report: sizes are the version's files (raw and gzip level 9) in the format named (onnx for int8, whose tfjs-layers files carry uint8 weights; tfjs-layers otherwise); ` +
    `accuracy on the test split and latency (median ms per call, batch 1 and 256, one intra-op thread) with ONNX Runtime on the version's model.onnx. ` +
    `int8: symmetric int8 weights; static activations calibrated by the service on training rows (QLinearConv/QGemm after ONNX Runtime's fusion) or dynamic (DynamicQuantizeLinear + MatMulInteger/ConvInteger). ` +
    `Prune: magnitude, gradual (polynomial, mask updated 10 times) over all fine-tune epochs but the last, adam 5e-4; scope "global" (the service's default) ranks all kernels' weights together, "layer" puts every kernel at the target (the 128×10 output kernel too). ` +
    `Cluster: k-means++ per kernel, zeros kept, centroids fine-tuned with adam 1e-4. Distill: loss α·T²·KL(teacher ‖ student) + (1 − α)·CE at T=${DISTILL_T}, α=${DISTILL_ALPHA}, adam 1e-3 constant, batch ${BATCH}, seed ${SEED}; the label-only student is the same spec and config through the training service. ` +
    `The chain starts from the prune-80% (global) job's version; its total row compares that job's source with the last step's result. ` +
    `Job s: submit to end seen by the client (measuring both models, fine-tuning, export and registration included). ` +
    `The bench took ${fmt(totalSeconds / 60, 1)} min on ${backend.backend}.`,
  '',
  misses.length ? `Targets missed (${misses.length}):\n${misses.map((m) => `- ${m}`).join('\n')}` : 'Every target met.',
].join('\n');

writeResult(resultFile, {
  title: 'Compression: quantization, pruning, clustering, distillation on Fashion-MNIST, measured by the service',
  markdown,
  data: {
    backend,
    trainRows: TRAIN_ROWS,
    testRows: TEST_ROWS,
    batch: BATCH,
    seed: SEED,
    epochs: {
      ...EPOCHS,
      prune: PRUNE_EPOCHS,
      cnnPrune: CNN_PRUNE_EPOCHS,
      cluster: CLUSTER_EPOCHS,
      distill: DISTILL_EPOCHS,
    },
    totalSeconds,
    importPrepareSeconds: data?.seconds,
    preparedDatasetId: data?.prepared.id,
    sources,
    labelOnlyStudent: labelOnly,
    rows: summaryRows.map(({ report, ...rest }) => ({ ...rest, ...(report && { report }) })),
    misses,
  },
});

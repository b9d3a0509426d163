#!/usr/bin/env node
// Training: Fashion-MNIST (AIMAAS_FASHION_MNIST_DIR, default /work/shared/datasets/fashion-mnist,
// the four IDX .gz files) through the whole mesh, on an MLP 784-256-128-10 and the TensorFlow-
// tutorial CNN (conv5×5×32, pool, conv5×5×64, pool, dense 1024, dropout 0.4).
//
// 1. A nats-server, the registry (in this process), and the preprocessing and training services as
//    processes (`services/<name>/dist/main.js`).
// 2. ImportDataset through the SDK: the IDX files converted on the fly into one CSV stream
//    (px0..px783, label, split; split = train for the first BENCH_TRAIN_ROWS training images,
//    test for the 10,000 test images), sent in 256 KiB chunks as `aimaas datasets import` does.
// 3. PrepareDataset: target label, classification, split { column: "split" } (the canonical
//    split), every pixel min-max scaled (fitted on the training rows; a pixel that is 0 in every
//    training row gets scale 1, not NaN).
// 4. SubmitTrainingJob per model on the prepared dataset id: queue → worker → batches streamed
//    from the preprocessing service with ReadSplit → checkpoints → test scoring → ONNX export →
//    registry.
// 5. For comparison, `model.fit` of the same model in this process, on the same backend, batch
//    size and optimizer, one epoch over the first BENCH_INPROCESS_ROWS prepared training rows.
//    Its features are the prepared ones, read back once through ReadSplit (train subset and the
//    test split). It measures samples/s; its test accuracy after that short run is a sanity check.
// Reports import and prepare seconds, test accuracy, training samples/s and their ratio.
//
// Knobs: BENCH_MODELS=mlp,cnn  BENCH_MLP_EPOCHS=10  BENCH_CNN_EPOCHS=5  BENCH_TRAIN_ROWS=60000
//        BENCH_INPROCESS_ROWS=6000  BENCH_BATCH=64  BENCH_SCHEDULE=cosine|constant
// Run: `npm run bench -- training` (builds first) or `node bench/training.bench.mjs out.json`.
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  DataFormat,
  ImportHeader,
  JobState,
  PrepareDatasetRequest,
  RegistryServiceService,
  ScaleMethod,
  SubmitTrainingJobRequest,
  Task,
} from '../libs/proto/dist/index.js';
import { createGrpcServer } from '../libs/runtime/dist/index.js';
import { buildModel, compileModel, initBackend, oneHotLabels } from '../libs/ml/dist/index.js';
import { createClients } from '../libs/sdk/dist/index.js';
import { connectNats } from '../libs/storage/dist/index.js';
import { createLogger } from '../libs/telemetry/dist/index.js';
import { freePort, startNatsServer } from '../libs/testing/dist/index.js';
import { openRegistry } from '../services/registry/dist/index.js';
import { root, startProcess } from './processes.mjs';
import { fmt, table, writeResult } from './report.mjs';

const resultFile = process.argv[2] ?? join(root, 'bench', 'results', 'training.json');
const dataDir = process.env.AIMAAS_FASHION_MNIST_DIR ?? '/work/shared/datasets/fashion-mnist';
const MODELS = (process.env.BENCH_MODELS ?? 'mlp,cnn').split(',');
const EPOCHS = { mlp: Number(process.env.BENCH_MLP_EPOCHS ?? 10), cnn: Number(process.env.BENCH_CNN_EPOCHS ?? 5) };
/** Adam 1e-3, decayed over the run by this schedule (cosine down to MIN_LR, or constant). */
const SCHEDULE = process.env.BENCH_SCHEDULE ?? 'cosine';
const MIN_LR = 1e-5;
const TRAIN_ROWS = Number(process.env.BENCH_TRAIN_ROWS ?? 60_000);
const INPROCESS_ROWS = Number(process.env.BENCH_INPROCESS_ROWS ?? 6_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 64);
const SEED = 7;
const PIXELS = Array.from({ length: 784 }, (_, i) => `px${i}`);
/** Bytes per ImportDataset chunk message, as the CLI sends them. */
const CHUNK_BYTES = 256 * 1024;
const logger = createLogger('bench', 'silent');

/** The two models, as the proto ModelSpec (service) and the @aimaas/ml spec (in process). */
const SPECS = {
  mlp: {
    name: 'MLP 784-256-128-10',
    proto: { mlp: { hiddenUnits: [256, 128], activation: 'relu', dropout: 0, batchNorm: false }, inputShape: [] },
    ml: { mlp: { hiddenUnits: [256, 128], activation: 'relu' } },
  },
  cnn: {
    name: 'CNN (TF tutorial: conv5×5×32, pool, conv5×5×64, pool, dense 1024, dropout 0.4)',
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
    ml: {
      cnn: {
        convBlocks: [
          { filters: 32, kernelSize: 5, padding: 'same', pool: 'max', poolSize: 2 },
          { filters: 64, kernelSize: 5, padding: 'same', pool: 'max', poolSize: 2 },
        ],
        denseUnits: [1024],
        dropout: 0.4,
        imageShape: [28, 28, 1],
      },
    },
  },
};

/** Reads an IDX file (gzipped): its count and its uint8 values (pixels or labels). */
function readIdx(name) {
  const bytes = gunzipSync(readFileSync(join(dataDir, name)));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = view.getUint8(3);
  return { rows: view.getUint32(4), values: bytes.subarray(4 + 4 * dims) };
}

/**
 * ImportDataset requests: the header, then the IDX images as CSV text (px0..px783, label, split)
 * in CHUNK_BYTES chunks, made as the service takes them. `timing.encodeSeconds` adds up the time
 * spent making them.
 */
async function* fashionMnistCsv(name, timing) {
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
      limit: Infinity,
    },
  ];
  let t0 = performance.now();
  let text = `${PIXELS.join(',')},label,split\n`;
  const row = new Array(786);
  for (const { split, images, labels, limit } of parts) {
    const rows = Math.min(limit, images.rows);
    row[785] = split;
    for (let r = 0; r < rows; r++) {
      for (let p = 0; p < 784; p++) row[p] = cells[images.values[r * 784 + p]];
      row[784] = cells[labels.values[r]];
      text += row.join(',') + '\n';
      if (text.length >= CHUNK_BYTES) {
        const chunk = Buffer.from(text, 'latin1');
        text = '';
        timing.encodeSeconds += (performance.now() - t0) / 1000;
        yield { chunk };
        t0 = performance.now();
      }
    }
  }
  const last = Buffer.from(text, 'latin1');
  timing.encodeSeconds += (performance.now() - t0) / 1000;
  yield { chunk: last };
}

/** Imports the CSV stream and prepares it; returns the dataset, the prepared dataset and timings. */
async function importAndPrepare(clients) {
  const timing = { encodeSeconds: 0, importSeconds: 0, prepareSeconds: 0 };
  const t0 = performance.now();
  const dataset = await clients.preprocessing.importDataset(fashionMnistCsv('fashion-mnist', timing));
  timing.importSeconds = (performance.now() - t0) / 1000;
  console.log(
    `ImportDataset: ${dataset.rows} rows × ${dataset.columns.length} columns, ${fmt(dataset.bytes / 2 ** 20)} MiB in ${fmt(timing.importSeconds, 2)} s`,
  );
  const t1 = performance.now();
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
  timing.prepareSeconds = (performance.now() - t1) / 1000;
  const rowsOf = (name) => prepared.splits.find((s) => s.name === name)?.rows ?? 0;
  console.log(
    `PrepareDataset: ${prepared.featureNames.length} features, train ${rowsOf('train')}, validation ${rowsOf('validation')}, test ${rowsOf('test')} rows in ${fmt(timing.prepareSeconds, 2)} s`,
  );
  if (prepared.featureNames.join() !== PIXELS.join())
    throw new Error(
      `prepared features are not px0..px783 in order: ${prepared.featureNames.slice(0, 5).join(', ')}, …`,
    );
  if (rowsOf('train') !== Math.min(TRAIN_ROWS, 60_000) || rowsOf('test') !== 10_000)
    throw new Error(`unexpected split sizes: ${JSON.stringify(prepared.splits)}`);
  return { dataset, prepared, timing };
}

/** Rows of a prepared split in file order, read through ReadSplit into memory (at most `maxRows`). */
async function readSplit(clients, preparedId, split, maxRows = Infinity) {
  const features = [];
  const labels = [];
  let rows = 0;
  for await (const batch of clients.preprocessing.readSplit({
    preparedDatasetId: preparedId,
    split,
    batchSize: 1024,
    shuffleSeed: 0,
    offset: 0,
  })) {
    const take = Math.min(batch.rows, maxRows - rows);
    features.push(new Float32Array(new Uint8Array(batch.features.raw.subarray(0, take * 784 * 4)).buffer));
    labels.push(new Float32Array(new Uint8Array(batch.labels.raw.subarray(0, take * 4)).buffer));
    rows += take;
    if (rows >= maxRows) break;
  }
  const join = (parts, width) => {
    const out = new Float32Array(rows * width);
    let at = 0;
    for (const part of parts) out.set(part, at), (at += part.length);
    return out;
  };
  return { rows, features: join(features, 784), labels: join(labels, 1) };
}

/** Smallest and largest prepared feature value; throws on NaN or infinity (e.g. a constant pixel scaled by 0). */
function featureRange(arrays) {
  let min = Infinity;
  let max = -Infinity;
  for (const values of arrays) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) throw new Error(`prepared feature ${i % 784} (px${i % 784}) is ${v}`);
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return { min, max };
}

/** Trains one model through the training service; returns accuracy and samples/s. */
async function trainThroughService(clients, preparedId, kind) {
  const started = performance.now();
  const job = await clients.training.submitTrainingJob(
    SubmitTrainingJobRequest.fromPartial({
      preparedDatasetId: preparedId,
      model: SPECS[kind].proto,
      config: {
        optimizer: { name: 'adam', learningRate: 0.001 },
        schedule: { kind: SCHEDULE, minLearningRate: SCHEDULE === 'cosine' ? MIN_LR : 0 },
        batchSize: BATCH,
        epochs: EPOCHS[kind],
        seed: SEED,
      },
      modelName: `fashion-mnist-${kind}`,
    }),
  );
  let lastEpoch;
  for await (const update of clients.training.watchTrainingJob({ id: job.id })) {
    if (update.message.endsWith('done')) {
      lastEpoch = update;
      console.log(
        `  service ${kind} epoch ${update.epoch}: ${JSON.stringify(update.metrics)} ${fmt(update.samplesPerSecond, 0)} samples/s`,
      );
    }
  }
  const done = await clients.training.getTrainingJob({ id: job.id });
  if (done.state !== JobState.JOB_STATE_SUCCEEDED) throw new Error(`job ${job.id} ended ${done.state}: ${done.error}`);
  return {
    accuracy: done.metrics.accuracy,
    samplesPerSecond: lastEpoch.samplesPerSecond,
    wallSeconds: (performance.now() - started) / 1000,
    version: done.modelVersion,
    note: done.error,
  };
}

/** The same model with model.fit in this process, on the same backend: one epoch over `data.train`. */
async function trainInProcess(data, kind) {
  const model = await buildModel(SPECS[kind].ml, {
    inputShape: [784],
    outputSize: 10,
    task: 'classification',
    seed: SEED,
  });
  compileModel(model, { optimizer: 'adam', learningRate: 0.001 }, 'classification');
  const x = tf.tensor2d(data.train.features, [data.train.rows, 784]);
  const y = oneHotLabels(data.train.labels, 10);
  const t0 = performance.now();
  await model.fit(x, y, { batchSize: BATCH, epochs: 1, shuffle: true, verbose: 0 });
  const seconds = (performance.now() - t0) / 1000;
  tf.dispose([x, y]);
  let hits = 0;
  for (let start = 0; start < data.test.rows; start += 1000) {
    const n = Math.min(1000, data.test.rows - start);
    const predicted = tf.tidy(() =>
      model.predict(tf.tensor2d(data.test.features.subarray(start * 784, (start + n) * 784), [n, 784])).argMax(1),
    );
    const values = await predicted.data();
    predicted.dispose();
    for (let i = 0; i < n; i++) if (values[i] === data.test.labels[start + i]) hits++;
  }
  model.dispose();
  return {
    rows: data.train.rows,
    epochs: 1,
    accuracy: hits / data.test.rows,
    samplesPerSecond: data.train.rows / seconds,
    wallSeconds: seconds,
  };
}

const backend = await initBackend();
console.log(
  `Fashion-MNIST from ${dataDir}: ${Math.min(TRAIN_ROWS, 60_000)} train, 10000 test rows; backend ${backend.backend}${backend.simd ? ' (SIMD)' : ''}`,
);
const nats = await startNatsServer();
const registryNc = await connectNats(nats.url, { name: 'bench-registry' });
const registry = await openRegistry(registryNc, { logger });
const registryServer = createGrpcServer({ serviceName: 'registry', logger, metricsAddr: 'off' }).add(
  RegistryServiceService,
  registry.handlers,
);
const registryAddress = `127.0.0.1:${await registryServer.listen('127.0.0.1:0')}`;
const preprocessingAddress = `127.0.0.1:${await freePort()}`;
const trainingAddress = `127.0.0.1:${await freePort()}`;
const started = [];
let clients;

const rows = [];
const results = {};
let data;
try {
  started.push(
    await startProcess('services/preprocessing/dist/main.js', {
      env: { NATS_URL: nats.url, AIMAAS_PREPROCESSING_ADDR: preprocessingAddress, LOG_LEVEL: 'info' },
      ready: (out) => out.includes('"msg":"preprocessing serving"'),
    }),
  );
  started.push(
    await startProcess('services/training/dist/main.js', {
      env: {
        NATS_URL: nats.url,
        AIMAAS_TRAINING_ADDR: trainingAddress,
        AIMAAS_REGISTRY_ADDR: registryAddress,
        AIMAAS_PREPROCESSING_ADDR: preprocessingAddress,
        LOG_LEVEL: 'info',
        AIMAAS_TF_BACKEND: backend.backend,
      },
      ready: (out) => out.includes('"msg":"training serving"'),
    }),
  );
  clients = createClients({
    addresses: { preprocessing: preprocessingAddress, training: trainingAddress },
    tls: false,
    tracing: false,
  });

  data = await importAndPrepare(clients);
  const r0 = performance.now();
  const inProcessData = {
    train: await readSplit(clients, data.prepared.id, 'train', INPROCESS_ROWS),
    test: await readSplit(clients, data.prepared.id, 'test'),
  };
  data.timing.readSeconds = (performance.now() - r0) / 1000;
  data.featureRange = featureRange([inProcessData.train.features, inProcessData.test.features]);
  console.log(
    `ReadSplit for model.fit: ${inProcessData.train.rows} train + ${inProcessData.test.rows} test rows in ${fmt(data.timing.readSeconds, 2)} s; ` +
      `features from ${fmt(data.featureRange.min, 3)} to ${fmt(data.featureRange.max, 3)}`,
  );

  for (const kind of MODELS) {
    console.log(`${kind}: ${EPOCHS[kind]} epoch(s) through the service, batch ${BATCH}`);
    const service = await trainThroughService(clients, data.prepared.id, kind);
    const local = await trainInProcess(inProcessData, kind);
    console.log(
      `  in-process ${kind}: ${local.rows} rows × 1 epoch, ${fmt(local.samplesPerSecond, 0)} samples/s, test accuracy ${fmt(local.accuracy, 4)}`,
    );
    results[kind] = { service, inProcess: local, ratio: service.samplesPerSecond / local.samplesPerSecond };
    rows.push([
      SPECS[kind].name,
      String(EPOCHS[kind]),
      fmt(service.accuracy, 4),
      fmt(local.accuracy, 4),
      fmt(service.samplesPerSecond, 0),
      fmt(local.samplesPerSecond, 0),
      fmt(results[kind].ratio, 3),
      fmt(service.wallSeconds, 0),
    ]);
  }
} finally {
  clients?.close();
  for (const child of started.reverse()) await child.stop();
  await registryServer.shutdown({ graceMs: 500 });
  await registry.close();
  await registryNc.drain();
  await nats.stop();
}

const { dataset, prepared, timing, featureRange: range } = data;
const trainRows = prepared.splits.find((s) => s.name === 'train').rows;
const testRows = prepared.splits.find((s) => s.name === 'test').rows;
const markdown = [
  table(
    ['data step', 'seconds', 'rows/s'],
    [
      [
        `ImportDataset: IDX → CSV stream (${fmt(dataset.rows, 0)} rows × ${dataset.columns.length} columns, ${fmt(dataset.bytes / 2 ** 20)} MiB; ${fmt(timing.encodeSeconds, 1)} s of it making the CSV here)`,
        fmt(timing.importSeconds, 2),
        fmt(dataset.rows / timing.importSeconds, 0),
      ],
      [
        'PrepareDataset: split column, 784 pixels min-max, float32 tensors stored',
        fmt(timing.prepareSeconds, 2),
        fmt(dataset.rows / timing.prepareSeconds, 0),
      ],
    ],
  ),
  '',
  table(
    [
      'model',
      'epochs',
      'test acc (service)',
      `test acc (model.fit, ${fmt(INPROCESS_ROWS, 0)} rows × 1 epoch)`,
      'samples/s (service)',
      'samples/s (model.fit)',
      'service / fit',
      'job wall s',
    ],
    rows,
  ),
  '',
  `${fmt(trainRows, 0)} training and ${fmt(testRows, 0)} test rows (the canonical split, from the split column), batch ${BATCH}, adam 1e-3${SCHEDULE === 'cosine' ? ` with a cosine decay to ${MIN_LR} over the epochs` : ''}, seed ${SEED}, TF.js backend ${backend.backend}${backend.simd ? ' (SIMD, 1 thread)' : ''}. ` +
    `Data: the preprocessing service process (ImportDataset of the IDX files as CSV, PrepareDataset with min-max scaled pixels fitted on the training rows; prepared features from ${fmt(range.min, 3)} to ${fmt(range.max, 3)} in the rows read back); the training service streams it with ReadSplit. ` +
    `Service samples/s: the training loop's wall time in the last epoch (ReadSplit streaming and decoding included, validation and export not); ` +
    `model.fit: one epoch over the first ${fmt(INPROCESS_ROWS, 0)} prepared training rows (read once through ReadSplit) / fit time, same model, batch and optimizer; its test accuracy after that short run is only a sanity check. ` +
    `Job wall time includes loading, test scoring, ONNX export and registration.`,
].join('\n');
writeResult(resultFile, {
  title: 'Training: Fashion-MNIST through preprocessing and training services vs in-process model.fit',
  markdown,
  data: {
    backend,
    epochs: EPOCHS,
    schedule: SCHEDULE,
    batch: BATCH,
    trainRows,
    testRows,
    inProcessRows: INPROCESS_ROWS,
    dataset: {
      rows: dataset.rows,
      columns: dataset.columns.length,
      bytes: dataset.bytes,
      preparedId: prepared.id,
      features: prepared.featureNames.length,
    },
    timing,
    featureRange: range,
    results,
  },
});

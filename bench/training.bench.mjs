#!/usr/bin/env node
// Training: Fashion-MNIST (AIMAAS_FASHION_MNIST_DIR, default /work/shared/datasets/fashion-mnist,
// the four IDX .gz files) on an MLP 784-256-128-10 and the TF-tutorial CNN (Conv32-Pool-Conv64-
// Pool-Conv64-Dense64-Dense10), each trained THROUGH THE SERVICE (a `services/training/dist/main.js`
// process: SubmitTrainingJob → queue → worker → batches streamed with ReadSplit → checkpoints →
// ONNX export → registry) and, in this process, with `model.fit` of the same model on the same
// backend. Reports test accuracy, training samples/s and their ratio.
//
// The data reaches the service through PreprocessingService.ReadSplit, served here by a minimal
// ReadSplit server in this process over the canonical splits (pixels / 255, no pipeline): when
// this was written services/preprocessing could not yet prepare the IDX data as a dataset.
//
// Knobs: BENCH_MODELS=mlp,cnn  BENCH_MLP_EPOCHS=5  BENCH_CNN_EPOCHS=1  BENCH_TRAIN_ROWS=60000
//        BENCH_BATCH=64
// Run: `npm run bench -- training` (builds first) or `node bench/training.bench.mjs out.json`.
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { JobState, PreprocessingServiceService, RegistryServiceService, SubmitTrainingJobRequest, Task } from '../libs/proto/dist/index.js';
import { createGrpcServer } from '../libs/runtime/dist/index.js';
import { buildModel, compileModel, initBackend, oneHotLabels } from '../libs/ml/dist/index.js';
import { createClients } from '../libs/sdk/dist/index.js';
import { connectNats } from '../libs/storage/dist/index.js';
import { createLogger } from '../libs/telemetry/dist/index.js';
import { freePort, startNatsServer, waitFor } from '../libs/testing/dist/index.js';
import { openRegistry } from '../services/registry/dist/index.js';
import { root, startProcess } from './processes.mjs';
import { fmt, table, writeResult } from './report.mjs';

const resultFile = process.argv[2] ?? join(root, 'bench', 'results', 'training.json');
const dataDir = process.env.AIMAAS_FASHION_MNIST_DIR ?? '/work/shared/datasets/fashion-mnist';
const MODELS = (process.env.BENCH_MODELS ?? 'mlp,cnn').split(',');
const EPOCHS = { mlp: Number(process.env.BENCH_MLP_EPOCHS ?? 5), cnn: Number(process.env.BENCH_CNN_EPOCHS ?? 1) };
const TRAIN_ROWS = Number(process.env.BENCH_TRAIN_ROWS ?? 60_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 64);
const SEED = 7;
const logger = createLogger('bench', 'silent');

/** The two models, as the proto ModelSpec (service) and the @aimaas/ml spec (in process). */
const SPECS = {
  mlp: {
    proto: { mlp: { hiddenUnits: [256, 128], activation: 'relu', dropout: 0, batchNorm: false }, inputShape: [] },
    ml: { mlp: { hiddenUnits: [256, 128], activation: 'relu' } },
  },
  cnn: {
    proto: {
      cnn: {
        convBlocks: [
          { filters: 32, kernelSize: 3, strides: 1, pool: 'max', poolSize: 2, activation: 'relu', padding: 'valid' },
          { filters: 64, kernelSize: 3, strides: 1, pool: 'max', poolSize: 2, activation: 'relu', padding: 'valid' },
          { filters: 64, kernelSize: 3, strides: 1, pool: 'none', poolSize: 0, activation: 'relu', padding: 'valid' },
        ],
        denseUnits: [64],
        dropout: 0,
      },
      inputShape: [28, 28, 1],
    },
    ml: {
      cnn: {
        convBlocks: [
          { filters: 32, kernelSize: 3, padding: 'valid' },
          { filters: 64, kernelSize: 3, padding: 'valid' },
          { filters: 64, kernelSize: 3, padding: 'valid', pool: 'none' },
        ],
        denseUnits: [64],
        imageShape: [28, 28, 1],
      },
    },
  },
};

/** Reads an IDX file (gzipped): images as float32 pixels / 255, or labels as float32 indices. */
function readIdx(name) {
  const bytes = gunzipSync(readFileSync(join(dataDir, name)));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = view.getUint8(3);
  const shape = Array.from({ length: dims }, (_, i) => view.getUint32(4 + 4 * i));
  const data = bytes.subarray(4 + 4 * dims);
  const out = new Float32Array(data.length);
  const scale = dims === 1 ? 1 : 1 / 255;
  for (let i = 0; i < data.length; i++) out[i] = data[i] * scale;
  return { rows: shape[0], features: out };
}

function loadFashionMnist() {
  const trainX = readIdx('train-images-idx3-ubyte.gz');
  const trainY = readIdx('train-labels-idx1-ubyte.gz');
  const testX = readIdx('t10k-images-idx3-ubyte.gz');
  const testY = readIdx('t10k-labels-idx1-ubyte.gz');
  const rows = Math.min(TRAIN_ROWS, trainX.rows);
  return {
    train: { rows, features: trainX.features.subarray(0, rows * 784), labels: trainY.features.subarray(0, rows) },
    test: { rows: testX.rows, features: testX.features, labels: testY.features },
  };
}

/** A ReadSplit server over in-memory splits (shuffled per request with a seeded PRNG). */
async function startReadSplitServer(splits) {
  const prepared = {
    id: 'fashion-mnist', dataset: { name: 'fashion-mnist', version: 1 }, target: 'label', task: Task.TASK_CLASSIFICATION,
    featureNames: Array.from({ length: 784 }, (_, i) => `px${i}`), featureShape: [784],
    classLabels: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
    splits: Object.entries(splits).map(([name, s]) => ({ name, rows: s.rows, classCounts: {} })),
    pipelineJson: '', createdAt: new Date(), seed: SEED, folds: 0,
  };
  const server = createGrpcServer({ serviceName: 'preprocessing', logger, metricsAddr: 'off', shutdownGraceMs: 500 });
  server.add(PreprocessingServiceService, {
    async getPreparedDataset() {
      return prepared;
    },
    async *readSplit(request) {
      const split = splits[request.split];
      const order = Uint32Array.from({ length: split.rows }, (_, i) => i);
      let state = request.shuffleSeed >>> 0;
      for (let i = order.length - 1; request.shuffleSeed !== 0 && i > 0; i--) {
        state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
        const j = state % (i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      const batch = request.batchSize || 1024;
      for (let start = 0; start < split.rows; start += batch) {
        const n = Math.min(batch, split.rows - start);
        const features = new Float32Array(n * 784);
        const labels = new Float32Array(n);
        for (let k = 0; k < n; k++) {
          features.set(split.features.subarray(order[start + k] * 784, (order[start + k] + 1) * 784), k * 784);
          labels[k] = split.labels[order[start + k]];
        }
        yield {
          offset: start, rows: n,
          features: { name: 'features', datatype: 'FP32', shape: [n, 784], raw: Buffer.from(features.buffer) },
          labels: { name: 'labels', datatype: 'FP32', shape: [n], raw: Buffer.from(labels.buffer) },
        };
      }
    },
  });
  const port = await server.listen('127.0.0.1:0');
  return { address: `127.0.0.1:${port}`, preparedId: prepared.id, source: 'a ReadSplit server in the benchmark process (canonical splits, pixels / 255)', stop: () => server.shutdown({ graceMs: 500 }) };
}

/** Trains one model through the training service; returns accuracy and samples/s. */
async function trainThroughService(clients, preparedId, kind) {
  const started = performance.now();
  const job = await clients.training.submitTrainingJob(
    SubmitTrainingJobRequest.fromPartial({
      preparedDatasetId: preparedId,
      model: SPECS[kind].proto,
      config: { optimizer: { name: 'adam', learningRate: 0.001 }, batchSize: BATCH, epochs: EPOCHS[kind], seed: SEED },
      modelName: `fashion-mnist-${kind}`,
    }),
  );
  let lastEpoch;
  for await (const update of clients.training.watchTrainingJob({ id: job.id })) {
    if (update.message.endsWith('done')) {
      lastEpoch = update;
      console.log(`  service ${kind} epoch ${update.epoch}: ${JSON.stringify(update.metrics)} ${fmt(update.samplesPerSecond, 0)} samples/s`);
    }
  }
  const done = await clients.training.getTrainingJob({ id: job.id });
  if (done.state !== JobState.JOB_STATE_SUCCEEDED) throw new Error(`job ${job.id} ended ${done.state}: ${done.error}`);
  return { accuracy: done.metrics.accuracy, samplesPerSecond: lastEpoch.samplesPerSecond, wallSeconds: (performance.now() - started) / 1000, version: done.modelVersion, note: done.error };
}

/** The same model with model.fit in this process, on the same backend. */
async function trainInProcess(data, kind) {
  const model = await buildModel(SPECS[kind].ml, { inputShape: [784], outputSize: 10, task: 'classification', seed: SEED });
  compileModel(model, { optimizer: 'adam', learningRate: 0.001 }, 'classification');
  const x = tf.tensor2d(data.train.features, [data.train.rows, 784]);
  const y = oneHotLabels(data.train.labels, 10);
  const t0 = performance.now();
  await model.fit(x, y, { batchSize: BATCH, epochs: EPOCHS[kind], shuffle: true, verbose: 0 });
  const seconds = (performance.now() - t0) / 1000;
  tf.dispose([x, y]);
  let hits = 0;
  for (let start = 0; start < data.test.rows; start += 1000) {
    const n = Math.min(1000, data.test.rows - start);
    const predicted = tf.tidy(() => (model.predict(tf.tensor2d(data.test.features.subarray(start * 784, (start + n) * 784), [n, 784]))).argMax(1));
    const values = await predicted.data();
    predicted.dispose();
    for (let i = 0; i < n; i++) if (values[i] === data.test.labels[start + i]) hits++;
  }
  model.dispose();
  return { accuracy: hits / data.test.rows, samplesPerSecond: (data.train.rows * EPOCHS[kind]) / seconds, wallSeconds: seconds };
}

const backend = await initBackend();
const data = loadFashionMnist();
console.log(`Fashion-MNIST: ${data.train.rows} train, ${data.test.rows} test rows; backend ${backend.backend}${backend.simd ? ' (SIMD)' : ''}`);
const nats = await startNatsServer();
const registryNc = await connectNats(nats.url, { name: 'bench-registry' });
const registry = await openRegistry(registryNc, { logger });
const registryServer = createGrpcServer({ serviceName: 'registry', logger, metricsAddr: 'off' }).add(RegistryServiceService, registry.handlers);
const registryAddress = `127.0.0.1:${await registryServer.listen('127.0.0.1:0')}`;
const preprocessing = await startReadSplitServer(data);
const trainingAddress = `127.0.0.1:${await freePort()}`;
const training = await startProcess('services/training/dist/main.js', {
  env: {
    NATS_URL: nats.url, AIMAAS_TRAINING_ADDR: trainingAddress, AIMAAS_REGISTRY_ADDR: registryAddress,
    AIMAAS_PREPROCESSING_ADDR: preprocessing.address, LOG_LEVEL: 'info', AIMAAS_TF_BACKEND: backend.backend,
  },
  ready: (out) => out.includes('"msg":"training serving"'),
});
const clients = createClients({ addresses: { training: trainingAddress }, tls: false, tracing: false });

const rows = [];
const results = {};
try {
  for (const kind of MODELS) {
    console.log(`${kind}: ${EPOCHS[kind]} epoch(s), batch ${BATCH}`);
    const service = await trainThroughService(clients, preprocessing.preparedId, kind);
    const local = await trainInProcess(data, kind);
    console.log(`  in-process ${kind}: accuracy ${fmt(local.accuracy, 4)}, ${fmt(local.samplesPerSecond, 0)} samples/s`);
    results[kind] = { service, inProcess: local, ratio: service.samplesPerSecond / local.samplesPerSecond };
    const name = kind === 'mlp' ? 'MLP 784-256-128-10' : 'CNN (TF tutorial: 3×Conv, Dense 64)';
    rows.push([name, String(EPOCHS[kind]), fmt(service.accuracy, 4), fmt(local.accuracy, 4), fmt(service.samplesPerSecond, 0), fmt(local.samplesPerSecond, 0), fmt(results[kind].ratio, 3), fmt(service.wallSeconds, 0)]);
  }
} finally {
  clients.close();
  await training.stop();
  await preprocessing.stop();
  await registryServer.shutdown({ graceMs: 500 });
  await registry.close();
  await registryNc.drain();
  await nats.stop();
}

const markdown = [
  table(['model', 'epochs', 'test acc (service)', 'test acc (model.fit)', 'samples/s (service)', 'samples/s (model.fit)', 'service / fit', 'job wall s'], rows),
  '',
  `${data.train.rows} training rows, batch ${BATCH}, adam 1e-3, seed ${SEED}, TF.js backend ${backend.backend}${backend.simd ? ' (SIMD, 1 thread)' : ''}. ` +
    `Service samples/s: the training loop's wall time (ReadSplit streaming and decoding included, validation and export not); ` +
    `model.fit: rows × epochs / fit time. Data source: ${preprocessing.source}. Job wall time includes loading, test scoring, ONNX export and registration.`,
].join('\n');
writeResult(resultFile, { title: 'Training: Fashion-MNIST through the service vs in-process model.fit', markdown, data: { backend, epochs: EPOCHS, batch: BATCH, trainRows: data.train.rows, results } });

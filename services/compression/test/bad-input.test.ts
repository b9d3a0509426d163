/**
 * Every bad SubmitCompressionJob the issue lists, and the limits, through real gRPC: each is
 * answered with the status and a message naming the field, and nothing is stored, queued or
 * announced.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribeEvents, type EventSubscription } from '@aimaas/events';
import type { SubmitCompressionJobRequest } from '@aimaas/proto';
import { uploadModelVersion } from '@aimaas/sdk';
import { connectNats, type NatsConnection } from '@aimaas/storage';
import { downloadVersionFiles } from '../src/compression-runner.js';
import { failure, startCompressionMesh, trainSource, type CompressionMesh } from './support/harness.js';

let mesh: CompressionMesh;
let iris: { name: string; version: number; preparedDatasetId: string };
let digitsPrepared: string;
let nc: NatsConnection;
let subscription: EventSubscription;
let announced = 0;

const tuning = {
  optimizer: { name: 'adam', learningRate: 0.01, momentum: 0, nesterov: false },
  schedule: undefined,
  batchSize: 16,
  epochs: 5,
  seed: 1,
  earlyStopping: undefined,
  validationSplit: 0,
  workers: 0,
};

beforeAll(async () => {
  mesh = await startCompressionMesh();
  iris = await trainSource(mesh, 'iris.csv', { name: 'iris', target: 'species', epochs: 5, split: [0.6, 0.2, 0.2] });
  // A regression model (wine's alcohol), and a version registered with no lineage at all.
  await trainSource(mesh, 'wine.csv', { name: 'alcohol', target: 'alcohol', task: 'regression', epochs: 3 });
  digitsPrepared = (
    await mesh.base.preprocessing.prepareCsv((await import('@aimaas/testing')).fixturePath('digits.csv'), {
      id: 'digits-p',
      name: 'digits',
      target: 'digit',
      seed: 7,
      task: 'classification',
    })
  ).id;
  const files = await downloadVersionFiles(
    mesh.clients.registry,
    { name: 'iris', version: iris.version },
    new AbortController().signal,
  );
  const source = await mesh.clients.registry.getModelVersion({ ref: { name: 'iris', version: iris.version } });
  await uploadModelVersion(
    mesh.clients.registry,
    {
      name: 'orphan',
      task: source.task,
      classLabels: source.classLabels,
      signature: source.signature,
      createModel: true,
    },
    files.map((f) => ({ path: f.path, format: f.format, source: f.bytes })),
  );
  nc = await connectNats(mesh.base.nats.url, { name: 'bad-input-events' });
  subscription = await subscribeEvents({ nc, types: ['compression.job.*'], handler: () => void announced++ });
}, 300_000);

afterAll(async () => {
  await subscription?.stop();
  await nc?.drain();
  await mesh?.close();
});

const source = () => ({ name: 'iris', version: iris.version });
const mlp = (hiddenUnits: number[]) => ({
  mlp: { hiddenUnits, activation: 'relu', dropout: 0, batchNorm: false },
  inputShape: [],
});

/** A student whose last layer has 5 units where iris has 3 classes. */
function fiveClassStudent(): string {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }),
      tf.layers.dense({ units: 5, activation: 'softmax' }),
    ],
  });
  const json = JSON.stringify(model.toJSON(null, false));
  model.dispose();
  return json;
}

const cases: Array<[string, () => Partial<SubmitCompressionJobRequest>, string, string | RegExp]> = [
  [
    'no method',
    () => ({ source: source() }),
    'INVALID_ARGUMENT',
    'method: set exactly one of quantize, prune, distill, cluster',
  ],
  [
    'two methods',
    () => ({
      source: source(),
      quantize: { dtype: 'uint8', perChannel: false, activations: '' },
      cluster: { clusters: 4, fineTuneEpochs: 0, init: '', config: undefined },
    }),
    'INVALID_ARGUMENT',
    /^method: /,
  ],
  [
    'an unknown dtype',
    () => ({ source: source(), quantize: { dtype: 'int4', perChannel: false, activations: '' } }),
    'INVALID_ARGUMENT',
    'quantize.dtype: must be one of float16, uint8, uint16, int8, got "int4"',
  ],
  [
    'per channel on a TF.js dtype',
    () => ({ source: source(), quantize: { dtype: 'uint8', perChannel: true, activations: '' } }),
    'INVALID_ARGUMENT',
    /^quantize\.per_channel: /,
  ],
  [
    'an unknown activations form',
    () => ({ source: source(), quantize: { dtype: 'int8', perChannel: true, activations: 'weird' } }),
    'INVALID_ARGUMENT',
    'quantize.activations: must be "static" or "dynamic", got "weird"',
  ],
  [
    'activations on a TF.js dtype',
    () => ({ source: source(), quantize: { dtype: 'float16', perChannel: false, activations: 'static' } }),
    'INVALID_ARGUMENT',
    /^quantize\.activations: applies to int8 only/,
  ],
  [
    'static int8 with fewer than 100 training rows to calibrate on',
    () => ({ source: source(), quantize: { dtype: 'int8', perChannel: true, activations: 'static' } }),
    'INVALID_ARGUMENT',
    /^quantize\.activations: static int8 calibrates on at least 100 training rows; prepared dataset \S+ has 90 \(use "dynamic"\)$/,
  ],
  [
    'no source',
    () => ({ quantize: { dtype: 'uint8', perChannel: false, activations: '' } }),
    'INVALID_ARGUMENT',
    /^source\.name: required/,
  ],
  [
    'an unknown source',
    () => ({ source: { name: 'nope' }, quantize: { dtype: 'uint8', perChannel: false, activations: '' } }),
    'NOT_FOUND',
    /^source: .*nope/,
  ],
  [
    'an unknown source version',
    () => ({ source: { name: 'iris', version: 99 }, quantize: { dtype: 'uint8', perChannel: false, activations: '' } }),
    'NOT_FOUND',
    /^source: /,
  ],
  [
    'a source name that is not a name',
    () => ({ source: { name: 'a b/../c' }, quantize: { dtype: 'uint8', perChannel: false, activations: '' } }),
    'INVALID_ARGUMENT',
    /^source\.name: /,
  ],
  [
    'a source with no dataset lineage and no prepared_dataset_id',
    () => ({ source: { name: 'orphan' }, quantize: { dtype: 'uint8', perChannel: false, activations: '' } }),
    'INVALID_ARGUMENT',
    /^prepared_dataset_id: orphan@1 has no dataset lineage/,
  ],
  [
    'an unknown prepared dataset',
    () => ({
      source: source(),
      preparedDatasetId: 'no-such',
      quantize: { dtype: 'uint8', perChannel: false, activations: '' },
    }),
    'INVALID_ARGUMENT',
    'prepared_dataset_id: prepared dataset "no-such" not found',
  ],
  [
    'a prepared dataset that does not fit the model',
    () => ({
      source: source(),
      preparedDatasetId: digitsPrepared,
      quantize: { dtype: 'uint8', perChannel: false, activations: '' },
    }),
    'INVALID_ARGUMENT',
    /^prepared_dataset_id: prepared dataset \S+ has 64 features per row but iris@1 takes 4$/,
  ],
  [
    'sparsity 1',
    () => ({
      source: source(),
      prune: { targetSparsity: 1, fineTuneEpochs: 0, pruningSteps: 0, scope: '', config: undefined },
    }),
    'INVALID_ARGUMENT',
    'prune.target_sparsity: must be in [0, 1), got 1',
  ],
  [
    'a negative sparsity',
    () => ({
      source: source(),
      prune: { targetSparsity: -0.1, fineTuneEpochs: 0, pruningSteps: 0, scope: '', config: undefined },
    }),
    'INVALID_ARGUMENT',
    /^prune\.target_sparsity: /,
  ],
  [
    'a NaN sparsity',
    () => ({
      source: source(),
      prune: { targetSparsity: Number.NaN, fineTuneEpochs: 0, pruningSteps: 0, scope: '', config: undefined },
    }),
    'INVALID_ARGUMENT',
    /^prune\.target_sparsity: /,
  ],
  [
    'an unknown pruning scope',
    () => ({
      source: source(),
      prune: { targetSparsity: 0.5, fineTuneEpochs: 0, pruningSteps: 0, scope: 'row', config: undefined },
    }),
    'INVALID_ARGUMENT',
    /^prune\.scope: /,
  ],
  [
    'gradual pruning without a fine-tune',
    () => ({
      source: source(),
      prune: { targetSparsity: 0.5, fineTuneEpochs: 0, pruningSteps: 10, scope: '', config: undefined },
    }),
    'INVALID_ARGUMENT',
    /^prune\.pruning_steps: /,
  ],
  [
    'too many fine-tune epochs',
    () => ({
      source: source(),
      prune: { targetSparsity: 0.5, fineTuneEpochs: 1_000_000, pruningSteps: 0, scope: '', config: undefined },
    }),
    'RESOURCE_EXHAUSTED',
    /^prune\.fine_tune_epochs: at most 1000/,
  ],
  [
    'a fine-tune batch size below zero',
    () => ({
      source: source(),
      prune: {
        targetSparsity: 0.5,
        fineTuneEpochs: 1,
        pruningSteps: 0,
        scope: '',
        config: { ...tuning, batchSize: -5 },
      },
    }),
    'INVALID_ARGUMENT',
    /^prune\.config\.batch_size: must be in 1\.\./,
  ],
  [
    'an unknown fine-tune optimizer',
    () => ({
      source: source(),
      cluster: {
        clusters: 4,
        fineTuneEpochs: 1,
        init: '',
        config: { ...tuning, optimizer: { ...tuning.optimizer, name: 'lion' } },
      },
    }),
    'INVALID_ARGUMENT',
    /^cluster\.config\.optimizer\.name: must be one of /,
  ],
  [
    'a student too big to build',
    () => ({
      source: source(),
      distill: { student: mlp([60_000, 60_000]), temperature: 2, alpha: 0.5, config: tuning },
    }),
    'RESOURCE_EXHAUSTED',
    /^distill\.student: up to \d+ parameters; at most 50000000 \(AIMAAS_TRAINING_MAX_PARAMETERS\)$/,
  ],
  [
    'one cluster',
    () => ({ source: source(), cluster: { clusters: 1, fineTuneEpochs: 0, init: '', config: undefined } }),
    'INVALID_ARGUMENT',
    'cluster.clusters: must be an integer of at least 2, got 1',
  ],
  [
    'too many clusters',
    () => ({ source: source(), cluster: { clusters: 1 << 20, fineTuneEpochs: 0, init: '', config: undefined } }),
    'RESOURCE_EXHAUSTED',
    /^cluster\.clusters: at most/,
  ],
  [
    'an unknown cluster init',
    () => ({ source: source(), cluster: { clusters: 4, fineTuneEpochs: 0, init: 'random', config: undefined } }),
    'INVALID_ARGUMENT',
    /^cluster\.init: /,
  ],
  [
    'T = 0',
    () => ({ source: source(), distill: { student: mlp([4]), temperature: 0, alpha: 0.5, config: tuning } }),
    'INVALID_ARGUMENT',
    'distill.temperature: must be greater than 0, got 0',
  ],
  [
    'T < 0',
    () => ({ source: source(), distill: { student: mlp([4]), temperature: -1, alpha: 0.5, config: tuning } }),
    'INVALID_ARGUMENT',
    /^distill\.temperature: /,
  ],
  [
    'α > 1',
    () => ({ source: source(), distill: { student: mlp([4]), temperature: 2, alpha: 1.5, config: tuning } }),
    'INVALID_ARGUMENT',
    'distill.alpha: must be in [0, 1], got 1.5',
  ],
  [
    'α < 0',
    () => ({ source: source(), distill: { student: mlp([4]), temperature: 2, alpha: -0.5, config: tuning } }),
    'INVALID_ARGUMENT',
    /^distill\.alpha: /,
  ],
  [
    'no student',
    () => ({ source: source(), distill: { student: undefined, temperature: 2, alpha: 0.5, config: tuning } }),
    'INVALID_ARGUMENT',
    /^distill\.student: required/,
  ],
  [
    'no distillation epochs',
    () => ({
      source: source(),
      distill: { student: mlp([4]), temperature: 2, alpha: 0.5, config: { ...tuning, epochs: 0 } },
    }),
    'INVALID_ARGUMENT',
    /^distill\.config\.epochs: /,
  ],
  [
    'a student that does not build',
    () => ({ source: source(), distill: { student: mlp([0]), temperature: 2, alpha: 0.5, config: tuning } }),
    'INVALID_ARGUMENT',
    /^distill\.student/,
  ],
  [
    "a student whose output shape differs from the teacher's",
    () => ({
      source: source(),
      distill: {
        student: { layersJson: fiveClassStudent(), inputShape: [] },
        temperature: 2,
        alpha: 0.5,
        config: tuning,
      },
    }),
    'INVALID_ARGUMENT',
    /^distill\.student: layersJson output shape \[5\] must be \[3\]/,
  ],
  [
    'distilling a regression model',
    () => ({ source: { name: 'alcohol' }, distill: { student: mlp([4]), temperature: 2, alpha: 0.5, config: tuning } }),
    'INVALID_ARGUMENT',
    /^distill: distillation needs a classifier; alcohol@1 is not one$/,
  ],
  [
    'a model_name that is not a name',
    () => ({ source: source(), quantize: { dtype: 'uint8', perChannel: false, activations: '' }, modelName: '../etc' }),
    'INVALID_ARGUMENT',
    /^model_name: /,
  ],
  [
    'a model_name over the limit',
    () => ({
      source: source(),
      quantize: { dtype: 'uint8', perChannel: false, activations: '' },
      modelName: 'm'.repeat(10_000),
    }),
    'RESOURCE_EXHAUSTED',
    'model_name: at most 128 characters, got 10000',
  ],
  [
    'a request_id over the limit',
    () => ({
      source: source(),
      quantize: { dtype: 'uint8', perChannel: false, activations: '' },
      requestId: 'r'.repeat(100_000),
    }),
    'RESOURCE_EXHAUSTED',
    /^request_id: at most 256 characters/,
  ],
];

describe('SubmitCompressionJob refuses', () => {
  it.each(cases)('%s', async (_, request, code, message) => {
    const error = await failure(mesh.clients.compression.submitCompressionJob(request()));
    expect(error.code).toBe(code);
    if (typeof message === 'string') expect(error.details).toBe(message);
    else expect(error.details).toMatch(message);
    // An error quotes at most ~200 characters of any input.
    expect(error.details.length).toBeLessThan(400);
  });

  it('and nothing was stored, queued or announced', async () => {
    expect((await mesh.clients.compression.listCompressionJobs({})).jobs).toEqual([]);
    const jsm = await jetstreamManager(nc);
    const queued = await jsm.streams.info('AIMAAS_JOBS_COMPRESSION');
    expect(queued.state.messages).toBe(0);
    expect(announced).toBe(0);
    for (const name of ['iris', 'alcohol', 'orphan']) {
      const versions = await mesh.clients.registry.searchModelVersions({ filter: `name = "${name}"`, pageSize: 10 });
      expect(versions.versions.length).toBe(1);
    }
  });
});

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SubmitTrainingJobRequest } from '@aimaas/proto';
import { AimaasError } from '@aimaas/sdk';
import { fixturePath } from '@aimaas/testing';
import { startMesh, type Mesh } from './support/harness.js';
import { irisJob } from './support/helpers.js';

// Read when the limits load, before the imports above run: a budget a 36M-parameter MLP passes.
vi.hoisted(() => {
  process.env.AIMAAS_TRAINING_MEMORY_MB = '1024';
});

describe('SubmitTrainingJob validation', () => {
  let mesh: Mesh;
  /** The prepared iris id; the cases below say 'iris-v' for it. */
  let iris: string;
  const base = irisJob('iris-v');
  const config = base.config!;

  beforeAll(async () => {
    mesh = await startMesh();
    iris = (
      await mesh.preprocessing.prepareCsv(fixturePath('iris.csv'), { id: 'iris-v', name: 'iris', target: 'species' })
    ).id;
  });
  afterAll(() => mesh?.close());

  async function rejection(request: Partial<SubmitTrainingJobRequest>): Promise<AimaasError> {
    const preparedDatasetId = request.preparedDatasetId === 'iris-v' ? iris : request.preparedDatasetId;
    const error = await mesh.clients.training
      .submitTrainingJob({ ...request, ...(preparedDatasetId !== undefined && { preparedDatasetId }) })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(AimaasError);
    return error as AimaasError;
  }

  const cases: Array<[string, Partial<SubmitTrainingJobRequest>, string]> = [
    [
      'an unknown prepared dataset',
      { ...base, preparedDatasetId: 'no-such-dataset' },
      'prepared_dataset_id: prepared dataset "no-such-dataset" not found',
    ],
    ['no prepared dataset', { ...base, preparedDatasetId: '' }, 'prepared_dataset_id: required'],
    ['no model', { ...base, model: undefined }, 'model: required'],
    [
      'an input shape that does not hold the features',
      { ...base, model: { ...base.model!, inputShape: [2, 3] } },
      'model.input_shape: [2, 3] holds 6 values, but prepared dataset "iris-v" has 4 features per example',
    ],
    ['zero epochs', { ...base, config: { ...config, epochs: 0 } }, 'config.epochs: must be a positive integer, got 0'],
    [
      'negative epochs',
      { ...base, config: { ...config, epochs: -3 } },
      'config.epochs: must be a positive integer, got -3',
    ],
    [
      'a negative learning rate',
      { ...base, config: { ...config, optimizer: { ...config.optimizer!, learningRate: -1 } } },
      'config.optimizer.learning_rate: must be a positive number, got -1',
    ],
    [
      'a learning rate that is not a number',
      { ...base, config: { ...config, optimizer: { ...config.optimizer!, learningRate: Number.NaN } } },
      'config.optimizer.learning_rate: must be a positive number, got NaN',
    ],
    [
      'an infinite learning rate',
      { ...base, config: { ...config, optimizer: { ...config.optimizer!, learningRate: Number.POSITIVE_INFINITY } } },
      'config.optimizer.learning_rate: must be a positive number, got Infinity',
    ],
    [
      'an unknown optimizer',
      { ...base, config: { ...config, optimizer: { ...config.optimizer!, name: 'lion' } } },
      'config.optimizer.name: must be one of sgd, adam, rmsprop, adagrad, got "lion"',
    ],
    [
      'nesterov without momentum',
      { ...base, config: { ...config, optimizer: { name: 'sgd', learningRate: 0.1, momentum: 0, nesterov: true } } },
      'config.optimizer.nesterov: needs optimizer sgd with momentum > 0',
    ],
    [
      'an unknown schedule',
      { ...base, config: { ...config, schedule: { kind: 'linear', gamma: 0, stepEpochs: 0, minLearningRate: 0 } } },
      'config.schedule.kind: must be one of constant, step, exponential, cosine, got "linear"',
    ],
    [
      'an early-stopping metric the job does not report',
      {
        ...base,
        config: {
          ...config,
          earlyStopping: { monitor: 'val_auc', patience: 2, minDelta: 0, restoreBestWeights: false },
        },
      },
      'config.early_stopping.monitor: must be one of loss, accuracy, val_loss, val_accuracy, got "val_auc"',
    ],
    [
      'a validation split of 1',
      { ...base, config: { ...config, validationSplit: 1 } },
      'config.validation_split: must be in [0, 1), got 1',
    ],
    [
      'a negative number of workers',
      { ...base, config: { ...config, workers: -1 } },
      'config.workers: must be in 0..64 (0 or 1 for one worker, more for data-parallel training), got -1',
    ],
    [
      'more workers than one job may use',
      { ...base, config: { ...config, workers: 65 } },
      'config.workers: must be in 0..64 (0 or 1 for one worker, more for data-parallel training), got 65',
    ],
    [
      'a batch smaller than the workers that share it',
      { ...base, config: { ...config, batchSize: 4, workers: 8 } },
      'config.batch_size: must be at least config.workers (8) so that every worker has rows of each batch, got 4',
    ],
    [
      'a default batch smaller than the workers',
      { ...base, config: { ...config, batchSize: 0, workers: 40 } },
      'config.batch_size: must be at least config.workers (40) so that every worker has rows of each batch, got 32 (the default)',
    ],
    [
      'a convolution block without filters',
      {
        ...base,
        model: {
          cnn: {
            convBlocks: [{ filters: 0, kernelSize: 3, strides: 0, pool: '', poolSize: 0, activation: '', padding: '' }],
            denseUnits: [],
            dropout: 0,
          },
          inputShape: [2, 2, 1],
        },
      },
      'model: model.cnn.conv_blocks[0].filters must be a positive integer, got 0',
    ],
    [
      'an rnn cell that does not exist',
      {
        ...base,
        model: { rnn: { cell: 'transformer', units: [4], bidirectional: false, dropout: 0 }, inputShape: [4, 1] },
      },
      'model.rnn.cell: must be "lstm" or "gru", got "transformer"',
    ],
    [
      'an autoencoder on a classification dataset',
      { ...base, model: { autoencoder: { encoderUnits: [3], latentSize: 2, activation: '' }, inputShape: [] } },
      'model: an autoencoder needs a reconstruction dataset',
    ],
    ['a bad model name', { ...base, modelName: 'no spaces allowed' }, 'model_name: must be 1-128 letters'],
  ];

  it.each(cases)('rejects %s with INVALID_ARGUMENT naming the field', async (_, request, message) => {
    const error = await rejection(request);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.details).toContain(message.replace('"iris-v"', `"${iris}"`));
  });

  const mlp = (hiddenUnits: number[]) => ({
    ...base,
    model: { mlp: { hiddenUnits, activation: 'relu', dropout: 0, batchNorm: false }, inputShape: [] },
  });
  const oversized: Array<[string, Partial<SubmitTrainingJobRequest>, RegExp]> = [
    [
      'a billion units (the 9.9 GB request)',
      mlp([1_000_000_000]),
      /^model\.mlp\.hidden_units\[0\]: at most 65536 \(AIMAAS_TRAINING_MAX_UNITS\), got 1000000000$/,
    ],
    [
      'too many parameters',
      mlp([60_000, 60_000]),
      /^model: up to \d+ parameters; at most 50000000 \(AIMAAS_TRAINING_MAX_PARAMETERS\)$/,
    ],
    [
      'an MLP over the memory budget',
      mlp([6_000, 6_000]),
      /^model: up to \d+ parameters need an estimated \d+ MiB to train \(16 bytes each\) plus 512 MiB; the memory budget is 1024 MiB \(AIMAAS_TRAINING_MEMORY_MB\)$/,
    ],
    [
      '5,000 layers',
      mlp(Array.from({ length: 5_000 }, () => 4)),
      /^model: 5000 layers; at most 256 \(AIMAAS_TRAINING_MAX_LAYERS\)$/,
    ],
    [
      '2^31 − 1 epochs',
      { ...base, config: { ...config, epochs: 2_147_483_647 } },
      /^config\.epochs: at most 10000 \(AIMAAS_TRAINING_MAX_EPOCHS\), got 2147483647$/,
    ],
    [
      'a 2 MiB layers_json',
      { ...base, model: { layersJson: ' '.repeat(2 << 20), inputShape: [] } },
      /^model\.layers_json: at most 1048576 characters/,
    ],
  ];

  it.each(oversized)('refuses %s with RESOURCE_EXHAUSTED before building anything', async (_, request, message) => {
    const before = process.memoryUsage().rss;
    const error = await rejection(request);
    expect(error.code).toBe('RESOURCE_EXHAUSTED');
    expect(error.details).toMatch(message);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });

  it('stores and queues nothing for a rejected request', async () => {
    await rejection({ ...base, config: { ...config, epochs: 0 } });
    const { jobs } = await mesh.clients.training.listTrainingJobs({});
    expect(jobs).toEqual([]);
  });

  it('answers NOT_FOUND for an unknown job', async () => {
    const error = await mesh.clients.training.getTrainingJob({ id: 'tj-nope' }).catch((e: AimaasError) => e);
    expect(error).toMatchObject({ code: 'NOT_FOUND', details: 'training job "tj-nope" not found' });
  });
});

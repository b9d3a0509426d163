import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildModel,
  compileModel,
  createOptimizer,
  initBackend,
  InvalidModelSpecError,
  lossForTask,
  oneHotLabels,
  type BuildOptions,
  type ModelSpec,
} from '../src/index.js';
import { randomValues } from './helpers.js';

async function weightsOf(model: tf.LayersModel): Promise<Float32Array[]> {
  return Promise.all(model.getWeights().map(async (w) => (await w.data()) as Float32Array));
}

const SPECS: Array<[string, ModelSpec, Omit<BuildOptions, 'seed'>]> = [
  [
    'mlp',
    { mlp: { hiddenUnits: [6, 4], dropout: 0.1, batchNorm: true } },
    { inputShape: [5], outputSize: 3, task: 'classification' },
  ],
  [
    'cnn',
    {
      cnn: {
        convBlocks: [
          { filters: 3, kernelSize: 3 },
          { filters: 4, kernelSize: 2, pool: 'avg' },
        ],
        denseUnits: [5],
        dropout: 0.2,
      },
    },
    { inputShape: [8, 8, 1], outputSize: 2, task: 'classification' },
  ],
  [
    'rnn',
    { rnn: { cell: 'lstm', units: [4, 3], bidirectional: true, dropout: 0.1 } },
    { inputShape: [5, 2], outputSize: 2, task: 'regression' },
  ],
  ['gru', { rnn: { cell: 'gru', units: [3] } }, { inputShape: [5, 2], outputSize: 1, task: 'regression' }],
  [
    'autoencoder',
    { autoencoder: { encoderUnits: [6], latentSize: 2 } },
    { inputShape: [8], outputSize: 0, task: 'reconstruction' },
  ],
  ['linear', { linear: {} }, { inputShape: [4], outputSize: 1, task: 'regression' }],
];

describe('buildModel', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it.each(SPECS)(
    'gives identical weights for the same seed and different ones for another seed: %s',
    async (_k, spec, options) => {
      const [a, b, c] = await Promise.all([7, 7, 8].map((seed) => buildModel(spec, { ...options, seed })));
      const [wa, wb, wc] = await Promise.all([a!, b!, c!].map(weightsOf));
      expect(wa!.map((w) => Array.from(w))).toEqual(wb!.map((w) => Array.from(w)));
      expect(wa!.map((w) => Array.from(w))).not.toEqual(wc!.map((w) => Array.from(w)));
      [a, b, c].forEach((m) => m!.dispose());
    },
  );

  it.each(SPECS)('trains on the wasm backend: %s', async (_k, spec, options) => {
    const model = compileModel(
      await buildModel(spec, { ...options, seed: 3 }),
      { optimizer: 'adam', learningRate: 0.01 },
      options.task,
    );
    const n = 8;
    const x = tf.tensor(randomValues(n * options.inputShape.reduce((p, d) => p * d, 1), 1), [n, ...options.inputShape]);
    const y =
      options.task === 'classification'
        ? oneHotLabels(
            Array.from({ length: n }, (_, i) => i % options.outputSize),
            options.outputSize,
          )
        : options.task === 'reconstruction'
          ? x.clone()
          : tf.tensor(randomValues(n * options.outputSize, 2), [n, options.outputSize]);
    const before = await weightsOf(model);
    const history = await model.fit(x, y, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 });
    const after = await weightsOf(model);
    expect(history.history['loss']!.every((l) => Number.isFinite(l as number))).toBe(true);
    // Every kernel moved, so every gradient (Conv2DBackpropFilter included) was computed.
    model.weights.forEach((w, i) => {
      if (w.trainable && w.originalName.endsWith('kernel')) expect(after[i]).not.toEqual(before[i]);
    });
    tf.dispose([x, y]);
    model.dispose();
  });

  it('ends classifiers in softmax with one unit per class, also for two classes', async () => {
    for (const classes of [2, 5]) {
      const model = await buildModel(
        { mlp: { hiddenUnits: [3] } },
        { inputShape: [4], outputSize: classes, task: 'classification', seed: 1 },
      );
      const out = model.getLayer('output');
      expect(out.getConfig()['activation']).toBe('softmax');
      expect(model.outputs[0]!.shape).toEqual([null, classes]);
      model.dispose();
    }
    expect(lossForTask('classification')).toBe('categoricalCrossentropy');
    expect(lossForTask('regression')).toBe('meanSquaredError');
  });

  it('gives regressors a linear output and autoencoders an output shaped like the input', async () => {
    const reg = await buildModel({ linear: {} }, { inputShape: [3, 2], outputSize: 2, task: 'regression', seed: 1 });
    expect(reg.getLayer('output').getConfig()['activation']).toBe('linear');
    expect(reg.outputs[0]!.shape).toEqual([null, 2]);
    const ae = await buildModel(
      { autoencoder: { encoderUnits: [5], latentSize: 2 } },
      { inputShape: [4, 3, 1], outputSize: 0, task: 'reconstruction', seed: 1 },
    );
    expect(ae.outputs[0]!.shape).toEqual([null, 4, 3, 1]);
    [reg, ae].forEach((m) => m.dispose());
  });

  it('reshapes flat features into images and sequences', async () => {
    const cnn = await buildModel(
      { cnn: { convBlocks: [{ filters: 2, kernelSize: 3 }], imageShape: [4, 3, 2] } },
      { inputShape: [24], outputSize: 2, task: 'classification', seed: 1 },
    );
    expect(cnn.getLayer('to_image').outputShape).toEqual([null, 4, 3, 2]);
    const square = await buildModel(
      { cnn: { convBlocks: [{ filters: 2, kernelSize: 3 }] } },
      { inputShape: [64], outputSize: 2, task: 'classification', seed: 1 },
    );
    expect(square.getLayer('to_image').outputShape).toEqual([null, 8, 8, 1]);
    const rnn = await buildModel(
      { rnn: { cell: 'gru', units: [2] } },
      { inputShape: [6], outputSize: 1, task: 'regression', seed: 1 },
    );
    expect(rnn.getLayer('to_sequence').outputShape).toEqual([null, 6, 1]);
    [cnn, square, rnn].forEach((m) => m.dispose());
  });

  it('starts the two directions of a bidirectional layer from different weights', async () => {
    const model = await buildModel(
      { rnn: { cell: 'lstm', units: [3], bidirectional: true } },
      { inputShape: [4, 2], outputSize: 1, task: 'regression', seed: 1 },
    );
    const w = await weightsOf(model);
    const names = model.weights.map((v) => v.originalName);
    const fwd = w[names.findIndex((n) => n.includes('forward') && n.endsWith('/kernel'))]!;
    const bwd = w[names.findIndex((n) => n.includes('backward') && n.endsWith('/kernel'))]!;
    expect(Array.from(fwd)).not.toEqual(Array.from(bwd));
    model.dispose();
  });

  it('seeds layers_json initializers and checks its shapes against the data', async () => {
    const json = JSON.stringify(
      tf
        .sequential({
          layers: [
            tf.layers.dense({ units: 3, inputShape: [4], activation: 'relu' }),
            tf.layers.dropout({ rate: 0.5 }),
            tf.layers.dense({ units: 2, activation: 'softmax' }),
          ],
        })
        .toJSON(undefined, false),
    );
    const options: BuildOptions = { inputShape: [4], outputSize: 2, task: 'classification', seed: 9 };
    const [a, b] = [await buildModel({ layersJson: json }, options), await buildModel({ layersJson: json }, options)];
    expect((await weightsOf(a)).map((x) => Array.from(x))).toEqual((await weightsOf(b)).map((x) => Array.from(x)));
    await expect(buildModel({ layersJson: json }, { ...options, outputSize: 3 })).rejects.toThrow(
      /output shape \[2\] must be \[3\]/,
    );
    await expect(buildModel({ layersJson: json }, { ...options, inputShape: [5] })).rejects.toThrow(
      /input shape \[4\]/,
    );
    await expect(buildModel({ layersJson: '{"nope":' }, options)).rejects.toThrow(InvalidModelSpecError);
    [a, b].forEach((m) => m.dispose());
  });

  it('rejects specs that are ambiguous or inconsistent, naming the field', async () => {
    const options: BuildOptions = { inputShape: [10], outputSize: 2, task: 'classification', seed: 1 };
    const cases: Array<[ModelSpec, BuildOptions, RegExp]> = [
      [{ mlp: { hiddenUnits: [2] }, linear: {} }, options, /exactly one of .* got mlp and linear/],
      [{}, options, /none is set/],
      [{ mlp: { hiddenUnits: [2, 0] } }, options, /mlp\.hiddenUnits\[1\] must be a positive integer/],
      [{ mlp: { hiddenUnits: [2], activation: 'wiggle' } }, options, /mlp\.activation must be one of/],
      [{ mlp: { hiddenUnits: [2], dropout: 1 } }, options, /mlp\.dropout must be a rate/],
      [{ cnn: { convBlocks: [{ filters: 2, kernelSize: 3 }] } }, options, /10 is not a square image/],
      [
        {
          cnn: {
            convBlocks: [
              { filters: 2, kernelSize: 3 },
              { filters: 0, kernelSize: 3 },
            ],
          },
        },
        { ...options, inputShape: [8, 8, 1] },
        /cnn\.convBlocks\[1\]\.filters/,
      ],
      [
        {
          cnn: {
            convBlocks: [
              { filters: 2, kernelSize: 3 },
              { filters: 2, kernelSize: 3 },
            ],
          },
        },
        { ...options, inputShape: [3, 3, 1] },
        /convBlocks\[1\] shrinks the 3x3 image/,
      ],
      [
        { rnn: { cell: 'lstm', units: [2] } },
        { ...options, inputShape: [2, 3, 4] },
        /rnn needs inputShape \[timesteps, features\]/,
      ],
      [{ autoencoder: { encoderUnits: [2], latentSize: 1 } }, options, /needs task reconstruction/],
      [{ mlp: { hiddenUnits: [2] } }, { ...options, outputSize: 1 }, /number of classes/],
    ];
    for (const [spec, opts, message] of cases) {
      await expect(buildModel(spec, opts)).rejects.toThrow(message);
    }
  });
});

describe('compileModel', () => {
  it('uses momentum (optionally Nesterov) for sgd with momentum, and plain sgd otherwise', () => {
    const nesterov = createOptimizer({ optimizer: 'sgd', learningRate: 0.1, momentum: 0.9, nesterov: true });
    expect(nesterov.getClassName()).toBe('Momentum');
    expect(nesterov.getConfig()).toMatchObject({ learningRate: 0.1, momentum: 0.9, useNesterov: true });
    expect(createOptimizer({ optimizer: 'sgd', learningRate: 0.1 }).getClassName()).toBe('SGD');
    expect(createOptimizer({ optimizer: 'adam', learningRate: 0.1 }).getClassName()).toBe('Adam');
    expect(createOptimizer({ optimizer: 'rmsprop', learningRate: 0.1 }).getClassName()).toBe('RMSProp');
    expect(createOptimizer({ optimizer: 'adagrad', learningRate: 0.1 }).getClassName()).toBe('Adagrad');
    expect(() => createOptimizer({ optimizer: 'adam', learningRate: 0 })).toThrow(/learningRate/);
    expect(() => createOptimizer({ optimizer: 'adam', learningRate: 0.1, nesterov: true })).toThrow(/nesterov/);
  });

  it('rejects labels outside the class range, naming the row', () => {
    expect(() => oneHotLabels([0, 3], 3)).toThrow(/row 1/);
  });
});

import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildModel,
  exportOnnx,
  initBackend,
  OnnxExportError,
  type BuildOptions,
  type ModelSpec,
} from '../src/index.js';
import { onnxVsTfjs, randomizeWeights } from './helpers.js';

const TOLERANCE = 1e-4;

async function builtAndCompared(spec: ModelSpec, options: Omit<BuildOptions, 'seed'>): Promise<number> {
  const model = await buildModel(spec, { ...options, seed: 11 });
  randomizeWeights(model, 3);
  const { diff } = await onnxVsTfjs(model);
  model.dispose();
  return diff;
}

describe('exportOnnx', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  describe('matches TF.js predict on every builder model', () => {
    const cases: Array<[string, ModelSpec, Omit<BuildOptions, 'seed'>]> = [
      [
        'mlp with batch norm and dropout',
        { mlp: { hiddenUnits: [16, 8], dropout: 0.2, batchNorm: true, activation: 'elu' } },
        { inputShape: [10], outputSize: 3, task: 'classification' },
      ],
      [
        'cnn with max and avg pooling',
        {
          cnn: {
            convBlocks: [
              { filters: 4, kernelSize: 3, pool: 'max' },
              { filters: 5, kernelSize: [2, 3], pool: 'avg', activation: 'tanh' },
            ],
            denseUnits: [8],
            dropout: 0.1,
          },
        },
        { inputShape: [8, 8, 2], outputSize: 4, task: 'classification' },
      ],
      [
        'cnn on flat features, strided valid conv',
        {
          cnn: {
            convBlocks: [
              { filters: 3, kernelSize: 3, strides: 2, padding: 'valid', pool: 'none' },
              { filters: 2, kernelSize: 2 },
            ],
          },
        },
        { inputShape: [81], outputSize: 2, task: 'regression' },
      ],
      [
        'stacked lstm',
        { rnn: { cell: 'lstm', units: [6, 5] } },
        { inputShape: [7, 3], outputSize: 2, task: 'regression' },
      ],
      [
        'gru',
        { rnn: { cell: 'gru', units: [5], dropout: 0.2 } },
        { inputShape: [6, 4], outputSize: 3, task: 'classification' },
      ],
      [
        'bidirectional lstm',
        { rnn: { cell: 'lstm', units: [4, 3], bidirectional: true } },
        { inputShape: [5, 2], outputSize: 3, task: 'classification' },
      ],
      [
        'bidirectional gru on flat features',
        { rnn: { cell: 'gru', units: [4], bidirectional: true } },
        { inputShape: [6], outputSize: 1, task: 'regression' },
      ],
      [
        'autoencoder',
        { autoencoder: { encoderUnits: [8, 6], latentSize: 3, activation: 'tanh' } },
        { inputShape: [12], outputSize: 0, task: 'reconstruction' },
      ],
      [
        'autoencoder on images',
        { autoencoder: { encoderUnits: [6], latentSize: 2 } },
        { inputShape: [4, 4, 1], outputSize: 0, task: 'reconstruction' },
      ],
      ['linear classification', { linear: {} }, { inputShape: [5], outputSize: 3, task: 'classification' }],
      ['linear regression', { linear: {} }, { inputShape: [5], outputSize: 2, task: 'regression' }],
    ];
    it.each(cases)('%s', async (_label, spec, options) => {
      expect(await builtAndCompared(spec, options)).toBeLessThanOrEqual(TOLERANCE);
    });
  });

  it('exports a layers_json functional image model (same-padded strided conv, BN on NCHW, branches, merges)', async () => {
    const input = tf.input({ shape: [9, 9, 3] });
    const pad = tf.layers
      .zeroPadding2d({
        padding: [
          [1, 0],
          [0, 1],
        ],
      })
      .apply(input) as tf.SymbolicTensor;
    const c1 = tf.layers
      .conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'selu' })
      .apply(pad) as tf.SymbolicTensor;
    const bn = tf.layers.batchNormalization().apply(c1) as tf.SymbolicTensor;
    const avg = tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same' }).apply(bn) as tf.SymbolicTensor;
    const max = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(bn) as tf.SymbolicTensor;
    const sep = tf.layers
      .separableConv2d({ filters: 3, kernelSize: 2, depthMultiplier: 2, padding: 'same', activation: 'relu6' })
      .apply(avg) as tf.SymbolicTensor;
    const dw = tf.layers
      .depthwiseConv2d({ kernelSize: 3, depthMultiplier: 1, padding: 'same' })
      .apply(sep) as tf.SymbolicTensor;
    const added = tf.layers.add().apply([dw, sep]) as tf.SymbolicTensor;
    const gap = tf.layers.globalAveragePooling2d({}).apply(added) as tf.SymbolicTensor;
    const flat = tf.layers.flatten().apply(max) as tf.SymbolicTensor;
    const merged = tf.layers.concatenate().apply([gap, flat]) as tf.SymbolicTensor;
    const ln = tf.layers.layerNormalization().apply(merged) as tf.SymbolicTensor;
    const hidden = tf.layers.dense({ units: 6, activation: 'softplus' }).apply(ln) as tf.SymbolicTensor;
    const leaky = tf.layers.leakyReLU({ alpha: 0.1 }).apply(hidden) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 3, activation: 'softmax' }).apply(leaky) as tf.SymbolicTensor;
    const json = JSON.stringify(tf.model({ inputs: input, outputs: out }).toJSON(undefined, false));

    const model = await buildModel(
      { layersJson: json },
      { inputShape: [9, 9, 3], outputSize: 3, task: 'classification', seed: 5 },
    );
    randomizeWeights(model, 9);
    const { diff } = await onnxVsTfjs(model);
    expect(diff).toBeLessThanOrEqual(TOLERANCE);
  });

  it('exports a layers_json sequence model (hardSigmoid gates, go_backwards, SimpleRNN, merge modes)', async () => {
    const json = JSON.stringify(
      tf
        .sequential({
          layers: [
            tf.layers.lstm({ units: 4, returnSequences: true, goBackwards: true, inputShape: [6, 3] }),
            tf.layers.bidirectional({
              layer: tf.layers.gru({ units: 3, returnSequences: true }) as tf.RNN,
              mergeMode: 'ave',
            }),
            tf.layers.bidirectional({
              layer: tf.layers.simpleRNN({ units: 3, returnSequences: true }) as tf.RNN,
              mergeMode: 'mul',
            }),
            tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 2 }) as tf.RNN, mergeMode: 'sum' }),
            tf.layers.dense({ units: 2 }),
          ],
        })
        .toJSON(undefined, false),
    );
    const model = await buildModel(
      { layersJson: json },
      { inputShape: [6, 3], outputSize: 2, task: 'regression', seed: 5 },
    );
    randomizeWeights(model, 4);
    const { diff } = await onnxVsTfjs(model);
    expect(diff).toBeLessThanOrEqual(TOLERANCE);
  });

  it('writes opsets 13 to 17, with stable input and output names and a dynamic batch', async () => {
    const model = await buildModel(
      { mlp: { hiddenUnits: [4], batchNorm: true } },
      { inputShape: [3], outputSize: 2, task: 'classification', seed: 1 },
    );
    for (const opset of [13, 14, 15, 16, 17]) {
      const decoded = onnxProto.onnx.ModelProto.decode(exportOnnx(model, { opset }));
      expect(Number(decoded.opsetImport[0]!.version)).toBe(opset);
      expect(decoded.graph!.input!.map((i) => i.name)).toEqual(['input']);
      expect(decoded.graph!.output!.map((o) => o.name)).toEqual(['output']);
      expect(decoded.graph!.input![0]!.type!.tensorType!.shape!.dim![0]!.dimParam).toBe('batch');
      expect((await onnxVsTfjs(model, 5, { opset })).diff).toBeLessThanOrEqual(TOLERANCE);
    }
    expect(() => exportOnnx(model, { opset: 12 })).toThrow(RangeError);
    model.dispose();
  });

  it('names the layer and its class when a layer cannot be exported', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ filters: 2, kernelSize: 3, inputShape: [6, 6, 1], name: 'conv' }),
        tf.layers.upSampling2d({ size: [2, 2], name: 'grow' }),
        tf.layers.flatten(),
      ],
    });
    const error = (() => {
      try {
        exportOnnx(model);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(OnnxExportError);
    expect((error as OnnxExportError).layerName).toBe('grow');
    expect((error as OnnxExportError).layerClass).toBe('UpSampling2D');
    expect((error as Error).message).toContain('"grow" (UpSampling2D)');
    model.dispose();
  });
});

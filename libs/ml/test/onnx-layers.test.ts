import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, exportOnnx, initBackend } from '../src/index.js';
import { maxAbsDiff, onnxVsTfjs, randomizeWeights } from './helpers.js';

const TOLERANCE = 1e-4;
type Sym = tf.SymbolicTensor;

/** Round-trips a hand-made model through layers JSON, as a layers_json spec would arrive. */
async function viaLayersJson(model: tf.LayersModel, seed: number): Promise<tf.LayersModel> {
  const inputShape = model.inputs[0]!.shape.slice(1) as number[];
  const outShape = model.outputs[0]!.shape.slice(1) as number[];
  const rebuilt = await buildModel(
    { layersJson: JSON.stringify(model.toJSON(undefined, false)) },
    { inputShape, outputSize: outShape[outShape.length - 1]!, task: 'regression', seed },
  );
  model.dispose();
  randomizeWeights(rebuilt, seed);
  return rebuilt;
}

describe('exportOnnx, less common layers', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('exports activation layers and element-wise merges on images', async () => {
    const input = tf.input({ shape: [6, 6, 2] });
    const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', dilationRate: 2 }).apply(input) as Sym;
    const branches = [
      tf.layers.activation({ activation: 'gelu' }).apply(conv),
      tf.layers.activation({ activation: 'mish' }).apply(conv),
      tf.layers.activation({ activation: 'swish' }).apply(conv),
      tf.layers.activation({ activation: 'hardSigmoid' }).apply(conv),
      tf.layers.activation({ activation: 'relu6' }).apply(conv),
      tf.layers.reLU({ maxValue: 0.5 }).apply(conv),
      tf.layers.elu({}).apply(conv),
      tf.layers.thresholdedReLU({ theta: 0.2 }).apply(conv),
      tf.layers.prelu({ sharedAxes: [1, 2] }).apply(conv),
    ] as Sym[];
    const mixed = [
      tf.layers.multiply().apply(branches.slice(0, 2)),
      tf.layers.multiply().apply(branches.slice(2, 4)),
      tf.layers.maximum().apply(branches.slice(4, 6)),
      tf.layers.minimum().apply(branches.slice(6, 8)),
      tf.layers.average().apply([branches[8]!, conv]),
    ] as Sym[];
    const summed = tf.layers.add().apply(mixed) as Sym;
    const pooled = tf.layers.globalMaxPooling2d({}).apply(summed) as Sym;
    const out = tf.layers
      .activation({ activation: 'softsign' })
      .apply(tf.layers.dense({ units: 3 }).apply(pooled) as Sym) as Sym;
    const model = await viaLayersJson(tf.model({ inputs: input, outputs: out }), 21);
    expect((await onnxVsTfjs(model)).diff).toBeLessThanOrEqual(TOLERANCE);
    model.dispose();
  });

  it('exports reshapes, permutes, repeats and softmax layers on sequences', async () => {
    const input = tf.input({ shape: [12] });
    const seq = tf.layers.reshape({ targetShape: [4, -1] }).apply(input) as Sym;
    const permuted = tf.layers.permute({ dims: [2, 1] }).apply(seq) as Sym; // [3, 4]
    const pooled = tf.layers.globalAveragePooling1d({}).apply(permuted) as Sym; // [4]
    const repeated = tf.layers.repeatVector({ n: 2 }).apply(pooled) as Sym; // [2, 4]
    const maxed = tf.layers
      .globalMaxPooling1d({})
      .apply(tf.layers.concatenate({ axis: 1 }).apply([repeated, permuted]) as Sym) as Sym;
    // logSoftmax exists at runtime but is missing from TF.js's ActivationIdentifier type.
    const out = tf.layers
      .softmax()
      .apply(tf.layers.dense({ units: 4, activation: 'logSoftmax' as 'softmax' }).apply(maxed) as Sym) as Sym;
    const model = await viaLayersJson(tf.model({ inputs: input, outputs: out }), 22);
    expect((await onnxVsTfjs(model)).diff).toBeLessThanOrEqual(TOLERANCE);
    model.dispose();
  });

  it('exports nested models inlined', async () => {
    const inner = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4], activation: 'tanh' })] });
    const input = tf.input({ shape: [4] });
    const out = tf.layers.dense({ units: 2 }).apply(inner.apply(input) as Sym) as Sym;
    const model = tf.model({ inputs: input, outputs: out });
    randomizeWeights(model, 5);
    expect((await onnxVsTfjs(model)).diff).toBeLessThanOrEqual(TOLERANCE);
    model.dispose();
  });

  it('exports embeddings, feeding the same float ids as TF.js', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.embedding({ inputDim: 10, outputDim: 4, inputLength: 5 }),
        tf.layers.globalAveragePooling1d({}),
        tf.layers.dense({ units: 2 }),
      ],
    });
    randomizeWeights(model, 6);
    const ids = Float32Array.from([0, 3, 9, 9, 1, 2, 2, 5, 7, 8]);
    const x = tf.tensor2d(ids, [2, 5]);
    const y = model.predict(x) as tf.Tensor;
    const expected = (await y.data()) as Float32Array;
    const session = await ort.InferenceSession.create(exportOnnx(model));
    const result = await session.run({ input: new ort.Tensor('float32', ids, [2, 5]) });
    expect(maxAbsDiff(result['output']!.data as Float32Array, expected)).toBeLessThanOrEqual(TOLERANCE);
    await session.release();
    tf.dispose([x, y]);
    model.dispose();
  });
});

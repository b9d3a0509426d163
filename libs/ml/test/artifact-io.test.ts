import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ACTIVATIONS,
  buildModel,
  compileModel,
  decodeWeights,
  initBackend,
  InvalidArtifactError,
  loadModelFromFiles,
  readUserMetadata,
  saveModelToBytes,
  type WeightQuantization,
} from '../src/index.js';
import { maxAbsDiff, randomValues } from './helpers.js';

async function smallModel(): Promise<tf.LayersModel> {
  return buildModel(
    { mlp: { hiddenUnits: [8], batchNorm: true } },
    { inputShape: [6], outputSize: 3, task: 'classification', seed: 4 },
  );
}

async function predict(model: tf.LayersModel): Promise<Float32Array> {
  const x = tf.tensor2d(randomValues(4 * 6, 1), [4, 6]);
  const y = model.predict(x) as tf.Tensor;
  const out = (await y.data()) as Float32Array;
  tf.dispose([x, y]);
  return out;
}

function json(bytes: Uint8Array): tf.io.ModelJSON {
  return JSON.parse(new TextDecoder().decode(bytes)) as tf.io.ModelJSON;
}

describe('saveModelToBytes / loadModelFromFiles', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('round-trips a model through model.json + weights.bin in memory', async () => {
    const model = await smallModel();
    const saved = await saveModelToBytes(model, { userDefinedMetadata: { labels: ['a', 'b', 'c'] } });
    expect([...saved.files.keys()]).toEqual(['model.json', 'weights.bin']);
    expect(saved.files.get('weights.bin')).toBe(saved.weights);
    const manifest = json(saved.modelJson).weightsManifest;
    expect(manifest).toEqual(saved.weightsManifest);
    expect(manifest[0]!.paths).toEqual(['weights.bin']);
    // 6·8 kernel + 4·8 batch-norm vectors + 8·3 kernel + 3 bias, float32.
    expect(saved.weights.byteLength).toBe((48 + 32 + 24 + 3) * 4);
    expect(readUserMetadata(saved.modelJson)).toEqual({ labels: ['a', 'b', 'c'] });

    const loaded = await loadModelFromFiles(saved.files);
    expect(Array.from(await predict(loaded))).toEqual(Array.from(await predict(model)));
    [model, loaded].forEach((m) => m.dispose());
  });

  it('reloads models using every activation a spec may name', async () => {
    for (const activation of ACTIVATIONS) {
      const model = await buildModel(
        { mlp: { hiddenUnits: [3], activation } },
        { inputShape: [6], outputSize: 2, task: 'regression', seed: 1 },
      );
      const loaded = await loadModelFromFiles((await saveModelToBytes(model)).files);
      expect(loaded.getLayer('dense_1').getConfig()['activation']).toBe(activation);
      [model, loaded].forEach((m) => m.dispose());
    }
  });

  it('loads shards named by the manifest, in manifest order, also from a plain record', async () => {
    const model = await smallModel();
    const { modelJson, weights } = await saveModelToBytes(model);
    const manifestJson = json(modelJson);
    const cut = 100;
    manifestJson.weightsManifest[0]!.paths = ['./group1-shard1of2.bin', 'group1-shard2of2.bin'];
    const files = {
      'model.json': new TextEncoder().encode(JSON.stringify(manifestJson)),
      'group1-shard1of2.bin': weights.slice(0, cut),
      'group1-shard2of2.bin': weights.slice(cut),
    };
    const loaded = await loadModelFromFiles(files);
    expect(Array.from(await predict(loaded))).toEqual(Array.from(await predict(model)));
    [model, loaded].forEach((m) => m.dispose());
  });

  it('says which file is missing or inconsistent', async () => {
    const model = await smallModel();
    const { modelJson, weights } = await saveModelToBytes(model);
    await expect(loadModelFromFiles(new Map([['model.json', modelJson]]))).rejects.toThrow(
      /"weights.bin" named in model.json is missing/,
    );
    await expect(loadModelFromFiles(new Map([['weights.bin', weights]]))).rejects.toThrow(/no model.json/);
    await expect(
      loadModelFromFiles(
        new Map([
          ['model.json', modelJson],
          ['weights.bin', weights.slice(4)],
        ]),
      ),
    ).rejects.toThrow(InvalidArtifactError);
    await expect(loadModelFromFiles(new Map([['model.json', new TextEncoder().encode('{')]]))).rejects.toThrow(
      /not valid JSON/,
    );
    model.dispose();
  });

  it('saves and restores the optimizer state for checkpoints', async () => {
    const model = compileModel(await smallModel(), { optimizer: 'adam', learningRate: 0.01 }, 'classification');
    const x = tf.tensor2d(randomValues(8 * 6, 3), [8, 6]);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3).cast('float32');
    await model.fit(x, y, { epochs: 1, verbose: 0 });
    const saved = await saveModelToBytes(model, { includeOptimizer: true });
    expect(saved.weightsManifest[0]!.weights.some((w) => w.group === 'optimizer')).toBe(true);
    const loaded = await loadModelFromFiles(saved.files);
    expect(loaded.optimizer).toBeDefined();
    const restored = await loaded.optimizer.getWeights();
    const original = await model.optimizer.getWeights();
    expect(restored.map((w) => w.name)).toEqual(original.map((w) => w.name));
    tf.dispose([x, y]);
    [model, loaded].forEach((m) => m.dispose());
  });

  describe('with weight quantization', () => {
    const cases: Array<[WeightQuantization, number]> = [
      ['uint8', 1],
      ['uint16', 2],
      ['float16', 2],
    ];
    it.each(cases)(
      '%s: TF.js decodes exactly our decoding, close to the float32 weights',
      async (quantization, bytesPerWeight) => {
        const model = await smallModel();
        model.weights.forEach((w, i) => {
          const t = tf.tensor(
            randomValues(
              w.shape.reduce((a: number, b) => a * (b ?? 1), 1),
              i + 1,
              0.2,
              1.7,
            ),
            w.shape as number[],
          );
          w.write(t);
          t.dispose();
        });
        const original = model.getWeights().map((w) => w.dataSync().slice() as Float32Array);
        const saved = await saveModelToBytes(model, { quantization });
        expect(saved.weights.byteLength).toBe((48 + 32 + 24 + 3) * bytesPerWeight);
        const specs = saved.weightsManifest[0]!.weights;
        expect(specs.every((s) => s.quantization?.dtype === quantization)).toBe(true);

        const ours = decodeWeights(saved.weights, specs);
        const loaded = await loadModelFromFiles(saved.files);
        const theirs = loaded.getWeights().map((w) => w.dataSync() as Float32Array);
        theirs.forEach((values, i) => {
          expect(Array.from(values)).toEqual(Array.from(ours[i]!.values));
          const q = specs[i]!.quantization!;
          const bound = q.dtype === 'float16' ? 2 ** -11 * 2 : q.scale! / 2 + 1e-7;
          expect(maxAbsDiff(values, original[i]!)).toBeLessThanOrEqual(bound);
        });
        [model, loaded].forEach((m) => m.dispose());
      },
    );
  });
});

import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@aimaas/ml';
import { ModelSpec } from '@aimaas/proto';
import { modelLayerCount, modelParameterBound } from '../src/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('modelParameterBound', () => {
  const shape = {
    featureSize: 784,
    featureShape: [28, 28, 1],
    outputSize: 10,
    task: 'classification',
  } as unknown as Parameters<typeof modelParameterBound>[1];

  it('is exact for an MLP and bounds a CNN and a layers_json topology from above', async () => {
    const mlp = ModelSpec.fromPartial({ mlp: { hiddenUnits: [32, 16] } });
    expect(modelParameterBound(mlp, shape)).toBe(784 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10);
    const cnn = ModelSpec.fromPartial({
      cnn: {
        convBlocks: [
          { filters: 8, kernelSize: 3 },
          { filters: 16, kernelSize: 3 },
        ],
        denseUnits: [32],
      },
    });
    const built = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, padding: 'same' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 32 }),
        tf.layers.dense({ units: 10 }),
      ],
    });
    expect(modelParameterBound(cnn, shape)).toBe(built.countParams());
    const json = ModelSpec.fromPartial({ layersJson: JSON.stringify(built.toJSON(null, false)) });
    expect(modelParameterBound(json, shape)).toBeGreaterThanOrEqual(built.countParams());
    built.dispose();
    expect(
      modelParameterBound(ModelSpec.fromPartial({ mlp: { hiddenUnits: [200_000, 200_000] } }), shape),
    ).toBeGreaterThan(4e10);
  });
});

describe('modelLayerCount', () => {
  it('counts the layers a spec asks for', () => {
    expect(modelLayerCount(ModelSpec.fromPartial({ mlp: { hiddenUnits: [4, 4, 4] } }))).toBe(3);
    expect(modelLayerCount(ModelSpec.fromPartial({ cnn: { convBlocks: [{ filters: 8 }], denseUnits: [16, 8] } }))).toBe(
      3,
    );
    expect(
      modelLayerCount(
        ModelSpec.fromPartial({
          layersJson: '{"class_name":"Sequential","config":{"layers":[{"class_name":"Dense"},{"class_name":"Dense"}]}}',
        }),
      ),
    ).toBe(3);
  });
});

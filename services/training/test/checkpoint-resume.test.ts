import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelSpec, TrainingConfig } from '@aimaas/proto';
import { initBackend } from '@aimaas/ml';
import { connectNats } from '@aimaas/storage';
import { startNatsServer, type TestNatsServer } from '@aimaas/testing';
import { openTrainingStores, toTrainingPlan, type CheckpointStore, type LoadedCheckpoint } from '../src/index.js';
import type { Batch, DataPlan } from '../src/data/data-source.js';
import { runTrainer } from '../src/model/trainer.js';
import { buildTrainingModel, compileTrainingModel, type DataShape } from '../src/model/training-model.js';

/** Three Gaussian-ish blobs in 4-D from a seeded generator: 120 rows. */
function blobs(): { features: Float32Array; labels: Float32Array } {
  let s = 12345;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const rows = 120;
  const features = new Float32Array(rows * 4);
  const labels = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    labels[r] = r % 3;
    for (let f = 0; f < 4; f++) features[r * 4 + f] = (f === r % 3 ? 1.5 : 0) + next();
  }
  return { features, labels };
}

/** Batches of 8 in an order that depends only on the epoch, as ReadSplit's shuffle does. */
function dataPlan(): DataPlan {
  const { features, labels } = blobs();
  const rows = labels.length;
  return {
    trainRows: rows,
    validationRows: 0,
    testRows: 0,
    async *train(epoch: number): AsyncIterable<Batch> {
      const order = Array.from({ length: rows }, (_, i) => (i * (2 * epoch + 1) + epoch) % rows);
      for (let start = 0; start < rows; start += 8) {
        const picked = order.slice(start, start + 8);
        const batch: Batch = {
          rows: picked.length,
          features: new Float32Array(picked.length * 4),
          labels: new Float32Array(picked.length),
        };
        picked.forEach((row, k) => {
          batch.features.set(features.subarray(row * 4, row * 4 + 4), k * 4);
          batch.labels[k] = labels[row]!;
        });
        yield batch;
      }
    },
  };
}

function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let max = 0;
  a.forEach((w, i) => w.forEach((v, j) => (max = Math.max(max, Math.abs(v - b[i]![j]!)))));
  return max;
}

const shape: DataShape = {
  task: 'classification',
  featureShape: [4],
  featureSize: 4,
  outputSize: 3,
  classLabels: ['a', 'b', 'c'],
};
const spec = ModelSpec.fromPartial({ mlp: { hiddenUnits: [16], activation: 'relu' } });

describe('checkpoints keep the optimizer state', () => {
  let nats: TestNatsServer;
  let close: () => Promise<void>;
  let checkpoints: CheckpointStore;

  beforeAll(async () => {
    await initBackend('wasm');
    nats = await startNatsServer();
    const nc = await connectNats(nats.url, { name: 'checkpoint-resume-test' });
    close = () => nc.drain();
    checkpoints = (await openTrainingStores(nc)).checkpoints;
  }, 60_000);

  afterAll(async () => {
    await close?.();
    await nats?.stop();
  });

  /** Trains `epochs` epochs (resuming from `jobId`'s checkpoint when `resume`), checkpointing each. */
  async function train(
    optimizer: string,
    epochs: number,
    jobId: string,
    resume: 'resume' | 'resume without slots' | 'fresh',
  ): Promise<Float32Array[]> {
    const plan = toTrainingPlan(
      TrainingConfig.fromPartial({
        optimizer: { name: optimizer, learningRate: 0.05, momentum: optimizer === 'sgd' ? 0.9 : 0 },
        batchSize: 8,
        epochs,
        seed: 5,
      }),
    );
    const model = await buildTrainingModel(spec, shape, plan.seed);
    try {
      compileTrainingModel(model, plan.optimizer, shape.task);
      const loaded = resume === 'fresh' ? undefined : await checkpoints.load(jobId);
      if (loaded && resume === 'resume without slots') {
        tf.dispose(loaded.optimizer!.map((slot) => slot.tensor));
        delete loaded.optimizer;
      }
      await runTrainer({
        model,
        shape,
        plan,
        data: dataPlan(),
        signal: new AbortController().signal,
        ...(loaded && { resume: loaded }),
        onProgress: () => undefined,
        onEpochEnd: (checkpoint) => checkpoints.save(jobId, checkpoint),
      });
      return await Promise.all(model.getWeights().map(async (w) => (await w.data()) as Float32Array));
    } finally {
      model.optimizer.dispose();
      model.dispose();
    }
  }

  it.each(['adam', 'sgd', 'rmsprop', 'adagrad'])(
    '%s: stopping after epoch 2 and resuming gives the very weights of an unbroken 4-epoch run',
    async (optimizer) => {
      const unbroken = await train(optimizer, 4, `${optimizer}-unbroken`, 'fresh');
      await train(optimizer, 2, `${optimizer}-broken`, 'fresh');
      const saved = (await checkpoints.load(`${optimizer}-broken`))!;
      expect(saved.state.epoch).toBe(2);
      expect(saved.optimizer?.[0]?.name).toBe('iter');
      expect(Array.from(await saved.optimizer![0]!.tensor.data())).toEqual([2 * 15]);
      tf.dispose([...saved.weights, ...saved.optimizer!.map((slot) => slot.tensor)]);

      const resumed = await train(optimizer, 4, `${optimizer}-broken`, 'resume');
      // Bit for bit, but for Adam: its setWeights recomputes β₁ᵗ and β₂ᵗ with pow, where its steps
      // multiply them up by β each time, so the bias correction differs in the last float bits.
      if (optimizer === 'adam') expect(maxAbsDiff(resumed, unbroken)).toBeLessThan(1e-5);
      else expect(resumed.map((w) => Array.from(w))).toEqual(unbroken.map((w) => Array.from(w)));
    },
    60_000,
  );

  it('disposes a checkpoint that does not fit the model (weights or optimizer slots), leaving no tensor behind', async () => {
    const plan = toTrainingPlan(
      TrainingConfig.fromPartial({ optimizer: { name: 'adam', learningRate: 0.05 }, batchSize: 8, epochs: 2, seed: 5 }),
    );
    const model = await buildTrainingModel(spec, shape, plan.seed);
    try {
      compileTrainingModel(model, plan.optimizer, shape.task);
      const state = {
        epoch: 1,
        history: [{ loss: 1, accuracy: 0.5, lr: 0.05 }],
        wait: 0,
        stopped: false,
        trainSeconds: 1,
        samples: 120,
      };
      const disposedIter = tf.scalar(8);
      disposedIter.dispose();
      const checkpoints: Array<[string, () => LoadedCheckpoint]> = [
        [
          'weights of another model',
          () => ({
            state: { ...state },
            weights: [tf.zeros([3, 3])],
            bestWeights: [tf.zeros([3, 3])],
            optimizer: [{ name: 'iter', tensor: tf.scalar(8) }],
          }),
        ],
        [
          'unreadable optimizer slots',
          () => ({
            state: { ...state },
            weights: model.getWeights().map((w) => w.clone()),
            bestWeights: model.getWeights().map((w) => w.clone()),
            optimizer: [
              { name: 'iter', tensor: disposedIter },
              { name: 'm', tensor: tf.zeros([4, 16]) },
            ],
          }),
        ],
      ];
      for (const [what, checkpoint] of checkpoints) {
        const before = tf.memory().numTensors;
        const resume = checkpoint();
        const error = await runTrainer({
          model,
          shape,
          plan,
          data: dataPlan(),
          signal: new AbortController().signal,
          resume,
          onProgress: () => undefined,
          onEpochEnd: async () => undefined,
        }).catch((e: unknown) => e);
        expect(error, what).toBeInstanceOf(Error);
        expect(tf.memory().numTensors, what).toBe(before);
      }
    } finally {
      model.optimizer.dispose();
      model.dispose();
    }
  });

  it('without the optimizer slots a resumed Adam run drifts from the unbroken one (so the test above can fail)', async () => {
    const unbroken = await train('adam', 4, 'adam-control-unbroken', 'fresh');
    await train('adam', 2, 'adam-control', 'fresh');
    const resumed = await train('adam', 4, 'adam-control', 'resume without slots');
    expect(maxAbsDiff(resumed, unbroken)).toBeGreaterThan(1e-3);
  }, 60_000);
});

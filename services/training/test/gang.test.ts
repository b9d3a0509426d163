import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PreparedDataset, SubmitTrainingJobRequest, Task, type ReadSplitResponse } from '@aimaas/proto';
import { initBackend } from '@aimaas/ml';
import { connectNats } from '@aimaas/storage';
import { createLogger } from '@aimaas/telemetry';
import { startNatsServer, waitFor, type TestNatsServer } from '@aimaas/testing';
import type { Batch } from '../src/data/data-source.js';
import { createGangLeader, type Gang } from '../src/gang/gang-leader.js';
import { createGangFollower, type GangFollowerDeps } from '../src/gang/gang-member.js';
import { GANG_SUBJECTS, chunkFloats, decodeFrame, encodeFrame, type GangMessage } from '../src/gang/gang-protocol.js';
import { SlotPool } from '../src/jobs/slot-pool.js';
import { toTrainingPlan } from '../src/model/spec-mapping.js';
import { trainOnBatch } from '../src/model/trainer.js';
import { buildTrainingModel, compileTrainingModel, dataShapeOf } from '../src/model/training-model.js';
import type { NatsConnection } from '@aimaas/storage';

const logger = createLogger('gang-test', process.env.LOG_LEVEL ?? 'silent');

/** 16 rows of 4 features in 3 classes, read back in batches as ReadSplit would (in a fixed order). */
const ROWS = 16;
const features = Float32Array.from({ length: ROWS * 4 }, (_, i) => Math.sin(i * 1.7));
const labels = Float32Array.from({ length: ROWS }, (_, r) => r % 3);
const prepared = PreparedDataset.fromPartial({
  id: 'gang-test',
  featureNames: ['a', 'b', 'c', 'd'],
  classLabels: ['x', 'y', 'z'],
  task: Task.TASK_CLASSIFICATION,
  splits: [{ name: 'train', rows: ROWS }],
});
const batchOf = (from: number, to: number): Batch => ({
  rows: to - from,
  features: features.slice(from * 4, to * 4),
  labels: labels.slice(from, to),
});
const preprocessing: GangFollowerDeps['preprocessing'] = {
  getPreparedDataset: async () => prepared,
  readSplit: ((request: { batchSize?: number }) =>
    (async function* (): AsyncGenerator<ReadSplitResponse> {
      const size = request.batchSize ?? 8;
      for (let offset = 0; offset < ROWS; offset += size) {
        const batch = batchOf(offset, Math.min(ROWS, offset + size));
        const tensor = (values: Float32Array) => ({
          name: '',
          datatype: 'FP32',
          shape: [],
          raw: Buffer.from(values.buffer),
        });
        yield { offset, rows: batch.rows, features: tensor(batch.features), labels: tensor(batch.labels) };
      }
    })()) as unknown as GangFollowerDeps['preprocessing']['readSplit'],
};

describe('data-parallel gangs over NATS', () => {
  let nats: TestNatsServer;
  const connections: NatsConnection[] = [];
  const connection = async (name: string) => {
    const nc = await connectNats(nats.url, { name });
    connections.push(nc);
    return nc;
  };
  const never = new AbortController().signal;

  beforeAll(async () => {
    await initBackend('wasm');
    nats = await startNatsServer();
  }, 60_000);
  afterAll(async () => {
    for (const nc of connections) await nc.drain().catch(() => undefined);
    await nats?.stop();
  });

  /** Subscribes to `subject` and collects what arrives, decoded. */
  async function collect(
    nc: NatsConnection,
    subject: string,
  ): Promise<Array<{ subject: string; message: GangMessage; bytes: number }>> {
    const seen: Array<{ subject: string; message: GangMessage; bytes: number }> = [];
    nc.subscribe(subject, {
      callback: (_, msg) =>
        void seen.push({ subject: msg.subject, message: decodeFrame(msg.data).message, bytes: msg.data.byteLength }),
    });
    await nc.flush();
    return seen;
  }

  describe('a follower', () => {
    it('offers one slot per gang, none to its own recruits, and frees it when the gang starts or stops without it', async () => {
      const [follower, leader] = [await connection('follower'), await connection('leader')];
      const slots = new SlotPool(3);
      const stop = new AbortController();
      const running = createGangFollower({ nc: follower, preprocessing, logger, workerId: 'w-f', slots }).run(
        stop.signal,
      );
      await follower.flush();
      const offers = await collect(leader, GANG_SUBJECTS.offers('*'));
      const ask = (gang: string, from: string) => {
        const recruit: GangMessage = { kind: 'recruit', gang, job: 'j', leader: from, want: 2, reserveMs: 60_000 };
        leader.publish(GANG_SUBJECTS.recruit, encodeFrame(recruit), { reply: GANG_SUBJECTS.offers(gang) });
      };
      // Messages from one connection arrive in order: once g2's offer is in, g1's recruits were handled.
      ask('gself', 'w-f');
      ask('g1', 'w-l');
      ask('g1', 'w-l');
      ask('g2', 'w-l');
      await waitFor(() => offers.some((o) => o.subject === GANG_SUBJECTS.offers('g2')), {
        timeoutMs: 5_000,
        message: "g2's offer",
      });
      expect(offers.map((o) => [o.subject, o.message])).toEqual([
        [GANG_SUBJECTS.offers('g1'), { kind: 'offer', member: expect.any(String), worker: 'w-f' }],
        [GANG_SUBJECTS.offers('g2'), { kind: 'offer', member: expect.any(String), worker: 'w-f' }],
      ]);
      expect(slots.free).toBe(1);

      leader.publish(
        GANG_SUBJECTS.down('g1'),
        encodeFrame({ kind: 'start', size: 2, ranks: { 'some-other-member': 1 } }),
      );
      await waitFor(() => slots.free === 2, { timeoutMs: 5_000, message: 'the slot offered to g1 back' });
      leader.publish(GANG_SUBJECTS.down('g2'), encodeFrame({ kind: 'stop', reason: 'recruiting was interrupted' }));
      await waitFor(() => slots.free === 3, { timeoutMs: 5_000, message: 'the slot offered to g2 back' });
      stop.abort();
      await running;
    });
  });

  describe('a leader', () => {
    it('takes one slot per other worker and releases every other offer: its own, a second slot, those left over', async () => {
      const [nc, others] = [await connection('leader'), await connection('others')];
      const request = SubmitTrainingJobRequest.fromPartial({
        preparedDatasetId: prepared.id,
        model: { mlp: { hiddenUnits: [4], activation: 'relu' } },
        config: { batchSize: 8, epochs: 1, seed: 1 },
      });
      const shape = dataShapeOf(prepared);
      const model = await buildTrainingModel(request.model!, shape, 1);
      compileTrainingModel(model, toTrainingPlan(request.config).optimizer, shape.task);
      const received = new Map<string, GangMessage['kind']>();
      let offered = false;
      others.subscribe(GANG_SUBJECTS.recruit, {
        callback: (_, msg) => {
          if (offered) return;
          offered = true;
          for (const [member, worker] of [
            ['m-self', 'w-l'],
            ['m-a1', 'w-a'],
            ['m-a2', 'w-a'],
            ['m-b', 'w-b'],
            ['m-c', 'w-c'],
          ]) {
            msg.respond(encodeFrame({ kind: 'offer', member: member!, worker: worker! }));
          }
        },
      });
      others.subscribe(GANG_SUBJECTS.member('*'), {
        callback: (_, msg) => {
          const member = msg.subject.split('.').at(-1)!;
          const { message } = decodeFrame(msg.data);
          received.set(member, message.kind);
          if (message.kind !== 'join') return;
          // One more offer comes in before the last join is answered: it is left over.
          if (member === 'm-b')
            others.publish(
              GANG_SUBJECTS.offers(message.gang),
              encodeFrame({ kind: 'offer', member: 'm-d', worker: 'w-d' }),
            );
          msg.respond(encodeFrame({ kind: 'joined', ok: true }));
        },
      });
      const starts = await collect(others, GANG_SUBJECTS.down('*'));

      let gang: Gang | undefined;
      try {
        gang = await createGangLeader({
          nc,
          logger,
          workerId: 'w-l',
          recruitTimeoutMs: 5_000,
          stepTimeoutMs: 10_000,
        }).start({
          jobId: 'j',
          request,
          followers: 2,
          model,
          shape,
          signal: never,
        });
        expect(gang.members().map((m) => m.worker)).toEqual(['w-l', 'w-a', 'w-b']);
        await waitFor(() => received.size === 6 && starts.some((s) => s.message.kind === 'start'), {
          timeoutMs: 5_000,
          message: 'an answer to every offer and the start',
        });
        expect(Object.fromEntries(received)).toEqual({
          'm-self': 'release',
          'm-a1': 'join',
          'm-a2': 'release',
          'm-b': 'join',
          'm-c': 'release',
          'm-d': 'release',
        });
        expect(starts.find((s) => s.message.kind === 'start')!.message).toEqual({
          kind: 'start',
          size: 3,
          ranks: { 'm-a1': 1, 'm-b': 2 },
        });
      } finally {
        gang?.close('test over');
        model.optimizer.dispose();
        model.dispose();
      }
    });

    it('pulls the gradients chunk by chunk within its byte budget and applies the mean of the whole batch', async () => {
      const request = SubmitTrainingJobRequest.fromPartial({
        preparedDatasetId: prepared.id,
        model: { mlp: { hiddenUnits: [1000, 1000], activation: 'relu' } },
        config: { batchSize: 8, epochs: 1, seed: 4, optimizer: { name: 'sgd', learningRate: 0.1 } },
      });
      const shape = dataShapeOf(prepared);
      const plan = toTrainingPlan(request.config);
      const build = async () => {
        const model = await buildTrainingModel(request.model!, shape, plan.seed);
        compileTrainingModel(model, plan.optimizer, shape.task);
        return model;
      };
      const [leaderNc, spy] = [await connection('leader'), await connection('spy')];
      const stop = new AbortController();
      const followers: Array<Promise<void>> = [];
      for (const workerId of ['w-1', 'w-2']) {
        const nc = await connection(workerId);
        followers.push(
          createGangFollower({ nc, preprocessing, logger, workerId, slots: new SlotPool(1) }).run(stop.signal),
        );
        await nc.flush();
      }
      const chunk = chunkFloats(leaderNc);
      // Pulled floats not yet seen coming up, at each pull; and floats sent up unasked.
      let pulled = 0;
      let sent = 0;
      let mostOutstanding = 0;
      let unasked = 0;
      spy.subscribe('aimaas.training.gang.*.*', {
        callback: (_, msg) => {
          const { message } = decodeFrame(msg.data);
          if (message.kind === 'pull') {
            pulled += message.ranges.reduce((n, r) => n + r.length, 0);
            mostOutstanding = Math.max(mostOutstanding, pulled - sent);
          } else if (message.kind === 'grads') {
            sent += message.length;
            unasked = Math.max(unasked, sent - pulled);
          }
        },
      });
      await spy.flush();

      const model = await build();
      const reference = await build();
      let gang: Gang | undefined;
      try {
        gang = await createGangLeader({
          nc: leaderNc,
          logger,
          workerId: 'w-0',
          recruitTimeoutMs: 5_000,
          stepTimeoutMs: 30_000,
          gradientBudgetBytes: 1,
        }).start({
          jobId: 'j',
          request,
          followers: 2,
          model,
          shape,
          signal: never,
        });
        expect(gang.size).toBe(3);
        const length = model.trainableWeights.reduce((n, w) => n + w.read().size, 0);
        expect(length).toBeGreaterThan(3 * chunk);
        for (const [step, from] of [
          [1, 0],
          [2, 8],
        ] as const) {
          const [loss] = await gang.step(batchOf(from, from + 8), { epoch: 1, step });
          const [expected] = (await trainOnBatch(reference, batchOf(from, from + 8), shape)) as number[];
          expect(Math.abs(loss! - expected!)).toBeLessThan(1e-5);
        }
        // Ranks 1 and 2 of 3 hold 3 rows of each 8-row batch: two whole gradients up per step.
        await waitFor(() => sent >= 2 * 2 * length, {
          timeoutMs: 5_000,
          message: 'the spy to see every gradient go up',
        });
        expect(sent).toBe(2 * 2 * length);
        expect(unasked).toBe(0);
        // A budget of 1 byte: one chunk at a time is on its way, never more.
        expect(mostOutstanding).toBe(chunk);
        const [w, r] = [model.getWeights(), reference.getWeights()];
        const maxDiff = tf.tidy(() => Math.max(...w.map((t, i) => tf.max(tf.abs(tf.sub(t, r[i]!))).dataSync()[0]!)));
        expect(maxDiff).toBeLessThan(1e-5);
      } finally {
        gang?.close('test over');
        stop.abort();
        await Promise.all(followers);
        for (const m of [model, reference]) {
          m.optimizer.dispose();
          m.dispose();
        }
      }
    }, 60_000);
  });
});

describe('SlotPool', () => {
  it('does not count a slot given back before its gang took it as following', () => {
    const slots = new SlotPool(1);
    const slot = slots.tryAcquire()!;
    slot.release();
    slot.follow();
    expect(slots.allFollowing).toBe(false);
    expect(slots.free).toBe(1);
    const again = slots.tryAcquire()!;
    again.follow();
    expect(slots.allFollowing).toBe(true);
    again.release();
    expect(slots.allFollowing).toBe(false);
  });
});

import type * as tf from '@tensorflow/tfjs';
import { SubmitTrainingJobRequest } from '@aimaas/proto';
import type { Logger } from '@aimaas/telemetry';
import { createDataPlan, type Batch } from '../data/data-source.js';
import {
  FloatAssembler,
  FrameInbox,
  GANG_SUBJECTS,
  GangAbortedError,
  decodeFrame,
  encodeFrame,
  newGangId,
  publishFloats,
  publishQuietly,
  type Frame,
  type GangMessage,
} from './gang-protocol.js';
import type { JobRunnerDeps } from '../jobs/job-runner.js';
import { shardGradients, shareOf, sliceRows, writeFlatWeights, type ShardGradients } from './shard-gradients.js';
import type { SlotPool } from '../jobs/slot-pool.js';
import { toTrainingPlan } from '../model/spec-mapping.js';
import { buildTrainingModel, compileTrainingModel, dataShapeOf, type DataShape } from '../model/training-model.js';
import type { NatsConnection } from '@aimaas/storage';

/** What a worker needs to follow other workers' data-parallel jobs. */
export interface GangFollowerDeps {
  nc: NatsConnection;
  preprocessing: JobRunnerDeps['preprocessing'];
  logger: Logger;
  workerId: string;
  /** The worker's slots: a gang is followed only with a free one, which it holds meanwhile. */
  slots: SlotPool;
}

/** The follower side of data-parallel training. */
export interface GangFollower {
  /**
   * Answers recruit requests while `signal` is live: each free slot offers itself, and a slot that
   * is joined follows its gang until the leader stops it, goes silent past the step timeout, or
   * `signal` aborts (then the leader is told, so its attempt ends at once).
   */
  run(signal: AbortSignal): Promise<void>;
}

type Join = Extract<GangMessage, { kind: 'join' }>;

/** Creates the follower side of data-parallel training for one worker. */
export function createGangFollower(deps: GangFollowerDeps): GangFollower {
  const { nc, logger } = deps;
  return {
    async run(signal) {
      const following = new Set<Promise<void>>();
      // Gangs a slot of this worker is offered to or follows: one slot per gang.
      const gangs = new Set<string>();
      const recruit = nc.subscribe(GANG_SUBJECTS.recruit, {
        callback: (err, msg) => {
          if (err || signal.aborted || !msg.reply) return;
          let ask: GangMessage;
          try {
            ask = decodeFrame(msg.data).message;
          } catch {
            return;
          }
          // NATS echoes a worker's own recruits back to it: it never follows itself.
          if (ask.kind !== 'recruit' || ask.leader === deps.workerId || gangs.has(ask.gang)) return;
          const slot = deps.slots.tryAcquire();
          if (!slot) return;
          const gang = ask.gang;
          gangs.add(gang);
          const member = newGangId('m');
          let reserved = true;
          /** Ends the reservation; the slot goes back unless it now follows the gang. */
          const unreserve = (keepSlot: boolean) => {
            if (!reserved) return;
            reserved = false;
            clearTimeout(expiry);
            inbox.unsubscribe();
            watch.unsubscribe();
            if (keepSlot) return;
            slot.release();
            gangs.delete(gang);
          };
          const inbox = nc.subscribe(GANG_SUBJECTS.member(member), {
            callback: (e, m) => {
              if (e || !reserved) return;
              let request: GangMessage;
              try {
                request = decodeFrame(m.data).message;
              } catch {
                return;
              }
              if (request.kind !== 'join' || signal.aborted) {
                unreserve(false);
                if (request.kind === 'join')
                  m.respond(encodeFrame({ kind: 'joined', ok: false, reason: 'shutting down' }));
                return;
              }
              unreserve(true);
              slot.follow();
              const run: Promise<void> = follow(deps, member, request, signal, (answer) =>
                m.respond(encodeFrame(answer)),
              )
                .catch((error: unknown) =>
                  logger.warn({ err: error, jobId: request.job }, 'following a data-parallel gang failed'),
                )
                .finally(() => {
                  slot.release();
                  gangs.delete(gang);
                  following.delete(run);
                });
              following.add(run);
            },
          });
          // The gang started (or recruiting stopped) without this offer: the slot goes back at once.
          const watch = nc.subscribe(GANG_SUBJECTS.down(gang), {
            callback: (e, m) => {
              if (e || !reserved) return;
              let message: GangMessage;
              try {
                message = decodeFrame(m.data).message;
              } catch {
                return;
              }
              if ((message.kind === 'start' && message.ranks[member] === undefined) || message.kind === 'stop')
                unreserve(false);
            },
          });
          // An offer the leader never takes up gives the slot back.
          const expiry = setTimeout(() => unreserve(false), ask.reserveMs);
          expiry.unref();
          msg.respond(encodeFrame({ kind: 'offer', member, worker: deps.workerId }));
        },
      });
      await new Promise<void>((resolve) =>
        signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true }),
      );
      recruit.unsubscribe();
      await Promise.allSettled(following);
    },
  };
}

/**
 * Follows one gang: builds the job's model and data plan as the leader did, answers the join,
 * then for each step takes the leader's weights, reads the same global batch from its own
 * ReadSplit stream, computes the gradients of its share and sends them up as the leader pulls
 * them (never unasked: the leader bounds what is on its way to it).
 */
async function follow(
  deps: GangFollowerDeps,
  member: string,
  join: Join,
  signal: AbortSignal,
  answer: (message: GangMessage) => void,
): Promise<void> {
  const { nc, logger, workerId } = deps;
  const request = SubmitTrainingJobRequest.fromJSON(join.request);
  let model: tf.LayersModel | undefined;
  let down: FrameInbox | undefined;
  let train: { shape: DataShape; data: ReturnType<typeof createDataPlan> };
  try {
    const prepared = await deps.preprocessing.getPreparedDataset({ id: request.preparedDatasetId }, { signal });
    const shape = dataShapeOf(prepared);
    const plan = toTrainingPlan(request.config);
    model = await buildTrainingModel(request.model!, shape, plan.seed);
    compileTrainingModel(model, plan.optimizer, shape.task);
    train = { shape, data: createDataPlan(deps.preprocessing, prepared, plan, shape.featureSize, join.fold) };
    // Subscribed before answering, so the leader's first message cannot come too early.
    down = new FrameInbox(nc, GANG_SUBJECTS.down(join.gang));
  } catch (error) {
    model?.optimizer?.dispose();
    model?.dispose();
    answer({ kind: 'joined', ok: false, reason: (error as Error).message });
    throw error;
  }
  answer({ kind: 'joined', ok: true });
  let rank = -1;
  let stats = { steps: 0, samples: 0 };
  let batches: AsyncIterator<Batch> | undefined;
  try {
    // The leader pings from the first join on, while others still join.
    let first: Frame;
    do first = await down.next(join.timeoutMs, signal, `the start of ${join.leader}'s gang`);
    while (first.message.kind === 'ping');
    if (first.message.kind !== 'start' || first.message.ranks[member] === undefined) return;
    rank = first.message.ranks[member];
    const size = first.message.size;
    logger.info({ jobId: join.job, leader: join.leader, rank, size }, 'following a data-parallel job');
    let epoch = 0;
    let step = 0;
    let weights: FloatAssembler | undefined;
    // This step's gradients, sent as the leader pulls them.
    let held: { seq: number; share: ShardGradients } | undefined;
    for (;;) {
      const { message, payload }: Frame = await down.next(
        join.timeoutMs,
        signal,
        `the leader ${join.leader} of job ${join.job}`,
      );
      if (message.kind === 'stop') {
        logger.info(
          { jobId: join.job, leader: join.leader, rank, reason: message.reason, ...stats },
          'left a data-parallel job',
        );
        return;
      }
      if (message.kind === 'pull') {
        if (held?.seq !== message.seq) continue;
        const { share } = held;
        for (const range of message.ranges) {
          if (range.rank !== rank) continue;
          const header = {
            kind: 'grads',
            seq: message.seq,
            rank,
            rows: share.rows,
            loss: share.loss,
            metric: share.metric,
          } as const;
          publishFloats(nc, GANG_SUBJECTS.up(join.gang), header, share.grads, range);
        }
        continue;
      }
      if (message.kind !== 'weights') continue;
      weights ??= new FloatAssembler(message.total);
      if (!weights.add(message, payload)) continue;
      const values = weights.values;
      weights = undefined;
      if (message.epoch !== epoch) {
        await batches?.return?.();
        batches = train.data.train(message.epoch, signal)[Symbol.asyncIterator]();
        epoch = message.epoch;
        step = 0;
      }
      let batch: Batch | undefined;
      while (step < message.step) {
        const next = await batches!.next();
        if (next.done)
          throw new GangAbortedError(
            `the training data of epoch ${epoch} ended after ${step} batches; the leader is at ${message.step}`,
          );
        batch = next.value;
        step++;
      }
      if (!batch || batch.rows !== message.rows) {
        throw new GangAbortedError(
          `epoch ${epoch} step ${message.step}: the leader has ${message.rows} rows, this worker ${batch?.rows ?? 'none'}`,
        );
      }
      writeFlatWeights(model, values);
      const [start, end] = shareOf(batch.rows, rank, size);
      const share = await shardGradients(model, sliceRows(batch, start, end), train.shape);
      held = { seq: message.seq, share };
      if (share.rows > 0) stats = { steps: stats.steps + 1, samples: stats.samples + share.rows };
    }
  } catch (error) {
    const message = signal.aborted ? `worker ${workerId} is shutting down` : (error as Error).message;
    publishQuietly(nc, GANG_SUBJECTS.up(join.gang), encodeFrame({ kind: 'error', rank, worker: workerId, message }));
    if (!signal.aborted)
      logger.warn(
        { jobId: join.job, leader: join.leader, rank, reason: message, ...stats },
        'dropped a data-parallel job',
      );
  } finally {
    await batches?.return?.().catch(() => undefined);
    down.close();
    model.optimizer?.dispose();
    model.dispose();
  }
}

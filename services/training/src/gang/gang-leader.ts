import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type * as tf from '@tensorflow/tfjs';
import { GangMember, SubmitTrainingJobRequest } from '@aimaas/proto';
import type { Logger } from '@aimaas/telemetry';
import type { Batch } from '../data/data-source.js';
import {
  FloatAssembler,
  FrameInbox,
  GANG_SUBJECTS,
  GangAbortedError,
  chunkFloats,
  decodeFrame,
  encodeFrame,
  newGangId,
  publishFloats,
  publishQuietly,
  untilAborted,
  type GangMessage,
  type PullRange,
} from './gang-protocol.js';
import {
  applyFlatGradients,
  averageGradients,
  gradientLength,
  readFlatWeights,
  shardGradients,
  shareOf,
  sliceRows,
  type ShardGradients,
} from './shard-gradients.js';
import { trainOnBatch } from '../model/trainer.js';
import type { DataShape } from '../model/training-model.js';
import type { NatsConnection } from '@aimaas/storage';

/**
 * Gradient bytes all the gangs a process leads may have on their way to it at once (32 MiB):
 * half of nats-server's default `max_pending` (64 MiB), past which the server cuts a connection
 * that does not read fast enough (a leader computing its own share on wasm reads nothing).
 */
export const GANG_GRADIENT_BUDGET_BYTES = 32 * 1024 * 1024;

/** What a leader needs to recruit and drive gangs. */
export interface GangLeaderDeps {
  /**
   * The connection gang traffic goes over: one of its own, not the one of the job queue and the
   * stores, so that a gang's trouble (a cut slow consumer) cannot take those down.
   */
  nc: NatsConnection;
  logger: Logger;
  /** This worker's id (rank 0 in the gangs it leads). */
  workerId: string;
  /** How long to look for followers before training with those found. */
  recruitTimeoutMs: number;
  /** How long to wait for a follower's gradients (and, on their side, for the leader) before giving up. */
  stepTimeoutMs: number;
  /**
   * Gradient bytes one gang may have asked for and not yet received: followers send their
   * gradients only when the leader pulls them, chunk by chunk within this budget (at least one
   * chunk is always asked for).
   * @default GANG_GRADIENT_BUDGET_BYTES
   */
  gradientBudgetBytes?: number;
}

/** One data-parallel job's attempt, as its leader sees it. */
export interface GangJob {
  jobId: string;
  request: SubmitTrainingJobRequest;
  fold?: number;
  /** Followers wanted: `config.workers - 1`. */
  followers: number;
  /** The leader's compiled model (the one that is checkpointed and registered). */
  model: tf.LayersModel;
  shape: DataShape;
  signal: AbortSignal;
}

/** A recruited gang: rank 0 (this worker) and its followers. */
export interface Gang {
  readonly id: string;
  /** Workers in the gang, the leader included. */
  readonly size: number;
  /** Each worker's share so far, by rank. */
  members(): GangMember[];
  /**
   * One synchronous data-parallel step on a global batch: sends the current weights to the
   * followers, computes the leader's share, pulls every follower's gradients, applies their
   * row-weighted mean with the model's optimizer and returns the batch's `[loss, metric]`. A gang
   * no follower joined trains with `model.trainOnBatch`, as a one-worker job does.
   *
   * @throws GangAbortedError when a follower reports an error or sends nothing within the step timeout.
   */
  step(batch: Batch, at: { epoch: number; step: number }): Promise<number[]>;
  /** Tells the followers to leave (idempotent). */
  close(reason: string): void;
}

/** Leads data-parallel jobs: {@link GangLeader.start} recruits and returns the gang. */
export interface GangLeader {
  start(job: GangJob): Promise<Gang>;
}

interface Follower {
  member: string;
  worker: string;
}

/** Creates the leader side of data-parallel training for one worker. */
export function createGangLeader(deps: GangLeaderDeps): GangLeader {
  return {
    async start(job) {
      const gangId = newGangId('g');
      const up = new FrameInbox(deps.nc, GANG_SUBJECTS.up(gangId));
      try {
        const followers = job.followers > 0 ? await recruit(deps, gangId, job) : [];
        return runGang(deps, gangId, job, followers, up);
      } catch (error) {
        up.close();
        throw error;
      }
    },
  };
}

/**
 * Asks every worker for a free slot (again every 500 ms) and sends each offer a join until
 * `job.followers` joined or the recruit timeout passed; joins still answering then are awaited.
 * Offers from this worker or from a worker already in the gang, and those left when recruiting
 * ends, are released. From the first join on, the gang is pinged, so that a follower does not
 * give up on its leader while the others are still joining.
 */
async function recruit(deps: GangLeaderDeps, gangId: string, job: GangJob): Promise<Follower[]> {
  const { nc, logger } = deps;
  const join: GangMessage = {
    kind: 'join',
    gang: gangId,
    job: job.jobId,
    leader: deps.workerId,
    timeoutMs: deps.stepTimeoutMs,
    request: SubmitTrainingJobRequest.toJSON(job.request),
    ...(job.fold !== undefined && { fold: job.fold }),
  };
  const joinBytes = encodeFrame(join);
  if (joinBytes.byteLength > (nc.info?.max_payload ?? 1024 * 1024)) {
    logger.warn(
      { jobId: job.jobId, bytes: joinBytes.byteLength },
      'the job request is too large for a NATS message: training without followers',
    );
    return [];
  }
  const offers = new FrameInbox(nc, GANG_SUBJECTS.offers(gangId));
  const release = (member: string) =>
    publishQuietly(nc, GANG_SUBJECTS.member(member), encodeFrame({ kind: 'release', gang: gangId }));
  const joined: Follower[] = [];
  const pending = new Set<Promise<void>>();
  // Workers joined or joining, this one included: one slot per worker (a second slot of one
  // process would compute on the same cores).
  const workers = new Set([deps.workerId]);
  let ping: NodeJS.Timeout | undefined;
  const deadline = Date.now() + deps.recruitTimeoutMs;
  let asked = 0;
  try {
    while (joined.length < job.followers) {
      job.signal.throwIfAborted();
      if (Date.now() >= deadline) {
        if (pending.size === 0) break;
        await untilAborted(Promise.race(pending), job.signal);
        continue;
      }
      const open = job.followers - joined.length - pending.size;
      if (open > 0 && Date.now() - asked >= 500) {
        asked = Date.now();
        const ask: GangMessage = {
          kind: 'recruit',
          gang: gangId,
          job: job.jobId,
          leader: deps.workerId,
          want: open,
          reserveMs: deps.recruitTimeoutMs + 2_000,
        };
        publishQuietly(nc, GANG_SUBJECTS.recruit, encodeFrame(ask), GANG_SUBJECTS.offers(gangId));
      }
      let offer: GangMessage;
      try {
        offer = (await offers.next(Math.max(1, Math.min(250, deadline - Date.now())), job.signal, 'offers')).message;
      } catch (error) {
        if (error instanceof GangAbortedError) continue;
        throw error;
      }
      if (offer.kind !== 'offer') continue;
      if (workers.has(offer.worker) || joined.length + pending.size >= job.followers) {
        release(offer.member);
        continue;
      }
      const candidate = { member: offer.member, worker: offer.worker };
      workers.add(candidate.worker);
      const joining: Promise<void> = nc
        .request(GANG_SUBJECTS.member(candidate.member), joinBytes, { timeout: deps.stepTimeoutMs })
        .then((reply) => {
          const answer = decodeFrame(reply.data).message;
          if (answer.kind === 'joined' && answer.ok) {
            joined.push(candidate);
            ping ??= setInterval(
              () => publishQuietly(nc, GANG_SUBJECTS.down(gangId), encodeFrame({ kind: 'ping' })),
              pingIntervalMs(deps),
            );
          } else {
            workers.delete(candidate.worker);
            logger.warn(
              { jobId: job.jobId, worker: candidate.worker, answer },
              'a worker declined to join a data-parallel gang',
            );
          }
        })
        .catch((err: unknown) => {
          workers.delete(candidate.worker);
          logger.warn({ err, jobId: job.jobId, worker: candidate.worker }, 'a worker did not answer its join');
        })
        .finally(() => pending.delete(joining));
      pending.add(joining);
    }
  } catch (error) {
    // Cancelled or shut down while recruiting: whoever joined (or still joins) is told to leave.
    void Promise.allSettled(pending).then(() =>
      publishQuietly(
        nc,
        GANG_SUBJECTS.down(gangId),
        encodeFrame({ kind: 'stop', reason: 'recruiting was interrupted' }),
      ),
    );
    throw error;
  } finally {
    clearInterval(ping);
    // Offers that came in but were never read hold a slot each until their reservation expires.
    for (const { message } of offers.close()) if (message.kind === 'offer') release(message.member);
  }
  return joined;
}

/** How often a leader pings its gang: well within the followers' patience (the step timeout). */
const pingIntervalMs = (deps: GangLeaderDeps): number => Math.max(100, deps.stepTimeoutMs / 4);

/**
 * The leader's side of pulling one step's gradients: asks for chunks of the followers'
 * gradients, interleaved by rank, while the bytes asked for and not yet received stay within the
 * budget (one chunk at least).
 */
class GradientPulls {
  readonly #ranges: PullRange[];
  #next = 0;
  #outstanding = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subject: string,
    private readonly seq: number,
    private readonly budgetBytes: number,
    rows: number,
    size: number,
    length: number,
  ) {
    const per = chunkFloats(nc);
    const byRank: PullRange[][] = [];
    for (let rank = 1; rank < size; rank++) {
      const [start, end] = shareOf(rows, rank, size);
      const total = end > start ? length : 0;
      const ranges: PullRange[] = [];
      for (let offset = 0; offset < total || ranges.length === 0; offset += per)
        ranges.push({ rank, offset, length: Math.min(per, total - offset) });
      byRank.push(ranges);
    }
    this.#ranges = [];
    for (let i = 0; byRank.some((ranges) => i < ranges.length); i++) {
      for (const ranges of byRank) if (i < ranges.length) this.#ranges.push(ranges[i]!);
    }
  }

  /** Asks for as many further chunks as the budget allows. */
  grant(): void {
    const ranges: PullRange[] = [];
    while (this.#next < this.#ranges.length) {
      const range = this.#ranges[this.#next]!;
      const bytes = range.length * 4;
      if (this.#outstanding > 0 && this.#outstanding + bytes > this.budgetBytes) break;
      ranges.push(range);
      this.#outstanding += bytes;
      this.#next++;
    }
    if (ranges.length > 0) publishQuietly(this.nc, this.subject, encodeFrame({ kind: 'pull', seq: this.seq, ranges }));
  }

  /** A chunk of `floats` floats arrived: its bytes go back to the budget. */
  received(floats: number): void {
    this.#outstanding -= floats * 4;
    this.grant();
  }
}

function runGang(deps: GangLeaderDeps, gangId: string, job: GangJob, followers: Follower[], up: FrameInbox): Gang {
  const { nc } = deps;
  const size = followers.length + 1;
  const down = GANG_SUBJECTS.down(gangId);
  const stats = [{ member: '', worker: deps.workerId }, ...followers].map((f, rank) => ({
    ...f,
    rank,
    steps: 0,
    samples: 0,
  }));
  const length = gradientLength(job.model);
  let seq = 0;
  let closed = false;
  // Sent even to an empty gang: a worker whose join answer came too late learns it is not in it.
  if (job.followers > 0) {
    publishQuietly(
      nc,
      down,
      encodeFrame({ kind: 'start', size, ranks: Object.fromEntries(followers.map((f, i) => [f.member, i + 1])) }),
    );
  }
  // Followers give up on a leader they do not hear from within the step timeout (validation and
  // checkpoints happen between steps).
  const ping =
    size > 1
      ? setInterval(() => publishQuietly(nc, down, encodeFrame({ kind: 'ping' })), pingIntervalMs(deps))
      : undefined;
  const budget = deps.gradientBudgetBytes ?? GANG_GRADIENT_BUDGET_BYTES;
  const count = (rank: number, rows: number) => {
    if (rows === 0) return;
    stats[rank]!.steps++;
    stats[rank]!.samples += rows;
  };

  async function gather(
    at: { epoch: number; step: number },
    rows: number,
    pulls: GradientPulls,
  ): Promise<ShardGradients[]> {
    const shares: Array<ShardGradients | undefined> = new Array(size).fill(undefined);
    const parts = new Map<number, FloatAssembler>();
    let missing = size - 1;
    while (missing > 0) {
      const waiting = stats.filter((_s, rank) => rank > 0 && !shares[rank]).map((s) => `${s.worker} (rank ${s.rank})`);
      const { message, payload } = await up.next(
        deps.stepTimeoutMs,
        job.signal,
        `epoch ${at.epoch} step ${at.step}: gradients from ${waiting.join(', ')}`,
      );
      if (message.kind === 'error') {
        throw new GangAbortedError(
          `data-parallel worker ${message.worker} (rank ${message.rank}) left: ${message.message}`,
        );
      }
      if (
        message.kind !== 'grads' ||
        message.seq !== seq ||
        shares[message.rank] ||
        !(message.rank > 0 && message.rank < size)
      )
        continue;
      const [start, end] = shareOf(rows, message.rank, size);
      if (message.rows !== end - start) {
        throw new GangAbortedError(
          `data-parallel worker ${stats[message.rank]!.worker} computed ${message.rows} rows of epoch ${at.epoch} step ${at.step}, expected ${end - start}`,
        );
      }
      let assembler = parts.get(message.rank);
      if (!assembler) parts.set(message.rank, (assembler = new FloatAssembler(message.total)));
      const complete = assembler.add(message, payload);
      pulls.received(message.length);
      if (complete) {
        shares[message.rank] = {
          rows: message.rows,
          loss: message.loss,
          metric: message.metric,
          grads: assembler.values,
        };
        missing--;
      }
    }
    return shares as ShardGradients[];
  }

  return {
    id: gangId,
    size,
    members: () =>
      stats.map((s) => GangMember.fromPartial({ worker: s.worker, rank: s.rank, steps: s.steps, samples: s.samples })),
    async step(batch, at) {
      if (size === 1) {
        // Alone, the leader trains exactly as a one-worker job does (the same bits).
        const result = await trainOnBatch(job.model, batch, job.shape);
        count(0, batch.rows);
        return Array.isArray(result) ? result : [result];
      }
      seq++;
      publishFloats(
        nc,
        down,
        { kind: 'weights', seq, epoch: at.epoch, step: at.step, rows: batch.rows },
        await readFlatWeights(job.model),
      );
      // The first budget of gradients is asked for at once: followers send as soon as their share
      // is computed, while this worker computes its own.
      const pulls = new GradientPulls(nc, down, seq, budget, batch.rows, size, length);
      pulls.grant();
      // Let the client write the weights out before this worker's own (synchronous) compute, so
      // the followers compute their shares meanwhile.
      await yieldToEventLoop();
      const [start, end] = shareOf(batch.rows, 0, size);
      const own = await shardGradients(job.model, sliceRows(batch, start, end), job.shape);
      const shares = await gather(at, batch.rows, pulls);
      shares[0] = own;
      const mean = averageGradients(shares, length);
      applyFlatGradients(job.model, mean.grads);
      shares.forEach((share, rank) => count(rank, share.rows));
      return [mean.loss, mean.metric];
    },
    close(reason) {
      if (closed) return;
      closed = true;
      clearInterval(ping);
      if (size > 1) publishQuietly(nc, down, encodeFrame({ kind: 'stop', reason }));
      up.close();
    },
  };
}

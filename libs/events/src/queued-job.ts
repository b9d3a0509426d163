import type { JsMsg } from '@nats-io/jetstream';
import { isDomainError } from '@aimaas/runtime';
import { headerRecord } from './cloud-event.js';
import type { EventsLogger } from './nats-connection.js';

/** Header carrying the job id on a queued job. */
export const JOB_ID_HEADER = 'aimaas-job-id';

/**
 * Thrown by a job handler for a job that can never succeed (bad spec, unreadable payload): the
 * job is termed at once instead of retried. A `DomainError` with code `INVALID_ARGUMENT` (e.g.
 * `InvalidArgumentError` of `@aimaas/runtime`) is treated the same way.
 *
 * @example
 * if (!spec.layers) throw new PoisonJobError(`job ${job.id}: spec.layers is missing`);
 */
export class PoisonJobError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PoisonJobError';
  }
}

/** True for errors that mean "retrying cannot help": {@link PoisonJobError} and INVALID_ARGUMENT. */
export function isPoisonError(err: unknown): boolean {
  return err instanceof PoisonJobError || (isDomainError(err) && err.code === 'INVALID_ARGUMENT');
}

/** One delivery of a queued job to a worker. */
export interface QueuedJob {
  /** The job id given to `enqueue`. */
  readonly id: string;
  /** The payload as enqueued (an object arrives as its UTF-8 JSON). */
  readonly data: Uint8Array;
  /** The payload parsed as JSON. @throws PoisonJobError when it is not JSON. */
  json<T = unknown>(): T;
  /** 1 for the first delivery; more after a nak, a failure or a dead worker. */
  readonly deliveryCount: number;
  /** True when an earlier delivery of this job did not complete: resume from the last checkpoint. */
  readonly redelivered: boolean;
  /** Sequence of the job in its stream. */
  readonly seq: number;
  /** All message headers (first value of each). */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * Aborted when the worker is shutting down: checkpoint and return (or throw) promptly; the job
   * is then handed to another worker.
   */
  readonly signal: AbortSignal;
  /** Extends the ack deadline by a full ack wait: call it during long steps (e.g. each epoch). */
  working(): void;
  /** Hands the job back for redelivery after `delayMs` (default: at once); the handler's result is then ignored. */
  nak(delayMs?: number): void;
  /** Gives the job up for good (logged with `reason`); the handler's result is then ignored. */
  term(reason: string): void;
}

/** A delivery being handled, with whether the handler already settled it itself. */
export interface ActiveJob {
  readonly job: QueuedJob;
  /** True once acked, naked or termed: nothing more may be sent for this delivery. */
  readonly settled: boolean;
  /** Acks and waits for the server to confirm it, so a finished job is not run again. */
  ack(): Promise<void>;
  nak(delayMs?: number): void;
  term(reason: string): void;
}

/**
 * Wraps a delivery. `term` never sends its reason to the server: nats-server before 2.11 ignores a
 * `+TERM <reason>` ack (and redelivers), so the reason is logged here instead.
 */
export function activeJob(
  msg: JsMsg,
  signal: AbortSignal,
  logger: EventsLogger,
  fields: Record<string, unknown>,
): ActiveJob {
  const headers = headerRecord(msg.headers);
  const id = headers[JOB_ID_HEADER] || headers['Nats-Msg-Id'] || String(msg.seq);
  let settled = false;
  const settle = (): boolean => {
    if (settled) return false;
    settled = true;
    return true;
  };
  const active: ActiveJob = {
    get settled() {
      return settled;
    },
    async ack() {
      if (!settle()) return;
      try {
        await msg.ackAck();
      } catch (err) {
        logger.warn({ ...fields, jobId: id, err }, 'job ack not confirmed; the job may run again');
      }
    },
    nak(delayMs?: number) {
      if (settle()) msg.nak(delayMs);
    },
    term(reason: string) {
      if (!settle()) return;
      logger.error({ ...fields, jobId: id, reason, deliveryCount: msg.info.deliveryCount }, 'job terminated');
      msg.term();
    },
    job: {
      id,
      data: msg.data,
      json<T>(): T {
        try {
          return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(msg.data)) as T;
        } catch (err) {
          throw new PoisonJobError(`job ${id}: payload is not UTF-8 JSON (${(err as Error).message})`, { cause: err });
        }
      },
      deliveryCount: msg.info.deliveryCount,
      redelivered: msg.redelivered,
      seq: msg.seq,
      headers,
      signal,
      working() {
        if (!settled) msg.working();
      },
      nak: (delayMs?: number) => active.nak(delayMs),
      term: (reason: string) => active.term(reason),
    },
  };
  return active;
}

import { randomUUID } from 'node:crypto';
import { AbortedError } from '@aimaas/runtime';
import type { NatsConnection } from '@aimaas/storage';

/**
 * Core NATS subjects of data-parallel training (no JetStream: a gang lives as long as its leader's
 * attempt, and a lost message only aborts the attempt, which resumes from its checkpoint).
 */
export const GANG_SUBJECTS = {
  /** Leaders ask for followers here; every worker with a free slot answers with an offer. */
  recruit: 'aimaas.training.gang.recruit',
  /** Where one worker slot takes join and release requests. */
  member: (memberId: string) => `aimaas.training.gang.member.${memberId}`,
  /** Offers for one gang (the reply subject of its recruit requests). */
  offers: (gangId: string) => `aimaas.training.gang.${gangId}.offers`,
  /** Leader → every follower: start, weights, pull, ping, stop. */
  down: (gangId: string) => `aimaas.training.gang.${gangId}.down`,
  /** Followers → leader: gradients and errors. */
  up: (gangId: string) => `aimaas.training.gang.${gangId}.up`,
} as const;

/** A fresh id for a gang or a member slot (a subject token). */
export const newGangId = (prefix: string): string => `${prefix}${randomUUID().replaceAll('-', '')}`;

/** The messages of the protocol; `weights` and `grads` carry float32 bytes beside the header. */
export type GangMessage =
  | { kind: 'recruit'; gang: string; job: string; leader: string; want: number; reserveMs: number }
  | { kind: 'offer'; member: string; worker: string }
  | { kind: 'join'; gang: string; job: string; leader: string; request: unknown; fold?: number; timeoutMs: number }
  | { kind: 'joined'; ok: boolean; reason?: string }
  | { kind: 'release'; gang: string }
  | { kind: 'start'; size: number; ranks: Record<string, number> }
  | ({ kind: 'weights'; seq: number; epoch: number; step: number; rows: number } & Chunk)
  | ({ kind: 'grads'; seq: number; rank: number; rows: number; loss: number; metric: number } & Chunk)
  | { kind: 'pull'; seq: number; ranges: PullRange[] }
  | { kind: 'ping' }
  | { kind: 'stop'; reason: string }
  | { kind: 'error'; rank: number; worker: string; message: string };

/** Where a part of a float32 vector of `total` floats goes: `offset` and `length` count floats. */
export interface Chunk {
  offset: number;
  length: number;
  total: number;
}

/**
 * A part of one follower's gradient the leader asks for: followers send gradients only when
 * asked, so the leader bounds the bytes on their way to it (see `GangLeaderDeps.gradientBudgetBytes`).
 */
export interface PullRange {
  rank: number;
  /** First float wanted. */
  offset: number;
  /** Floats wanted (0 for a share without rows: its header alone). */
  length: number;
}

/** The messages that carry float32 values. */
export type FloatMessage = Extract<GangMessage, { kind: 'weights' | 'grads' }>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A decoded message and its payload bytes (empty for header-only messages). */
export interface Frame<M extends GangMessage = GangMessage> {
  message: M;
  payload: Uint8Array;
}

/** A gang lost a member, its leader or a message: the attempt ends and the job is retried. */
export class GangAbortedError extends AbortedError {}

/** Encodes a message: u32 LE header length, the header as JSON, the payload. */
export function encodeFrame(message: GangMessage, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify(message));
  const out = new Uint8Array(4 + header.byteLength + payload.byteLength);
  new DataView(out.buffer).setUint32(0, header.byteLength, true);
  out.set(header, 4);
  out.set(payload, 4 + header.byteLength);
  return out;
}

/** Decodes {@link encodeFrame}'s bytes (the payload is a view into `bytes`). */
export function decodeFrame(bytes: Uint8Array): Frame {
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  const message = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length))) as GangMessage;
  return { message, payload: bytes.subarray(4 + length) };
}

/**
 * Publishes where losing the message is harmless (a closed connection at shutdown, no listener):
 * the other side times out instead.
 */
export function publishQuietly(nc: NatsConnection, subject: string, data: Uint8Array, reply?: string): void {
  try {
    nc.publish(subject, data, reply ? { reply } : undefined);
  } catch {
    // the connection is closing: the peers notice through their timeouts
  }
}

/** `promise`, or `signal.reason` as soon as the signal aborts. */
export async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) =>
        signal.addEventListener('abort', (onAbort = () => reject(signal.reason)), { once: true }),
      ),
    ]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/** Bytes of float data per message: the server's max payload less room for the header. */
export function chunkFloats(nc: NatsConnection): number {
  const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
  return Math.max(1024, Math.floor((maxPayload - 8 * 1024) / 4));
}

/**
 * Publishes `values` (or the floats of `range` in it) as one message or more (NATS caps a message
 * at `max_payload`, 1 MiB by default), each a `header` with its chunk's offset and length.
 */
export function publishFloats(
  nc: NatsConnection,
  subject: string,
  header: DistributiveOmit<FloatMessage, keyof Chunk>,
  values: Float32Array,
  range: { offset: number; length: number } = { offset: 0, length: values.length },
): number {
  const per = chunkFloats(nc);
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const end = Math.min(values.length, range.offset + range.length);
  let messages = 0;
  for (let offset = range.offset; offset < end || messages === 0; offset += per) {
    const length = Math.max(0, Math.min(per, end - offset));
    const message = { ...header, offset, length, total: values.length } as FloatMessage;
    nc.publish(subject, encodeFrame(message, bytes.subarray(offset * 4, (offset + length) * 4)));
    messages++;
  }
  return messages;
}

/** Reassembles a float32 vector from its chunks (in any order). */
export class FloatAssembler {
  readonly values: Float32Array;
  #received = 0;

  constructor(readonly total: number) {
    this.values = new Float32Array(total);
  }

  /** Adds a chunk; true once every value arrived. */
  add(chunk: Chunk, payload: Uint8Array): boolean {
    if (payload.byteLength !== chunk.length * 4 || chunk.offset + chunk.length > this.total) {
      throw new GangAbortedError(
        `a gang message holds ${payload.byteLength} bytes at float ${chunk.offset}, expected ${chunk.length} floats of ${this.total}`,
      );
    }
    new Uint8Array(this.values.buffer).set(payload, chunk.offset * 4);
    this.#received += chunk.length;
    return this.#received >= this.total;
  }
}

/**
 * Messages of one subscription, read one at a time with a timeout: what a leader waits on for its
 * followers' gradients and a follower for its leader's weights.
 */
export class FrameInbox {
  readonly #queue: Frame[] = [];
  #wake: (() => void) | undefined;
  readonly #sub: ReturnType<NatsConnection['subscribe']>;

  constructor(nc: NatsConnection, subject: string) {
    this.#sub = nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        try {
          this.#queue.push(decodeFrame(msg.data));
        } catch {
          return; // not ours: a foreign publisher on a gang subject is ignored
        }
        this.#wake?.();
      },
    });
  }

  /**
   * The next message.
   *
   * @throws GangAbortedError after `timeoutMs` without one (saying `what` was awaited);
   *   `signal.reason` when it aborts first.
   */
  async next(timeoutMs: number, signal: AbortSignal, what: string): Promise<Frame> {
    for (;;) {
      const frame = this.#queue.shift();
      if (frame) return frame;
      signal.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => done(new GangAbortedError(`${what}: nothing within ${timeoutMs} ms`)),
          timeoutMs,
        );
        const onAbort = () => done(signal.reason);
        const done = (error?: unknown) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          this.#wake = undefined;
          if (error) reject(error);
          else resolve();
        };
        this.#wake = () => done();
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
  }

  /** Unsubscribes; returns the messages that arrived but were never read. */
  close(): Frame[] {
    this.#sub.unsubscribe();
    this.#wake = undefined;
    return this.#queue.splice(0);
  }
}

import {
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type PubAck,
} from '@nats-io/jetstream';
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { backoffDelay, delay, UnavailableError } from '@aimaas/runtime';
import { isTransientNatsError } from '@aimaas/storage';

export { isConnectionClosed } from '@aimaas/storage';
import { createLogger, type Logger } from '@aimaas/telemetry';

/** A NATS connection, or a JetStream context made from one; every entry point takes either. */
export type NatsOrJetStream = NatsConnection | JetStreamClient;

/** The logger this library writes to: any pino logger (e.g. `createLogger` of `@aimaas/telemetry`). */
export type EventsLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

function isJetStreamClient(value: object): value is JetStreamClient {
  return typeof (value as Partial<JetStreamClient>).jetstreamManager === 'function';
}

function isJetStreamManager(value: object): value is JetStreamManager {
  return typeof (value as Partial<JetStreamManager>).getAccountInfo === 'function';
}

/** The JetStream context of `source` (itself when it already is one). */
export function toJetStream(source: NatsOrJetStream): JetStreamClient {
  if (source === null || typeof source !== 'object') {
    throw new TypeError('expected a NatsConnection or a JetStreamClient');
  }
  return isJetStreamClient(source) ? source : jetstream(source);
}

/** A JetStream manager for `source` (itself when it already is one). */
export async function toJetStreamManager(source: NatsOrJetStream | JetStreamManager): Promise<JetStreamManager> {
  if (source === null || typeof source !== 'object') {
    throw new TypeError('expected a NatsConnection, a JetStreamClient or a JetStreamManager');
  }
  if (isJetStreamManager(source)) return source;
  if (isJetStreamClient(source)) return source.jetstreamManager();
  return jetstreamManager(source);
}

/** How {@link publishWithRetry} retries. */
export interface PublishRetry {
  maxAttempts: number;
  retryBaseMs: number;
  /** What is published, for the error message: `event registry.alias.set (ce-id …)`. */
  what: string;
  onRetry(attempt: number, err: unknown, delayMs: number): void;
}

/**
 * Publishes to a stream, retrying transient failures with backoff and the same message id (so
 * the stream's duplicate window stores the message once).
 *
 * @throws UnavailableError when every attempt failed transiently; other failures as they came.
 */
export async function publishWithRetry(
  js: JetStreamClient,
  subject: string,
  body: Uint8Array,
  opts: { msgID: string; headers: MsgHdrs; timeoutMs: number },
  retry: PublishRetry,
): Promise<PubAck> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await js.publish(subject, body, { msgID: opts.msgID, headers: opts.headers, timeout: opts.timeoutMs });
    } catch (err) {
      if (!isTransientNatsError(err)) throw err;
      if (attempt >= retry.maxAttempts) {
        throw new UnavailableError(
          `publishing ${retry.what} failed after ${attempt} attempts: NATS JetStream did not store it ` +
            `(${(err as Error).message})`,
          { cause: err },
        );
      }
      const delayMs = backoffDelay(attempt, { baseMs: retry.retryBaseMs, maxMs: 2_000 });
      retry.onRetry(attempt, err, delayMs);
      await delay(delayMs);
    }
  }
}

let fallbackLogger: EventsLogger | undefined;

/** The logger used when a caller gives none: a pino logger named `events`. */
export function defaultLogger(): EventsLogger {
  fallbackLogger ??= createLogger('events');
  return fallbackLogger;
}

/** Throws a TypeError naming `setting` unless `value` is a finite number ≥ `min`. */
export function checkNumber(setting: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new TypeError(`${setting} must be a finite number ≥ ${min}, got ${String(value)}`);
  }
  return value;
}

import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import {
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
  connect,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import { FailedPreconditionError, ResourceExhaustedError, UnavailableError, isDomainError } from '@aimaas/runtime';
import { storeError } from './store-errors.js';

/** Options for {@link connectNats}; any other NATS client option may be given too. */
export interface ConnectNatsOptions extends Omit<NodeConnectionOptions, 'servers' | 'name'> {
  /** Connection name shown by the server (`nats server report connections`): the service name. */
  name: string;
  /**
   * How long the first connect may take, in ms.
   * @default 5000
   */
  timeout?: number;
  /**
   * Reconnect attempts per server after a disconnect; -1 retries forever (a service should keep
   * trying while its NATS restarts).
   * @default -1
   */
  maxReconnectAttempts?: number;
  /**
   * Pause between reconnect attempts to one server, in ms (plus random jitter).
   * @default 1000
   */
  reconnectTimeWait?: number;
  /**
   * How often to ping the server, in ms; `maxPingOut` unanswered pings mark the link dead.
   * @default 20000
   */
  pingInterval?: number;
  /** @default 3 */
  maxPingOut?: number;
  /** Where disconnects, reconnects and errors of the connection are logged (a pino logger fits). */
  logger?: ConnectionLogger;
}

/** The part of a logger {@link connectNats} uses. */
export interface ConnectionLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/** Logs the connection's status changes until it closes: a service says when it lost NATS and got it back. */
async function logStatus(nc: NatsConnection, name: string, logger: ConnectionLogger): Promise<void> {
  for await (const event of nc.status()) {
    const fields = { nats: name, server: 'server' in event ? event.server : undefined };
    if (event.type === 'disconnect') logger.warn(fields, 'NATS connection lost; reconnecting');
    else if (event.type === 'reconnect') logger.info(fields, 'NATS connection restored');
    else if (event.type === 'error')
      logger.warn({ ...fields, err: 'error' in event ? event.error : undefined }, 'NATS connection error');
  }
}

/**
 * Connect to NATS at `url` (one URL, a comma-separated list, or an array) with settings fit for a
 * long-running service: retry forever on disconnect, detect dead links within about a minute,
 * and buffer while reconnecting. An unreachable server fails with `UnavailableError` naming the
 * URL. Make one connection per process and share it; close it with `drain()` on shutdown.
 *
 * @example
 * const nc = await connectNats(process.env.NATS_URL ?? 'nats://127.0.0.1:4222', { name: 'registry' });
 */
export async function connectNats(url: string | string[], opts: ConnectNatsOptions): Promise<NatsConnection> {
  const servers = (Array.isArray(url) ? url : url.split(',')).map((s) => s.trim()).filter((s) => s.length > 0);
  if (servers.length === 0) throw new TypeError('connectNats: url must name at least one NATS server');
  if (!opts.name) throw new TypeError('connectNats: options.name must name the connecting service');
  const { logger, ...options } = opts;
  try {
    const nc = await connect({
      timeout: 5_000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      reconnectJitter: 250,
      pingInterval: 20_000,
      maxPingOut: 3,
      ...options,
      servers,
    });
    if (logger) void logStatus(nc, opts.name, logger).catch(() => undefined);
    return nc;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw storeError(UnavailableError, `cannot connect to NATS at ${servers.join(', ')}: ${reason}`, { cause: err });
  }
}

/** A JetStream "wrong last sequence" rejection: an expected revision did not hold. */
export function isWrongLastSequence(err: unknown): err is JetStreamApiError {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/** The revision the server reported in a "wrong last sequence: N" rejection, if it said. */
export function actualRevision(err: JetStreamApiError): number | undefined {
  const match = /wrong last sequence: (\d+)/.exec(err.message);
  return match ? Number(match[1]) : undefined;
}

/**
 * True for failures worth retrying on the same connection: a request that timed out, nobody
 * answering (JetStream restarting, a stream leader moving), JetStream not reachable. The one test
 * of the tree (storage's error mapping and the event publisher's retries use it).
 */
export function isTransientNatsError(err: unknown): boolean {
  if (err instanceof TimeoutError || err instanceof NoRespondersError) return true;
  if (err instanceof RequestError) return err.isNoResponders() || err.cause instanceof TimeoutError;
  return err instanceof Error && err.name === 'JetStreamNotEnabled';
}

/** True when the connection under a call is closed or draining: nothing more can be done on it. */
export function isConnectionClosed(err: unknown): boolean {
  return err instanceof ClosedConnectionError || err instanceof DrainingConnectionError;
}

/**
 * Translate what the NATS client threw into the domain vocabulary: an unreachable or timed-out
 * server is `UnavailableError` (safe to retry), a full bucket `ResourceExhaustedError`, a missing
 * bucket stream `FailedPreconditionError`. Domain errors pass through; anything else is returned
 * unchanged so that it surfaces as INTERNAL.
 *
 * @param what the operation, quoted in the message: `put of "model.onnx" into bucket "aimaas_artifacts"`
 */
export function toDomainError(err: unknown, what: string): unknown {
  if (isDomainError(err)) return err;
  if (!(err instanceof Error)) return err;
  // UNAVAILABLE: a caller may retry, here or on another replica.
  if (
    isTransientNatsError(err) ||
    isConnectionClosed(err) ||
    err instanceof ConnectionError ||
    err instanceof RequestError
  ) {
    return storeError(UnavailableError, `${what} failed: NATS JetStream is unavailable (${err.message})`, {
      cause: err,
    });
  }
  if (err instanceof JetStreamApiError) {
    if (err.code === JetStreamApiCodes.StreamNotFound) {
      return storeError(FailedPreconditionError, `${what} failed: its bucket does not exist (${err.message})`, {
        cause: err,
      });
    }
    if (
      /maximum (bytes|messages)|insufficient resources|resource limits exceeded|message size exceeds/i.test(err.message)
    ) {
      return storeError(ResourceExhaustedError, `${what} failed: bucket limit reached (${err.message})`, {
        cause: err,
      });
    }
  }
  return err;
}

/** Run `fn`, rethrowing its failure through {@link toDomainError}. */
export async function withDomainErrors<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toDomainError(err, what);
  }
}

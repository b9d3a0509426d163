import type { JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ReceivedEvent } from './cloud-event.js';
import type { EventType, EventTypePattern } from './event-catalog.js';
import { checkNumber, defaultLogger, type EventsLogger, type NatsOrJetStream } from './nats-connection.js';

/** An exact event type or a pattern over event types, as `subscribeEvents` takes them. */
export type EventTypeSelector = EventType | EventTypePattern;

type Wildcards<S extends string> = S extends `${infer Head}*${infer Tail}` ? `${Head}${string}${Wildcards<Tail>}` : S;
type PatternShape<S extends string> = S extends '>'
  ? string
  : S extends `${infer Head}.>`
    ? `${Wildcards<Head>}.${string}`
    : Wildcards<S>;

/**
 * The event types a selector list can deliver, computed from the selectors:
 * `SelectedEventTypes<'registry.alias.*'>` is `'registry.alias.set' | 'registry.alias.deleted'`.
 */
export type SelectedEventTypes<S extends EventTypeSelector> = S extends EventType
  ? S
  : Extract<EventType, PatternShape<S>>;

/** Where a subscription starts when its consumer is first created. */
export type DeliverFrom = 'new' | 'all' | { startSeq: number };

/** Options of `subscribeEvents`. Give exactly one of `nc` and `js`. */
export interface SubscribeEventsOptions<S extends EventTypeSelector = EventTypeSelector> {
  /** The NATS connection to consume on. */
  nc?: NatsConnection;
  /** Or a JetStream context. */
  js?: JetStreamClient;
  /**
   * Durable consumer name (letters, digits, `-`, `_`), shared by every process that uses it:
   * each event then goes to one of them, and the position survives restarts.
   * Left out: an ephemeral ordered consumer private to this subscription (every event, to this process).
   */
  durable?: string;
  /**
   * Event types and/or patterns over them (`'registry.alias.*'`, `'training.job.>'`, `'>'`);
   * each must select at least one catalog type.
   */
  types: readonly S[];
  /**
   * Where to start: only events published from now on, every stored event, or from a stream
   * sequence. For a durable it applies when the durable is created; an existing one resumes.
   * @default 'new'
   */
  deliver?: DeliverFrom;
  /** Handles one event; throwing means "retry later". Runs in the event's CONSUMER span. */
  handler: (event: ReceivedEvent<SelectedEventTypes<S>>) => Promise<void> | void;
  /** Aborting stops the subscription as `stop()` does. */
  signal?: AbortSignal;
  /**
   * Handler attempts per event before it is given up (termed on a durable) and logged.
   * @default 5
   */
  maxAttempts?: number;
  /**
   * Delay before the second attempt; doubled for each next one.
   * @default 1000
   */
  retryBaseMs?: number;
  /**
   * Upper bound of the retry delay.
   * @default 30000
   */
  retryMaxMs?: number;
  /**
   * Durable only: the ack deadline of a delivered event (kept moving while the handler runs).
   * @default 30000
   */
  ackWaitMs?: number;
  /**
   * Events fetched ahead of the one being handled.
   * @default 16
   */
  prefetch?: number;
  /** Where dropped, retried and given-up events are logged. @default a pino logger named `events` */
  logger?: EventsLogger;
}

/** {@link SubscribeEventsOptions} with defaults applied and every setting checked. */
export interface CompiledSubscribeOptions {
  source: NatsOrJetStream;
  durable: string | undefined;
  types: readonly string[];
  deliver: DeliverFrom;
  handler: (event: never) => Promise<void> | void;
  signal: AbortSignal | undefined;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  ackWaitMs: number;
  prefetch: number;
  logger: EventsLogger;
}

const DURABLE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Applies defaults and validates, throwing a TypeError that names the bad setting.
 * Event type selectors are checked against the catalog by the caller.
 */
export function compileSubscribeOptions(options: SubscribeEventsOptions<EventTypeSelector>): CompiledSubscribeOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('subscribeEvents: options { nc, types, handler } are required');
  }
  const { nc, js } = options;
  if ((nc === undefined) === (js === undefined)) {
    throw new TypeError('subscribeEvents: give exactly one of `nc` (a NatsConnection) and `js` (a JetStreamClient)');
  }
  if (typeof options.handler !== 'function') {
    throw new TypeError('subscribeEvents: handler must be a function (event) => Promise<void>');
  }
  if (options.durable !== undefined && (typeof options.durable !== 'string' || !DURABLE_NAME.test(options.durable))) {
    throw new TypeError(
      `subscribeEvents: durable must be 1-64 letters, digits, "-" or "_", got ${JSON.stringify(options.durable)}`,
    );
  }
  if (!Array.isArray(options.types)) {
    throw new TypeError(
      "subscribeEvents: types must be an array of event types or patterns, e.g. ['registry.alias.*']",
    );
  }
  const deliver = options.deliver ?? 'new';
  if (deliver !== 'new' && deliver !== 'all') {
    if (
      deliver === null ||
      typeof deliver !== 'object' ||
      !Number.isInteger(deliver.startSeq) ||
      deliver.startSeq < 1
    ) {
      throw new TypeError(
        `subscribeEvents: deliver must be 'new', 'all' or { startSeq: <integer ≥ 1> }, got ${JSON.stringify(deliver)}`,
      );
    }
  }
  const retryBaseMs = checkNumber('subscribeEvents: retryBaseMs', options.retryBaseMs ?? 1_000, 0);
  return {
    source: (nc ?? js) as NatsOrJetStream,
    durable: options.durable,
    types: [...options.types],
    deliver,
    handler: options.handler as (event: never) => Promise<void> | void,
    signal: options.signal,
    maxAttempts: Math.floor(checkNumber('subscribeEvents: maxAttempts', options.maxAttempts ?? 5, 1)),
    retryBaseMs,
    retryMaxMs: checkNumber('subscribeEvents: retryMaxMs', options.retryMaxMs ?? 30_000, retryBaseMs),
    ackWaitMs: checkNumber('subscribeEvents: ackWaitMs', options.ackWaitMs ?? 30_000, 1_000),
    prefetch: Math.floor(checkNumber('subscribeEvents: prefetch', options.prefetch ?? 16, 1)),
    logger: options.logger ?? defaultLogger(),
  };
}

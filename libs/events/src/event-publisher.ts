import { checkHeaderValue, encodeEvent, newEventId } from './cloud-event.js';
import { eventSubject, isEventType, type EventPayload, type EventType } from './event-catalog.js';
import {
  checkNumber,
  defaultLogger,
  publishWithRetry,
  toJetStream,
  type EventsLogger,
  type NatsOrJetStream,
} from './nats-connection.js';
import { withPublishSpan } from './message-spans.js';

/** Options of {@link createEventPublisher}. */
export interface EventPublisherOptions {
  /** `ce-source` of every event, a URI reference naming the producer, e.g. `'/aimaas/registry'`. */
  source: string;
  /**
   * Attempts per event when the publish fails transiently (no responders, timeout); every attempt
   * carries the same `ce-id`, so the stream stores the event once.
   * @default 4
   */
  maxAttempts?: number;
  /**
   * Delay before the first retry; doubled for each next one, capped at 2 s.
   * @default 100
   */
  retryBaseMs?: number;
  /**
   * How long to wait for the stream's ack of one attempt.
   * @default 5000
   */
  timeoutMs?: number;
  /** Where retries are logged. @default a pino logger named `events` */
  logger?: EventsLogger;
}

/** Per-event options of {@link EventPublisher.publish}. */
export interface PublishEventOptions {
  /**
   * `ce-id` (and JetStream message id). Pass a stable id, e.g. derived from the change, to make a
   * retried operation publish its event once. @default a new UUID
   */
  id?: string;
  /** `ce-subject`: what the event is about within the source, e.g. `'fmnist@3'`. */
  subject?: string;
  /** `ce-time`. @default now */
  time?: Date;
}

/** Where an event was stored. */
export interface PublishedEvent {
  /** Sequence in `AIMAAS_EVENTS`; for a duplicate, the sequence of the copy stored first. */
  seq: number;
  /** True when an event with this `ce-id` was already stored within the duplicate window. */
  duplicate: boolean;
  /** The event's `ce-id`. */
  id: string;
}

/** Publishes catalog events as CloudEvents onto `AIMAAS_EVENTS`. */
export interface EventPublisher {
  /** The `ce-source` of this publisher's events. */
  readonly source: string;
  /**
   * Publishes one event on `aimaas.events.<type>` and resolves once the stream has stored it.
   *
   * @throws UnavailableError when JetStream stayed unreachable through every attempt.
   */
  publish<T extends EventType>(
    type: T,
    payload: EventPayload<T>,
    options?: PublishEventOptions,
  ): Promise<PublishedEvent>;
}

interface CompiledPublisherOptions {
  source: string;
  maxAttempts: number;
  retryBaseMs: number;
  timeoutMs: number;
  logger: EventsLogger;
}

function compilePublisherOptions(options: EventPublisherOptions): CompiledPublisherOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError("createEventPublisher: options { source: '/aimaas/<service>' } are required");
  }
  return {
    source: checkHeaderValue('EventPublisherOptions.source', options.source),
    maxAttempts: Math.floor(checkNumber('EventPublisherOptions.maxAttempts', options.maxAttempts ?? 4, 1)),
    retryBaseMs: checkNumber('EventPublisherOptions.retryBaseMs', options.retryBaseMs ?? 100, 0),
    timeoutMs: checkNumber('EventPublisherOptions.timeoutMs', options.timeoutMs ?? 5_000, 1),
    logger: options.logger ?? defaultLogger(),
  };
}

/**
 * A publisher of catalog events. Each publish runs in a PRODUCER span `<subject> publish`, child
 * of the active context, whose context travels in `traceparent`/`tracestate`, so a subscriber's
 * processing joins the producer's trace.
 *
 * @example
 * const events = createEventPublisher(nc, { source: '/aimaas/registry' });
 * await events.publish(
 *   'registry.alias.set',
 *   AliasEvent.create({ change: { name: 'fmnist', alias: 'prod', fromVersion: 2, toVersion: 3 } }),
 *   { subject: 'fmnist@3' },
 * );
 */
export function createEventPublisher(source: NatsOrJetStream, options: EventPublisherOptions): EventPublisher {
  const compiled = compilePublisherOptions(options);
  const js = toJetStream(source);

  async function publish<T extends EventType>(
    type: T,
    payload: EventPayload<T>,
    opts: PublishEventOptions = {},
  ): Promise<PublishedEvent> {
    if (!isEventType(type)) {
      throw new TypeError(`publish: "${String(type)}" is not an event type of the catalog`);
    }
    if (payload === null || typeof payload !== 'object') {
      throw new TypeError(`publish(${type}): payload must be the ${type} payload message, got ${String(payload)}`);
    }
    const id = opts.id === undefined ? newEventId() : checkHeaderValue('PublishEventOptions.id', opts.id);
    const subjectAttr =
      opts.subject === undefined ? undefined : checkHeaderValue('PublishEventOptions.subject', opts.subject);
    const time = opts.time ?? new Date();
    if (!(time instanceof Date) || Number.isNaN(time.getTime())) {
      throw new TypeError(`PublishEventOptions.time must be a valid Date, got ${String(opts.time)}`);
    }
    const subject = eventSubject(type);
    const { headers, body } = encodeEvent(type, payload, {
      id,
      source: compiled.source,
      time,
      ...(subjectAttr === undefined ? {} : { subject: subjectAttr }),
    });

    return withPublishSpan(
      subject,
      id,
      headers,
      {
        'messaging.message.body.size': body.byteLength,
        'cloudevents.event_type': type,
        'cloudevents.event_source': compiled.source,
      },
      async (span) => {
        const ack = await publishWithRetry(
          js,
          subject,
          body,
          { msgID: id, headers, timeoutMs: compiled.timeoutMs },
          {
            maxAttempts: compiled.maxAttempts,
            retryBaseMs: compiled.retryBaseMs,
            what: `event ${type} (ce-id ${id})`,
            onRetry(attempt, err, delayMs) {
              span.addEvent('retry', { attempt, 'error.message': (err as Error).message, delay_ms: delayMs });
              compiled.logger.warn({ err, type, id, attempt, delayMs }, 'event publish failed transiently; retrying');
            },
          },
        );
        span.setAttribute('messaging.nats.stream.sequence', ack.seq);
        if (ack.duplicate) span.setAttribute('messaging.nats.duplicate', true);
        return { seq: ack.seq, duplicate: ack.duplicate, id };
      },
    );
  }

  return { source: compiled.source, publish };
}

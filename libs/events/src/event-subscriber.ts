import { context } from '@opentelemetry/api';
import { AckPolicy, DeliverPolicy, type Consumer, type ConsumerConfig, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { MalformedEventError, decodeEvent, type ReceivedEvent } from './cloud-event.js';
import { EVENTS_STREAM, ensureConsumer } from './ensure-streams.js';
import { filterSubjectFor, selectEventTypes } from './event-catalog.js';
import { compileSubscribeOptions, type EventTypeSelector, type SubscribeEventsOptions } from './subscribe-options.js';
import { backoffDelay, delay } from '@aimaas/runtime';
import { toJetStream } from './nats-connection.js';
import { failSpan, startDeliverySpan } from './message-spans.js';

/** A running subscription. */
export interface EventSubscription {
  /** The JetStream consumer feeding it: the durable name, or the ordered consumer's current name. */
  readonly consumer: string;
  /** Resolves once the subscription has ended: stopped, aborted, or its connection closed. */
  readonly closed: Promise<void>;
  /**
   * Stops pulling, lets the event being handled finish (and be acked), then resolves.
   * Idempotent.
   */
  stop(): Promise<void>;
}

type Outcome = { ok: true } | { ok: false; error: unknown };

/**
 * Subscribes a handler to events of the catalog on `AIMAAS_EVENTS`, one event at a time in stream
 * order. Resolves once the consumer exists, so every event published afterwards is seen.
 *
 * Each event is handled inside a CONSUMER span `<subject> process` whose parent is the producer's
 * span (from `traceparent`), so it joins the publisher's trace. A handler that throws is retried:
 * on a durable consumer by `nak` with a growing delay (redelivery), on an ephemeral one in place;
 * after `maxAttempts` the event is given up (termed) and logged. Malformed messages (no or
 * unknown `ce-type`, bad JSON, …) are termed and logged; the subscription keeps going.
 *
 * **Which consumer.** With `durable`, all replicas of a service that use the same name share one
 * consumer: each event is handled by one replica (work sharing), and the position survives
 * restarts. Listeners that every replica must run — e.g. hot-swapping a deployment when an alias
 * moves — must NOT share a durable: leave `durable` out (an ephemeral ordered consumer per
 * process) or give each replica its own durable name, so every replica sees every event.
 *
 * @example
 * const sub = await subscribeEvents({
 *   nc,
 *   types: ['registry.alias.*'],
 *   deliver: 'new',
 *   signal: shutdown.signal,
 *   handler: async (event) => {
 *     if (event.type === 'registry.alias.set') await swap(event.payload.change!);
 *   },
 * });
 * // …later: await sub.stop();
 */
export async function subscribeEvents<const S extends EventTypeSelector>(
  options: SubscribeEventsOptions<S>,
): Promise<EventSubscription> {
  const o = compileSubscribeOptions(options as unknown as SubscribeEventsOptions);
  const selected = selectEventTypes(o.types);
  const filterSubject = filterSubjectFor(o.types);
  const js = toJetStream(o.source);
  const jsm = await js.jetstreamManager();
  const acks = o.durable !== undefined;

  let consumer: Consumer;
  if (o.durable !== undefined) {
    const config: Partial<ConsumerConfig> = {
      durable_name: o.durable,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(o.ackWaitMs),
      max_deliver: o.maxAttempts,
      filter_subject: filterSubject,
      ...(o.deliver === 'new'
        ? { deliver_policy: DeliverPolicy.New }
        : o.deliver === 'all'
          ? { deliver_policy: DeliverPolicy.All }
          : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: o.deliver.startSeq }),
    };
    await ensureConsumer(jsm, EVENTS_STREAM, config);
    consumer = await js.consumers.get(EVENTS_STREAM, o.durable);
  } else {
    // 'new' is pinned to a sequence now: an ordered consumer that is recreated later resumes from
    // what it has seen, never from the start of the stream.
    const startSeq =
      o.deliver === 'new'
        ? (await jsm.streams.info(EVENTS_STREAM)).state.last_seq + 1
        : o.deliver === 'all'
          ? 1
          : o.deliver.startSeq;
    consumer = await js.consumers.get(EVENTS_STREAM, {
      filter_subjects: filterSubject,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: startSeq,
    });
  }
  const consumerName = (await consumer.info(true)).name;
  const messages = await consumer.consume({ max_messages: o.prefetch });
  const stopSignal = new AbortController();
  const log = o.logger;

  const attempt = async (msg: JsMsg, event: ReceivedEvent, deliveryCount: number): Promise<Outcome> => {
    const { span, context: spanContext } = startDeliverySpan(msg, {
      'messaging.message.id': event.id,
      'messaging.nats.delivery_count': deliveryCount,
      'cloudevents.event_type': event.type,
      'cloudevents.event_source': event.source,
      ...(o.durable === undefined ? {} : { 'messaging.consumer.group.name': o.durable }),
    });
    // Keep the ack deadline moving while a slow handler runs, so the event is not redelivered
    // to another replica meanwhile.
    const heartbeat = acks ? setInterval(() => msg.working(), Math.max(500, o.ackWaitMs / 3)) : undefined;
    try {
      const view = deliveryCount === event.deliveryCount ? event : { ...event, deliveryCount };
      await context.with(spanContext, () => o.handler(view as never));
      return { ok: true };
    } catch (error) {
      failSpan(span, error);
      return { ok: false, error };
    } finally {
      clearInterval(heartbeat);
      span.end();
    }
  };

  const handle = async (msg: JsMsg): Promise<void> => {
    let event: ReceivedEvent;
    try {
      event = decodeEvent(msg);
    } catch (err) {
      if (!(err instanceof MalformedEventError)) throw err;
      log.warn({ err, seq: msg.seq, natsSubject: msg.subject, consumer: consumerName }, 'malformed event dropped');
      if (acks) msg.term();
      return;
    }
    if (!selected.has(event.type)) {
      if (acks) msg.ack();
      return;
    }
    const fields = { type: event.type, id: event.id, seq: msg.seq, consumer: consumerName };
    if (acks) {
      const outcome = await attempt(msg, event, msg.info.deliveryCount);
      if (outcome.ok) return msg.ack();
      if (msg.info.deliveryCount >= o.maxAttempts) {
        log.error(
          { ...fields, err: outcome.error, attempts: msg.info.deliveryCount },
          'event handler failed; giving up (termed)',
        );
        return msg.term();
      }
      const delayMs = backoffDelay(msg.info.deliveryCount, { baseMs: o.retryBaseMs, maxMs: o.retryMaxMs });
      log.warn(
        { ...fields, err: outcome.error, attempt: msg.info.deliveryCount, delayMs },
        'event handler failed; redelivering',
      );
      return msg.nak(delayMs);
    }
    for (let n = 1; n <= o.maxAttempts; n++) {
      const outcome = await attempt(msg, event, n);
      if (outcome.ok) return;
      if (n === o.maxAttempts || stopSignal.signal.aborted) {
        log.error({ ...fields, err: outcome.error, attempts: n }, 'event handler failed; giving up');
        return;
      }
      const delayMs = backoffDelay(n, { baseMs: o.retryBaseMs, maxMs: o.retryMaxMs });
      log.warn({ ...fields, err: outcome.error, attempt: n, delayMs }, 'event handler failed; retrying');
      await delay(delayMs, stopSignal.signal).catch(() => undefined);
    }
  };

  void (async () => {
    for await (const status of messages.status()) {
      if (
        status.type === 'heartbeats_missed' ||
        status.type === 'consumer_deleted' ||
        status.type === 'consumer_not_found'
      ) {
        log.warn({ status, consumer: consumerName }, 'event consumer status');
      }
    }
  })().catch(() => undefined);

  const closed = (async () => {
    try {
      for await (const msg of messages) {
        if (stopSignal.signal.aborted) {
          if (acks) msg.nak();
          continue;
        }
        await handle(msg);
      }
    } catch (err) {
      log.error({ err, consumer: consumerName }, 'event subscription ended with an error');
    }
  })();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      stopSignal.abort();
      await messages.close().catch(() => undefined);
      await closed;
      if (!acks) await consumer.delete().catch(() => undefined);
    })();
    return stopping;
  };
  if (o.signal) {
    if (o.signal.aborted) void stop();
    else o.signal.addEventListener('abort', () => void stop(), { once: true });
  }
  return { consumer: consumerName, closed, stop };
}

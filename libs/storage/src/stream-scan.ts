import { DeliverPolicy, type Consumer, type DeliveryInfo, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import { UnavailableError } from '@aimaas/runtime';
import { storeError } from './store-errors.js';

/** How {@link scanStream} reads. */
export interface ScanOptions {
  /** Only the last message of each subject (the current value of each key). */
  lastPerSubject: boolean;
  /** Deliver headers only (for listing keys without their values). */
  headersOnly?: boolean;
  /** Read-ahead bound in bytes; the consumer pulls more only as messages are taken. */
  maxBytes?: number;
  /** Read-ahead bound in messages. */
  maxMessages?: number;
  /**
   * After this long without a message, ask the server whether anything is left (messages can
   * vanish under a scan when a key or object is purged meanwhile).
   * @default 1000
   */
  stallCheckMs?: number;
  /** Stops the scan; the iterator then throws the signal's reason. */
  signal?: AbortSignal;
}

/** A one-shot scan; `total` is the number of messages it is about to deliver. */
export interface Scan extends AsyncIterable<JsMsg> {
  readonly total: number;
}

/**
 * Read every message of `stream` on `subject` (wildcards allowed) that exists now, in stream
 * order, then end. Uses one ordered pull consumer: flow-controlled by the server, bounded
 * read-ahead, recreated by the client on a gap. The scan ends when the last pending message
 * arrives, or early when messages it expected were removed meanwhile (callers that need every
 * message check the count). The consumer is deleted when the scan ends or the caller stops
 * iterating, so scans leave nothing behind on the server.
 */
export async function scanStream(
  js: JetStreamClient,
  stream: string,
  subject: string,
  opts: ScanOptions,
): Promise<Scan> {
  opts.signal?.throwIfAborted();
  const consumer = await js.consumers.get(stream, {
    filter_subjects: subject,
    deliver_policy: opts.lastPerSubject ? DeliverPolicy.LastPerSubject : DeliverPolicy.All,
    headers_only: opts.headersOnly === true,
  });
  const total = (await consumer.info(true)).num_pending;
  const remove = () => {
    consumer.delete().catch(() => {
      // the server drops an idle ordered consumer by itself; nothing else to do
    });
  };
  if (total === 0) remove();
  async function* messages(): AsyncGenerator<JsMsg> {
    if (total === 0) return;
    const pull =
      opts.maxBytes !== undefined
        ? { max_bytes: opts.maxBytes, max_messages: opts.maxMessages }
        : { max_messages: opts.maxMessages ?? 1024 };
    const iter = await consumer.consume(pull);
    const onAbort = () => iter.stop();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let last: DeliveryInfo | undefined;
    let seen = 0;
    let drainedEarly = false;
    // One watchdog for the whole scan (not a timer per message): when no message came for a
    // while, ask the server whether the messages still expected exist at all.
    let seenAtLastCheck = -1;
    let checking = false;
    const watchdog = setInterval(() => {
      if (checking || seen !== seenAtLastCheck) {
        seenAtLastCheck = seen;
        return;
      }
      checking = true;
      drained(consumer, last)
        .then((isDrained) => {
          if (isDrained && seen === seenAtLastCheck) {
            drainedEarly = true;
            iter.stop();
          }
        })
        .catch(() => undefined)
        .finally(() => {
          checking = false;
        });
    }, opts.stallCheckMs ?? 1_000);
    try {
      for await (const msg of iter) {
        seen++;
        last = msg.info;
        yield msg;
        if (msg.info.pending === 0) return;
      }
      opts.signal?.throwIfAborted();
      if (drainedEarly) return;
      throw storeError(UnavailableError, `reading ${subject} from stream ${stream} stopped before its end`);
    } finally {
      clearInterval(watchdog);
      opts.signal?.removeEventListener('abort', onAbort);
      iter.stop();
      remove();
    }
  }
  return { total, [Symbol.asyncIterator]: messages };
}

/** True when the server has nothing left for the consumer and sent us nothing we have not seen. */
async function drained(consumer: Consumer, last: DeliveryInfo | undefined): Promise<boolean> {
  const info = await consumer.info(false);
  // Compare delivery (consumer) sequences: a purge moves the stream sequence on, not these.
  const received = last !== undefined && last.consumer === info.name ? last.deliverySequence : 0;
  return info.num_pending === 0 && info.delivered.consumer_seq <= received;
}

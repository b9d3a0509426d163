import { context } from '@opentelemetry/api';
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { backoffDelay, delay, UnavailableError } from '@aimaas/runtime';
import { checkHeaderValue } from './cloud-event.js';
import {
  JOB_QUEUES,
  compileJobConsumerSettings,
  ensureConsumer,
  ensureStream,
  jobConsumerConfig,
  jobStreamConfig,
  type JobKind,
  type JobQueueNames,
} from './ensure-streams.js';
import { compileJobQueueOptions, type ConsumeJobsOptions, type JobQueueOptions } from './job-queue-options.js';
import { JOB_ID_HEADER, activeJob, isPoisonError, type ActiveJob } from './queued-job.js';
import { isConnectionClosed, publishWithRetry, toJetStream, type NatsOrJetStream } from './nats-connection.js';
import { failSpan, startDeliverySpan, withPublishSpan } from './message-spans.js';

/** Where an enqueued job was stored. */
export interface EnqueuedJob {
  /** Sequence in the queue's stream (of the first copy, for a duplicate). */
  seq: number;
  /** True when a job with this message id was already queued within the duplicate window. */
  duplicate: boolean;
}

/** A JetStream work queue of jobs (`AIMAAS_JOBS_TRAINING` or `AIMAAS_JOBS_COMPRESSION`). */
export interface JobQueue {
  readonly kind: JobKind;
  /** Its stream, subject and durable consumer. */
  readonly names: JobQueueNames;
  /**
   * Queues a job. The message id defaults to the job id, so a retried submit is queued once.
   * An object payload is sent as UTF-8 JSON; bytes as they are.
   */
  enqueue(jobId: string, payload: Uint8Array | object, options?: { msgId?: string }): Promise<EnqueuedJob>;
  /**
   * Pulls and handles jobs until `signal` aborts (then stops pulling, lets running jobs finish
   * within the grace time and resolves). Handler returns → ack; throws {@link PoisonJobError} or
   * an INVALID_ARGUMENT domain error → term; throws anything else → nak with backoff (termed on
   * the last allowed delivery). A worker that dies mid-job loses nothing: the job comes back
   * after the ack wait, with `redelivered` set.
   *
   * @throws UnavailableError when the NATS connection closes while consuming.
   */
  consume(options: ConsumeJobsOptions): Promise<void>;
}

/**
 * A job queue of the given kind. Its stream and durable consumer are created or reconciled on
 * first use with these options, so every worker of a queue should pass the same ones.
 *
 * @example
 * const queue = createJobQueue(nc, 'training');
 * await queue.enqueue(job.id, { spec });                        // in SubmitTrainingJob
 * await queue.consume({                                         // in each training worker
 *   concurrency: 1,
 *   signal: shutdown.signal,
 *   handler: async (job) => {
 *     const { spec } = job.json<{ spec: ModelSpec }>();
 *     for (const epoch of epochs(spec)) { await train(epoch, job.signal); job.working(); }
 *   },
 * });
 */
export function createJobQueue(source: NatsOrJetStream, kind: JobKind, options: JobQueueOptions = {}): JobQueue {
  if (!Object.hasOwn(JOB_QUEUES, kind)) {
    throw new TypeError(
      `createJobQueue: kind must be one of ${Object.keys(JOB_QUEUES).join(', ')}, got ${String(kind)}`,
    );
  }
  const o = compileJobQueueOptions(options);
  const names = JOB_QUEUES[kind];
  const js = toJetStream(source);
  const nc = 'jetstreamManager' in source ? undefined : (source as NatsConnection);
  const log = o.logger;
  const settings = compileJobConsumerSettings({ ackWaitMs: o.ackWaitMs, maxDeliver: o.maxDeliver }, 'JobQueueOptions');

  let ready: Promise<void> | undefined;
  const ensureReady = (): Promise<void> => {
    ready ??= (async () => {
      const jsm = await js.jetstreamManager();
      await ensureStream(jsm, jobStreamConfig(kind, o.duplicateWindowMs, o.replicas));
      await ensureConsumer(jsm, names.stream, jobConsumerConfig(kind, settings));
    })().catch((err) => {
      ready = undefined; // let the next call try again
      throw err;
    });
    return ready;
  };

  async function enqueue(
    jobId: string,
    payload: Uint8Array | object,
    opts: { msgId?: string } = {},
  ): Promise<EnqueuedJob> {
    checkHeaderValue('enqueue: jobId', jobId);
    const msgId = opts.msgId === undefined ? jobId : checkHeaderValue('enqueue: msgId', opts.msgId);
    const binary = payload instanceof Uint8Array;
    if (!binary && (payload === null || typeof payload !== 'object')) {
      throw new TypeError(`enqueue(${jobId}): payload must be bytes or an object, got ${String(payload)}`);
    }
    const body = binary ? payload : new TextEncoder().encode(JSON.stringify(payload));
    await ensureReady();
    const headers = natsHeaders();
    headers.set(JOB_ID_HEADER, jobId);
    headers.set('content-type', binary ? 'application/octet-stream' : 'application/json');
    return withPublishSpan(names.subject, msgId, headers, { 'aimaas.job.id': jobId }, async (span) => {
      const ack = await publishWithRetry(
        js,
        names.subject,
        body,
        { msgID: msgId, headers, timeoutMs: o.timeoutMs },
        {
          maxAttempts: o.publishAttempts,
          retryBaseMs: 100,
          what: `${kind} job ${jobId}`,
          onRetry: (attempt, err, delayMs) =>
            log.warn({ err, jobId, attempt, delayMs }, 'enqueue failed transiently; retrying with the same msg id'),
        },
      );
      span.setAttribute('messaging.nats.stream.sequence', ack.seq);
      return { seq: ack.seq, duplicate: ack.duplicate };
    });
  }

  async function runJob(active: ActiveJob, msg: JsMsg, handler: ConsumeJobsOptions['handler']): Promise<void> {
    const { job } = active;
    const fields = { queue: kind, jobId: job.id, seq: job.seq, deliveryCount: job.deliveryCount };
    const { span, context: spanContext } = startDeliverySpan(msg, {
      'messaging.consumer.group.name': names.consumer,
      'messaging.nats.delivery_count': job.deliveryCount,
      'aimaas.job.id': job.id,
    });
    try {
      await context.with(spanContext, () => handler(job));
      await active.ack();
    } catch (err) {
      failSpan(span, err);
      if (active.settled) {
        log.warn({ ...fields, err }, 'job handler threw after settling the job itself');
      } else if (isPoisonError(err)) {
        active.term(`poison job: ${(err as Error).message}`);
      } else if (job.signal.aborted) {
        log.info({ ...fields, err }, 'job interrupted by shutdown; handing it back');
        active.nak(0);
      } else if (job.deliveryCount >= settings.maxDeliver) {
        active.term(`failed on all ${settings.maxDeliver} deliveries; last error: ${(err as Error)?.message}`);
      } else {
        const delayMs = backoffDelay(job.deliveryCount, { baseMs: o.retryBaseMs, maxMs: o.retryMaxMs });
        log.warn({ ...fields, err, delayMs }, 'job failed; it will be redelivered');
        active.nak(delayMs);
      }
    } finally {
      span.end();
    }
  }

  async function consume(options: ConsumeJobsOptions): Promise<void> {
    const { handler, concurrency, signal, graceMs } = compileConsume(options);
    await ensureReady();
    const consumer = await js.consumers.get(names.stream, names.consumer);
    const stopping = new AbortController();
    const onAbort = () => stopping.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    let connectionClosed = false;
    void nc?.closed().then(() => {
      connectionClosed = true;
      stopping.abort(new UnavailableError('NATS connection closed'));
    });
    const inflight = new Set<Promise<void>>();
    let batch: ConsumerMessages | undefined;
    stopping.signal.addEventListener('abort', () => void batch?.close().catch(() => undefined), { once: true });

    const stopped = aborted(stopping.signal);
    let failures = 0;
    try {
      while (!stopping.signal.aborted) {
        if (inflight.size >= concurrency) {
          await Promise.race([...inflight, stopped]);
          continue;
        }
        try {
          batch = await consumer.fetch({ max_messages: concurrency - inflight.size, expires: o.pullExpiresMs });
          for await (const msg of batch) {
            if (stopping.signal.aborted) {
              msg.nak();
              continue;
            }
            const active = activeJob(msg, stopping.signal, log, { queue: kind });
            const running: Promise<void> = runJob(active, msg, handler).finally(() => inflight.delete(running));
            inflight.add(running);
          }
          failures = 0;
        } catch (err) {
          if (isConnectionClosed(err)) {
            connectionClosed = true;
            break;
          }
          failures++;
          log.warn({ err, queue: kind, failures }, 'pulling jobs failed; retrying');
          await delay(backoffDelay(failures, { baseMs: 250, maxMs: 5_000 }), stopping.signal).catch(() => undefined);
        }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (connectionClosed) {
      throw new UnavailableError(`${kind} job queue: the NATS connection closed while consuming`);
    }
    if (inflight.size > 0) {
      const grace = new AbortController();
      await Promise.race([Promise.allSettled(inflight), delay(graceMs, grace.signal).catch(() => undefined)]);
      grace.abort();
      if (inflight.size > 0) {
        log.warn(
          { queue: kind, running: inflight.size, graceMs },
          'jobs still running after the grace time; they will be redelivered after the ack wait',
        );
      }
    }
  }

  return { kind, names, enqueue, consume };
}

function compileConsume(
  options: ConsumeJobsOptions,
): Required<Pick<ConsumeJobsOptions, 'handler' | 'concurrency' | 'graceMs'>> & { signal?: AbortSignal } {
  if (options === null || typeof options !== 'object' || typeof options.handler !== 'function') {
    throw new TypeError('consume: options.handler must be a function (job) => Promise<void>');
  }
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new TypeError(`consume: concurrency must be an integer ≥ 1, got ${String(options.concurrency)}`);
  }
  const graceMs = options.graceMs ?? 30_000;
  if (typeof graceMs !== 'number' || !(graceMs >= 0)) {
    throw new TypeError(`consume: graceMs must be a number ≥ 0, got ${String(options.graceMs)}`);
  }
  return { handler: options.handler, concurrency, graceMs, ...(options.signal ? { signal: options.signal } : {}) };
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

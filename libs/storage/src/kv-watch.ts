import {
  DeliverPolicy,
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JsMsg,
} from '@nats-io/jetstream';
import { decodeJson } from './codecs.js';

/** One change seen by a {@link KvWatcher}. */
export interface KvChange<T> {
  key: string;
  /** `PUT` carries the new value; `DEL` and `PURGE` remove the key (value `undefined`). */
  operation: 'PUT' | 'DEL' | 'PURGE';
  value: T | undefined;
  revision: number;
  created: Date;
  /** False for the entries replayed when the watch started, true for every later change. */
  isUpdate: boolean;
}

/** Options for {@link KvStore.watch}. */
export interface KvWatchOptions {
  /**
   * What comes before live changes: the current value of every key (`last`), every revision
   * still kept (`history`), or nothing (`updates`).
   * @default 'last'
   */
  include?: 'last' | 'history' | 'updates';
  /** Resume after a restart: deliver every change from this revision on (overrides `include`). */
  fromRevision?: number;
  /**
   * Skip deletions.
   * @default false
   */
  ignoreDeletes?: boolean;
  /** Ends the watch, as `stop()` does. */
  signal?: AbortSignal;
}

/** Where a watch reads: the bucket's stream and its subject prefix (`$KV.<bucket>.`). */
export interface WatchTarget {
  js: JetStreamClient;
  bucket: string;
  stream: string;
  prefix: string;
}

/**
 * A live stream of {@link KvChange}s over one ordered consumer (an async iterable with one
 * reader). `stop()`, leaving the `for await` loop, or the signal ends it and removes the consumer.
 */
export class KvWatcher<T> implements AsyncIterable<KvChange<T>> {
  #stopped = false;
  readonly #onAbort = () => this.stop();

  private constructor(
    private readonly target: WatchTarget,
    private readonly consumer: Consumer,
    private readonly messages: ConsumerMessages,
    /** Messages pending when the watch started: the replayed part. */
    private readonly replayed: number,
    private readonly opts: KvWatchOptions,
  ) {
    opts.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** @internal use {@link KvStore.watch} */
  static async start<T>(target: WatchTarget, filter: string, opts: KvWatchOptions): Promise<KvWatcher<T>> {
    opts.signal?.throwIfAborted();
    const include = opts.include ?? 'last';
    if (include !== 'last' && include !== 'history' && include !== 'updates') {
      throw new TypeError(`KvWatchOptions.include must be "last", "history" or "updates", got "${String(include)}"`);
    }
    if (opts.fromRevision !== undefined && (!Number.isSafeInteger(opts.fromRevision) || opts.fromRevision < 1)) {
      throw new TypeError(`KvWatchOptions.fromRevision must be a positive integer, got ${opts.fromRevision}`);
    }
    let startSeq = opts.fromRevision;
    if (startSeq === undefined && include === 'updates') {
      // Start after the current last message rather than at "new": an ordered consumer that is
      // recreated before its first message would otherwise replay the whole stream.
      const info = await (await target.js.jetstreamManager(false)).streams.info(target.stream);
      startSeq = info.state.last_seq + 1;
    }
    const consumer = await target.js.consumers.get(target.stream, {
      filter_subjects: `${target.prefix}${filter}`,
      ...(startSeq !== undefined
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq }
        : { deliver_policy: include === 'history' ? DeliverPolicy.All : DeliverPolicy.LastPerSubject }),
    });
    const replayed =
      include === 'updates' && opts.fromRevision === undefined ? 0 : (await consumer.info(true)).num_pending;
    const messages = await consumer.consume({ max_messages: 256 });
    return new KvWatcher<T>(target, consumer, messages, replayed, opts);
  }

  /** End the watch; a pending `for await` finishes normally. Idempotent. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.opts.signal?.removeEventListener('abort', this.#onAbort);
    this.messages.stop();
    this.consumer.delete().catch(() => {
      // an idle ordered consumer is dropped by the server anyway
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<KvChange<T>> {
    if (this.#stopped) return;
    let delivered = 0;
    try {
      for await (const msg of this.messages) {
        delivered++;
        const change = this.#toChange(msg, delivered > this.replayed);
        if (change.operation !== 'PUT' && this.opts.ignoreDeletes) continue;
        yield change;
      }
    } finally {
      this.stop();
    }
  }

  #toChange(msg: JsMsg, isUpdate: boolean): KvChange<T> {
    const key = msg.subject.slice(this.target.prefix.length);
    const op = msg.headers?.get('KV-Operation');
    const operation = op === 'DEL' || op === 'PURGE' ? op : 'PUT';
    const where = `key "${key}" in bucket "${this.target.bucket}"`;
    return {
      key,
      operation,
      value: operation === 'PUT' ? decodeJson<T>(msg.data, where) : undefined,
      revision: msg.seq,
      created: msg.time,
      isUpdate,
    };
  }
}

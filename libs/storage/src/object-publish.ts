import { JetStreamApiError, JetStreamError, type ApiError } from '@nats-io/jetstream';
import {
  createInbox,
  headers,
  NoRespondersError,
  RequestError,
  TimeoutError,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';

/** Where an {@link AckedPublisher} publishes and how many acks it may wait for. */
export interface AckedPublishTarget {
  nc: NatsConnection;
  /** The stream every message must land in (sent as `Nats-Expected-Stream`). */
  stream: string;
  /** Publishes awaiting their ack at once. */
  maxInFlight: number;
  /** Fails the pipeline when no ack came for this long while publishes were outstanding. */
  timeoutMs: number;
}

/**
 * Pipelined JetStream publishes with the acks counted on one inbox subscription, instead of one
 * `js.publish` request per message (each with its own timer, promise and two captured stacks,
 * which dominated the CPU profile of large uploads). Messages are published in order on one
 * connection, so JetStream stores and acks them in order; up to `maxInFlight` may await their
 * ack. The first failure (an error ack, no responders, a closed connection, or no ack for
 * `timeoutMs` while publishes are outstanding) is kept and thrown by every later call.
 */
export class AckedPublisher {
  readonly #nc: NatsConnection;
  readonly #stream: string;
  readonly #maxInFlight: number;
  readonly #timeoutMs: number;
  readonly #inbox: string;
  readonly #headers: MsgHdrs;
  readonly #sub: Subscription;
  #sent = 0;
  #acked = 0;
  #closed = false;
  #failure: { error: unknown } | undefined;
  #lastProgress = 0;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;

  constructor(target: AckedPublishTarget) {
    this.#nc = target.nc;
    this.#stream = target.stream;
    this.#maxInFlight = target.maxInFlight;
    this.#timeoutMs = target.timeoutMs;
    this.#inbox = createInbox((target.nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    this.#headers = headers();
    this.#headers.set('Nats-Expected-Stream', target.stream);
    this.#sub = target.nc.subscribe(this.#inbox, { callback: (err, msg) => this.#onAck(err, msg) });
    void this.#sub.closed.then(
      () => this.#onClosed(),
      (err: unknown) => this.#onClosed(err),
    );
  }

  /**
   * Publishes `payload` on `subject`. Returns undefined when there is room for more, or a promise
   * that resolves once there is; throws (or rejects with) the first failure. The payload must stay
   * unchanged until {@link settle} resolves.
   */
  publish(subject: string, payload: Uint8Array): Promise<void> | undefined {
    if (this.#failure) throw this.#failure.error;
    if (this.#sent === this.#acked) this.#lastProgress = Date.now();
    this.#nc.publish(subject, payload, { reply: this.#inbox, headers: this.#headers });
    this.#sent++;
    this.#timer ??= setTimeout(this.#onTimer, this.#timeoutMs);
    return this.#sent - this.#acked >= this.#maxInFlight ? this.#room() : undefined;
  }

  /**
   * Waits until every publish is acked, or the pipeline failed in a way that no more acks will
   * come (a timeout or a closed subscription), then ends the subscription. Rejects with the first
   * failure. Call it exactly once, also after a failure, so that nothing is left in flight.
   */
  async settle(): Promise<void> {
    try {
      while (this.#sent !== this.#acked && !this.#closed) await this.#progress();
    } finally {
      this.#stop();
    }
    if (this.#failure) throw this.#failure.error;
  }

  async #room(): Promise<void> {
    while (this.#sent - this.#acked >= this.#maxInFlight && !this.#failure && !this.#closed) await this.#progress();
    if (this.#failure) throw this.#failure.error;
  }

  #progress(): Promise<void> {
    return new Promise<void>((resolve) => (this.#wake = resolve));
  }

  #onAck(err: Error | null, msg: Msg): void {
    if (err) {
      this.#fail(err);
      this.#closed = true;
    } else {
      this.#acked++;
      this.#lastProgress = Date.now();
      const error = ackError(msg, this.#stream);
      if (error) this.#fail(error);
    }
    this.#notify();
  }

  #onClosed(err?: unknown): void {
    if (this.#sent !== this.#acked || err !== undefined) {
      this.#fail(err ?? new RequestError('the connection closed before every publish was acknowledged'));
    }
    this.#closed = true;
    this.#notify();
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    if (this.#closed || this.#sent === this.#acked) return;
    const idle = Date.now() - this.#lastProgress;
    if (idle < this.#timeoutMs) {
      this.#timer = setTimeout(this.#onTimer, this.#timeoutMs - idle);
      return;
    }
    this.#fail(new TimeoutError());
    this.#closed = true;
    this.#notify();
  };

  #fail(error: unknown): void {
    this.#failure ??= { error };
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#closed = true;
    if (!this.#sub.isClosed()) this.#sub.unsubscribe();
  }
}

/** The failure an ack message reports, or undefined for a good ack from `stream`. */
function ackError(msg: Msg, stream: string): Error | undefined {
  const code = msg.headers?.code ?? 0;
  if (msg.data.length === 0 && code >= 300) {
    const cause = code === 503 ? new NoRespondersError(msg.subject) : undefined;
    return new RequestError(
      code === 503 ? 'no responders: is JetStream enabled?' : `status ${code} ${msg.headers?.description ?? ''}`,
      {
        ...(cause && { cause }),
      },
    );
  }
  let ack: { stream?: string; error?: ApiError };
  try {
    ack = msg.json();
  } catch {
    return new JetStreamError('invalid ack response');
  }
  if (ack.error) return new JetStreamApiError(ack.error);
  if (ack.stream !== stream) return new JetStreamError(`ack from stream "${ack.stream ?? ''}", expected "${stream}"`);
  return undefined;
}

import type { TrainingJob } from '@aimaas/proto';
import { subscribeEvents, type EventSubscription } from '@aimaas/events';
import type { Logger } from '@aimaas/telemetry';
import type { NatsConnection } from '@aimaas/storage';

/** One `training.job.*` event as watchers see it. */
export interface JobEvent {
  /** `progress`, `submitted`, `started`, `succeeded`, `failed` or `cancelled`. */
  kind: string;
  job: TrainingJob;
}

/** A watcher's view of one job's events, in stream order. */
export interface JobListener {
  /** The next event, or undefined after `timeoutMs` (or once closed). */
  next(timeoutMs: number): Promise<JobEvent | undefined>;
  close(): void;
}

/** A NATS connection, as `@aimaas/events` takes it. */

/** Largest backlog of events kept for a watcher that does not read (the oldest go first). */
const MAX_BACKLOG = 1_000;

/**
 * Fans the `training.job.*` events out to the watchers in this process: one ephemeral ordered
 * consumer per process (every replica sees every event), dispatched by job id. This is how
 * WatchTrainingJob on any replica follows a job another replica's worker trains.
 */
export class ProgressHub {
  readonly #listeners = new Map<string, Set<Queue>>();
  #subscription: EventSubscription | undefined;

  /**
   * Subscribes to live `training.job.*` events (from now on) until `stop()` or `signal`.
   *
   * @example
   * const hub = await ProgressHub.start(nc, { logger, signal: server.stopping });
   */
  static async start(
    nc: NatsConnection,
    options: { logger?: Logger; signal?: AbortSignal } = {},
  ): Promise<ProgressHub> {
    const hub = new ProgressHub();
    hub.#subscription = await subscribeEvents({
      nc,
      types: ['training.job.>'],
      deliver: 'new',
      ...(options.logger && { logger: options.logger }),
      ...(options.signal && { signal: options.signal }),
      maxAttempts: 1,
      handler: (event) => {
        const job = event.payload.job;
        if (job) hub.dispatch({ kind: event.type.slice('training.job.'.length), job });
      },
    });
    return hub;
  }

  /** Starts listening to the events of `jobId` (before reading its record, so nothing is missed). */
  listen(jobId: string): JobListener {
    const queue = new Queue(() => {
      const set = this.#listeners.get(jobId);
      set?.delete(queue);
      if (set?.size === 0) this.#listeners.delete(jobId);
    });
    const set = this.#listeners.get(jobId) ?? new Set<Queue>();
    set.add(queue);
    this.#listeners.set(jobId, set);
    return queue;
  }

  /** Hands an event to the watchers of its job (also used for events this process makes). */
  dispatch(event: JobEvent): void {
    for (const queue of this.#listeners.get(event.job.id) ?? []) queue.push(event);
  }

  /** Ends the subscription; waiting watchers get undefined. */
  async stop(): Promise<void> {
    await this.#subscription?.stop();
    for (const set of this.#listeners.values()) for (const queue of set) queue.close();
  }
}

class Queue implements JobListener {
  #items: JobEvent[] = [];
  #waiter: ((event: JobEvent | undefined) => void) | undefined;
  #closed = false;

  constructor(private readonly onClose: () => void) {}

  push(event: JobEvent): void {
    if (this.#closed) return;
    if (this.#waiter) {
      const resolve = this.#waiter;
      this.#waiter = undefined;
      resolve(event);
      return;
    }
    this.#items.push(event);
    if (this.#items.length > MAX_BACKLOG) this.#items.shift();
  }

  next(timeoutMs: number): Promise<JobEvent | undefined> {
    const item = this.#items.shift();
    if (item || this.#closed) return Promise.resolve(item);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.#waiter = (event) => {
        clearTimeout(timer);
        resolve(event);
      };
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiter?.(undefined);
    this.#waiter = undefined;
    this.onClose();
  }
}

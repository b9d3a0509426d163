import { DeadlineExceededError, ResourceExhaustedError } from '@aimaas/runtime';
import type { ElementArray, RunnerTensor } from './datatypes.js';

/** Settings of a {@link DynamicBatcher} (a deployment's batching settings). */
export interface BatcherOptions {
  /** Rows per batch; 0 runs every request on its own as it arrives. */
  maxBatchSize: number;
  /** How long the oldest queued request may wait for others to join its batch. */
  maxQueueDelayUs: number;
  /** Requests waiting at most; one more is refused with RESOURCE_EXHAUSTED. */
  maxQueueSize: number;
  /** Runs one batch. */
  run(feeds: Record<string, RunnerTensor>): Promise<Record<string, RunnerTensor>>;
  /** Called after each execution with its row count and request count. */
  onExecution?(rows: number, requests: number, computeMs: number): void;
}

/** What a request gets back: its rows of every output, and where its time went. */
export interface BatchResult {
  outputs: Record<string, RunnerTensor>;
  queueMs: number;
  computeMs: number;
}

/** Options of one {@link DynamicBatcher.submit}. */
export interface SubmitOptions {
  /** Aborting removes the request from the queue (it fails with the signal's reason). */
  signal?: AbortSignal;
  /** A request still queued at this time is dropped before it runs (DEADLINE_EXCEEDED). */
  deadline?: Date;
}

interface Item {
  feeds: Record<string, RunnerTensor>;
  rows: number;
  /** Requests batch together only when their non-batch dimensions agree. */
  key: string;
  enqueuedAt: number;
  deadline: number;
  signal: AbortSignal | undefined;
  resolve(result: BatchResult): void;
  reject(error: unknown): void;
}

function keyOf(feeds: Record<string, RunnerTensor>): string {
  return Object.entries(feeds)
    .map(([name, t]) => `${name}:${t.type}:${t.dims.slice(1).join('x')}`)
    .sort()
    .join('|');
}

function concat(parts: ElementArray[], total: number): ElementArray {
  const Ctor = parts[0]!.constructor as new (n: number) => ElementArray;
  const out = new Ctor(total);
  let offset = 0;
  for (const part of parts) {
    (out as Float32Array).set(part as Float32Array, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Triton-style dynamic batching for one loaded model: requests queue until `maxBatchSize` rows are
 * waiting or the oldest has waited `maxQueueDelayUs`, then run as one batch (one batch at a time;
 * while it runs the next one fills), and each request gets its own rows of every output back.
 * A request whose deadline passed or whose call was cancelled is dropped before it runs.
 */
export class DynamicBatcher {
  private readonly queue: Item[] = [];
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: BatcherOptions) {}

  /** Requests queued or running. */
  get pending(): number {
    return this.queue.length + this.running;
  }

  /** Queues one request of `rows` rows (dimension 0 of every input) and resolves with its outputs. */
  submit(feeds: Record<string, RunnerTensor>, rows: number, options: SubmitOptions = {}): Promise<BatchResult> {
    const { maxBatchSize, maxQueueSize } = this.options;
    if (this.queue.length >= maxQueueSize) {
      return Promise.reject(
        new ResourceExhaustedError(`the queue is full (${maxQueueSize} requests waiting); retry later`),
      );
    }
    return new Promise<BatchResult>((resolve, reject) => {
      const item: Item = {
        feeds,
        rows,
        key: keyOf(feeds),
        enqueuedAt: performance.now(),
        deadline: options.deadline?.getTime() ?? Number.POSITIVE_INFINITY,
        signal: options.signal,
        resolve,
        reject,
      };
      if (maxBatchSize <= 0) {
        void this.execute([item]);
        return;
      }
      this.queue.push(item);
      options.signal?.addEventListener('abort', () => this.remove(item), { once: true });
      this.pump();
    });
  }

  /** Resolves once nothing is queued or running (used to drain a model before freeing it). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private remove(item: Item): void {
    const index = this.queue.indexOf(item);
    if (index < 0) return;
    this.queue.splice(index, 1);
    item.reject(item.signal?.reason);
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.pending > 0) return;
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private pump(): void {
    if (this.running > 0 || this.queue.length === 0) return;
    const now = performance.now();
    const { maxBatchSize, maxQueueDelayUs } = this.options;
    const head = this.queue[0]!;
    let rows = 0;
    for (const item of this.queue) if (item.key === head.key) rows += item.rows;
    const waitedMs = now - head.enqueuedAt;
    if (rows < maxBatchSize && waitedMs * 1000 < maxQueueDelayUs) {
      this.timer ??= setTimeout(
        () => {
          this.timer = undefined;
          this.pump();
        },
        Math.max(0, maxQueueDelayUs / 1000 - waitedMs),
      );
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch: Item[] = [];
    let batchRows = 0;
    for (let i = 0; i < this.queue.length; ) {
      const item = this.queue[i]!;
      if (item.key !== head.key || (batch.length > 0 && batchRows + item.rows > maxBatchSize)) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      batch.push(item);
      batchRows += item.rows;
      if (batchRows >= maxBatchSize) break;
    }
    void this.execute(batch).then(() => this.pump());
  }

  private async execute(candidates: Item[]): Promise<void> {
    const now = Date.now();
    const batch: Item[] = [];
    for (const item of candidates) {
      if (item.signal?.aborted) item.reject(item.signal.reason);
      else if (item.deadline <= now)
        item.reject(
          new DeadlineExceededError('the deadline passed while the request was queued; it was dropped before it ran'),
        );
      else batch.push(item);
    }
    if (batch.length === 0) return this.checkIdle();
    this.running += 1;
    const started = performance.now();
    try {
      const total = batch.reduce((n, item) => n + item.rows, 0);
      const feeds: Record<string, RunnerTensor> = {};
      for (const [name, first] of Object.entries(batch[0]!.feeds)) {
        feeds[name] =
          batch.length === 1
            ? first
            : {
                type: first.type,
                data: concat(
                  batch.map((item) => item.feeds[name]!.data),
                  batch.reduce((n, item) => n + item.feeds[name]!.data.length, 0),
                ),
                dims: [total, ...first.dims.slice(1)],
              };
      }
      const outputs = await this.options.run(feeds);
      const computeMs = performance.now() - started;
      this.options.onExecution?.(total, batch.length, computeMs);
      let offset = 0;
      for (const item of batch) {
        const mine: Record<string, RunnerTensor> = {};
        for (const [name, out] of Object.entries(outputs)) {
          if (batch.length === 1 || out.dims[0] !== total) {
            mine[name] = out;
            continue;
          }
          const perRow = out.data.length / total;
          mine[name] = {
            type: out.type,
            data: out.data.slice(offset * perRow, (offset + item.rows) * perRow),
            dims: [item.rows, ...out.dims.slice(1)],
          };
        }
        offset += item.rows;
        item.resolve({ outputs: mine, queueMs: started - item.enqueuedAt, computeMs });
      }
    } catch (error) {
      for (const item of batch) item.reject(error);
    } finally {
      this.running -= 1;
      this.checkIdle();
    }
  }
}

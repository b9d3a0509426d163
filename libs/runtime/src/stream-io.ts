import type { Readable } from 'node:stream';

/** The part of a writable gRPC call (or any Node Writable) that {@link pumpResponses} drives. */
export interface ResponseSink<T> {
  write(message: T): boolean;
  once(event: 'drain' | 'close' | 'error', listener: () => void): unknown;
  off(event: 'drain' | 'close' | 'error', listener: () => void): unknown;
}

/**
 * Writes every message of `responses` to `sink`, waiting for 'drain' whenever `write` returns false
 * so a slow client holds the producer back instead of filling memory. Stops, closing the iterator
 * (its `finally` blocks run), and throws `signal.reason` when `signal` aborts.
 */
export async function pumpResponses<T>(
  responses: AsyncIterable<T>,
  sink: ResponseSink<T>,
  signal: AbortSignal,
): Promise<void> {
  for await (const message of responses) {
    signal.throwIfAborted();
    if (!sink.write(message)) await drained(sink, signal);
  }
  signal.throwIfAborted();
}

function drained(sink: ResponseSink<unknown>, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (): void => {
      sink.off('drain', done);
      sink.off('close', done);
      sink.off('error', done);
      signal.removeEventListener('abort', aborted);
      resolve();
    };
    const aborted = (): void => {
      done();
      reject(signal.reason);
    };
    if (signal.aborted) return aborted();
    sink.once('drain', done);
    sink.once('close', done);
    sink.once('error', done);
    signal.addEventListener('abort', aborted, { once: true });
  });
}

/**
 * The incoming messages of a client- or bidi-streaming call as an async iterable that ends when the
 * client half-closes and throws `signal.reason` as soon as the call is aborted (a cancelled client
 * never half-closes, so a plain stream iterator would wait forever).
 */
export async function* readRequests<T>(stream: Readable, signal: AbortSignal): AsyncGenerator<T, void, undefined> {
  // destroyOnReturn: false, because destroying a server duplex call would also kill its writable
  // side, and the responses and final status still have to go out after the requests end.
  const iterator = stream.iterator({ destroyOnReturn: false }) as AsyncIterator<T>;
  try {
    for (;;) {
      const next = await abortable(iterator.next(), signal);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    // Detaches the iterator's listeners when the handler stops reading early.
    if (!signal.aborted) void iterator.return?.();
  }
}

/** `promise`, or a rejection with `signal.reason` if `signal` aborts first. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * `iterator.next()`, or a rejection with `onIdle()` when nothing arrives within `idleMs` (a client
 * stream that went quiet: an upload or import is ended instead of holding its resources forever).
 * An infinite `idleMs` waits as long as it takes.
 *
 * @example
 * const next = await nextWithin(parts, 300_000, () => new DeadlineExceededError('ImportDataset: no message for 300 s'));
 */
export async function nextWithin<T>(
  iterator: AsyncIterator<T>,
  idleMs: number,
  onIdle: () => Error,
): Promise<IteratorResult<T>> {
  if (!Number.isFinite(idleMs)) return iterator.next();
  let timer: NodeJS.Timeout | undefined;
  const idle = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onIdle()), idleMs);
  });
  try {
    return await Promise.race([iterator.next(), idle]);
  } finally {
    clearTimeout(timer);
  }
}

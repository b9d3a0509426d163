/** Options for {@link waitFor}. */
export interface WaitForOptions {
  /**
   * Give up after this long.
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * Pause between two attempts.
   * @default 25
   */
  intervalMs?: number;
  /** What is being waited for, quoted in the timeout error ("deployment fmnist to be ready"). */
  message?: string;
  /** Stops waiting early, rejecting with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Poll `predicate` until it returns a truthy value (which is returned) or the timeout passes.
 * A predicate that throws counts as "not yet"; its last error is attached as the `cause` of the
 * timeout error, so an assertion inside the predicate explains what was still wrong.
 *
 * @example
 * const job = await waitFor(async () => {
 *   const j = await client.getTrainingJob({ id });
 *   return j.state === 'SUCCEEDED' && j;
 * }, { timeoutMs: 30_000, message: `training job ${id} to succeed` });
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  opts: WaitForOptions = {},
): Promise<Exclude<T, false | 0 | '' | null | undefined>> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const intervalMs = opts.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  let lastError: unknown;
  for (;;) {
    opts.signal?.throwIfAborted();
    attempts++;
    try {
      const value = await predicate();
      if (value) return value as Exclude<T, false | 0 | '' | null | undefined>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const what = opts.message ?? 'condition';
      const why = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms (${attempts} attempts) waiting for ${what}${why}`, {
        cause: lastError,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
}

/**
 * Drain an async iterable into an array. With `limit`, stop (and close the iterator) after that
 * many items, which is how to read a few entries of a live subscription.
 *
 * @example
 * const names = await collect(store.listNames());
 * const firstThree = await collect(watcher, 3);
 */
export async function collect<T>(source: AsyncIterable<T>, limit = Infinity): Promise<T[]> {
  const out: T[] = [];
  if (limit <= 0) return out;
  for await (const item of source) {
    out.push(item);
    if (out.length >= limit) break;
  }
  return out;
}

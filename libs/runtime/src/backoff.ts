/** How {@link backoffDelay} grows and spreads its waits. */
export interface BackoffOptions {
  /** The wait before the first retry. */
  baseMs: number;
  /** The longest wait. */
  maxMs: number;
  /** Growth per attempt. @default 2 */
  multiplier?: number;
  /**
   * `none`: exactly the exponential value; `half`: uniform in [50 %, 100 %] of it (retrying
   * clients, so they do not retry in step); `full`: uniform in [0, 100 %] (contended writers).
   * @default 'none'
   */
  jitter?: 'none' | 'half' | 'full';
}

/**
 * The wait before retry `attempt` (1 for the first): `baseMs · multiplier^(attempt − 1)`, capped at
 * `maxMs`, with the chosen jitter. The one backoff of the tree (event and job redelivery, KV
 * mutate conflicts, SDK retries).
 *
 * @example
 * backoffDelay(3, { baseMs: 100, maxMs: 5_000 }); // 400
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const { baseMs, maxMs, multiplier = 2, jitter = 'none' } = options;
  const exact = Math.min(maxMs, baseMs * multiplier ** Math.max(0, attempt - 1));
  if (jitter === 'full') return exact * Math.random();
  if (jitter === 'half') return exact * (0.5 + Math.random() / 2);
  return exact;
}

/**
 * Resolves after `ms`; rejects with `signal.reason` as soon as `signal` aborts (at once when it
 * already has). A caller that wants to stop quietly writes `await delay(ms, signal).catch(() => {})`.
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

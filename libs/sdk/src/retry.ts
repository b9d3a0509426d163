import { backoffDelay, delay } from '@aimaas/runtime';
import { AimaasError, abortedError } from './errors.js';

/**
 * When unary reads are retried. Only `UNAVAILABLE` is retried, and only for methods that read
 * (see {@link isIdempotentRead}); bad input and writes never are.
 */
export interface RetryOptions {
  /** Attempts in all, the first included; `1` turns retries off. @default 3 */
  maxAttempts?: number;
  /** Wait before the second attempt, in ms; each later wait is `backoffMultiplier` times longer. @default 100 */
  initialBackoffMs?: number;
  /** The longest wait between attempts, in ms. @default 2000 */
  maxBackoffMs?: number;
  /** Growth of the wait from one attempt to the next. @default 2 */
  backoffMultiplier?: number;
}

/** {@link RetryOptions} with every default applied. */
export type RetryPolicy = Readonly<Required<RetryOptions>>;

/** Applies the defaults of {@link RetryOptions} and validates them (throws `TypeError`). */
export function compileRetryPolicy(options: RetryOptions = {}): RetryPolicy {
  const policy = {
    maxAttempts: options.maxAttempts ?? 3,
    initialBackoffMs: options.initialBackoffMs ?? 100,
    maxBackoffMs: options.maxBackoffMs ?? 2000,
    backoffMultiplier: options.backoffMultiplier ?? 2,
  };
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) {
    throw new TypeError(`retry.maxAttempts must be an integer >= 1, got ${String(options.maxAttempts)}`);
  }
  for (const key of ['initialBackoffMs', 'maxBackoffMs', 'backoffMultiplier'] as const) {
    if (!Number.isFinite(policy[key]) || policy[key] < 0) {
      throw new TypeError(`retry.${key} must be a finite number >= 0, got ${String(options[key])}`);
    }
  }
  return Object.freeze(policy);
}

/** Reads of the Open Inference Protocol that do not start with Get/List/Search. */
const OIP_READS = new Set(['ServerLive', 'ServerReady', 'ModelReady', 'ServerMetadata', 'ModelMetadata']);

/**
 * True for methods that only read, so repeating them is harmless: `Get*`, `List*`, `Search*` and
 * the OIP health and metadata calls. Accepts a method name or a full path
 * (`/aimaas.v1.RegistryService/GetModelVersion`).
 */
export function isIdempotentRead(method: string): boolean {
  const name = method.slice(method.lastIndexOf('/') + 1);
  return /^(Get|List|Search)[A-Z]/.test(name) || OIP_READS.has(name);
}

/** True for failures worth another attempt: the server could not be reached or was overloaded. */
function isRetryableError(error: unknown): boolean {
  return error instanceof AimaasError && error.code === 'UNAVAILABLE';
}

/** The wait before attempt `attempt + 1` (attempt counts from 1), with jitter in [50%, 100%]. */
function retryDelay(policy: RetryPolicy, attempt: number): number {
  return backoffDelay(attempt, {
    baseMs: policy.initialBackoffMs,
    maxMs: policy.maxBackoffMs,
    multiplier: policy.backoffMultiplier,
    jitter: 'half',
  });
}

/**
 * Runs `attempt` up to `policy.maxAttempts` times while it fails with a retryable error, waiting
 * with exponential backoff in between. Gives up early when `signal` aborts or when the next
 * attempt would start after `deadline`.
 */
export async function withRetry<T>(
  attempt: () => Promise<T>,
  policy: RetryPolicy,
  method: string,
  signal?: AbortSignal,
  deadline?: Date,
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (n >= policy.maxAttempts || !isRetryableError(error)) throw error;
      const wait = retryDelay(policy, n);
      if (deadline !== undefined && Date.now() + wait >= deadline.getTime()) throw error;
      await delay(wait, signal).catch(() => {
        throw abortedError(method, signal!);
      });
    }
  }
}

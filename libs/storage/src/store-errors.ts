import type { DomainError, DomainErrorCode, DomainErrorOptions } from '@aimaas/runtime';

/** What a client is told of a store failure: its kind, never the bucket, key or object name. */
const PUBLIC_MESSAGES: Partial<Record<DomainErrorCode, string>> = {
  ALREADY_EXISTS: 'it already exists (a concurrent create won)',
  NOT_FOUND: 'it is not in the store (deleted concurrently?)',
  ABORTED: 'a concurrent change won; re-read and retry',
  DATA_LOSS: 'stored bytes do not match the digest recorded when they were written (damaged or tampered)',
  UNAVAILABLE: 'the store (NATS JetStream) is unavailable; retry later',
  RESOURCE_EXHAUSTED: 'the store is full (a JetStream limit was reached)',
  FAILED_PRECONDITION: 'the store is not provisioned (a bucket is missing)',
  INVALID_ARGUMENT: 'the store refused an internal key or value',
};

/**
 * A domain error of the store: `message` (bucket, key and object names included) goes to the log;
 * the client gets a public message that says what kind of failure it was. A service that knows
 * better (which file of which model) catches it and says so.
 */
export function storeError<E extends DomainError>(
  Type: new (message: string, options?: DomainErrorOptions) => E,
  message: string,
  options: { cause?: unknown; publicMessage?: string } = {},
): E {
  const probe = new Type(message, options);
  if (options.publicMessage !== undefined) return probe;
  const publicMessage = PUBLIC_MESSAGES[probe.code];
  return publicMessage === undefined ? probe : new Type(message, { ...options, publicMessage });
}

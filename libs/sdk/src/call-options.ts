import { Metadata, type CallOptions as GrpcCallOptions } from '@grpc/grpc-js';

/** Metadata key of the acting user or service; the registry records it as `created_by`, etc. */
export const ACTOR_METADATA_KEY = 'x-aimaas-actor';

/**
 * Options of one call, accepted by every method of every client.
 *
 * @example
 * const ac = new AbortController();
 * await clients.registry.getModelVersion({ ref: { name: 'fmnist', alias: 'production' } },
 *   { deadlineMs: 5_000, signal: ac.signal, actor: 'ci' });
 */
export interface CallOptions {
  /**
   * Time limit in ms, counted from when the call starts; it covers every retry attempt. Past it the
   * call fails with `DEADLINE_EXCEEDED`. @default the client's `defaultDeadlineMs` (none)
   */
  deadlineMs?: number;
  /** Aborting it cancels the call (the server sees the cancellation); the call fails with `CANCELLED`. */
  signal?: AbortSignal;
  /** Extra request metadata. Binary values go under keys ending in `-bin`. */
  metadata?: Metadata | Record<string, string | Buffer | ReadonlyArray<string | Buffer>>;
  /** `x-aimaas-actor` of this call. @default the client's `actor` */
  actor?: string;
  /** `false` turns retries off for this call. Only idempotent reads are ever retried. @default true */
  retry?: boolean;
}

/** Client-wide settings the wrappers apply to each call. */
export interface CallDefaults {
  /** Deadline of calls that give none. */
  defaultDeadlineMs?: number;
}

/** What a wrapper needs to start one grpc-js call. */
export interface PreparedCall {
  metadata: Metadata;
  grpcOptions: Partial<GrpcCallOptions>;
  signal: AbortSignal | undefined;
  deadline: Date | undefined;
  retry: boolean;
}

/** Resolves {@link CallOptions} against the client's defaults into grpc-js metadata and options. */
export function prepareCall(options: CallOptions | undefined, defaults: CallDefaults): PreparedCall {
  const deadlineMs = options?.deadlineMs ?? defaults.defaultDeadlineMs;
  if (deadlineMs !== undefined && !(Number.isFinite(deadlineMs) && deadlineMs >= 0)) {
    throw new TypeError(`deadlineMs must be a finite number of milliseconds >= 0, got ${String(deadlineMs)}`);
  }
  const deadline = deadlineMs === undefined ? undefined : new Date(Date.now() + deadlineMs);
  const metadata = toMetadata(options?.metadata);
  if (options?.actor !== undefined && options.actor !== '') metadata.set(ACTOR_METADATA_KEY, options.actor);
  return {
    metadata,
    grpcOptions: deadline === undefined ? {} : { deadline },
    signal: options?.signal,
    deadline,
    retry: options?.retry !== false,
  };
}

/** Copies `source` (a `Metadata` or a plain record) into a new `Metadata`. */
function toMetadata(source: CallOptions['metadata']): Metadata {
  if (source instanceof Metadata) return source.clone();
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(source ?? {})) {
    const values: ReadonlyArray<string | Buffer> = Array.isArray(value) ? value : [value as string | Buffer];
    for (const item of values) metadata.add(key, item);
  }
  return metadata;
}

/**
 * Fills in the proto3 defaults of the top-level fields a request leaves out (or sets to
 * `undefined`), so `{ name: 'fmnist' }` is a complete `GetRegisteredModelRequest`.
 * `emptyMessage` is a freshly decoded empty message of the request type.
 */
export function withDefaults<T extends object>(emptyMessage: T, request: Partial<T> | undefined): T {
  const filled = emptyMessage as Record<string, unknown>;
  for (const [key, value] of Object.entries(request ?? {})) {
    if (value !== undefined) filled[key] = value;
  }
  return filled as T;
}

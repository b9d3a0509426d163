import { Metadata, status as grpcStatus } from '@grpc/grpc-js';

/** gRPC status code names, e.g. `'NOT_FOUND'`, as {@link AimaasError.code} carries them. */
export type StatusName =
  | 'OK'
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'OUT_OF_RANGE'
  | 'UNIMPLEMENTED'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'DATA_LOSS'
  | 'UNAUTHENTICATED';

const NAMES = grpcStatus as unknown as Record<number, StatusName>;

/** The name of a numeric gRPC status code (`5` → `'NOT_FOUND'`); unknown codes read `'UNKNOWN'`. */
export function statusName(code: number): StatusName {
  return NAMES[code] ?? 'UNKNOWN';
}

/** What {@link AimaasError} is built from. */
export interface AimaasErrorInit {
  /** The gRPC status name. */
  code: StatusName;
  /** The status details: the server's message. */
  details: string;
  /** The method, e.g. `'aimaas.v1.RegistryService/GetModelVersion'`; empty when not an RPC. */
  method?: string;
  /** Trailing metadata of the failed call. */
  metadata?: Metadata;
  cause?: unknown;
}

/**
 * A failed call to an AIMaaS service, shaped like grpc-js's `ServiceError` but with the status
 * *name* as `code`. `grpcCode` holds the number. `message` reads `CODE: details`.
 *
 * @example
 * try {
 *   await clients.registry.getRegisteredModel({ name: 'nope' });
 * } catch (error) {
 *   if (error instanceof AimaasError && error.code === 'NOT_FOUND') console.log(error.details);
 * }
 */
export class AimaasError extends Error {
  override readonly name: string = 'AimaasError';
  /** The gRPC status name, e.g. `'NOT_FOUND'`. */
  readonly code: StatusName;
  /** The numeric gRPC status code, e.g. `5`. */
  readonly grpcCode: number;
  /** The server's message (the status details). */
  readonly details: string;
  /** `package.Service/Method` of the call that failed, or empty. */
  readonly method: string;
  /** Trailing metadata of the failed call (empty when there was none). */
  readonly metadata: Metadata;

  constructor(init: AimaasErrorInit) {
    super(`${init.code}: ${init.details}`, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.grpcCode = (grpcStatus as unknown as Record<string, number>)[init.code] ?? grpcStatus.UNKNOWN;
    this.details = init.details;
    this.method = init.method ?? '';
    this.metadata = init.metadata ?? new Metadata();
  }
}

/**
 * A downloaded file whose bytes do not match the size or SHA-256 its header announced
 * (code `DATA_LOSS`). Nothing of the file is left on disk.
 */
export class DigestMismatchError extends AimaasError {
  override readonly name: string = 'DigestMismatchError';
  /** The file's path within the model version. */
  readonly path: string;
  readonly expected: string;
  readonly actual: string;

  constructor(path: string, what: 'sha256' | 'size', expected: string, actual: string, method = '') {
    super({
      code: 'DATA_LOSS',
      details: `file "${path}": ${what} is ${actual}, expected ${expected}`,
      method,
    });
    this.path = path;
    this.expected = expected;
    this.actual = actual;
  }
}

/** True for grpc-js `ServiceError`s (and anything else carrying a numeric `code` and `details`). */
function isServiceErrorLike(error: unknown): error is { code: number; details?: string; metadata?: Metadata } {
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'number';
}

/**
 * Turns whatever a call failed with into an {@link AimaasError}. A call cancelled because its
 * `signal` aborted becomes `CANCELLED` with the abort reason as `cause`.
 */
export function toAimaasError(error: unknown, method: string, signal?: AbortSignal): AimaasError {
  if (error instanceof AimaasError) return error;
  if (signal?.aborted) {
    return new AimaasError({ code: 'CANCELLED', details: 'the call was aborted', method, cause: signal.reason });
  }
  if (isServiceErrorLike(error)) {
    // grpc-js appends an empty "Resolution note:" to its own connection errors.
    const details = (error.details ?? (error instanceof Error ? error.message : '')).replace(
      /\s*Resolution note:\s*$/,
      '',
    );
    return new AimaasError({
      code: statusName(error.code),
      details,
      method,
      ...(error.metadata instanceof Metadata ? { metadata: error.metadata } : {}),
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new AimaasError({ code: 'UNKNOWN', details: message, method, cause: error });
}

/** The error a call started with an already aborted signal fails with. */
export function abortedError(method: string, signal: AbortSignal): AimaasError {
  return new AimaasError({ code: 'CANCELLED', details: 'the call was aborted', method, cause: signal.reason });
}

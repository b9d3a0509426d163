/**
 * The one place an error becomes the gRPC status a client gets. Which error to throw:
 *
 * - In a service, a `DomainError` of `./errors.ts` named for its status (`InvalidArgumentError`
 *   for a malformed request naming the field, `ResourceExhaustedError` over a documented limit,
 *   `FailedPreconditionError` for a valid request the state forbids, …).
 * - In a library that must not depend on this one (`@aimaas/pipeline`, `@aimaas/ml`), any `Error`
 *   with a readonly `code` holding a status name (`'INVALID_ARGUMENT'`): it reaches the client as
 *   that status with its message, no translation needed.
 * - A failure of a called service (the SDK's `AimaasError`, which carries a numeric `grpcCode`)
 *   is not the caller's own statement: the handler decides what it means (see inference's
 *   `registryFailure`); left alone it is INTERNAL.
 *
 * Anything else is INTERNAL "internal error", with the stack only in the log.
 */
import { Metadata, status as grpcStatus, type StatusObject } from '@grpc/grpc-js';
import { isDomainError, type DomainErrorCode } from './errors.js';

/** A gRPC status on its way to the client. */
export type CallStatus = Pick<StatusObject, 'code' | 'details'> & { metadata: Metadata };

/** Longest status message a call answers with; a longer one (an echoed input) is cut. */
export const MAX_STATUS_DETAILS = 1_024;

const STATUS_NAMES: ReadonlySet<string> = new Set<DomainErrorCode>([
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'FAILED_PRECONDITION',
  'ABORTED',
  'RESOURCE_EXHAUSTED',
  'UNAVAILABLE',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'DEADLINE_EXCEEDED',
  'CANCELLED',
  'UNIMPLEMENTED',
  'DATA_LOSS',
]);

/**
 * The status `error` states, or undefined when it states none (then it is an unexpected error):
 * a `DomainError` gives its code and `publicMessage`; another `Error` with a status-name `code`
 * and no `grpcCode` (a library's error) gives its code and message.
 */
export function errorStatus(error: unknown): CallStatus | undefined {
  if (isDomainError(error)) return status(grpcStatus[error.code], error.publicMessage);
  if (!(error instanceof Error) || 'grpcCode' in error) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !STATUS_NAMES.has(code)) return undefined;
  return status(grpcStatus[code as DomainErrorCode], error.message);
}

/**
 * A call's status. Details over {@link MAX_STATUS_DETAILS} characters are cut, with an ellipsis
 * and the full length, so no message can echo a huge input back (or stall the connection with it);
 * a lone surrogate (an echoed `"\ud800"`, or a pair the cut split) becomes U+FFFD, since grpc-js
 * URI-encodes the message and would throw, taking the process down.
 */
export function status(code: grpcStatus, details: string): CallStatus {
  const cut =
    details.length > MAX_STATUS_DETAILS
      ? `${details.slice(0, MAX_STATUS_DETAILS - 40)}… (${details.length} characters)`
      : details;
  return { code, details: cut.replace(LONE_SURROGATE, '\uFFFD'), metadata: new Metadata() };
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

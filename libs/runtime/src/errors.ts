/**
 * The domain error vocabulary. Domain code throws these; the server adapter maps each to one gRPC
 * status. Anything else reaches a client as a generic INTERNAL, with the stack only in the log.
 *
 * @example
 * throw new NotFoundError(`model "fmnist" has no version 7`);
 */
export abstract class DomainError extends Error {
  /** The gRPC status code name this error maps to. */
  abstract readonly code: DomainErrorCode;
  /**
   * What a client is told. Differs from `message` when the message names internals (a store's
   * bucket or key): then the message goes only to the log. @default message
   */
  readonly publicMessage: string;
  constructor(message: string, options?: DomainErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.publicMessage = options?.publicMessage ?? message;
  }
}

/** Options of a {@link DomainError}. */
export interface DomainErrorOptions {
  cause?: unknown;
  /** The client's version of the message, when `message` names internals. @default message */
  publicMessage?: string;
}

export type DomainErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'DEADLINE_EXCEEDED'
  | 'CANCELLED'
  | 'UNIMPLEMENTED'
  | 'DATA_LOSS';

/** Bad input: the message names the field, row or column and says what was expected. */
export class InvalidArgumentError extends DomainError {
  readonly code = 'INVALID_ARGUMENT';
}
export class NotFoundError extends DomainError {
  readonly code = 'NOT_FOUND';
}
export class AlreadyExistsError extends DomainError {
  readonly code = 'ALREADY_EXISTS';
}
/** The request is well formed but the system is not in a state to do it (e.g. alias points here). */
export class FailedPreconditionError extends DomainError {
  readonly code = 'FAILED_PRECONDITION';
}
/** A concurrent change won (e.g. a KV revision moved); the caller may retry. */
export class AbortedError extends DomainError {
  readonly code = 'ABORTED';
}
export class ResourceExhaustedError extends DomainError {
  readonly code = 'RESOURCE_EXHAUSTED';
}
export class UnavailableError extends DomainError {
  readonly code = 'UNAVAILABLE';
}
export class UnauthenticatedError extends DomainError {
  readonly code = 'UNAUTHENTICATED';
}
export class DeadlineExceededError extends DomainError {
  readonly code = 'DEADLINE_EXCEEDED';
}
export class CancelledError extends DomainError {
  readonly code = 'CANCELLED';
}
export class UnimplementedError extends DomainError {
  readonly code = 'UNIMPLEMENTED';
}
/** Stored bytes do not match their recorded digest: corruption or tampering. */
export class DataLossError extends DomainError {
  readonly code = 'DATA_LOSS';
}

/** True when `error` is one of the domain errors above. */
export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}

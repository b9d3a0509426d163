export {
  DomainError,
  InvalidArgumentError,
  NotFoundError,
  AlreadyExistsError,
  FailedPreconditionError,
  AbortedError,
  ResourceExhaustedError,
  UnavailableError,
  UnauthenticatedError,
  DeadlineExceededError,
  CancelledError,
  UnimplementedError,
  DataLossError,
  isDomainError,
} from './errors.js';
export type { DomainErrorCode } from './errors.js';

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
export type { DomainErrorCode, DomainErrorOptions } from './errors.js';

export {
  loadConfig,
  ConfigError,
  parseHostPort,
  positiveIntegerSetting,
  positiveNumberSetting,
  wholeNumberSetting,
  SERVICE_NAMES,
  DEFAULT_ADDRESSES,
  DEFAULT_MAX_MESSAGE_BYTES,
  MEMORY_BUDGET_DEFAULTS_MB,
} from './config.js';
export type { RuntimeConfig, ServiceName, TlsConfig, TfBackend, Env, HostPort } from './config.js';

export { implement, serviceNameOf } from './implement.js';
export type { ImplementOptions } from './implement.js';
export type {
  CallContext,
  UnaryHandler,
  ServerStreamingHandler,
  ClientStreamingHandler,
  BidiStreamingHandler,
  MethodDefinitionLike,
  ServiceDefinitionLike,
  RequestOf,
  ResponseOf,
  HandlerFor,
  ServiceImplementation,
} from './handler-types.js';

export { createGrpcServer } from './grpc-server.js';
export { errorStatus, MAX_STATUS_DETAILS } from './error-status.js';
export type { GrpcServer, ShutdownHook } from './grpc-server.js';
export type { GrpcServerOptions } from './server-options.js';
export { HEALTH_SERVICE_NAME } from './server-support.js';
export type { ProtoFiles } from './server-support.js';
export { installSignalHandlers } from './signals.js';
export type { SignalHandlerOptions } from './signals.js';

export {
  createChannelCredentials,
  createServerCredentials,
  clientOptions,
  bearerTokenInterceptor,
  CLIENT_KEEPALIVE,
} from './credentials.js';
export type { ClientConfig } from './credentials.js';

export { runServiceProcess } from './service-process.js';
export type { ServiceProcessContext, ServiceProcessOptions } from './service-process.js';
export { backoffDelay, delay } from './backoff.js';
export { nextWithin } from './stream-io.js';
export type { BackoffOptions } from './backoff.js';

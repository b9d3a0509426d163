import type * as grpc from '@grpc/grpc-js';
import { context } from '@opentelemetry/api';
import {
  createLogger,
  parseGrpcPath,
  type GrpcMethodType,
  type GrpcServerMetrics,
  type Logger,
} from '@aimaas/telemetry';
import { openCall, type CallPolicy, type CallScope, type CallStatus } from './call-scope.js';
import { InvalidArgumentError, UnimplementedError } from './errors.js';
import type {
  CallContext,
  MethodDefinitionLike,
  ServiceDefinitionLike,
  ServiceImplementation,
} from './handler-types.js';
import { pumpResponses, readRequests } from './stream-io.js';

/** Options of {@link implement}; `createGrpcServer` fills them from its own. */
export interface ImplementOptions {
  /** When set, calls need `authorization: Bearer <authToken>` metadata, else UNAUTHENTICATED. @default undefined (open) */
  authToken?: string;
  /** Where unexpected handler errors are logged with their stack. @default createLogger('grpc') */
  logger?: Logger;
  /** gRPC server metrics to record every call in. @default undefined (no metrics) */
  metrics?: GrpcServerMetrics;
  /** Aborting it aborts every in-flight call's `ctx.signal` with its reason (the server's shutdown). */
  shutdownSignal?: AbortSignal;
  /** Refuse calls (RESOURCE_EXHAUSTED) while the process RSS is over `bytes`. @default undefined (no budget) */
  memoryBudget?: { bytes: number; variable: string };
}

type AnyHandler = (input: any, ctx: CallContext) => unknown;

/**
 * Adapts async handlers to a grpc-js service implementation. Every call gets: a SERVER span (child
 * of the incoming `traceparent`, active while the handler runs, so nested client calls and NATS
 * publishes join the trace); the bearer-token check when `authToken` is set (UNAUTHENTICATED
 * otherwise); an already-expired deadline answered DEADLINE_EXCEEDED without running the handler;
 * error mapping (a `DomainError` → its status and message; anything else → logged with its stack,
 * INTERNAL "internal error" to the client); metrics. Methods left out of `handlers` answer
 * UNIMPLEMENTED naming the method.
 *
 * @example
 * server.addService(RegistryServiceService, implement(RegistryServiceService, createRegistryService(deps)));
 */
export function implement<D extends ServiceDefinitionLike>(
  definition: D,
  handlers: Partial<ServiceImplementation<D>>,
  options: ImplementOptions = {},
): grpc.UntypedServiceImplementation {
  const serviceName = serviceNameOf(definition);
  const known = new Set(Object.keys(definition));
  const unknown = Object.keys(handlers).filter((key) => !known.has(key));
  if (unknown.length > 0) {
    throw new TypeError(
      `implement(${serviceName}): ${unknown.map((k) => `"${k}"`).join(', ')} not in the service definition; expected some of ${[...known].join(', ')}`,
    );
  }
  const policy: CallPolicy = {
    authToken: options.authToken,
    logger: options.logger ?? defaultLogger(),
    metrics: options.metrics,
    shutdownSignal: options.shutdownSignal,
    ...(options.memoryBudget && { memoryBudget: options.memoryBudget }),
  };
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [key, method] of Object.entries(definition)) {
    const given = (handlers as Record<string, AnyHandler | undefined>)[key];
    if (given !== undefined && typeof given !== 'function') {
      throw new TypeError(`implement(${serviceName}): handler "${key}" must be a function, got ${typeof given}`);
    }
    const handler: AnyHandler = given ? given.bind(handlers) : unimplemented(method);
    implementation[key] = wrap(method, handler, policy);
  }
  return implementation;
}

/** What a request deserializer gives instead of throwing: grpc-js would answer INTERNAL. */
class UndecodableRequest {
  constructor(readonly reason: string) {}
}

/**
 * The definition with deserializers that never throw: bytes that are not the request message
 * (random bytes, an int64 past 2^53 that ts-proto refuses) reach the call as a marker, which
 * `implement` answers with INVALID_ARGUMENT naming the method and the reason, instead of the
 * INTERNAL grpc-js sends for a deserializer that throws.
 */
export function tolerantDefinition<D extends ServiceDefinitionLike>(definition: D): D {
  const out: Record<string, MethodDefinitionLike> = {};
  for (const [key, method] of Object.entries(definition)) {
    const decode = method.requestDeserialize;
    out[key] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          return new UndecodableRequest(reason.length > 200 ? `${reason.slice(0, 200)}…` : reason);
        }
      },
    };
  }
  return out as D;
}

function undecodable(method: MethodDefinitionLike, request: UndecodableRequest): InvalidArgumentError {
  return new InvalidArgumentError(
    `${method.path}: the request is not a valid message of this method (${request.reason})`,
  );
}

/** The requests of a client stream, failing with INVALID_ARGUMENT at one that could not be decoded. */
async function* decodedRequests(
  method: MethodDefinitionLike,
  requests: AsyncIterable<unknown>,
): AsyncGenerator<unknown> {
  for await (const request of requests) {
    if (request instanceof UndecodableRequest) throw undecodable(method, request);
    yield request;
  }
}

/** The fully qualified service name of a definition, e.g. `aimaas.v1.RegistryService`. */
export function serviceNameOf(definition: ServiceDefinitionLike): string {
  const first = Object.values(definition)[0];
  if (!first || typeof first.path !== 'string')
    throw new TypeError('not a grpc-js service definition: it has no methods with a path');
  return parseGrpcPath(first.path).service;
}

let fallbackLogger: Logger | undefined;
function defaultLogger(): Logger {
  return (fallbackLogger ??= createLogger('grpc'));
}

function unimplemented(method: MethodDefinitionLike): AnyHandler {
  const error = (): UnimplementedError =>
    new UnimplementedError(`method ${method.path} is not implemented by this server`);
  if (method.responseStream) {
    return async function* () {
      throw error();
    };
  }
  return async () => {
    throw error();
  };
}

function methodType(method: MethodDefinitionLike): GrpcMethodType {
  if (method.requestStream) return method.responseStream ? 'bidi_stream' : 'client_stream';
  return method.responseStream ? 'server_stream' : 'unary';
}

function wrap(method: MethodDefinitionLike, handler: AnyHandler, policy: CallPolicy): grpc.UntypedHandleCall {
  const type = methodType(method);
  const run = (scope: CallScope, input: unknown): unknown =>
    context.with(scope.otelContext, () => handler(input, scope.ctx));

  if (!method.responseStream) {
    // unary and client-streaming: one response through the callback
    return (
      call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerReadableStream<unknown, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      const scope = openCall(call, type, policy);
      if (scope.refusal) return reply(scope, callback, scope.refusal);
      const input = method.requestStream
        ? decodedRequests(method, readRequests(call as grpc.ServerReadableStream<unknown, unknown>, scope.ctx.signal))
        : (call as grpc.ServerUnaryCall<unknown, unknown>).request;
      if (input instanceof UndecodableRequest)
        return reply(scope, callback, scope.statusOf(undecodable(method, input)));
      Promise.resolve()
        .then(() => run(scope, input))
        .then(
          (response) => {
            scope.finish('OK');
            callback(null, response);
          },
          (error: unknown) => reply(scope, callback, scope.statusOf(error)),
        );
    };
  }

  // server-streaming and bidi: responses written with flow control
  return (call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>) => {
    const scope = openCall(call, type, policy);
    if (scope.refusal) return fail(scope, call, scope.refusal);
    const input = method.requestStream
      ? decodedRequests(method, readRequests(call as grpc.ServerDuplexStream<unknown, unknown>, scope.ctx.signal))
      : (call as grpc.ServerWritableStream<unknown, unknown>).request;
    if (input instanceof UndecodableRequest) return fail(scope, call, scope.statusOf(undecodable(method, input)));
    context
      .with(scope.otelContext, async () => {
        const responses = handler(input, scope.ctx);
        if (!isAsyncIterable(responses)) {
          throw new TypeError(
            `handler of streaming method ${method.path} must return an AsyncIterable (use an async generator)`,
          );
        }
        await pumpResponses(responses, call, scope.ctx.signal);
      })
      .then(
        () => {
          scope.finish('OK');
          call.end();
        },
        (error: unknown) => fail(scope, call, scope.statusOf(error)),
      );
  };
}

function reply(scope: CallScope, callback: grpc.sendUnaryData<unknown>, status: CallStatus): void {
  scope.finish(status);
  callback(status, null);
}

function fail(scope: CallScope, call: NodeJS.EventEmitter, status: CallStatus): void {
  scope.finish(status);
  // grpc-js turns an 'error' event carrying { code, details } into the call's final status.
  call.emit('error', status);
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

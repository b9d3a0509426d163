import type { Client } from '@grpc/grpc-js';
import { prepareCall, withDefaults, type CallDefaults, type CallOptions } from './call-options.js';
import { abortedError, toAimaasError } from './errors.js';
import { compileRetryPolicy, isIdempotentRead, withRetry, type RetryPolicy } from './retry.js';
import type { RequestInput, RequestOf, RequestSource, ResponseOf, ServiceDefinitionLike } from './method-types.js';
import { bidiStreamCall, clientStreamCall, serverStreamCall, type StreamMethodContext } from './stream-calls.js';

export type {
  MethodDefinitionLike,
  RequestInput,
  RequestOf,
  RequestSource,
  ResponseOf,
  ServiceDefinitionLike,
} from './method-types.js';

/** A unary call: one request, one response. */
export type UnaryMethod<Req, Res> = (request: RequestInput<Req>, options?: CallOptions) => Promise<Res>;
/** A server-streaming call; breaking out of the loop (or aborting) cancels the call. */
export type ServerStreamMethod<Req, Res> = (request: RequestInput<Req>, options?: CallOptions) => AsyncIterable<Res>;
/** A client-streaming call, written with backpressure. */
export type ClientStreamMethod<Req, Res> = (requests: RequestSource<Req>, options?: CallOptions) => Promise<Res>;
/** A bidirectional call. */
export type BidiStreamMethod<Req, Res> = (requests: RequestSource<Req>, options?: CallOptions) => AsyncIterable<Res>;

/** The promise / async-iterable signature of one method definition, chosen by its streaming kind. */
export type TypedMethod<M> = M extends { requestStream: true; responseStream: true }
  ? BidiStreamMethod<RequestOf<M>, ResponseOf<M>>
  : M extends { requestStream: true }
    ? ClientStreamMethod<RequestOf<M>, ResponseOf<M>>
    : M extends { responseStream: true }
      ? ServerStreamMethod<RequestOf<M>, ResponseOf<M>>
      : UnaryMethod<RequestOf<M>, ResponseOf<M>>;

/** Every method of a service definition as a typed promise / async-iterable function. */
export type TypedClient<D> = { readonly [K in keyof D]: TypedMethod<D[K]> };

/** A typed client plus the grpc-js client it calls through (`raw`), for what the wrapper does not cover. */
export type ServiceClient<D, C extends Client = Client> = TypedClient<D> & { readonly raw: C };

/** How {@link wrapClient} calls. */
export interface WrapOptions extends CallDefaults {
  /** Retry policy of idempotent unary reads. @default compileRetryPolicy() (3 attempts) */
  retry?: RetryPolicy;
}

/**
 * Wraps a grpc-js client (typically a ts-proto generated one) in promise and async-iterable
 * methods, one per entry of `definition`. One code path serves every service: the method kind
 * (unary, server, client or bidi streaming) comes from the definition.
 *
 * @example
 * const raw = new RegistryServiceClient('127.0.0.1:50054', credentials.createInsecure());
 * const registry = wrapClient(RegistryServiceService, raw);
 * const model = await registry.getRegisteredModel({ name: 'fmnist' }, { deadlineMs: 2000 });
 */
export function wrapClient<D extends ServiceDefinitionLike, C extends Client>(
  definition: D,
  client: C,
  options: WrapOptions = {},
): ServiceClient<D, C> {
  const retry = options.retry ?? compileRetryPolicy();
  const wrapped: Record<string, unknown> = { raw: client };
  for (const [key, method] of Object.entries(definition)) {
    const context: StreamMethodContext = {
      client,
      method,
      name: method.path.replace(/^\//, ''),
      empty: () => method.requestDeserialize(Buffer.alloc(0)),
      defaults: options,
    };
    if (method.requestStream && method.responseStream) wrapped[key] = bidiStreamCall.bind(null, context);
    else if (method.requestStream) wrapped[key] = clientStreamCall.bind(null, context);
    else if (method.responseStream) wrapped[key] = serverStreamCall.bind(null, context);
    else wrapped[key] = unaryCall.bind(null, context, isIdempotentRead(method.path) ? retry : undefined);
  }
  return Object.freeze(wrapped) as ServiceClient<D, C>;
}

function unaryCall(
  context: StreamMethodContext,
  retry: RetryPolicy | undefined,
  request: object | undefined,
  options?: CallOptions,
): Promise<unknown> {
  const { client, method, name } = context;
  const prepared = prepareCall(options, context.defaults);
  const message = withDefaults(context.empty(), request);
  const { signal } = prepared;
  const attempt = (): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortedError(name, signal));
      const onAbort = (): void => call.cancel();
      const call = client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        message,
        prepared.metadata.clone(),
        prepared.grpcOptions,
        (error, response) => {
          signal?.removeEventListener('abort', onAbort);
          if (error) reject(toAimaasError(error, name, signal));
          else resolve(response);
        },
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  if (retry === undefined || !prepared.retry) return attempt();
  return withRetry(attempt, retry, name, signal, prepared.deadline);
}

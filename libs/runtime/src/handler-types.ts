import type { Metadata } from '@grpc/grpc-js';

/**
 * What a handler knows about its call besides the request.
 *
 * @example
 * async getModelVersion(request, ctx) {
 *   return repository.get(request.ref, { signal: ctx.signal });
 * }
 */
export interface CallContext {
  /**
   * Aborted when the client cancels (reason: `CancelledError`), the deadline passes
   * (`DeadlineExceededError`) or the server shuts down past its grace time (`UnavailableError`).
   * Pass it to everything that waits; throwing `signal.reason` answers with the matching status.
   */
  readonly signal: AbortSignal;
  /** The request metadata (headers), `traceparent` and `authorization` included. */
  readonly metadata: Metadata;
  /** When the client stops waiting; absent when the call has no deadline. */
  readonly deadline?: Date;
  /** The client's address, e.g. `127.0.0.1:53422`. */
  readonly peer: string;
  /** The full method path, e.g. `/aimaas.v1.RegistryService/GetModelVersion`. */
  readonly method: string;
}

/** Handles a unary RPC: one request, one response. */
export type UnaryHandler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;

/**
 * Handles a server-streaming RPC: an async generator of responses. Writes honour flow control (the
 * generator is not resumed while the client is not reading); returning ends the stream with OK,
 * throwing ends it with the error's status.
 *
 * @example
 * async *downloadModelArtifacts(request, ctx) {
 *   for await (const chunk of store.read(request.path, ctx.signal)) yield { chunk };
 * }
 */
export type ServerStreamingHandler<Req, Res> = (request: Req, ctx: CallContext) => AsyncIterable<Res>;

/**
 * Handles a client-streaming RPC: reads the requests (the iteration ends when the client half-closes
 * and throws `ctx.signal.reason` if the call is aborted) and returns the one response.
 *
 * @example
 * async importDataset(requests, ctx) {
 *   for await (const part of requests) { … }
 *   return { dataset };
 * }
 */
export type ClientStreamingHandler<Req, Res> = (requests: AsyncIterable<Req>, ctx: CallContext) => Promise<Res>;

/** Handles a bidirectional-streaming RPC: reads requests while yielding responses. */
export type BidiStreamingHandler<Req, Res> = (requests: AsyncIterable<Req>, ctx: CallContext) => AsyncIterable<Res>;

/**
 * One method of a grpc-js service definition, as ts-proto (`outputServices=grpc-js`) or
 * proto-loader produce it.
 */
export interface MethodDefinitionLike<Req = any, Res = any> {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly requestSerialize: (value: Req) => Buffer;
  readonly requestDeserialize: (bytes: Buffer) => Req;
  readonly responseSerialize: (value: Res) => Buffer;
  readonly responseDeserialize: (bytes: Buffer) => Res;
  readonly originalName?: string;
}

/** A grpc-js service definition: method key (camelCase in ts-proto) → method. */
export type ServiceDefinitionLike = { readonly [method: string]: MethodDefinitionLike };

/** The request message type of a method, inferred from its `requestDeserialize`. */
export type RequestOf<M> = M extends { requestDeserialize: (bytes: Buffer) => infer Req } ? Req : never;
/** The response message type of a method, inferred from its `responseSerialize`. */
export type ResponseOf<M> = M extends { responseSerialize: (value: infer Res) => Buffer } ? Res : never;

/** The handler type of one method, chosen by its `requestStream`/`responseStream` literal types. */
export type HandlerFor<M> = M extends { readonly requestStream: true }
  ? M extends { readonly responseStream: true }
    ? BidiStreamingHandler<RequestOf<M>, ResponseOf<M>>
    : ClientStreamingHandler<RequestOf<M>, ResponseOf<M>>
  : M extends { readonly responseStream: true }
    ? ServerStreamingHandler<RequestOf<M>, ResponseOf<M>>
    : UnaryHandler<RequestOf<M>, ResponseOf<M>>;

/**
 * The async handlers of a whole service, typed from its ts-proto definition `D`.
 *
 * @example
 * import { RegistryServiceService } from '@aimaas/proto';
 * export function createRegistryService(deps: Deps): ServiceImplementation<typeof RegistryServiceService> {
 *   return {
 *     async getRegisteredModel(request, ctx) { … },
 *     async *downloadModelArtifacts(request, ctx) { … },
 *     async createModelVersion(requests, ctx) { … },
 *     // …
 *   };
 * }
 */
export type ServiceImplementation<D> = { [K in keyof D]: HandlerFor<D[K]> };

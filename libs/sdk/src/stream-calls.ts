import type { Client, ClientDuplexStream, ClientWritableStream } from '@grpc/grpc-js';
import { prepareCall, withDefaults, type CallDefaults, type CallOptions } from './call-options.js';
import { abortedError, toAimaasError } from './errors.js';
import type { MethodDefinitionLike, RequestSource } from './method-types.js';

/** What every wrapped method knows about itself. */
export interface StreamMethodContext {
  readonly client: Client;
  readonly method: MethodDefinitionLike;
  /** `package.Service/Method`, for errors. */
  readonly name: string;
  /** A fresh empty request message (the defaults of a partial request). */
  readonly empty: () => object;
  readonly defaults: CallDefaults;
}

const noop = (): void => {};
const FINISHED = Symbol('finished');

/**
 * A server-streaming call as an async generator. The call starts when iteration starts; leaving
 * the loop early, throwing inside it, or aborting the signal cancels it.
 */
export async function* serverStreamCall(
  context: StreamMethodContext,
  request: object | undefined,
  options?: CallOptions,
): AsyncGenerator<unknown, void, undefined> {
  const { client, method, name } = context;
  const prepared = prepareCall(options, context.defaults);
  const { signal } = prepared;
  if (signal?.aborted) throw abortedError(name, signal);
  const call = client.makeServerStreamRequest(
    method.path,
    method.requestSerialize,
    method.responseDeserialize,
    withDefaults(context.empty(), request),
    prepared.metadata,
    prepared.grpcOptions,
  );
  // The iterator receives errors itself; this keeps a CANCELLED after an early exit from being unhandled.
  call.on('error', noop);
  const onAbort = (): void => call.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const message of call) yield message;
  } catch (error) {
    throw toAimaasError(error, name, signal);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    call.cancel();
  }
}

/**
 * A client-streaming call: writes each request from `requests`, waiting for `drain` whenever the
 * transport is full, then half-closes and resolves with the response. If the source throws, the
 * call is cancelled and the source's error is rethrown.
 */
export async function clientStreamCall(
  context: StreamMethodContext,
  requests: RequestSource<object>,
  options?: CallOptions,
): Promise<unknown> {
  const { client, method, name } = context;
  const prepared = prepareCall(options, context.defaults);
  const { signal } = prepared;
  if (signal?.aborted) throw abortedError(name, signal);
  let finish = noop;
  const finished = new Promise<typeof FINISHED>((resolve) => (finish = () => resolve(FINISHED)));
  let call!: ClientWritableStream<unknown>;
  const response = new Promise<unknown>((resolve, reject) => {
    call = client.makeClientStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      prepared.metadata,
      prepared.grpcOptions,
      (error, value) => {
        finish();
        if (error) reject(toAimaasError(error, name, signal));
        else resolve(value);
      },
    );
  });
  call.on('error', noop);
  const onAbort = (): void => call.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await pumpRequests(call, requests, context.empty, finished);
  } catch (sourceError) {
    response.catch(noop);
    call.cancel();
    signal?.removeEventListener('abort', onAbort);
    throw sourceError;
  }
  try {
    return await response;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * A bidirectional call: requests are written in the background (with backpressure) while the
 * responses are iterated. Leaving the loop early cancels the call.
 */
export async function* bidiStreamCall(
  context: StreamMethodContext,
  requests: RequestSource<object>,
  options?: CallOptions,
): AsyncGenerator<unknown, void, undefined> {
  const { client, method, name } = context;
  const prepared = prepareCall(options, context.defaults);
  const { signal } = prepared;
  if (signal?.aborted) throw abortedError(name, signal);
  const call: ClientDuplexStream<unknown, unknown> = client.makeBidiStreamRequest(
    method.path,
    method.requestSerialize,
    method.responseDeserialize,
    prepared.metadata,
    prepared.grpcOptions,
  );
  call.on('error', noop);
  const finished = new Promise<typeof FINISHED>((resolve) => call.once('status', () => resolve(FINISHED)));
  let sourceError: { error: unknown } | undefined;
  pumpRequests(call, requests, context.empty, finished).catch((error: unknown) => {
    sourceError = { error };
    call.cancel();
  });
  const onAbort = (): void => call.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const message of call) yield message;
  } catch (error) {
    if (sourceError) throw sourceError.error;
    throw toAimaasError(error, name, signal);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    call.cancel();
  }
}

/**
 * Writes every request of `source` to `call`, awaiting `drain` whenever `write` reports a full
 * buffer, and half-closes at the end. Stops (without closing) once `finished` resolves, i.e. the
 * server has answered or the call failed, even while the source is still waiting for data.
 */
async function pumpRequests(
  call: ClientWritableStream<unknown> | ClientDuplexStream<unknown, unknown>,
  source: RequestSource<object>,
  empty: () => object,
  finished: Promise<typeof FINISHED>,
): Promise<void> {
  const iterator =
    Symbol.asyncIterator in source
      ? (source as AsyncIterable<object>)[Symbol.asyncIterator]()
      : (source as Iterable<object>)[Symbol.iterator]();
  for (;;) {
    const next = await Promise.race([iterator.next(), finished]);
    if (next === FINISHED) {
      void Promise.resolve(iterator.return?.()).catch(noop);
      return;
    }
    if (next.done) break;
    if (!call.write(withDefaults(empty(), next.value))) {
      if ((await drainedOr(call, finished)) === FINISHED) {
        void Promise.resolve(iterator.return?.()).catch(noop);
        return;
      }
    }
  }
  call.end();
}

function drainedOr(
  stream: NodeJS.EventEmitter,
  finished: Promise<typeof FINISHED>,
): Promise<'drain' | typeof FINISHED> {
  return new Promise((resolve) => {
    const onDrain = (): void => resolve('drain');
    stream.once('drain', onDrain);
    void finished.then(() => {
      stream.off('drain', onDrain);
      resolve(FINISHED);
    });
  });
}

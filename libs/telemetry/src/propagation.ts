import { context as otelContext, type Context, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import type { Metadata } from '@grpc/grpc-js';
import { w3cPropagator } from './tracing.js';

/*
 * The helpers use the W3C propagator directly rather than the global one, so `traceparent` flows
 * through a process even before (or without) initTelemetry: a trace started upstream is not cut.
 */

const metadataSetter: TextMapSetter<Metadata> = {
  set(metadata, key, value) {
    metadata.set(key, value);
  },
};

const metadataGetter: TextMapGetter<Metadata> = {
  keys(metadata) {
    return Object.keys(metadata.getMap());
  },
  get(metadata, key) {
    const values = metadata.get(key);
    if (values.length === 0) return undefined;
    return values.map((value) => (typeof value === 'string' ? value : value.toString('utf8')));
  },
};

/**
 * Writes the trace context of `context` (default: the active one) into gRPC metadata as
 * `traceparent` (and `tracestate`, `baggage` when present).
 *
 * @example
 * const metadata = new grpc.Metadata();
 * injectMetadata(metadata);
 * client.getModelVersion(request, metadata, callback);
 */
export function injectMetadata(metadata: Metadata, context: Context = otelContext.active()): void {
  w3cPropagator.inject(context, metadata, metadataSetter);
}

/**
 * Reads `traceparent`/`tracestate`/`baggage` from incoming gRPC metadata and returns `context`
 * (default: the active one) with the remote span as parent. Without a valid `traceparent` the
 * returned context is `context` unchanged.
 *
 * @example
 * const parent = extractMetadata(call.metadata);
 * const span = getTracer().startSpan('handle', { kind: SpanKind.SERVER }, parent);
 */
export function extractMetadata(metadata: Metadata, context: Context = otelContext.active()): Context {
  return w3cPropagator.extract(context, metadata, metadataGetter);
}

/** Sets one header on a message carrier, e.g. `(k, v) => headers.set(k, v)` for NATS `MsgHdrs`. */
export type HeaderSetter = (key: string, value: string) => void;
/** Reads one header from a message carrier, e.g. `(k) => headers.get(k) || undefined` for NATS. */
export type HeaderGetter = (key: string) => string | undefined;

const functionSetter: TextMapSetter<HeaderSetter> = {
  set(set, key, value) {
    set(key, value);
  },
};

const functionGetter: TextMapGetter<HeaderGetter> = {
  keys() {
    return [];
  },
  get(get, key) {
    const value = get(key);
    return value === '' ? undefined : value;
  },
};

/**
 * Writes the trace context of `context` (default: the active one) through `set`: the generic
 * carrier for message headers (NATS, CloudEvents binary mode).
 *
 * @example
 * const headers = natsHeaders();
 * injectHeaders((key, value) => headers.set(key, value));
 */
export function injectHeaders(set: HeaderSetter, context: Context = otelContext.active()): void {
  w3cPropagator.inject(context, set, functionSetter);
}

/**
 * Reads the trace context through `get` and returns `context` (default: the active one) with the
 * remote span as parent: the consumer side of {@link injectHeaders}.
 *
 * @example
 * const parent = extractHeaders((key) => msg.headers?.get(key) || undefined);
 * await context.with(parent, () => handleEvent(msg));
 */
export function extractHeaders(get: HeaderGetter, context: Context = otelContext.active()): Context {
  return w3cPropagator.extract(context, get, functionGetter);
}

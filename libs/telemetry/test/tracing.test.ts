import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { Metadata } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  extractHeaders,
  extractMetadata,
  getTracer,
  initTelemetry,
  injectHeaders,
  injectMetadata,
  InMemorySpanExporter,
  type Telemetry,
} from '../src/index.js';

let telemetry: Telemetry | undefined;
afterEach(async () => {
  await telemetry?.shutdown();
  telemetry = undefined;
});

describe('initTelemetry', () => {
  it('registers a provider whose spans reach the given exporter with the service resource', async () => {
    const exporter = new InMemorySpanExporter();
    telemetry = initTelemetry({ serviceName: 'registry', serviceVersion: '1.2.3', exporter, env: {} });
    getTracer().startSpan('work').end();
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('work');
    expect(span?.resource.attributes['service.name']).toBe('registry');
    expect(span?.resource.attributes['service.version']).toBe('1.2.3');
    expect(telemetry.otlp).toBe(false);
  });

  it('replaces the global provider when called again', async () => {
    const first = new InMemorySpanExporter();
    const second = new InMemorySpanExporter();
    const a = initTelemetry({ serviceName: 'a', exporter: first, env: {} });
    telemetry = initTelemetry({ serviceName: 'b', exporter: second, env: {} });
    getTracer().startSpan('after').end();
    expect(first.getFinishedSpans()).toHaveLength(0);
    expect(second.getFinishedSpans().map((s) => s.name)).toEqual(['after']);
    await a.shutdown();
    getTracer().startSpan('still-b').end();
    expect(second.getFinishedSpans().map((s) => s.name)).toEqual(['after', 'still-b']);
  });

  it('exports over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set', () => {
    telemetry = initTelemetry({ serviceName: 'x', env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' } });
    expect(telemetry.otlp).toBe(true);
  });

  it('makes spans non-recording again after shutdown', async () => {
    const exporter = new InMemorySpanExporter();
    telemetry = initTelemetry({ serviceName: 'x', exporter, env: {} });
    await telemetry.shutdown();
    expect(getTracer().startSpan('late').isRecording()).toBe(false);
  });

  it('rejects an empty service name', () => {
    expect(() => initTelemetry({ serviceName: '' })).toThrow(/serviceName must be a non-empty string/);
  });

  it('installs the W3C propagator and the AsyncLocalStorage context manager globally', async () => {
    telemetry = initTelemetry({ serviceName: 'x', exporter: new InMemorySpanExporter(), env: {} });
    expect(propagation.fields()).toContain('traceparent');
    const span = getTracer().startSpan('outer');
    const seen = await context.with(trace.setSpan(context.active(), span), async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return trace.getActiveSpan();
    });
    span.end();
    expect(seen).toBe(span);
  });
});

describe('trace context carriers', () => {
  it('carries a span through gRPC metadata as traceparent', () => {
    telemetry = initTelemetry({ serviceName: 'x', exporter: new InMemorySpanExporter(), env: {} });
    const span = getTracer().startSpan('client', { kind: SpanKind.CLIENT });
    const metadata = new Metadata();
    injectMetadata(metadata, trace.setSpan(context.active(), span));
    const { traceId, spanId } = span.spanContext();
    expect(metadata.get('traceparent')).toEqual([`00-${traceId}-${spanId}-01`]);
    const remote = trace.getSpanContext(extractMetadata(metadata));
    expect(remote).toMatchObject({ traceId, spanId, isRemote: true });
    span.end();
  });

  it('carries a span through generic headers (NATS style)', () => {
    const headers = new Map<string, string>();
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const parent = extractHeaders((key) => (key === 'traceparent' ? traceparent : undefined));
    injectHeaders((key, value) => headers.set(key, value), parent);
    expect(headers.get('traceparent')).toBe(traceparent);
  });

  it('returns the given context unchanged when no traceparent is present', () => {
    const base = context.active();
    expect(extractMetadata(new Metadata(), base)).toBe(base);
    expect(trace.getSpanContext(extractHeaders(() => undefined))).toBeUndefined();
  });
});

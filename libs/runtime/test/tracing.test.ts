import * as grpc from '@grpc/grpc-js';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { initTelemetry, InMemorySpanExporter, type Telemetry } from '@aimaas/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientOptions, NotFoundError } from '../src/index.js';
import { callUnary, type EchoClient, type EchoResponse } from './fixtures/echo-service.js';
import { startEcho, type EchoHarness } from './fixtures/harness.js';

const exporter = new InMemorySpanExporter();
let telemetry: Telemetry;
let harness: EchoHarness;
let client: EchoClient;
let loopback: EchoClient;
let traceIdSeenByHandler: string | undefined;

beforeAll(async () => {
  telemetry = initTelemetry({ serviceName: 'runtime-test', exporter, env: {} });
  harness = await startEcho({
    async echo(request, ctx) {
      traceIdSeenByHandler = trace.getActiveSpan()?.spanContext().traceId;
      if (request.text === 'missing') throw new NotFoundError('nothing called "missing"');
      if (request.text === 'outer') {
        // A nested client call made while handling joins the same trace.
        const inner = await callUnary<EchoResponse>(
          loopback,
          'echo',
          { text: 'inner' },
          { metadata: new grpc.Metadata() },
        );
        return { text: `outer+${inner.text}`, index: 0 };
      }
      return { text: request.text, index: ctx.signal.aborted ? 1 : 0 };
    },
  });
  client = harness.client({ clientOptions: clientOptions() });
  loopback = harness.client({ clientOptions: clientOptions() });
});

afterAll(async () => {
  await harness.close();
  await telemetry.shutdown();
});

describe('tracing across a call', () => {
  it('makes the server span a child of the client span in one trace', async () => {
    exporter.reset();
    await callUnary(client, 'echo', { text: 'hi' });
    const spans = exporter.getFinishedSpans();
    const clientSpan = spans.find((span) => span.kind === SpanKind.CLIENT);
    const serverSpan = spans.find((span) => span.kind === SpanKind.SERVER);
    expect(clientSpan?.name).toBe('aimaas.test.EchoService/Echo');
    expect(serverSpan?.name).toBe('aimaas.test.EchoService/Echo');
    expect(serverSpan?.spanContext().traceId).toBe(clientSpan?.spanContext().traceId);
    expect(serverSpan?.parentSpanContext?.spanId).toBe(clientSpan?.spanContext().spanId);
    expect(serverSpan?.attributes).toMatchObject({
      'rpc.system': 'grpc',
      'rpc.service': 'aimaas.test.EchoService',
      'rpc.method': 'Echo',
      'rpc.grpc.status_code': 0,
    });
    expect(traceIdSeenByHandler).toBe(clientSpan?.spanContext().traceId);
  });

  it('keeps the server span active in the handler so nested calls join the trace', async () => {
    exporter.reset();
    await expect(callUnary<EchoResponse>(client, 'echo', { text: 'outer' })).resolves.toEqual({
      text: 'outer+inner',
      index: 0,
    });
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(4);
    expect(new Set(spans.map((span) => span.spanContext().traceId)).size).toBe(1);
    const childOf = (parent: (typeof spans)[number] | undefined, kind: SpanKind) =>
      spans.find((span) => span.kind === kind && span.parentSpanContext?.spanId === parent?.spanContext().spanId);
    const outerClient = spans.find((span) => span.kind === SpanKind.CLIENT && !span.parentSpanContext);
    const outerServer = childOf(outerClient, SpanKind.SERVER);
    const innerClient = childOf(outerServer, SpanKind.CLIENT);
    const innerServer = childOf(innerClient, SpanKind.SERVER);
    expect([outerClient, outerServer, innerClient, innerServer].every(Boolean)).toBe(true);
  });

  it('records the error status on the server span', async () => {
    exporter.reset();
    await expect(callUnary(client, 'echo', { text: 'missing' })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    const serverSpan = exporter.getFinishedSpans().find((span) => span.kind === SpanKind.SERVER);
    expect(serverSpan?.attributes['rpc.grpc.status_code']).toBe(grpc.status.NOT_FOUND);
    expect(serverSpan?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'NOT_FOUND: nothing called "missing"' });
  });
});

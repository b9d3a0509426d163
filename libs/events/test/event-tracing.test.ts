import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind, trace } from '@opentelemetry/api';
import { waitFor } from '@aimaas/testing';
import { InMemorySpanExporter, getTracer, initTelemetry, type Telemetry } from '@aimaas/telemetry';
import {
  createEventPublisher,
  createJobQueue,
  ensureStreams,
  subscribeEvents,
  type ReceivedEvent,
} from '../src/index.js';
import { aliasMoved, startNats, type NatsFixture } from './helpers.js';

describe('trace context across NATS', () => {
  let nats: NatsFixture;
  let telemetry: Telemetry;
  const exporter = new InMemorySpanExporter();
  beforeAll(async () => {
    telemetry = initTelemetry({ serviceName: 'events-test', exporter });
    nats = await startNats();
    await ensureStreams(nats.nc);
  });
  afterAll(async () => {
    await nats?.close();
    await telemetry?.shutdown();
  });

  it("runs the handler in a CONSUMER span whose parent is the publisher's PRODUCER span", async () => {
    const received: { event: ReceivedEvent; activeSpanId?: string }[] = [];
    const sub = await subscribeEvents({
      nc: nats.nc,
      types: ['registry.alias.set'],
      handler: (event) => void received.push({ event, activeSpanId: trace.getActiveSpan()?.spanContext().spanId }),
    });
    const events = createEventPublisher(nats.nc, { source: '/aimaas/registry' });
    const root = await getTracer().startActiveSpan('SetAlias', async (span) => {
      await events.publish('registry.alias.set', aliasMoved('fmnist', 3), { id: 'traced' });
      span.end();
      return span.spanContext();
    });
    await waitFor(() => received.length === 1);
    await sub.stop();

    const spans = exporter.getFinishedSpans();
    const publish = spans.find((s) => s.name === 'aimaas.events.registry.alias.set publish');
    const process = spans.find((s) => s.name === 'aimaas.events.registry.alias.set process');
    expect(publish?.kind).toBe(SpanKind.PRODUCER);
    expect(process?.kind).toBe(SpanKind.CONSUMER);
    expect(publish!.spanContext().traceId).toBe(root.traceId);
    expect(publish!.parentSpanContext?.spanId).toBe(root.spanId);
    expect(process!.spanContext().traceId).toBe(root.traceId);
    expect(process!.parentSpanContext?.spanId).toBe(publish!.spanContext().spanId);
    expect(received[0].activeSpanId).toBe(process!.spanContext().spanId);
    expect(received[0].event.headers.traceparent).toBe(`00-${root.traceId}-${publish!.spanContext().spanId}-01`);
    expect(publish!.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.destination.name': 'aimaas.events.registry.alias.set',
      'messaging.message.id': 'traced',
    });
    expect(process!.attributes).toMatchObject({ 'messaging.system': 'nats', 'messaging.message.id': 'traced' });
  });

  it('carries the trace from enqueue to the job handler', async () => {
    const queue = createJobQueue(nats.nc, 'training');
    const root = await getTracer().startActiveSpan('SubmitTrainingJob', async (span) => {
      await queue.enqueue('job-traced', { epochs: 1 });
      span.end();
      return span.spanContext();
    });
    const controller = new AbortController();
    let handlerTraceId: string | undefined;
    await queue.consume({
      signal: controller.signal,
      handler: async () => {
        handlerTraceId = trace.getActiveSpan()?.spanContext().traceId;
        controller.abort();
      },
    });
    const spans = exporter.getFinishedSpans();
    const process = spans.find((s) => s.name === 'aimaas.jobs.training process');
    const publish = spans.find((s) => s.name === 'aimaas.jobs.training publish');
    expect(handlerTraceId).toBe(root.traceId);
    expect(process!.parentSpanContext?.spanId).toBe(publish!.spanContext().spanId);
  });
});

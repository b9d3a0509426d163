import { SpanKind } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryServiceService } from '@aimaas/proto';
import { runCli } from '@aimaas/cli';
import { subscribeEvents, type ReceivedEvent } from '@aimaas/events';
import { openRegistry, type RegistryReplica } from '@aimaas/registry';
import { createGrpcServer, type GrpcServer } from '@aimaas/runtime';
import { connectNats, type NatsConnection } from '@aimaas/storage';
import { createLogger, InMemorySpanExporter, initTelemetry, type Telemetry } from '@aimaas/telemetry';
import { startNatsServer, waitFor, type TestNatsServer } from '@aimaas/testing';

const exporter = new InMemorySpanExporter();
let telemetry: Telemetry;
let nats: TestNatsServer;
let nc: NatsConnection;
let registry: RegistryReplica;
let server: GrpcServer;
let address: string;

beforeAll(async () => {
  telemetry = initTelemetry({ serviceName: 'trace-test', exporter });
  nats = await startNatsServer();
  nc = await connectNats(nats.url, { name: 'trace-test' });
  const logger = createLogger('registry', 'silent');
  registry = await openRegistry(nc, { logger });
  server = createGrpcServer({ serviceName: 'registry', logger, metricsAddr: 'off' }).add(
    RegistryServiceService,
    registry.handlers,
  );
  address = `127.0.0.1:${await server.listen('127.0.0.1:0')}`;
});

afterAll(async () => {
  await server?.shutdown({ graceMs: 500 });
  await registry?.close();
  await nc?.drain();
  await nats?.stop();
  await telemetry?.shutdown();
});

describe('one trace from the CLI through the registry to an event consumer', () => {
  it('joins the CLI client span, the registry server span and the event producer and consumer spans', async () => {
    const received: ReceivedEvent[] = [];
    const subscription = await subscribeEvents({
      nc,
      types: ['registry.model.created'],
      handler: (event) => void received.push(event),
    });
    let stderr = '';
    const code = await runCli(['models', 'create', 'traced', '--description', 'a traced model'], {
      stdout: { write: () => true },
      stderr: { write: (text: string) => ((stderr += text), true) },
      env: { AIMAAS_REGISTRY_ADDR: address },
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    await waitFor(() => received.length === 1, { message: 'the registry.model.created event' });
    await subscription.stop();

    const spans = exporter.getFinishedSpans();
    const rpc = 'aimaas.v1.RegistryService/CreateRegisteredModel';
    const client = spans.find((span) => span.name === rpc && span.kind === SpanKind.CLIENT);
    const serverSpan = spans.find((span) => span.name === rpc && span.kind === SpanKind.SERVER);
    const producer = spans.find((span) => span.name === 'aimaas.events.registry.model.created publish');
    const consumer = spans.find((span) => span.name === 'aimaas.events.registry.model.created process');
    expect(client, 'CLI client span').toBeDefined();
    expect(serverSpan, 'registry server span').toBeDefined();
    expect(producer?.kind).toBe(SpanKind.PRODUCER);
    expect(consumer?.kind).toBe(SpanKind.CONSUMER);

    const traceId = client!.spanContext().traceId;
    for (const span of [serverSpan!, producer!, consumer!]) expect(span.spanContext().traceId).toBe(traceId);
    expect(serverSpan!.parentSpanContext?.spanId).toBe(client!.spanContext().spanId);
    expect(producer!.parentSpanContext?.spanId).toBe(serverSpan!.spanContext().spanId);
    expect(consumer!.parentSpanContext?.spanId).toBe(producer!.spanContext().spanId);
    expect(received[0]!.payload).toMatchObject({ model: { name: 'traced', description: 'a traced model' } });
  });
});

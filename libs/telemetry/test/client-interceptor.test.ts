import * as grpc from '@grpc/grpc-js';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getTracer,
  initTelemetry,
  InMemorySpanExporter,
  parseGrpcPath,
  tracingClientInterceptor,
  type Telemetry,
} from '../src/index.js';

const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (buffer: Buffer): any => JSON.parse(buffer.toString()),
};
const method = (path: string, responseStream: boolean) => ({
  path,
  requestStream: false,
  responseStream,
  requestSerialize: json.serialize,
  requestDeserialize: json.deserialize,
  responseSerialize: json.serialize,
  responseDeserialize: json.deserialize,
});
const definition = {
  ping: method('/test.v1.PingService/Ping', false),
  fail: method('/test.v1.PingService/Fail', false),
  ticks: method('/test.v1.PingService/Ticks', true),
};

const exporter = new InMemorySpanExporter();
let telemetry: Telemetry;
let server: grpc.Server;
let client: any;
const seenTraceparents: string[] = [];

beforeAll(async () => {
  telemetry = initTelemetry({ serviceName: 'client-test', exporter, env: {} });
  server = new grpc.Server();
  server.addService(definition, {
    ping(call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) {
      seenTraceparents.push(String(call.metadata.get('traceparent')[0]));
      callback(null, { pong: call.request.ping });
    },
    fail(_call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) {
      callback({ code: grpc.status.NOT_FOUND, details: 'no such thing' });
    },
    ticks(call: grpc.ServerWritableStream<any, any>) {
      for (let i = 0; i < call.request.n; i++) call.write({ i });
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  const Client = grpc.makeGenericClientConstructor(definition, 'PingService');
  client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    interceptors: [tracingClientInterceptor],
  });
});

afterAll(async () => {
  client.close();
  server.forceShutdown();
  await telemetry.shutdown();
});

const unary = (name: 'ping' | 'fail', request: unknown) =>
  new Promise<any>((resolve, reject) =>
    client[name](request, (e: unknown, r: unknown) => (e ? reject(e) : resolve(r))),
  );

describe('tracingClientInterceptor', () => {
  it('records a CLIENT span as a child of the active span and sends its traceparent', async () => {
    exporter.reset();
    const parent = getTracer().startSpan('parent');
    await context.with(trace.setSpan(context.active(), parent), () => unary('ping', { ping: 'x' }));
    parent.end();
    const span = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.CLIENT);
    expect(span?.name).toBe('test.v1.PingService/Ping');
    expect(span?.attributes).toMatchObject({
      'rpc.system': 'grpc',
      'rpc.service': 'test.v1.PingService',
      'rpc.method': 'Ping',
      'rpc.grpc.status_code': 0,
    });
    expect(span?.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(span?.spanContext().traceId).toBe(parent.spanContext().traceId);
    const { traceId, spanId } = span!.spanContext();
    expect(seenTraceparents.at(-1)).toBe(`00-${traceId}-${spanId}-01`);
  });

  it('marks the span as an error with the status code when the call fails', async () => {
    exporter.reset();
    await expect(unary('fail', {})).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    const [span] = exporter.getFinishedSpans();
    expect(span?.attributes['rpc.grpc.status_code']).toBe(grpc.status.NOT_FOUND);
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'NOT_FOUND: no such thing' });
  });

  it('ends a server-streaming span when the stream finishes', async () => {
    exporter.reset();
    const received: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.ticks({ n: 3 });
      call.on('data', (message: unknown) => received.push(message));
      call.on('error', reject);
      call.on('status', () => resolve());
    });
    expect(received).toHaveLength(3);
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('test.v1.PingService/Ticks');
    expect(span?.attributes['rpc.grpc.status_code']).toBe(0);
  });
});

describe('parseGrpcPath', () => {
  it('splits a method path into service and method', () => {
    expect(parseGrpcPath('/aimaas.v1.RegistryService/SetAlias')).toEqual({
      service: 'aimaas.v1.RegistryService',
      method: 'SetAlias',
    });
  });
});

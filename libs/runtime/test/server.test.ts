import * as grpc from '@grpc/grpc-js';
import { createMetricsRegistry } from '@aimaas/telemetry';
import { afterEach, describe, expect, it } from 'vitest';
import { clientOptions, createGrpcServer, InvalidArgumentError, UnavailableError } from '../src/index.js';
import { callUnary, type EchoResponse } from './fixtures/echo-service.js';
import { checkHealth, healthClient, listServices, nextMessage } from './fixtures/grpc-clients.js';
import { startEcho, type EchoHarness } from './fixtures/harness.js';

let harness: EchoHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const echo = async (request: { text: string }) => ({ text: request.text, index: 0 });

describe('auth token', () => {
  it('requires "authorization: Bearer <token>" on service calls but not on health and reflection', async () => {
    harness = await startEcho({ echo }, { authToken: 's3cret' });
    const anonymous = harness.client();
    await expect(callUnary(anonymous, 'echo', { text: 'x' })).rejects.toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
      details: '/aimaas.test.EchoService/Echo requires metadata "authorization: Bearer <token>" with a valid token',
    });
    const wrong = new grpc.Metadata();
    wrong.set('authorization', 'Bearer guess');
    await expect(callUnary(anonymous, 'echo', { text: 'x' }, { metadata: wrong })).rejects.toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
    });
    const authorized = harness.client({ clientOptions: clientOptions({ authToken: 's3cret' }) });
    await expect(callUnary<EchoResponse>(authorized, 'echo', { text: 'x' })).resolves.toEqual({ text: 'x', index: 0 });

    const address = `127.0.0.1:${harness.port}`;
    const health = healthClient(address);
    await expect(checkHealth(health, '')).resolves.toBe('SERVING');
    health.close();
    await expect(listServices(address)).resolves.toContain('aimaas.test.EchoService');
  });
});

describe('health and reflection', () => {
  it('reports the server and each service SERVING once listening', async () => {
    harness = await startEcho({ echo });
    const health = healthClient(`127.0.0.1:${harness.port}`);
    await expect(checkHealth(health, '')).resolves.toBe('SERVING');
    await expect(checkHealth(health, 'aimaas.test.EchoService')).resolves.toBe('SERVING');
    await expect(checkHealth(health, 'aimaas.v1.Nope')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    health.close();
  });

  it('lists the service, health and reflection through server reflection', async () => {
    harness = await startEcho({ echo });
    await expect(listServices(`127.0.0.1:${harness.port}`)).resolves.toEqual([
      'aimaas.test.EchoService',
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
    ]);
  });
});

describe('message size limit', () => {
  it('answers RESOURCE_EXHAUSTED to a request larger than maxMessageBytes', async () => {
    harness = await startEcho({ echo }, { maxMessageBytes: 1024 });
    const client = harness.client();
    await expect(callUnary(client, 'echo', { text: 'x'.repeat(100) })).resolves.toBeDefined();
    await expect(callUnary(client, 'echo', { text: 'x'.repeat(4096) })).rejects.toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
    });
  });
});

describe('graceful shutdown', () => {
  it('reports NOT_SERVING, lets the in-flight call finish, then runs the hooks in order', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const inFlight = new Promise<void>((resolve) => (started = resolve));
    harness = await startEcho({
      async echo(request) {
        started();
        await released;
        return { text: `done ${request.text}`, index: 0 };
      },
    });
    const { server } = harness;
    const events: string[] = [];
    server.onShutdown(() => void events.push('drain nats')).onShutdown(async () => void events.push('flush telemetry'));

    const health = healthClient(`127.0.0.1:${harness.port}`);
    const watch = health.Watch({ service: '' }) as grpc.ClientReadableStream<{ status: string }>;
    expect(await nextMessage(watch)).toEqual({ status: 'SERVING' });

    const call = callUnary<EchoResponse>(harness.client(), 'echo', { text: 'job' });
    await inFlight;
    const stopped = server.shutdown({ graceMs: 60_000 }).then(() => events.push('stopped'));
    expect(await nextMessage(watch)).toEqual({ status: 'NOT_SERVING' });
    expect(server.stopping.aborted).toBe(true);
    expect(events).toEqual([]);

    release();
    await expect(call).resolves.toEqual({ text: 'done job', index: 0 });
    await stopped;
    expect(events).toEqual(['drain nats', 'flush telemetry', 'stopped']);
    health.close();
  });

  it('aborts the calls still running when the grace time is over', async () => {
    let aborted: unknown;
    let started!: () => void;
    const inFlight = new Promise<void>((resolve) => (started = resolve));
    harness = await startEcho({
      async echo(_request, ctx) {
        started();
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        aborted = ctx.signal.reason;
        throw ctx.signal.reason;
      },
    });
    const outcome = callUnary(harness.client(), 'echo', { text: 'stuck' }).catch((error: unknown) => error);
    await inFlight;
    await harness.server.shutdown({ graceMs: 10 });
    expect(aborted).toBeInstanceOf(UnavailableError);
    expect(await outcome).toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'server is shutting down' });
  });

  it('keeps running the hooks after one fails and logs the failure', async () => {
    harness = await startEcho({ echo });
    const ran: string[] = [];
    harness.server
      .onShutdown(() => {
        throw new Error('nats already closed');
      })
      .onShutdown(() => void ran.push('telemetry'));
    await harness.server.shutdown({ graceMs: 0 });
    expect(ran).toEqual(['telemetry']);
    expect(harness.lines().find((line) => line.msg === 'shutdown hook failed')?.err.message).toBe(
      'nats already closed',
    );
  });

  it('leaves behind a hook that hangs once the time for hooks is up, and still runs the rest', async () => {
    harness = await startEcho({ echo });
    const ran: string[] = [];
    harness.server.onShutdown(() => new Promise(() => undefined)).onShutdown(() => void ran.push('telemetry'));
    const started = Date.now();
    await harness.server.shutdown({ graceMs: 0, hooksMs: 100 });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(ran).toEqual(['telemetry']);
    expect(harness.lines().find((line) => line.msg.startsWith('shutdown hook still running'))).toMatchObject({
      hook: 0,
      hooksMs: 100,
    });
  });
});

describe('status messages', () => {
  it('answers a message holding a lone surrogate (an echoed "\\ud800") with U+FFFD instead of crashing the process', async () => {
    harness = await startEcho({
      async echo(request) {
        // What a handler echoing a decoded "\ud800" (protobufjs decodes CESU-8 bytes to it) says.
        if (request.text === 'lone') throw new InvalidArgumentError('text "\ud800" is not allowed');
        return { text: request.text, index: 0 };
      },
    });
    const error = await callUnary(harness.client(), 'echo', { text: 'lone' }).catch((e: grpc.ServiceError) => e);
    expect(error).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^text ".+" is not allowed$/),
    });
    // And the server is still there.
    await expect(callUnary(harness.client(), 'echo', { text: 'again' })).resolves.toEqual({ text: 'again', index: 0 });
  });
});

describe('memory budget', () => {
  it('refuses calls with RESOURCE_EXHAUSTED naming the variable while RSS is over AIMAAS_<SERVICE>_MEMORY_MB; health still answers', async () => {
    harness = await startEcho({ echo }, { memoryBudgetMb: 1 });
    await expect(callUnary(harness.client(), 'echo', { text: 'x' })).rejects.toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: expect.stringMatching(
        /^the service is using \d+ MiB, over its memory budget of 1 MiB \(AIMAAS_ECHO_MEMORY_MB\); retry later$/,
      ),
    });
    const health = healthClient(`127.0.0.1:${harness.port}`);
    const reply = await new Promise<{ status: string }>((resolve, reject) =>
      health.Check({ service: '' }, (e: Error | null, r: { status: string }) => (e ? reject(e) : resolve(r))),
    );
    expect(reply.status).toBe('SERVING');
    health.close();
  });
});

describe('metrics', () => {
  it('serves grpc_server_handled_total and grpc_server_handling_seconds at /metrics', async () => {
    const registry = createMetricsRegistry('echo');
    harness = await startEcho(
      {
        async echo(request) {
          if (request.text === 'nope') throw new UnavailableError('try later');
          return { text: request.text, index: 0 };
        },
      },
      { metrics: registry, metricsAddr: '127.0.0.1:0' },
    );
    const client = harness.client();
    await callUnary(client, 'echo', { text: 'a' });
    await callUnary(client, 'echo', { text: 'b' });
    await expect(callUnary(client, 'echo', { text: 'nope' })).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    const text = await (await fetch(`http://127.0.0.1:${harness.server.metricsPort}/metrics`)).text();
    const labels = 'grpc_service="aimaas.test.EchoService",grpc_method="Echo",grpc_type="unary"';
    expect(text).toContain(`grpc_server_handled_total{${labels},grpc_code="OK",service="echo"} 2`);
    expect(text).toContain(`grpc_server_handled_total{${labels},grpc_code="UNAVAILABLE",service="echo"} 1`);
    expect(text).toContain(`grpc_server_handling_seconds_count{service="echo",${labels},grpc_code="OK"} 2`);
    expect(text).toContain(`grpc_server_started_total{${labels},service="echo"} 3`);
  });
});

describe('createGrpcServer options', () => {
  it('rejects invalid options naming them', () => {
    expect(() => createGrpcServer({ serviceName: 'x', maxMessageBytes: -1 })).toThrow(
      'maxMessageBytes="-1": expected a positive integer number of bytes',
    );
    expect(() => createGrpcServer({ serviceName: 'x', listenAddr: 'nowhere' })).toThrow(
      'listenAddr="nowhere": expected host:port',
    );
    expect(() =>
      createGrpcServer({ serviceName: 'x', protoFiles: { includeDirs: ['/nonexistent'], files: ['missing.proto'] } }),
    ).toThrow(/protoFiles: cannot load missing.proto from \/nonexistent/);
  });
});

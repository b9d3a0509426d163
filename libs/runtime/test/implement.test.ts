import { connect } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  CancelledError,
  implement,
  InvalidArgumentError,
  NotFoundError,
  type BidiStreamingHandler,
  type CallContext,
  type ClientStreamingHandler,
  type ServerStreamingHandler,
  type ServiceImplementation,
  type UnaryHandler,
} from '../src/index.js';
import {
  callUnary,
  collect,
  EchoServiceService,
  type EchoClient,
  type EchoRequest,
  type EchoResponse,
  type NumberMessage,
} from './fixtures/echo-service.js';
import { startEcho, type EchoHarness } from './fixtures/harness.js';

let harness: EchoHarness;
let client: EchoClient;
const seen: { ctx?: CallContext; echoRuns: number } = { echoRuns: 0 };
let cancelled: Promise<unknown>;
let reportCancel: (reason: unknown) => void;

beforeAll(async () => {
  cancelled = new Promise((resolve) => (reportCancel = resolve));
  harness = await startEcho({
    async echo(request, ctx) {
      seen.echoRuns++;
      seen.ctx = ctx;
      if (request.text === 'missing') throw new NotFoundError('model "missing" not found');
      if (request.text === 'bad') throw new InvalidArgumentError('text: expected at most 10 characters');
      if (request.text === 'crash') throw new Error('secret connection string postgres://u:p@db');
      if (request.text.startsWith('long:')) throw new NotFoundError(`model "${request.text}" not found`);
      return { text: request.text.toUpperCase(), index: 0 };
    },
    async *repeat(request, ctx) {
      for (let index = 0; index < request.repeat; index++) yield { text: request.text, index };
      if (request.text === 'forever') {
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        reportCancel(ctx.signal.reason);
        throw ctx.signal.reason;
      }
      if (request.text === 'fail-late') throw new NotFoundError('ran out of things');
    },
    async sum(requests) {
      let value = 0;
      for await (const number of requests) value += number.value;
      return { value };
    },
    async *chat(requests) {
      let index = 0;
      for await (const request of requests) yield { text: `re: ${request.text}`, index: index++ };
    },
  });
  client = harness.client();
});

afterAll(() => harness.close());

describe('implement: call shapes', () => {
  it('answers a unary call with the handler result and passes a call context', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-team', 'vision');
    const deadline = new Date(Date.now() + 60_000);
    await expect(callUnary<EchoResponse>(client, 'echo', { text: 'hi' }, { metadata, deadline })).resolves.toEqual({
      text: 'HI',
      index: 0,
    });
    expect(seen.ctx?.method).toBe('/aimaas.test.EchoService/Echo');
    expect(seen.ctx?.metadata.get('x-team')).toEqual(['vision']);
    expect(seen.ctx?.peer).toMatch(/127\.0\.0\.1:\d+$/);
    expect(seen.ctx?.deadline?.getTime()).toBeGreaterThan(Date.now());
    expect(seen.ctx?.signal.aborted).toBe(false);
  });

  it('streams every yielded message, then OK', async () => {
    const { messages, status } = await collect(client.repeat({ text: 'tick', repeat: 3 }));
    expect(messages).toEqual([0, 1, 2].map((index) => ({ text: 'tick', index })));
    expect(status.code).toBe(grpc.status.OK);
  });

  it('ends a stream with the status of an error thrown after some messages', async () => {
    const { messages, status } = await collect(client.repeat({ text: 'fail-late', repeat: 2 }));
    expect(messages).toHaveLength(2);
    expect(status).toMatchObject({ code: grpc.status.NOT_FOUND, details: 'ran out of things' });
  });

  it('reads a client stream to its end', async () => {
    const result = await new Promise<NumberMessage>((resolve, reject) => {
      const call = client.sum((error: Error | null, response: NumberMessage) =>
        error ? reject(error) : resolve(response),
      );
      for (const value of [1, 2, 39]) call.write({ value });
      call.end();
    });
    expect(result).toEqual({ value: 42 });
  });

  it('answers each message of a bidi stream', async () => {
    const call = client.chat();
    const done = collect<EchoResponse>(call);
    call.write({ text: 'a' });
    call.write({ text: 'b' });
    call.end();
    const { messages, status } = await done;
    expect(messages.map((m) => m.text)).toEqual(['re: a', 're: b']);
    expect(status.code).toBe(grpc.status.OK);
  });
});

describe('implement: errors', () => {
  it('maps a domain error to its status and message', async () => {
    await expect(callUnary(client, 'echo', { text: 'missing' })).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
      details: 'model "missing" not found',
    });
    await expect(callUnary(client, 'echo', { text: 'bad' })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'text: expected at most 10 characters',
    });
  });

  it('cuts a status message that echoes a huge input to 1 KB, saying its length', async () => {
    const text = `long:${'x'.repeat(100_000)}`;
    const error = await callUnary(client, 'echo', { text }).catch((e: grpc.ServiceError) => e);
    expect(error).toMatchObject({ code: grpc.status.NOT_FOUND });
    expect((error as grpc.ServiceError).details.length).toBeLessThanOrEqual(1_024);
    expect((error as grpc.ServiceError).details).toMatch(/^model "long:x+… \(100023 characters\)$/);
    // The connection still answers at once.
    await expect(callUnary(client, 'echo', { text: 'ok' })).resolves.toMatchObject({ text: 'OK' });
  });

  it('answers INTERNAL "internal error" to an unexpected error and logs its stack', async () => {
    await expect(callUnary(client, 'echo', { text: 'crash' })).rejects.toMatchObject({
      code: grpc.status.INTERNAL,
      details: 'internal error',
    });
    const logged = harness.lines().find((line) => line.msg === 'unexpected error in /aimaas.test.EchoService/Echo');
    expect(logged?.level).toBe('error');
    expect(logged?.err.stack).toContain('Error: secret connection string');
  });

  it('answers UNIMPLEMENTED naming a method that has no handler', async () => {
    await expect(callUnary(client, 'forgotten', { text: 'x' })).rejects.toMatchObject({
      code: grpc.status.UNIMPLEMENTED,
      details: 'method /aimaas.test.EchoService/Forgotten is not implemented by this server',
    });
  });

  it('refuses handlers for methods the definition does not have', () => {
    expect(() => implement(EchoServiceService, { ehco: async () => ({}) } as never)).toThrow(
      'implement(aimaas.test.EchoService): "ehco" not in the service definition; expected some of echo, repeat, sum, chat, forgotten',
    );
  });
});

describe('implement: deadlines and cancellation', () => {
  it('answers DEADLINE_EXCEEDED without running the handler when the deadline has passed', async () => {
    const runs = seen.echoRuns;
    await expect(
      callUnary(client, 'echo', { text: 'late' }, { deadline: new Date(Date.now() - 1000) }),
    ).rejects.toMatchObject({
      code: grpc.status.DEADLINE_EXCEEDED,
    });
    expect(seen.echoRuns).toBe(runs);
  });

  it('refuses on the server side a call that arrives with no time left (grpc-timeout: 0m)', async () => {
    const runs = seen.echoRuns;
    const session = connect(`http://127.0.0.1:${harness.port}`);
    const body = EchoServiceService.echo.requestSerialize({ text: 'late', repeat: 0 });
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, body.length]), body]);
    const trailers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/aimaas.test.EchoService/Echo',
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-timeout': '0m',
      });
      // A status sent before any message comes as a trailers-only response.
      stream.on('response', (headers) => 'grpc-status' in headers && resolve(headers));
      stream.on('trailers', (headers) => resolve(headers));
      stream.on('error', reject);
      stream.resume();
      stream.end(frame);
    });
    session.close();
    expect(trailers['grpc-status']).toBe(String(grpc.status.DEADLINE_EXCEEDED));
    expect(decodeURIComponent(String(trailers['grpc-message']))).toMatch(
      /had passed before \/aimaas\.test\.EchoService\/Echo started$/,
    );
    expect(seen.echoRuns).toBe(runs);
  });

  it('aborts ctx.signal with a CancelledError when the client cancels', async () => {
    const call = client.repeat({ text: 'forever', repeat: 1 });
    const outcome = collect(call);
    call.once('data', () => call.cancel());
    const reason = await cancelled;
    expect(reason).toBeInstanceOf(CancelledError);
    expect((await outcome).status.code).toBe(grpc.status.CANCELLED);
  });
});

describe('ServiceImplementation', () => {
  it('types each handler from the streaming flags and codecs of the definition', () => {
    type Echo = ServiceImplementation<typeof EchoServiceService>;
    expectTypeOf<Echo['echo']>().toEqualTypeOf<UnaryHandler<EchoRequest, EchoResponse>>();
    expectTypeOf<Echo['repeat']>().toEqualTypeOf<ServerStreamingHandler<EchoRequest, EchoResponse>>();
    expectTypeOf<Echo['sum']>().toEqualTypeOf<ClientStreamingHandler<NumberMessage, NumberMessage>>();
    expectTypeOf<Echo['chat']>().toEqualTypeOf<BidiStreamingHandler<EchoRequest, EchoResponse>>();
    const wrongResponse: Partial<Echo> = {
      // @ts-expect-error a unary handler must resolve with an EchoResponse
      echo: async () => ({ value: 1 }),
    };
    const notAGenerator: Partial<Echo> = {
      // @ts-expect-error a server-streaming handler returns an AsyncIterable, not a Promise
      repeat: async (request: EchoRequest) => ({ text: request.text, index: 0 }),
    };
    expect([wrongResponse, notAGenerator]).toHaveLength(2);
  });
});

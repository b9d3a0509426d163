import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from '@aimaas/storage';
import { startNatsServer, waitFor, type TestNatsServer } from '@aimaas/testing';
import { FloatAssembler, FrameInbox, GangAbortedError, chunkFloats, publishFloats } from '../src/gang/gang-protocol.js';
import { averageGradients, shareOf } from '../src/gang/shard-gradients.js';
import type { NatsConnection } from '@aimaas/storage';

describe('gang messages over NATS', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connectNats(nats.url, { name: 'gang-protocol-test' });
  });
  afterAll(async () => {
    await nc?.drain();
    await nats?.stop();
  });

  it('splits a vector larger than the server max payload into messages that each fit, and reassembles it', async () => {
    const maxPayload = nc.info!.max_payload;
    const values = Float32Array.from({ length: Math.ceil((2.5 * maxPayload) / 4) }, (_, i) => Math.sin(i) * 1e3);
    const inbox = new FrameInbox(nc, 'test.gang.up');
    const sizes: number[] = [];
    const sub = nc.subscribe('test.gang.up', { callback: (_, msg) => void sizes.push(msg.data.byteLength) });
    await nc.flush();
    const sent = publishFloats(
      nc,
      'test.gang.up',
      { kind: 'grads', seq: 7, rank: 1, rows: 3, loss: 0.25, metric: 1 },
      values,
    );
    expect(sent).toBe(Math.ceil(values.length / chunkFloats(nc)));
    expect(sent).toBe(3);

    let assembler: FloatAssembler | undefined;
    let done = false;
    while (!done) {
      const { message, payload } = await inbox.next(5_000, new AbortController().signal, 'chunks');
      if (message.kind !== 'grads') throw new Error(`unexpected ${message.kind}`);
      expect(message).toMatchObject({ seq: 7, rank: 1, rows: 3, loss: 0.25, metric: 1, total: values.length });
      assembler ??= new FloatAssembler(message.total);
      done = assembler.add(message, payload);
    }
    expect(Buffer.from(assembler!.values.buffer).equals(Buffer.from(values.buffer))).toBe(true);
    await waitFor(() => sizes.length === 3, { timeoutMs: 5_000, message: 'the sizes of all three messages' });
    expect(Math.max(...sizes)).toBeLessThanOrEqual(maxPayload);
    sub.unsubscribe();
    inbox.close();
  });

  it('gives up on a silent peer after the timeout, naming what it waited for', async () => {
    const inbox = new FrameInbox(nc, 'test.gang.silent');
    const error = await inbox
      .next(150, new AbortController().signal, 'gradients from worker-b (rank 1)')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GangAbortedError);
    expect((error as GangAbortedError).code).toBe('ABORTED');
    expect((error as Error).message).toBe('gradients from worker-b (rank 1): nothing within 150 ms');
    inbox.close();
  });
});

describe('shares and averages', () => {
  it('gives each rank a contiguous share of the batch, sizes differing by at most one', () => {
    expect([0, 1, 2].map((rank) => shareOf(16, rank, 3))).toEqual([
      [0, 5],
      [5, 10],
      [10, 16],
    ]);
    expect([0, 1].map((rank) => shareOf(1, rank, 2))).toEqual([
      [0, 0],
      [0, 1],
    ]);
  });

  it('averages gradients weighted by rows, so shares of 3 and 1 rows count 3:1, and empty shares not at all', () => {
    const mean = averageGradients(
      [
        { rows: 3, loss: 1, metric: 0.5, grads: Float32Array.of(1, -2) },
        { rows: 0, loss: 0, metric: 0, grads: new Float32Array(0) },
        { rows: 1, loss: 5, metric: 1, grads: Float32Array.of(5, 2) },
      ],
      2,
    );
    expect(Array.from(mean.grads)).toEqual([2, -1]);
    expect(mean.loss).toBe(2);
    expect(mean.metric).toBe(0.625);
  });
});

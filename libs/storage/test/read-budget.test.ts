import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type TestNatsServer } from '@aimaas/testing';
import { openObjectStore } from '../src/index.js';
import { ReadBudget } from '../src/read-budget.js';

describe('ReadBudget', () => {
  it('hands out bytes in arrival order and waits while they are spent', async () => {
    const budget = new ReadBudget(10);
    const first = await budget.take(6);
    const order: string[] = [];
    const second = budget.take(6).then((giveBack) => (order.push('second'), giveBack));
    const third = budget.take(2).then((giveBack) => (order.push('third'), giveBack));
    await new Promise((resolve) => setImmediate(resolve));
    // 4 bytes are free, enough for the third, but it queues behind the second.
    expect(order).toEqual([]);
    first();
    first(); // twice gives back once
    (await second)();
    (await third)();
    expect(order).toEqual(['second', 'third']);
    expect(budget.freeBytes).toBe(10);
  });

  it('caps a request at the whole budget, and an aborted wait takes nothing', async () => {
    const budget = new ReadBudget(4);
    const all = await budget.take(100);
    expect(budget.freeBytes).toBe(0);
    const controller = new AbortController();
    const waiting = budget.take(1, controller.signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    all();
    expect(budget.freeBytes).toBe(4);
  });
});

describe('concurrent gets beyond the server max_pending', () => {
  let server: TestNatsServer;
  let nc: NatsConnection;
  let configDir: string;

  beforeAll(async () => {
    // A server that cuts a connection with more than 2 MiB queued for it, as the default 64 MiB
    // would cut eight 8 MiB read-aheads.
    configDir = mkdtempSync(join(tmpdir(), 'aimaas-nats-conf-'));
    const config = join(configDir, 'nats.conf');
    writeFileSync(config, 'max_pending: 2097152\n');
    server = await startNatsServer({ args: ['-c', config] });
    nc = await connect({ servers: server.url });
  }, 30_000);

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
    rmSync(configDir, { recursive: true, force: true });
  });

  it('all complete: each takes its read-ahead from the budget first', async () => {
    const store = await openObjectStore(nc, 'budgeted', {
      chunkSize: 64 * 1024,
      readAheadBytes: 1024 * 1024,
      readBudgetBytes: 1024 * 1024,
    });
    const blobs = Array.from({ length: 8 }, () => randomBytes(1024 * 1024 + 17));
    for (const [i, blob] of blobs.entries()) await store.put(`blob-${i}`, [blob]);
    const read = await Promise.all(blobs.map((_, i) => store.getBytes(`blob-${i}`)));
    read.forEach((bytes, i) => expect(bytes.equals(blobs[i]!)).toBe(true));
    expect(nc.isClosed()).toBe(false);
  }, 60_000);
});

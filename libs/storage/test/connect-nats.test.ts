import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnavailableError } from '@aimaas/runtime';
import { freePort, startNatsServer, waitFor, type TestNatsServer } from '@aimaas/testing';
import { connectNats, ensureBuckets, openKv } from '../src/index.js';

let server: TestNatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(() => server?.stop());

describe('connectNats', () => {
  it('connects under the given name and accepts a comma-separated server list', async () => {
    const nc = await connectNats(` ${server.url} ,${server.url}`, { name: 'registry' });
    expect(nc.getServer()).toContain(`127.0.0.1:${server.port}`);
    expect(nc.info?.jetstream).toBe(true);
    await nc.drain();
  });

  it('fails with UnavailableError naming the URL when nothing listens there', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    const err = await connectNats(url, { name: 'registry', timeout: 1_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toContain(`cannot connect to NATS at ${url}`);
  });

  it('requires a connection name', async () => {
    await expect(connectNats(server.url, { name: '' })).rejects.toThrow(/options.name/);
  });

  it('reconnects by itself after the server restarts, keeping JetStream data, and logs both', async () => {
    const lines: string[] = [];
    const logger = {
      info: (_: object, message: string) => void lines.push(message),
      warn: (_: object, message: string) => void lines.push(message),
    };
    const nc = await connectNats(server.url, { name: 'training', reconnectTimeWait: 50, reconnectJitter: 0, logger });
    try {
      const kv = await openKv<string>(nc, 'survivor', { timeoutMs: 1_000 });
      await kv.put('k', 'before restart');
      await server.restart();
      const entry = await waitFor(() => kv.get('k'), { timeoutMs: 15_000, message: 'KV reads after the restart' });
      expect(entry.value).toBe('before restart');
      expect(nc.isClosed()).toBe(false);
      // The service said so in its log: the loss, then the recovery.
      await waitFor(() => lines.includes('NATS connection restored'), {
        timeoutMs: 5_000,
        message: 'the reconnect to be logged',
      });
      expect(lines.indexOf('NATS connection lost; reconnecting')).toBeGreaterThanOrEqual(0);
      expect(lines.indexOf('NATS connection lost; reconnecting')).toBeLessThan(
        lines.indexOf('NATS connection restored'),
      );
    } finally {
      await nc.close();
    }
  });
});

describe('ensureBuckets', () => {
  it('creates every bucket once and returns the opened stores, twice over', async () => {
    const nc = await connectNats(server.url, { name: 'setup' });
    try {
      const spec = { kv: { aimaas_registry: { history: 5 }, aimaas_jobs: {} }, objects: { aimaas_artifacts: {} } };
      const [first, second] = await Promise.all([ensureBuckets(nc, spec), ensureBuckets(nc, spec)]);
      expect(Object.keys(first.kv).sort()).toEqual(['aimaas_jobs', 'aimaas_registry']);
      expect(Object.keys(second.objects)).toEqual(['aimaas_artifacts']);
      await first.kv.aimaas_registry!.put('x', 1);
      expect((await second.kv.aimaas_registry!.get('x'))?.value).toBe(1);
      const info = await first.objects.aimaas_artifacts!.put('a.bin', new Uint8Array([1, 2, 3]));
      expect((await second.objects.aimaas_artifacts!.info('a.bin'))?.sha256).toBe(info.sha256);
    } finally {
      await nc.close();
    }
  });
});

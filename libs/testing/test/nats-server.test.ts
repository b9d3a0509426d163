import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, waitFor, type TestNatsServer } from '../src/index.js';

interface JsAccountInfo {
  error?: { code: number; description: string };
  api?: unknown;
  streams?: number;
}

async function jetStreamInfo(nc: NatsConnection): Promise<JsAccountInfo> {
  const reply = await nc.request('$JS.API.INFO', '', { timeout: 5_000 });
  return reply.json<JsAccountInfo>();
}

async function createStream(nc: NatsConnection, name: string): Promise<void> {
  const config = { name, subjects: [`${name.toLowerCase()}.>`], storage: 'file' };
  const reply = await nc.request(`$JS.API.STREAM.CREATE.${name}`, JSON.stringify(config), { timeout: 5_000 });
  expect(reply.json<JsAccountInfo>().error).toBeUndefined();
}

describe('startNatsServer', () => {
  let server: TestNatsServer;
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(() => server?.stop());

  it('listens on 127.0.0.1 on a port it reports, with a fresh store directory', async () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
    expect(existsSync(server.storeDir)).toBe(true);
    const nc = await connect({ servers: server.url });
    expect(nc.info?.version).toMatch(/^2\./);
    await nc.close();
  });

  it('accepts JetStream API requests', async () => {
    const nc = await connect({ servers: server.url });
    try {
      const info = await jetStreamInfo(nc);
      expect(info.error).toBeUndefined();
      expect(info.streams).toBe(0);
      await createStream(nc, 'HARNESS');
      expect((await jetStreamInfo(nc)).streams).toBe(1);
    } finally {
      await nc.close();
    }
  });

  it('runs a second server at the same time on a different port', async () => {
    const other = await startNatsServer();
    try {
      expect(other.port).not.toBe(server.port);
      expect(other.storeDir).not.toBe(server.storeDir);
      const [a, b] = await Promise.all([connect({ servers: server.url }), connect({ servers: other.url })]);
      expect(a.info?.server_id).not.toBe(b.info?.server_id);
      await Promise.all([a.close(), b.close()]);
    } finally {
      await other.stop();
    }
  });

  it('keeps JetStream data across a hard kill and restart on the same port', async () => {
    const crashy = await startNatsServer();
    try {
      const nc = await connect({ servers: crashy.url });
      await createStream(nc, 'DURABLE');
      await nc.close();
      const port = crashy.port;
      await crashy.kill();
      await expect(connect({ servers: crashy.url, reconnect: false, timeout: 500 })).rejects.toThrow();
      await crashy.restart();
      expect(crashy.port).toBe(port);
      const again = await connect({ servers: crashy.url });
      expect((await jetStreamInfo(again)).streams).toBe(1);
      await again.close();
    } finally {
      await crashy.stop();
    }
  });
});

describe('TestNatsServer.stop', () => {
  it('ends the process, frees the port and removes the store directory it created', async () => {
    const server = await startNatsServer();
    const { pid, storeDir, url } = server;
    await server.stop();
    expect(isRunning(pid)).toBe(false);
    expect(existsSync(storeDir)).toBe(false);
    await expect(connect({ servers: url, reconnect: false, timeout: 500 })).rejects.toThrow();
    await server.stop();
  });

  it('keeps a store directory that the caller supplied', async () => {
    const storeDir = mkdtempSync(join(tmpdir(), 'aimaas-harness-'));
    try {
      const server = await startNatsServer({ storeDir });
      expect(server.storeDir).toBe(storeDir);
      await server.stop();
      expect(existsSync(join(storeDir, 'jetstream'))).toBe(true);
    } finally {
      rmSync(storeDir, { recursive: true, force: true });
    }
  });
});

describe('startNatsServer failures', () => {
  it('names the binary setting when NATS_SERVER_BIN is not executable', async () => {
    const saved = process.env.NATS_SERVER_BIN;
    process.env.NATS_SERVER_BIN = '/nonexistent/nats-server';
    try {
      await expect(startNatsServer()).rejects.toThrow(/NATS_SERVER_BIN=\/nonexistent\/nats-server/);
    } finally {
      if (saved === undefined) delete process.env.NATS_SERVER_BIN;
      else process.env.NATS_SERVER_BIN = saved;
    }
  });

  it('rejects with the server log when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      await expect(startNatsServer({ port })).rejects.toThrow(/exited before it was ready[\s\S]*nats-server log/);
    } finally {
      blocker.close();
    }
  });
});

describe('a test process that is terminated', () => {
  it('takes its nats-server down with it', async () => {
    // Run the harness in a child Node process: transpile it to a temp module (it imports only
    // node builtins), start a server there, then SIGTERM the child as vitest stops a worker.
    const source = await readFile(new URL('../src/nats-server.ts', import.meta.url), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    const dir = mkdtempSync(join(tmpdir(), 'aimaas-harness-'));
    const harness = join(dir, 'nats-server.mjs');
    await writeFile(harness, outputText);
    const script = `const { startNatsServer } = await import(${JSON.stringify(harness)});
      const s = await startNatsServer(); console.log(s.pid); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const serverPid = await new Promise<number>((resolve) =>
        child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
      );
      expect(isRunning(serverPid)).toBe(true);
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      await waitFor(() => !isRunning(serverPid), { message: `nats-server ${serverPid} to exit` });
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type TestNatsServer } from '@aimaas/testing';
import { type Service, startFiveServices, type ServiceProcess } from './support/services.js';

const GRACE_MS = 3_000;

let nats: TestNatsServer;
let dataDir: string;
let processes = new Map<Service, ServiceProcess>();

beforeAll(async () => {
  nats = await startNatsServer();
  dataDir = await mkdtemp(join(tmpdir(), 'aimaas-shutdown-'));
  const env: Record<string, string> = {
    NATS_URL: nats.url,
    AIMAAS_DATA_DIR: dataDir,
    AIMAAS_METRICS_ADDR: 'off',
    AIMAAS_SHUTDOWN_GRACE_MS: String(GRACE_MS),
    LOG_LEVEL: 'info',
  };
  ({ processes } = await startFiveServices(env));
}, 120_000);

afterAll(async () => {
  for (const { child } of processes.values()) if (child.exitCode === null) child.kill('SIGKILL');
  if (nats) {
    process.kill(nats.pid, 'SIGCONT');
    await nats.stop();
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('SIGTERM', () => {
  it('ends every service within its grace time while NATS hangs', async () => {
    // A frozen NATS: connections stay open, nothing answers (a drain would wait forever).
    process.kill(nats.pid, 'SIGSTOP');
    const started = Date.now();
    const took = await Promise.all(
      [...processes].map(async ([service, { child, exited }]) => {
        child.kill('SIGTERM');
        await exited;
        return [service, Date.now() - started] as const;
      }),
    );
    for (const [service, ms] of took) {
      expect(ms, `${service} took ${ms} ms; its log:\n${processes.get(service)!.output().slice(-2_000)}`).toBeLessThan(
        GRACE_MS + 1_000,
      );
    }
  }, 30_000);
});

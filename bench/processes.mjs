// Starts the processes a benchmark measures against and stops them afterwards.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, startNatsServer, waitFor } from '@aimaas/testing';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** Starts `node <script>` with env; resolves once `ready(output)` is true. */
export async function startProcess(script, { env = {}, args = [], nodeArgs = [], ready }) {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', AIMAAS_METRICS_ADDR: 'off', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  await waitFor(() => ready(output) || child.exitCode !== null, { timeoutMs: 60_000, message: `${script} to start` });
  if (child.exitCode !== null) throw new Error(`${script} exited: ${output}`);
  return {
    child,
    /** Peak resident memory (VmHWM) in MB. */
    peakRssMb: () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A nats-server plus one AIMaaS service process on free ports. */
export async function startService(name, extraEnv = {}) {
  const nats = await startNatsServer();
  const address = `127.0.0.1:${await freePort()}`;
  const env = { NATS_URL: nats.url, [`AIMAAS_${name.toUpperCase()}_ADDR`]: address, LOG_LEVEL: 'info', ...extraEnv };
  const service = await startProcess(`services/${name}/dist/main.js`, {
    env,
    ready: (out) => out.includes(`"msg":"${name} serving"`),
  });
  return {
    address,
    nats,
    service,
    async stop() {
      await service.stop();
      await nats.stop();
    },
  };
}

/** The bare grpc-js echo server (the transport floor) on a free port. */
export async function startEchoServer() {
  const address = `127.0.0.1:${await freePort()}`;
  const echo = await startProcess('bench/echo-server.mjs', {
    args: [address],
    ready: (out) => out.includes('listening'),
  });
  return { address, stop: () => echo.stop() };
}

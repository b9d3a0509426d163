import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type TestNatsServer } from './nats-server.js';
import { streamBytes } from './tamper.js';
import { freePort, repoRoot } from './test-helpers.js';

/** A built service (`services/<name>/dist/main.js`) as its own OS process, as `npm start` runs it. */
export interface SpawnedService {
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code or signal once the process has ended. */
  readonly exited: Promise<number | string | null>;
}

/** Starts `services/<service>/dist/main.js` with `env` over this process's environment. */
export function spawnService(service: string, env: Record<string, string>): SpawnedService {
  const child = spawn(process.execPath, [`services/${service}/dist/main.js`], {
    cwd: repoRoot(),
    env: { ...process.env, ...env },
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  return { child, output: () => output, exited };
}

/**
 * A nats-server, a plain connection to it, and the service processes a test starts against it:
 * `spawn` gives each one a free port in `AIMAAS_<SERVICE>_ADDR`; `close` kills what still runs.
 */
export class ProcessSuite {
  private readonly spawned: SpawnedService[] = [];

  private constructor(
    readonly nats: TestNatsServer,
    readonly nc: NatsConnection,
  ) {}

  static async start(): Promise<ProcessSuite> {
    const nats = await startNatsServer();
    return new ProcessSuite(nats, await connect({ servers: nats.url, name: 'process-suite' }));
  }

  /** Starts `service` on a free port; resolves with its address once it listens there. */
  async spawn(service: string, env: Record<string, string> = {}): Promise<SpawnedService & { addr: string }> {
    const addr = `127.0.0.1:${await freePort()}`;
    const spawned = spawnService(service, {
      NATS_URL: this.nats.url,
      [`AIMAAS_${service.toUpperCase()}_ADDR`]: addr,
      AIMAAS_METRICS_ADDR: 'off',
      LOG_LEVEL: 'warn',
      ...env,
    });
    this.spawned.push(spawned);
    return { ...spawned, addr };
  }

  /** The bytes JetStream stream `stream` holds now. */
  streamBytes(stream: string): Promise<number> {
    return streamBytes(this.nc, stream);
  }

  async close(): Promise<void> {
    for (const { child } of this.spawned) if (child.exitCode === null) child.kill('SIGKILL');
    await this.nc.drain();
    await this.nats.stop();
  }
}

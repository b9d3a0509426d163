import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Options for {@link startNatsServer}. */
export interface NatsServerOptions {
  /**
   * Client port. `0` lets the server pick a free port itself (no race with other processes);
   * pass a port to restart a server where clients expect it.
   * @default 0
   */
  port?: number;
  /**
   * JetStream store directory. When given it is kept on `stop()` (so a second server can reopen
   * it); when left out a temporary directory is created and removed on `stop()`.
   */
  storeDir?: string;
  /**
   * Enable JetStream (`-js`).
   * @default true
   */
  jetstream?: boolean;
  /** Extra command-line arguments appended as they are (e.g. `['-D']`). */
  args?: string[];
  /**
   * How long to wait for the "Server is ready" log line before giving up.
   * @default 15000
   */
  startTimeoutMs?: number;
}

/** A running nats-server owned by a test suite. */
export interface TestNatsServer {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** The JetStream store directory (`-sd`). */
  readonly storeDir: string;
  /** The server's process id. */
  readonly pid: number;
  /** The last lines the server logged, for diagnosing a failing test. */
  logTail(): string;
  /**
   * SIGTERM, wait for the process to exit (SIGKILL after 10 s), then remove the store directory
   * if the harness created it. Safe to call twice or after `kill()`.
   */
  stop(): Promise<void>;
  /**
   * Hard kill (SIGKILL), as a crash would; resolves once the process is gone. The store
   * directory stays, so `restart()` or a new server on `storeDir` sees what was persisted.
   */
  kill(): Promise<void>;
  /** Stop the process (gracefully unless already dead) and start a new one on the same port and store. */
  restart(): Promise<void>;
}

const LOG_LINES = 200;
const READY = /Server is ready/;
const LISTENING = /Listening for client connections on (\S+):(\d+)/;
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Where the nats-server binary is: `NATS_SERVER_BIN`, else `nats-server` on PATH, else
 * /usr/sbin/nats-server. Throws an actionable error when none exists.
 */
export function resolveNatsServerBin(): string {
  const fromEnv = process.env.NATS_SERVER_BIN;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) {
      throw new Error(`NATS_SERVER_BIN=${fromEnv} is not an executable file`);
    }
    return fromEnv;
  }
  const candidates = (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, 'nats-server'));
  candidates.push('/usr/sbin/nats-server');
  const found = candidates.find(isExecutable);
  if (!found) {
    throw new Error(
      'nats-server is not installed: install it (`apt-get install nats-server`) ' +
        'or point NATS_SERVER_BIN at the binary',
    );
  }
  return found;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Kill any server still running when the test process ends, so none outlives its suite: on a
 * normal exit, and on SIGTERM/SIGINT/SIGHUP when nothing else handles them (vitest stops a worker
 * with SIGTERM). The signal then takes its usual course. A host with its own handler for the
 * signal is left to call `stop()` itself.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const child of running) child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    const onSignal = () => {
      if (process.listenerCount(signal) > 1) return;
      killAll();
      process.off(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

interface Spawned {
  child: ChildProcess;
  port: number;
  exited: Promise<void>;
}

function spawnServer(bin: string, args: string[], timeoutMs: number, log: string[]): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let port = 0;
    let ready = false;
    let pending = '';
    const exited = new Promise<void>((done) => {
      child.once('exit', () => {
        running.delete(child);
        done();
      });
    });
    const fail = (message: string, cause?: unknown) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${message}\n--- nats-server log ---\n${log.join('\n')}`, { cause }));
    };
    const onData = (data: Buffer) => {
      pending += data.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        log.push(line);
        if (log.length > LOG_LINES) log.shift();
        if (ready) continue;
        const listening = LISTENING.exec(line);
        if (listening) port = Number(listening[2]);
        if (READY.test(line)) {
          ready = true;
          clearTimeout(timer);
          if (port === 0) fail('nats-server is ready but logged no client port');
          else resolve({ child, port, exited });
        }
      }
    };
    // Both pipes must be drained for the server's whole life, or it blocks once a pipe fills.
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (err) => {
      running.delete(child);
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      fail(missing ? `nats-server not found at ${bin} (apt-get install nats-server)` : `cannot start ${bin}`, err);
    });
    child.once('exit', (code, signal) => {
      if (!ready) fail(`nats-server exited before it was ready (code ${code}, signal ${signal})`);
    });
    const timer = setTimeout(() => fail(`nats-server was not ready within ${timeoutMs} ms`), timeoutMs);
  });
}

class NatsServerProcess implements TestNatsServer {
  #spawned: Spawned;
  #stopped = false;

  constructor(
    spawned: Spawned,
    readonly storeDir: string,
    private readonly ownsStoreDir: boolean,
    private readonly bin: string,
    private readonly baseArgs: string[],
    private readonly timeoutMs: number,
    private readonly log: string[],
  ) {
    this.#spawned = spawned;
  }

  get port(): number {
    return this.#spawned.port;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.#spawned.child.pid ?? -1;
  }

  logTail(): string {
    return this.log.join('\n');
  }

  async stop(): Promise<void> {
    await this.#terminate('SIGTERM');
    if (!this.#stopped && this.ownsStoreDir) {
      rmSync(this.storeDir, { recursive: true, force: true });
    }
    this.#stopped = true;
  }

  kill(): Promise<void> {
    return this.#terminate('SIGKILL');
  }

  async restart(): Promise<void> {
    if (this.#stopped) throw new Error('cannot restart a stopped nats-server');
    await this.#terminate('SIGTERM');
    const args = [...this.baseArgs, '-p', String(this.port)];
    this.#spawned = await spawnServer(this.bin, args, this.timeoutMs, this.log);
  }

  async #terminate(signal: NodeJS.Signals): Promise<void> {
    const { child, exited } = this.#spawned;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const escalate = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(escalate);
  }
}

/**
 * Start a real `nats-server` (JetStream on) on 127.0.0.1 with its own store directory, and
 * resolve once it logs "Server is ready".
 *
 * @example
 * let server: TestNatsServer;
 * beforeAll(async () => { server = await startNatsServer(); });
 * afterAll(() => server.stop());
 * it('connects', async () => { const nc = await connect({ servers: server.url }); await nc.close(); });
 */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<TestNatsServer> {
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`NatsServerOptions.port must be an integer in 0..65535, got ${port}`);
  }
  const bin = resolveNatsServerBin();
  const ownsStoreDir = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? mkdtempSync(join(tmpdir(), 'aimaas-nats-'));
  const baseArgs = ['-a', '127.0.0.1', '-sd', storeDir];
  if (opts.jetstream !== false) baseArgs.push('-js');
  baseArgs.push(...(opts.args ?? []));
  const timeoutMs = opts.startTimeoutMs ?? 15_000;
  const log: string[] = [];
  installExitHook();
  try {
    // -p -1 makes the server bind a random free port itself, so no other process can take it first.
    const spawned = await spawnServer(bin, [...baseArgs, '-p', port === 0 ? '-1' : String(port)], timeoutMs, log);
    return new NatsServerProcess(spawned, storeDir, ownsStoreDir, bin, baseArgs, timeoutMs, log);
  } catch (err) {
    if (ownsStoreDir) rmSync(storeDir, { recursive: true, force: true });
    throw err;
  }
}

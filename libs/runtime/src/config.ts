import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An environment to read configuration from (`process.env` or a plain object in tests). */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * A configuration value is wrong. The message names the variable (or option), the value and what
 * was expected, e.g. `AIMAAS_REGISTRY_ADDR="abc": expected host:port (e.g. 127.0.0.1:50054)`.
 * A `TypeError`, as for any invalid option.
 */
export class ConfigError extends TypeError {
  /** The environment variable or option at fault. */
  readonly variable: string;
  /** Its value as given. */
  readonly value: string;
  constructor(variable: string, value: string, expected: string) {
    super(`${variable}=${JSON.stringify(value)}: expected ${expected}`);
    this.name = 'ConfigError';
    this.variable = variable;
    this.value = value;
  }
}

/** A `host:port` address split in two. IPv6 hosts come back without their brackets. */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * Parses `host:port` (`[::1]:50051` for IPv6; port 0..65535), throwing a {@link ConfigError}
 * naming `variable` otherwise.
 *
 * @example
 * parseHostPort('127.0.0.1:50054'); // { host: '127.0.0.1', port: 50054 }
 */
export function parseHostPort(
  value: string,
  variable = 'address',
  expected = 'host:port (e.g. 127.0.0.1:50054)',
): HostPort {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]+)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65535) throw new ConfigError(variable, value, expected);
  return { host: (match[1] ?? match[2])!, port };
}

/**
 * Reads `variable` from `env`: `fallback` when unset or empty, else `parse(value)` (which throws a
 * {@link ConfigError} for a bad value).
 */
function readVariable<T, F>(env: Env, variable: string, fallback: F, parse: (value: string) => T): T | F {
  const raw = env[variable];
  if (raw === undefined || raw.trim() === '') return fallback;
  return parse(raw.trim());
}

/**
 * A positive integer setting (a limit, a count) from `env`: `fallback` when unset or empty; a bad
 * value throws a {@link ConfigError} naming the variable, so a process stops at start.
 *
 * @example
 * const maxEpochs = positiveIntegerSetting('AIMAAS_TRAINING_MAX_EPOCHS', 10_000);
 */
export function positiveIntegerSetting(variable: string, fallback: number, env: Env = process.env): number {
  return readVariable(env, variable, fallback, (value) => positiveInteger(value, variable, 'a positive integer'));
}

/**
 * A whole-number setting (0 allowed) from `env`, or undefined when unset or empty (the caller's
 * default applies); a bad value throws a {@link ConfigError} naming the variable.
 *
 * @example
 * const workers = wholeNumberSetting('AIMAAS_TRAINING_WORKERS'); // undefined, or e.g. 0
 */
export function wholeNumberSetting(variable: string, env: Env = process.env): number | undefined {
  return readVariable(env, variable, undefined, (value) => positiveInteger(value, variable, 'a whole number', true));
}

/**
 * A positive (possibly fractional) number setting from `env`: `fallback` when unset or empty; a bad
 * value throws a {@link ConfigError} naming the variable.
 *
 * @example
 * const factor = positiveNumberSetting('AIMAAS_INFERENCE_MEMORY_FACTOR', 2);
 */
export function positiveNumberSetting(variable: string, fallback: number, env: Env = process.env): number {
  return readVariable(env, variable, fallback, (value) => {
    const number = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
    if (!(number > 0)) throw new ConfigError(variable, value, 'a positive number');
    return number;
  });
}

/** The five AIMaaS services, in port order. */ /** The five AIMaaS services, in port order. */
export const SERVICE_NAMES = ['preprocessing', 'training', 'compression', 'registry', 'inference'] as const;
/** One of {@link SERVICE_NAMES}. */
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Where each service listens (and is reached) unless `AIMAAS_<SERVICE>_ADDR` says otherwise. */
export const DEFAULT_ADDRESSES: Readonly<Record<ServiceName, string>> = {
  preprocessing: '127.0.0.1:50051',
  training: '127.0.0.1:50052',
  compression: '127.0.0.1:50053',
  registry: '127.0.0.1:50054',
  inference: '127.0.0.1:50055',
};

/** TensorFlow.js backend choice (`AIMAAS_TF_BACKEND`). */
export type TfBackend = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
const TF_BACKENDS: readonly TfBackend[] = ['auto', 'tensorflow', 'wasm', 'cpu'];
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** PEM material for TLS, read from the files named by `AIMAAS_TLS_CERT`, `_KEY` and `_CA`. */
export interface TlsConfig {
  /** Certificate chain (PEM). */
  cert: Buffer;
  /** Private key of `cert` (PEM). */
  key: Buffer;
  /** CA bundle (PEM). A server given one requires and verifies client certificates (mutual TLS);
   *  a client given one trusts it instead of the system roots. */
  ca?: Buffer;
}

/** The configuration of one service process, see {@link loadConfig}. */
export interface RuntimeConfig {
  /** The service this process runs. */
  service: ServiceName;
  /** Where this service listens: `AIMAAS_LISTEN_ADDR`, else its own `AIMAAS_<SERVICE>_ADDR`. */
  listenAddr: string;
  /** Where every service is reached (`AIMAAS_<SERVICE>_ADDR`, default `127.0.0.1:5005x`). */
  addresses: Record<ServiceName, string>;
  /** `NATS_URL` (comma-separated servers allowed). @default 'nats://127.0.0.1:4222' */
  natsUrl: string;
  /** `AIMAAS_DATA_DIR`, absolute. @default '<repo>/.aimaas' */
  dataDir: string;
  /** `AIMAAS_AUTH_TOKEN`: when set, every RPC but health and reflection needs `authorization: Bearer <token>`. */
  authToken?: string;
  /** TLS material when `AIMAAS_TLS_CERT` and `AIMAAS_TLS_KEY` are set. */
  tls?: TlsConfig;
  /** `AIMAAS_TF_BACKEND`. @default 'auto' */
  tfBackend: TfBackend;
  /** `LOG_LEVEL`. @default 'info' */
  logLevel: string;
  /** `AIMAAS_METRICS_ADDR` for `GET /metrics`; absent when it is `off`.
   *  @default the gRPC host with the gRPC port + 1000 (e.g. 127.0.0.1:51054) */
  metricsAddr?: string;
  /**
   * `AIMAAS_METRICS_AUTH`: `token` makes `/metrics` ask for the `AIMAAS_AUTH_TOKEN` bearer token
   * (which must then be set); `none` leaves it open to whoever reaches the port. @default 'none'
   */
  metricsAuth: 'none' | 'token';
  /**
   * `AIMAAS_<SERVICE>_MEMORY_MB`: while the process's RSS is over it, calls are refused with
   * RESOURCE_EXHAUSTED (health and reflection still answer). Inference's variable budgets the
   * models it loads instead (see the inference README). @default MEMORY_BUDGET_DEFAULTS_MB
   */
  memoryBudgetMb?: number;
  /** `AIMAAS_MAX_MESSAGE_BYTES`: largest gRPC message received or sent. @default 67108864 (64 MiB) */
  maxMessageBytes: number;
  /** `AIMAAS_SHUTDOWN_GRACE_MS`: how long in-flight calls may finish on shutdown. @default 10000 */
  shutdownGraceMs: number;
}

/** The default memory budget of each service but inference, in MiB (`AIMAAS_<SERVICE>_MEMORY_MB`). */
export const MEMORY_BUDGET_DEFAULTS_MB: Readonly<Partial<Record<ServiceName, number>>> = {
  preprocessing: 4096,
  training: 4096,
  compression: 4096,
  registry: 1024,
};

/** 64 MiB, the default gRPC message size limit. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

/**
 * Reads and validates the configuration of `service` from the environment, once, at start. Empty
 * variables count as unset. A bad value throws a {@link ConfigError} naming the variable, the value
 * and what was expected; TLS files are read here, so a missing file fails at start too.
 *
 * @example
 * const config = loadConfig('registry');
 * // AIMAAS_REGISTRY_ADDR=0.0.0.0:6000 → config.listenAddr === '0.0.0.0:6000', config.metricsAddr === '0.0.0.0:7000'
 */
export function loadConfig(service: ServiceName, env: Env = process.env): RuntimeConfig {
  if (!(SERVICE_NAMES as readonly string[]).includes(service)) {
    throw new ConfigError('service', String(service), `one of ${SERVICE_NAMES.join(', ')}`);
  }
  const addresses = {} as Record<ServiceName, string>;
  for (const name of SERVICE_NAMES) {
    const variable = `AIMAAS_${name.toUpperCase()}_ADDR`;
    addresses[name] = readVariable(env, variable, DEFAULT_ADDRESSES[name], (value) => {
      parseHostPort(value, variable);
      return value;
    });
  }
  const listenAddr = readVariable(env, 'AIMAAS_LISTEN_ADDR', addresses[service], (value) => {
    parseHostPort(value, 'AIMAAS_LISTEN_ADDR');
    return value;
  });
  const config: RuntimeConfig = {
    service,
    listenAddr,
    addresses,
    natsUrl: readVariable(env, 'NATS_URL', 'nats://127.0.0.1:4222', parseNatsUrl),
    dataDir: resolve(readVariable(env, 'AIMAAS_DATA_DIR', join(repoRoot(), '.aimaas'), (value) => value)),
    tfBackend: readVariable(env, 'AIMAAS_TF_BACKEND', 'auto', (value) =>
      oneOf(value, TF_BACKENDS, 'AIMAAS_TF_BACKEND'),
    ),
    logLevel: readVariable(env, 'LOG_LEVEL', 'info', (value) =>
      oneOf(value.toLowerCase(), LOG_LEVELS, 'LOG_LEVEL', value),
    ),
    maxMessageBytes: readVariable(env, 'AIMAAS_MAX_MESSAGE_BYTES', DEFAULT_MAX_MESSAGE_BYTES, (value) =>
      positiveInteger(value, 'AIMAAS_MAX_MESSAGE_BYTES', 'a positive integer number of bytes (e.g. 67108864)'),
    ),
    metricsAuth: readVariable(env, 'AIMAAS_METRICS_AUTH', 'none' as const, (value) =>
      oneOf(value.toLowerCase(), ['none', 'token'] as const, 'AIMAAS_METRICS_AUTH', value),
    ),
    shutdownGraceMs: readVariable(env, 'AIMAAS_SHUTDOWN_GRACE_MS', DEFAULT_SHUTDOWN_GRACE_MS, (value) =>
      positiveInteger(value, 'AIMAAS_SHUTDOWN_GRACE_MS', 'a whole number of milliseconds', true),
    ),
  };
  const authToken = readVariable(env, 'AIMAAS_AUTH_TOKEN', undefined, (value) => {
    if (!/^[\x21-\x7e]+$/.test(value)) {
      throw new ConfigError('AIMAAS_AUTH_TOKEN', '<redacted>', 'printable ASCII without spaces');
    }
    return value;
  });
  if (authToken !== undefined) config.authToken = authToken;
  const tls = readTls(env);
  if (tls) config.tls = tls;
  const metricsAddr = readVariable(env, 'AIMAAS_METRICS_ADDR', defaultMetricsAddr(listenAddr), (value) => {
    if (value.toLowerCase() === 'off') return undefined;
    parseHostPort(value, 'AIMAAS_METRICS_ADDR', "host:port or 'off'");
    return value;
  });
  if (metricsAddr !== undefined) config.metricsAddr = metricsAddr;
  const budget = MEMORY_BUDGET_DEFAULTS_MB[service];
  if (budget !== undefined)
    config.memoryBudgetMb = positiveIntegerSetting(`AIMAAS_${service.toUpperCase()}_MEMORY_MB`, budget, env);
  if (config.metricsAuth === 'token' && authToken === undefined) {
    throw new ConfigError('AIMAAS_METRICS_AUTH', 'token', "AIMAAS_AUTH_TOKEN to be set too (or 'none')");
  }
  return config;
}

function defaultMetricsAddr(listenAddr: string): string {
  const { host, port } = parseHostPort(listenAddr, 'AIMAAS_LISTEN_ADDR');
  const metricsPort = port === 0 ? 0 : port + 1000;
  if (metricsPort > 65535) {
    throw new ConfigError(
      'AIMAAS_METRICS_ADDR',
      '',
      `host:port or 'off' (the default, gRPC port + 1000, exceeds 65535)`,
    );
  }
  return host.includes(':') ? `[${host}]:${metricsPort}` : `${host}:${metricsPort}`;
}

function readTls(env: Env): TlsConfig | undefined {
  const certPath = env.AIMAAS_TLS_CERT || undefined;
  const keyPath = env.AIMAAS_TLS_KEY || undefined;
  const caPath = env.AIMAAS_TLS_CA || undefined;
  if (!certPath && !keyPath) {
    if (caPath) throw new ConfigError('AIMAAS_TLS_CA', caPath, 'AIMAAS_TLS_CERT and AIMAAS_TLS_KEY to be set as well');
    return undefined;
  }
  if (!certPath || !keyPath) {
    const [set, missing] = certPath ? ['AIMAAS_TLS_CERT', 'AIMAAS_TLS_KEY'] : ['AIMAAS_TLS_KEY', 'AIMAAS_TLS_CERT'];
    throw new ConfigError(
      set,
      (certPath ?? keyPath)!,
      `${missing} to be set as well (TLS needs both a certificate and its key)`,
    );
  }
  const tls: TlsConfig = { cert: readPem('AIMAAS_TLS_CERT', certPath), key: readPem('AIMAAS_TLS_KEY', keyPath) };
  if (caPath) tls.ca = readPem('AIMAAS_TLS_CA', caPath);
  return tls;
}

function readPem(variable: string, path: string): Buffer {
  let content: Buffer;
  try {
    content = readFileSync(path);
  } catch (error) {
    throw new ConfigError(
      variable,
      path,
      `a readable PEM file (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  if (!content.toString('latin1').includes('-----BEGIN ')) {
    throw new ConfigError(variable, path, 'a PEM file (no "-----BEGIN" line found)');
  }
  return content;
}

function parseNatsUrl(value: string): string {
  for (const server of value.split(',')) {
    const trimmed = server.trim();
    const url = /^[a-z]+:\/\//i.test(trimmed) ? trimmed : `nats://${trimmed}`;
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !['nats:', 'tls:', 'ws:', 'wss:'].includes(parsed.protocol) || !parsed.hostname) {
      throw new ConfigError('NATS_URL', value, 'nats://host:port (comma-separated for several servers)');
    }
  }
  return value;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], variable: string, raw = value): T {
  if (!(allowed as readonly string[]).includes(value))
    throw new ConfigError(variable, raw, `one of ${allowed.join(', ')}`);
  return value as T;
}

function positiveInteger(value: string, variable: string, expected: string, allowZero = false): number {
  const number = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || (!allowZero && number === 0)) throw new ConfigError(variable, value, expected);
  return number;
}

let cachedRoot: string | undefined;
/** The monorepo root: the nearest ancestor of this module with a package.json declaring workspaces. */
function repoRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ('workspaces' in JSON.parse(readFileSync(manifest, 'utf8'))) return (cachedRoot = dir);
      } catch {
        // an unreadable manifest is not the root; keep walking up
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return (cachedRoot = process.cwd());
    dir = parent;
  }
}

import { readFileSync } from 'node:fs';
import type { Interceptor } from '@grpc/grpc-js';
import { compileRetryPolicy, type RetryOptions, type RetryPolicy } from './retry.js';

import { DEFAULT_ADDRESSES, type ServiceName } from '@aimaas/runtime';

/** The AIMaaS services, as named in `AIMAAS_<SERVICE>_ADDR`, and their default addresses. */
export { DEFAULT_ADDRESSES, type ServiceName };

/** Every client {@link createClients} makes: the services plus `oip` (KServe v2, on the inference port). */
export type ClientName = ServiceName | 'oip';

/** The environment variable holding a service's address, e.g. `AIMAAS_REGISTRY_ADDR`. */
export function addressEnvName(service: ServiceName): string {
  return `AIMAAS_${service.toUpperCase()}_ADDR`;
}

/**
 * TLS material: PEM text (a string starting with `-----BEGIN`, or bytes) or the path of a PEM file.
 * Any of them turns TLS on; `ca` replaces the system roots; `cert` + `key` give mutual TLS.
 */
export interface TlsOptions {
  ca?: string | Uint8Array;
  cert?: string | Uint8Array;
  key?: string | Uint8Array;
}

/**
 * Options of {@link createClients}. Everything left out comes from the same environment variables
 * the services read.
 */
export interface CreateClientsOptions {
  /** Per-service addresses (`host:port`). `oip` defaults to the inference address. @default AIMAAS_<SERVICE>_ADDR, else 127.0.0.1:5005x */
  addresses?: Partial<Record<ClientName, string>>;
  /** Sent as `authorization: Bearer <token>` on every call. @default AIMAAS_AUTH_TOKEN (none when unset) */
  authToken?: string;
  /** Sent as `x-aimaas-actor` on every call (a call's `actor` option overrides it). @default none */
  actor?: string;
  /** TLS settings; `false` forces plaintext. @default AIMAAS_TLS_CA / AIMAAS_TLS_CERT / AIMAAS_TLS_KEY file paths; plaintext when none is set */
  tls?: TlsOptions | false;
  /** Where unset settings are read from. @default process.env */
  env?: Record<string, string | undefined>;
  /** Extra grpc-js interceptors, run after the built-in tracing and metadata ones. @default [] */
  interceptors?: Interceptor[];
  /** Trace every call with `@aimaas/telemetry`'s CLIENT spans and `traceparent`. @default true */
  tracing?: boolean;
  /** Largest message sent or received, in bytes. @default 67108864 (64 MiB) */
  maxMessageBytes?: number;
  /** Deadline of calls that pass no `deadlineMs`. @default none */
  defaultDeadlineMs?: number;
  /** Retries of idempotent reads on UNAVAILABLE. @default { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 2000 } */
  retry?: RetryOptions;
}

/** {@link CreateClientsOptions} resolved: defaults applied, files read, values checked. */
export interface CompiledClientsOptions {
  addresses: Readonly<Record<ClientName, string>>;
  authToken: string | undefined;
  actor: string | undefined;
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined;
  interceptors: Interceptor[];
  tracing: boolean;
  maxMessageBytes: number;
  defaultDeadlineMs: number | undefined;
  retry: RetryPolicy;
}

const SERVICES = Object.keys(DEFAULT_ADDRESSES) as ServiceName[];
const CLIENT_NAMES: readonly ClientName[] = [...SERVICES, 'oip'];

/**
 * Applies the defaults of {@link CreateClientsOptions}, reads TLS files and validates every
 * setting, throwing a `TypeError` that names the bad one.
 */
export function compileClientsOptions(options: CreateClientsOptions = {}): CompiledClientsOptions {
  const env = options.env ?? process.env;
  for (const key of Object.keys(options.addresses ?? {})) {
    if (!CLIENT_NAMES.includes(key as ClientName)) {
      throw new TypeError(`addresses.${key}: unknown service; expected one of ${CLIENT_NAMES.join(', ')}`);
    }
  }
  const addresses = {} as Record<ClientName, string>;
  for (const service of SERVICES) {
    addresses[service] = checkAddress(
      options.addresses?.[service] ?? nonEmpty(env[addressEnvName(service)]) ?? DEFAULT_ADDRESSES[service],
      `addresses.${service}`,
    );
  }
  addresses.oip = checkAddress(options.addresses?.oip ?? addresses.inference, 'addresses.oip');

  const maxMessageBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes <= 0) {
    throw new TypeError(`maxMessageBytes must be a positive integer, got ${String(options.maxMessageBytes)}`);
  }
  const deadline = options.defaultDeadlineMs;
  if (deadline !== undefined && !(Number.isFinite(deadline) && deadline > 0)) {
    throw new TypeError(`defaultDeadlineMs must be a positive number of milliseconds, got ${String(deadline)}`);
  }
  const authToken = options.authToken ?? nonEmpty(env.AIMAAS_AUTH_TOKEN);
  if (authToken !== undefined && (authToken === '' || /[\r\n]/.test(authToken))) {
    throw new TypeError('authToken must be a non-empty string without line breaks');
  }
  return {
    addresses: Object.freeze(addresses),
    authToken,
    actor: options.actor === '' ? undefined : options.actor,
    tls: compileTls(options.tls, env),
    interceptors: [...(options.interceptors ?? [])],
    tracing: options.tracing ?? true,
    maxMessageBytes,
    defaultDeadlineMs: deadline,
    retry: compileRetryPolicy(options.retry),
  };
}

function compileTls(
  tls: TlsOptions | false | undefined,
  env: Record<string, string | undefined>,
): CompiledClientsOptions['tls'] {
  if (tls === false) return undefined;
  const source: TlsOptions = tls ?? {
    ...(nonEmpty(env.AIMAAS_TLS_CA) ? { ca: env.AIMAAS_TLS_CA } : {}),
    ...(nonEmpty(env.AIMAAS_TLS_CERT) ? { cert: env.AIMAAS_TLS_CERT } : {}),
    ...(nonEmpty(env.AIMAAS_TLS_KEY) ? { key: env.AIMAAS_TLS_KEY } : {}),
  };
  if (tls === undefined && Object.keys(source).length === 0) return undefined;
  if ((source.cert === undefined) !== (source.key === undefined)) {
    throw new TypeError('tls.cert and tls.key go together: give both for mutual TLS, or neither');
  }
  const compiled: NonNullable<CompiledClientsOptions['tls']> = {};
  for (const key of ['ca', 'cert', 'key'] as const) {
    const value = source[key];
    if (value !== undefined) compiled[key] = readPem(value, `tls.${key}`);
  }
  return compiled;
}

function readPem(value: string | Uint8Array, setting: string): Buffer {
  if (typeof value !== 'string') return Buffer.from(value);
  if (value.trimStart().startsWith('-----BEGIN')) return Buffer.from(value);
  try {
    return readFileSync(value);
  } catch (error) {
    throw new TypeError(`${setting}: cannot read PEM file "${value}": ${(error as Error).message}`);
  }
}

function checkAddress(address: string, setting: string): string {
  if (typeof address !== 'string' || address.trim() === '' || /\s/.test(address)) {
    throw new TypeError(`${setting} must be an address such as 127.0.0.1:50054, got "${String(address)}"`);
  }
  return address;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

import { createLogger, type Logger, type MetricsRegistry } from '@aimaas/telemetry';
import { ConfigError, DEFAULT_MAX_MESSAGE_BYTES, parseHostPort, type RuntimeConfig, type TlsConfig } from './config.js';
import type { ProtoFiles } from './server-support.js';

/**
 * Options of `createGrpcServer`. Explicit options win over the same settings in `config`.
 *
 * @example
 * createGrpcServer({ serviceName: 'registry', config, logger, metrics: registry,
 *   protoFiles: { includeDirs: [protoRoot], files: ['aimaas/v1/registry.proto'] } });
 */
export interface GrpcServerOptions {
  /** The AIMaaS service, e.g. `'registry'` (logs and the default logger name). */
  serviceName: string;
  /** Loaded configuration supplying `listenAddr`, `authToken`, `tls`, `maxMessageBytes`, `metricsAddr`, `shutdownGraceMs`. */
  config?: RuntimeConfig;
  /** Bearer token every call but health and reflection must carry. @default config.authToken (open when unset) */
  authToken?: string;
  /** TLS material. @default config.tls (plaintext when unset) */
  tls?: TlsConfig;
  /** Largest message received or sent; a bigger one gets RESOURCE_EXHAUSTED. @default config.maxMessageBytes ?? 64 MiB */
  maxMessageBytes?: number;
  /** Where `listen()` binds when called without an address. @default config.listenAddr */
  listenAddr?: string;
  /** Where `GET /metrics` is served once listening (needs `metrics`); `'off'` disables. @default config.metricsAddr */
  metricsAddr?: string;
  /**
   * `/metrics` asks for `Authorization: Bearer <authToken>` (needs `authToken`). It is served
   * over HTTPS whenever `tls` is set. @default config.metricsAuth === 'token'
   */
  metricsAuth?: boolean;
  /**
   * Calls are refused with RESOURCE_EXHAUSTED while the process's RSS is over this many MiB.
   * @default config.memoryBudgetMb (undefined: no budget)
   */
  memoryBudgetMb?: number;
  /** How long in-flight calls may finish on `shutdown()`. @default config.shutdownGraceMs ?? 10000 */
  shutdownGraceMs?: number;
  /** @default createLogger(serviceName, config?.logLevel) */
  logger?: Logger;
  /** Registry receiving the gRPC server metrics. @default undefined (no metrics) */
  metrics?: MetricsRegistry;
  /** Protos described by server reflection (health and reflection are always included). */
  protoFiles?: ProtoFiles;
}

/** {@link GrpcServerOptions} with defaults applied and validated. */
export interface CompiledServerOptions {
  serviceName: string;
  authToken: string | undefined;
  tls: TlsConfig | undefined;
  maxMessageBytes: number;
  listenAddr: string | undefined;
  metricsAddr: string | undefined;
  metricsAuth: boolean;
  memoryBudgetMb: number | undefined;
  shutdownGraceMs: number;
  logger: Logger;
  metrics: MetricsRegistry | undefined;
  protoFiles: ProtoFiles | undefined;
}

/** Applies defaults and validates, throwing a `ConfigError` (a TypeError) naming the bad option. */
export function compileServerOptions(options: GrpcServerOptions): CompiledServerOptions {
  const { config } = options;
  if (typeof options.serviceName !== 'string' || options.serviceName === '') {
    throw new ConfigError('serviceName', String(options.serviceName), 'a non-empty service name');
  }
  const maxMessageBytes = options.maxMessageBytes ?? config?.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes <= 0) {
    throw new ConfigError('maxMessageBytes', String(maxMessageBytes), 'a positive integer number of bytes');
  }
  const shutdownGraceMs = options.shutdownGraceMs ?? config?.shutdownGraceMs ?? 10_000;
  if (!Number.isFinite(shutdownGraceMs) || shutdownGraceMs < 0) {
    throw new ConfigError('shutdownGraceMs', String(shutdownGraceMs), 'a non-negative number of milliseconds');
  }
  const tls = options.tls ?? config?.tls;
  if (tls && (!tls.cert || !tls.key)) {
    throw new ConfigError('tls', tls.cert ? 'cert without key' : 'key without cert', 'both tls.cert and tls.key');
  }
  const listenAddr = options.listenAddr ?? config?.listenAddr;
  if (listenAddr !== undefined) parseHostPort(listenAddr, 'listenAddr');
  let metricsAddr = options.metricsAddr ?? config?.metricsAddr;
  if (metricsAddr?.toLowerCase() === 'off') metricsAddr = undefined;
  if (metricsAddr !== undefined) parseHostPort(metricsAddr, 'metricsAddr', "host:port or 'off'");
  const authToken = options.authToken ?? config?.authToken;
  const metricsAuth = options.metricsAuth ?? config?.metricsAuth === 'token';
  if (metricsAuth && authToken === undefined) {
    throw new ConfigError('metricsAuth', 'token', 'an auth token (AIMAAS_AUTH_TOKEN) for /metrics to ask for');
  }
  const protoFiles = options.protoFiles;
  if (protoFiles && (!Array.isArray(protoFiles.files) || !Array.isArray(protoFiles.includeDirs))) {
    throw new ConfigError('protoFiles', JSON.stringify(protoFiles), '{ includeDirs: string[], files: string[] }');
  }
  return {
    serviceName: options.serviceName,
    authToken,
    tls,
    maxMessageBytes,
    listenAddr,
    metricsAddr,
    metricsAuth,
    memoryBudgetMb: options.memoryBudgetMb ?? config?.memoryBudgetMb,
    shutdownGraceMs,
    logger: options.logger ?? createLogger(options.serviceName, config?.logLevel),
    metrics: options.metrics,
    protoFiles,
  };
}

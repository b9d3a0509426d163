import { setMaxListeners } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { createGrpcServerMetrics, startMetricsServer, type Logger, type MetricsServer } from '@aimaas/telemetry';
import { parseHostPort } from './config.js';
import { createServerCredentials } from './credentials.js';
import { UnavailableError } from './errors.js';
import type { ServiceDefinitionLike, ServiceImplementation } from './handler-types.js';
import { implement, serviceNameOf, tolerantDefinition } from './implement.js';
import { compileServerOptions, type GrpcServerOptions } from './server-options.js';
import { addReflection, HealthService } from './server-support.js';

/** Runs at the end of `shutdown()`, in registration order (drain NATS, flush telemetry, …). */
export type ShutdownHook = () => unknown;

/** A gRPC server with health, reflection, interceptors and ordered shutdown; see {@link createGrpcServer}. */
export interface GrpcServer {
  /** Adds a service: its handlers wrapped by `implement`, its health status tracked. Chainable. */
  add<D extends ServiceDefinitionLike>(definition: D, handlers: Partial<ServiceImplementation<D>>): GrpcServer;
  /** Binds (port 0 picks a free one), marks every service SERVING, starts `/metrics`; resolves the bound port. */
  listen(addr?: string): Promise<number>;
  /** The bound gRPC port once listening. */
  readonly port: number | undefined;
  /** The bound metrics port once listening, when metrics are served. */
  readonly metricsPort: number | undefined;
  /** Sets a health status by hand ('' is the server as a whole). */
  setServingStatus(service: string, status: 'SERVING' | 'NOT_SERVING'): void;
  /** Registers a hook run after the server has stopped, in order. Chainable. */
  onShutdown(hook: ShutdownHook): GrpcServer;
  /** Aborted as soon as shutdown begins: job workers stop taking work when it fires. */
  readonly stopping: AbortSignal;
  /**
   * Ordered graceful shutdown: health NOT_SERVING; stop accepting calls while in-flight ones finish,
   * up to `graceMs`; then abort the remaining calls' `ctx.signal` (UNAVAILABLE "server is shutting
   * down") and close every connection; close `/metrics`; run the `onShutdown` hooks in order (a
   * failing hook is logged and the next still runs), all of them within `hooksMs`: a hook still
   * running when that time is up (a NATS drain against a server that hangs) is logged and left
   * behind. Idempotent: later calls return the same promise.
   */
  shutdown(options?: { graceMs?: number; hooksMs?: number }): Promise<void>;
  /** The underlying grpc-js server, for what this API does not cover. */
  readonly grpcServer: grpc.Server;
  readonly logger: Logger;
}

/** After the grace time, how long aborted handlers get to answer before connections are cut. */
const ABORT_SETTLE_MS = 1_000;
/** How long the shutdown hooks may take together unless `shutdown({ hooksMs })` says otherwise. */
const DEFAULT_HOOKS_MS = 5_000;

/**
 * Creates the gRPC server of a service. Serves `grpc.health.v1.Health` (overall '' and per
 * service) and server reflection, enforces the message size limit, the bearer token and TLS from
 * the options, records metrics, and shuts down in order.
 *
 * @example
 * const server = createGrpcServer({ serviceName: 'registry', config, logger, metrics,
 *   protoFiles: { includeDirs: [protoRoot], files: ['aimaas/v1/registry.proto'] } })
 *   .add(RegistryServiceService, createRegistryService(deps))
 *   .onShutdown(() => nats.drain())
 *   .onShutdown(() => telemetry.shutdown());
 * await server.listen();
 * installSignalHandlers(() => server.shutdown(), { logger });
 */
export function createGrpcServer(options: GrpcServerOptions): GrpcServer {
  const compiled = compileServerOptions(options);
  const { logger } = compiled;
  const grpcServer = new grpc.Server({
    'grpc.max_receive_message_length': compiled.maxMessageBytes,
    'grpc.max_send_message_length': compiled.maxMessageBytes,
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
  });
  const health = new HealthService();
  health.addToServer(grpcServer);
  addReflection(grpcServer, compiled.protoFiles);

  const metrics = compiled.metrics ? createGrpcServerMetrics(compiled.metrics) : undefined;
  const stopping = new AbortController();
  const abortCalls = new AbortController();
  setMaxListeners(0, abortCalls.signal);
  const services: string[] = [];
  const hooks: ShutdownHook[] = [];
  let port: number | undefined;
  let metricsServer: MetricsServer | undefined;
  let listening: Promise<number> | undefined;
  let stopped: Promise<void> | undefined;

  const server: GrpcServer = {
    grpcServer,
    logger,
    stopping: stopping.signal,
    get port() {
      return port;
    },
    get metricsPort() {
      return metricsServer?.port;
    },
    add(definition, handlers) {
      const name = serviceNameOf(definition);
      const implementation = implement(definition, handlers, {
        authToken: compiled.authToken,
        logger,
        ...(metrics && { metrics }),
        shutdownSignal: abortCalls.signal,
        ...(compiled.memoryBudgetMb !== undefined && {
          memoryBudget: {
            bytes: compiled.memoryBudgetMb * 1024 * 1024,
            variable: `AIMAAS_${compiled.serviceName.toUpperCase()}_MEMORY_MB`,
          },
        }),
      });
      grpcServer.addService(tolerantDefinition(definition) as unknown as grpc.ServiceDefinition, implementation);
      services.push(name);
      health.setStatus(name, port !== undefined && !stopped ? 'SERVING' : 'NOT_SERVING');
      return server;
    },
    listen(addr) {
      listening ??= bind(addr);
      return listening;
    },
    setServingStatus(service, status) {
      health.setStatus(service, status);
    },
    onShutdown(hook) {
      hooks.push(hook);
      return server;
    },
    shutdown(shutdownOptions = {}) {
      stopped ??= stop(
        shutdownOptions.graceMs ?? compiled.shutdownGraceMs,
        shutdownOptions.hooksMs ?? DEFAULT_HOOKS_MS,
      );
      return stopped;
    },
  };

  async function bind(addr: string | undefined): Promise<number> {
    const target = addr ?? compiled.listenAddr;
    if (target === undefined) throw new TypeError('listen(): no address given and no listenAddr/config to default to');
    parseHostPort(target, 'listen address');
    if (stopped) throw new Error('listen(): the server has been shut down');
    port = await new Promise<number>((resolve, reject) =>
      grpcServer.bindAsync(target, createServerCredentials(compiled.tls), (error, bound) =>
        error ? reject(new Error(`cannot listen on ${target}: ${error.message}`, { cause: error })) : resolve(bound),
      ),
    );
    if (compiled.metrics && compiled.metricsAddr) {
      const { host, port: wanted } = parseHostPort(compiled.metricsAddr, 'metricsAddr');
      try {
        metricsServer = await startMetricsServer(compiled.metrics, wanted, {
          host,
          ...(compiled.tls && { tls: compiled.tls }),
          ...(compiled.metricsAuth && compiled.authToken !== undefined && { bearerToken: compiled.authToken }),
        });
      } catch (error) {
        throw new Error(
          `cannot serve metrics on ${compiled.metricsAddr} (set AIMAAS_METRICS_ADDR, or 'off'): ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
    }
    health.setStatus('', 'SERVING');
    for (const name of services) health.setStatus(name, 'SERVING');
    logger.info(
      {
        addr: target,
        port,
        tls: compiled.tls !== undefined,
        auth: compiled.authToken !== undefined,
        metricsPort: metricsServer?.port,
        services,
      },
      `${compiled.serviceName} listening on port ${port}`,
    );
    return port;
  }

  async function stop(graceMs: number, hooksMs: number): Promise<void> {
    logger.info({ graceMs }, `${compiled.serviceName} shutting down`);
    stopping.abort(new UnavailableError('server is shutting down'));
    health.setAll('NOT_SERVING');
    health.endWatches();
    if (listening) await listening.catch(() => undefined);
    if (port !== undefined) {
      const drained = new Promise<void>((resolve) => grpcServer.tryShutdown(() => resolve()));
      if (!(await within(drained, graceMs))) {
        logger.warn({ graceMs }, 'grace time over: aborting the calls still in flight');
        abortCalls.abort(new UnavailableError('server is shutting down'));
        await within(drained, ABORT_SETTLE_MS);
        grpcServer.forceShutdown();
      }
    } else {
      grpcServer.forceShutdown();
    }
    await within(metricsServer?.close() ?? Promise.resolve(), ABORT_SETTLE_MS);
    const hooksEnd = Date.now() + hooksMs;
    for (const [index, hook] of hooks.entries()) {
      const ran = Promise.resolve()
        .then(() => hook())
        .catch((error: unknown) => logger.error({ err: error }, 'shutdown hook failed'));
      if (!(await within(ran, Math.max(0, hooksEnd - Date.now())))) {
        logger.warn(
          { hook: index, hooksMs },
          'shutdown hook still running when the time for hooks was up: leaving it behind',
        );
      }
    }
    logger.info(`${compiled.serviceName} stopped`);
  }

  return server;
}

/** True if `promise` settles within `ms`, false otherwise. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

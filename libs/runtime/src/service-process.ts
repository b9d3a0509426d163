import {
  createLogger,
  createMetricsRegistry,
  initTelemetry,
  type Logger,
  type MetricsRegistry,
} from '@aimaas/telemetry';
import { loadConfig, type RuntimeConfig, type ServiceName } from './config.js';
import { createGrpcServer, type GrpcServer } from './grpc-server.js';
import type { ProtoFiles } from './server-support.js';
import { installSignalHandlers } from './signals.js';

/** What a service's `main.ts` gets to wire its dependencies and handlers. */
export interface ServiceProcessContext {
  config: RuntimeConfig;
  logger: Logger;
  server: GrpcServer;
  /** The Prometheus registry served on `/metrics`, for the service's own metrics. */
  metrics: MetricsRegistry;
}

/** Options of {@link runServiceProcess}. */
export interface ServiceProcessOptions {
  service: ServiceName;
  /** The .proto files server reflection describes (with their compiled descriptor set). */
  protoFiles: ProtoFiles;
  /**
   * Builds the dependencies, adds the services to `ctx.server` and registers shutdown hooks
   * (e.g. draining NATS). Telemetry is flushed after every hook registered here.
   */
  wire(ctx: ServiceProcessContext): Promise<void> | void;
}

/**
 * The whole life of a service process: config from the environment → telemetry, logs, metrics →
 * `wire` → listen → ordered shutdown on SIGTERM/SIGINT, within `AIMAAS_SHUTDOWN_GRACE_MS` even
 * when a dependency hangs. A failure before listening is logged and the process exits 1.
 *
 * @example
 * await runServiceProcess({
 *   service: 'registry',
 *   protoFiles: { includeDirs: [PROTO_ROOT], files: ['aimaas/v1/registry.proto'] },
 *   async wire({ config, logger, server }) {
 *     const nc = await connectNats(config.natsUrl, { name: 'registry' });
 *     server.add(RegistryServiceService, createRegistryService({ … })).onShutdown(() => nc.drain());
 *   },
 * });
 */
export async function runServiceProcess(options: ServiceProcessOptions): Promise<GrpcServer> {
  const config = loadConfig(options.service);
  const logger = createLogger(options.service, config.logLevel);
  const telemetry = initTelemetry({ serviceName: `aimaas-${options.service}` });
  const metrics = createMetricsRegistry(options.service);
  try {
    const server = createGrpcServer({
      serviceName: options.service,
      config,
      logger,
      metrics,
      protoFiles: options.protoFiles,
    });
    await options.wire({ config, logger, server, metrics });
    server.onShutdown(() => telemetry.shutdown());
    const port = await server.listen();
    logger.info({ port, metricsPort: server.metricsPort, nats: config.natsUrl }, `${options.service} serving`);
    // The whole shutdown fits in the grace time, whatever hangs: in-flight calls get 45 % of it,
    // aborted ones up to a second more, the hooks (workers handing jobs back, NATS drains,
    // telemetry) 40 %, and the process exits when the grace time is over in any case.
    const graceMs = config.shutdownGraceMs;
    installSignalHandlers(
      () => server.shutdown({ graceMs: Math.floor(graceMs * 0.45), hooksMs: Math.floor(graceMs * 0.4) }),
      { logger, deadlineMs: graceMs },
    );
    return server;
  } catch (error) {
    logger.fatal({ err: error }, `${options.service} failed to start`);
    await telemetry.shutdown();
    process.exit(1);
  }
}

/**
 * The registry process: configuration → NATS → buckets and streams → service → gRPC server.
 * Stops in order on SIGTERM/SIGINT: NOT_SERVING, in-flight calls finish, index watch stops,
 * NATS drains, telemetry flushes.
 */
import { PROTO_ROOT, RegistryServiceService } from '@aimaas/proto';
import { createGrpcServer, installSignalHandlers, loadConfig } from '@aimaas/runtime';
import { createEventPublisher, ensureStreams } from '@aimaas/events';
import { connectNats } from '@aimaas/storage';
import { createLogger, createMetricsRegistry, initTelemetry } from '@aimaas/telemetry';
import { createRegistryService, openRegistryStores } from './registry-service.js';
import { startVersionIndex } from './version-index.js';

const config = loadConfig('registry');
const logger = createLogger('registry', config.logLevel);
const telemetry = initTelemetry({ serviceName: 'registry' });

const nc = await connectNats(config.natsUrl, { name: 'registry' });
await ensureStreams(nc);
const { kv, artifacts } = await openRegistryStores(nc);
const index = await startVersionIndex(kv, {
  onError: (err) => logger.warn({ err }, 'version index watch failed; resuming'),
});
const events = createEventPublisher(nc, { source: '/aimaas/registry', logger });

const server = createGrpcServer({
  serviceName: 'registry',
  config,
  logger,
  metrics: createMetricsRegistry('registry'),
  protoFiles: { includeDirs: [PROTO_ROOT], files: ['aimaas/v1/registry.proto'] },
})
  .add(RegistryServiceService, createRegistryService({ kv, artifacts, index, events, logger }))
  .onShutdown(() => index.stop())
  .onShutdown(() => nc.drain())
  .onShutdown(() => telemetry.shutdown());

await server.listen();
installSignalHandlers(() => server.shutdown(), { logger });

/**
 * The registry process: configuration → NATS → streams, buckets and index → service → gRPC server.
 * Stops in order on SIGTERM/SIGINT: NOT_SERVING, in-flight calls finish, the index watch stops,
 * NATS drains, telemetry flushes.
 */
import { reflectionFiles, RegistryServiceService } from '@aimaas/proto';
import { positiveIntegerSetting, runServiceProcess } from '@aimaas/runtime';
import { connectNats } from '@aimaas/storage';
import { openRegistry } from './open-registry.js';
import { UPLOAD_IDLE_MS } from './registry-service.js';

await runServiceProcess({
  service: 'registry',
  protoFiles: reflectionFiles(['aimaas/v1/registry.proto']),
  async wire({ config, logger, server }) {
    const nc = await connectNats(config.natsUrl, { name: 'registry', logger });
    const uploadIdleMs = positiveIntegerSetting('AIMAAS_REGISTRY_UPLOAD_IDLE_MS', UPLOAD_IDLE_MS);
    const registry = await openRegistry(nc, { logger, uploadIdleMs });
    server
      .add(RegistryServiceService, registry.handlers)
      .onShutdown(() => registry.close())
      .onShutdown(() => nc.drain());
  },
});

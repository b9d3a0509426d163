/**
 * The compression process: configuration → TF.js backend → NATS → clients of the registry and
 * preprocessing → CompressionService on gRPC, with a worker pulling `AIMAAS_JOBS_COMPRESSION` in
 * the same process. Shutdown: NOT_SERVING, the worker hands a running job back (it resumes
 * elsewhere from its last fine-tune checkpoint), NATS drains, telemetry flushes.
 */
import { reflectionFiles, CompressionServiceService } from '@aimaas/proto';
import { runServiceProcess } from '@aimaas/runtime';
import { initBackend } from '@aimaas/ml';
import { createClients } from '@aimaas/sdk';
import { connectNats } from '@aimaas/storage';
import { openCompression, workerOptionsFromEnv } from './open-compression.js';

await runServiceProcess({
  service: 'compression',
  protoFiles: reflectionFiles(['aimaas/v1/compression.proto']),
  async wire({ config, logger, server }) {
    const backend = await initBackend(config.tfBackend);
    logger.info({ ...backend }, 'tfjs backend ready');
    const nc = await connectNats(config.natsUrl, { name: 'compression', logger });
    const clients = createClients({
      addresses: { preprocessing: config.addresses.preprocessing, registry: config.addresses.registry },
      ...(config.authToken !== undefined && { authToken: config.authToken }),
    });
    const compression = await openCompression(nc, {
      registry: clients.registry,
      preprocessing: clients.preprocessing,
      logger,
      worker: workerOptionsFromEnv(process.env),
    });
    server
      .add(CompressionServiceService, compression.handlers)
      .onShutdown(() => compression.close())
      .onShutdown(() => clients.close())
      .onShutdown(() => nc.drain());
  },
});

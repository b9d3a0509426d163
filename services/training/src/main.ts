/**
 * The training process: configuration → TF.js backend → NATS → clients of preprocessing and
 * registry → `openTraining` (streams, buckets, queue, progress hub, handlers, worker) →
 * TrainingService on gRPC, and the worker pulling jobs from `AIMAAS_JOBS_TRAINING` in the same
 * process (which also answers other workers' calls for data-parallel followers). Shutdown
 * (SIGTERM/SIGINT): NOT_SERVING, the worker stops taking jobs and hands a running one back (it
 * resumes elsewhere from its checkpoint), the progress hub stops, NATS drains, telemetry flushes.
 */
import { reflectionFiles, TrainingServiceService } from '@aimaas/proto';
import { runServiceProcess } from '@aimaas/runtime';
import { initBackend } from '@aimaas/ml';
import { createClients } from '@aimaas/sdk';
import { connectNats } from '@aimaas/storage';
import { openTraining } from './open-training.js';
import { trainingOptionsFromEnv } from './training-options.js';

await runServiceProcess({
  service: 'training',
  protoFiles: reflectionFiles(['aimaas/v1/training.proto']),
  async wire({ config, logger, server }) {
    const options = trainingOptionsFromEnv();
    const backend = await initBackend(config.tfBackend);
    logger.info({ ...backend, worker: options.workerId, ackWaitMs: options.ackWaitMs }, 'tfjs backend ready');
    const nc = await connectNats(config.natsUrl, { name: `training-${options.workerId}`, logger });
    const gangNc = await connectNats(config.natsUrl, { name: `training-${options.workerId}-gang`, logger });
    const clients = createClients({
      addresses: { preprocessing: config.addresses.preprocessing, registry: config.addresses.registry },
      ...(config.authToken !== undefined && { authToken: config.authToken }),
    });
    const training = await openTraining(nc, gangNc, {
      logger,
      options,
      preprocessing: clients.preprocessing,
      registry: clients.registry,
    });
    server.add(TrainingServiceService, training.handlers);
    const working = training.run(server.stopping);
    server
      .onShutdown(() => working)
      .onShutdown(() => training.close())
      .onShutdown(() => clients.close())
      .onShutdown(() => gangNc.drain())
      .onShutdown(() => nc.drain());
  },
});

/**
 * The training process: configuration → TF.js backend → NATS (streams, buckets) → clients of
 * preprocessing and registry → TrainingService on gRPC, and a worker pulling jobs from
 * `AIMAAS_JOBS_TRAINING` in the same process (which also answers other workers' calls for
 * data-parallel followers). Shutdown (SIGTERM/SIGINT): NOT_SERVING, the worker
 * stops taking jobs and hands a running one back (it resumes elsewhere from its checkpoint), the
 * event subscription stops, NATS drains, telemetry flushes.
 */
import { reflectionFiles, TrainingServiceService } from '@aimaas/proto';
import { runServiceProcess } from '@aimaas/runtime';
import { createEventPublisher, createJobQueue, ensureStreams } from '@aimaas/events';
import { initBackend } from '@aimaas/ml';
import { createClients } from '@aimaas/sdk';
import { connectNats } from '@aimaas/storage';
import { openTrainingStores } from './buckets.js';
import { ProgressHub } from './progress-hub.js';
import { createTrainingService } from './training-service.js';
import { trainingOptionsFromEnv } from './training-options.js';
import { createTrainingWorker } from './worker.js';

await runServiceProcess({
  service: 'training',
  protoFiles: reflectionFiles(['aimaas/v1/training.proto']),
  async wire({ config, logger, server }) {
    const options = trainingOptionsFromEnv();
    const backend = await initBackend(config.tfBackend);
    logger.info({ ...backend, worker: options.workerId, ackWaitMs: options.ackWaitMs }, 'tfjs backend ready');

    const nc = await connectNats(config.natsUrl, { name: `training-${options.workerId}`, logger });
    // Data-parallel gangs get a connection of their own: see TrainingWorkerDeps.gangNc.
    const gangNc = await connectNats(config.natsUrl, { name: `training-${options.workerId}-gang`, logger });
    await ensureStreams(nc, { jobs: { ackWaitMs: options.ackWaitMs, maxDeliver: options.maxDeliver } });
    const { jobs: store, experiments, checkpoints } = await openTrainingStores(nc);
    const events = createEventPublisher(nc, { source: '/aimaas/training', logger });
    const queue = createJobQueue(nc, 'training', {
      ackWaitMs: options.ackWaitMs,
      maxDeliver: options.maxDeliver,
      logger,
    });
    const hub = await ProgressHub.start(nc, { logger });
    const clients = createClients({
      addresses: { preprocessing: config.addresses.preprocessing, registry: config.addresses.registry },
      ...(config.authToken !== undefined && { authToken: config.authToken }),
    });

    server.add(
      TrainingServiceService,
      createTrainingService({ store, experiments, queue, events, preprocessing: clients.preprocessing, hub, logger }),
    );
    const worker = createTrainingWorker({
      store,
      experiments,
      checkpoints,
      queue,
      events,
      logger,
      options,
      gangNc,
      preprocessing: clients.preprocessing,
      registry: clients.registry,
      progressIntervalMs: options.progressIntervalMs,
    });
    const working = worker.run(server.stopping).catch((err) => {
      logger.error({ err }, 'training worker stopped');
    });
    server
      .onShutdown(() => working)
      .onShutdown(() => hub.stop())
      .onShutdown(() => clients.close())
      .onShutdown(() => gangNc.drain())
      .onShutdown(() => nc.drain());
  },
});

import { createEventPublisher, createJobQueue, ensureStreams } from '@aimaas/events';
import type { PreprocessingClient, RegistryClient } from '@aimaas/sdk';
import type { NatsConnection } from '@aimaas/storage';
import type { Logger } from '@aimaas/telemetry';
import { openTrainingStores, type TrainingStores } from './buckets.js';
import { ProgressHub } from './jobs/progress-hub.js';
import type { CompiledTrainingOptions } from './training-options.js';
import { createTrainingService, type TrainingServiceHandlers } from './training-service.js';
import { createTrainingWorker } from './jobs/worker.js';

/** What a training replica needs besides its NATS connections. */
export interface OpenTrainingConfig {
  logger: Logger;
  options: CompiledTrainingOptions;
  /** Clients of the services a job reads its data from and registers its model with. */
  preprocessing: PreprocessingClient;
  registry: RegistryClient;
  /** Base delay of the job queue's retry of a failed job. @default the queue's (5 s) */
  queueRetryBaseMs?: number;
}

/** A training replica wired onto its connections; see {@link openTraining}. */
export interface TrainingReplica extends TrainingStores {
  /** The handlers to add for `TrainingServiceService`. */
  handlers: TrainingServiceHandlers;
  /**
   * Runs the worker (`options.workers` jobs at once, and followers of other workers'
   * data-parallel jobs) until `signal` aborts, handing a running job back then.
   */
  run(signal: AbortSignal): Promise<void>;
  /** Stops the progress hub (after the worker). The connections stay open: their owner drains them. */
  close(): Promise<void>;
}

/**
 * Everything a training replica needs on its connections: the job stream, the job, experiment and
 * checkpoint buckets, the event publisher, the job queue, the progress hub, the handlers and the
 * worker. Data-parallel gangs talk over `gangNc`, a connection of their own, so a gang's bulk
 * gradients never queue behind the job's control traffic. `main.ts`, the tests and the CLI's
 * test stack all wire a replica this one way.
 *
 * @example
 * const training = await openTraining(nc, gangNc, { logger, options, preprocessing, registry });
 * server.add(TrainingServiceService, training.handlers);
 * const working = training.run(server.stopping);
 * server.onShutdown(() => working).onShutdown(() => training.close());
 */
export async function openTraining(
  nc: NatsConnection,
  gangNc: NatsConnection,
  config: OpenTrainingConfig,
): Promise<TrainingReplica> {
  const { logger, options, preprocessing, registry } = config;
  await ensureStreams(nc, { jobs: { ackWaitMs: options.ackWaitMs, maxDeliver: options.maxDeliver } });
  const stores = await openTrainingStores(nc);
  const { jobs: store, experiments, checkpoints } = stores;
  const events = createEventPublisher(nc, { source: '/aimaas/training', logger });
  const queue = createJobQueue(nc, 'training', {
    ackWaitMs: options.ackWaitMs,
    maxDeliver: options.maxDeliver,
    logger,
    ...(config.queueRetryBaseMs !== undefined && { retryBaseMs: config.queueRetryBaseMs }),
  });
  const hub = await ProgressHub.start(nc, { logger });
  const handlers = createTrainingService({ store, experiments, queue, events, preprocessing, hub, logger });
  const worker = createTrainingWorker({
    store,
    experiments,
    checkpoints,
    queue,
    events,
    logger,
    options,
    gangNc,
    preprocessing,
    registry,
    progressIntervalMs: options.progressIntervalMs,
  });
  return {
    ...stores,
    handlers,
    run: (signal) => worker.run(signal).catch((err: unknown) => logger.error({ err }, 'training worker stopped')),
    close: () => hub.stop(),
  };
}

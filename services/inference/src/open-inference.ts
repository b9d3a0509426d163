import { createEventPublisher, ensureStreams, subscribeEvents, type EventSubscription } from '@aimaas/events';
import { decodeKey, openKv, type KvStore, type NatsConnection } from '@aimaas/storage';
import type { Logger } from '@aimaas/telemetry';
import type { Registry } from 'prom-client';
import { DeploymentManager } from './deployment-manager.js';
import type { DeploymentRecord } from './deployment-record.js';
import { createInferenceMetrics, type InferenceMetrics } from './inference-metrics.js';
import { createInferenceService, type InferenceHandlers } from './inference-service.js';
import type { RegistryReader } from './live-model.js';
import { createOipService, type OipHandlers } from './oip-service.js';

/** The KV bucket holding the deployments of every replica. */
const DEPLOYMENTS_BUCKET = 'aimaas_deployments';

/** Options of {@link openInference}. */
export interface InferenceOptions {
  /** The registry the versions come from (an `@aimaas/sdk` registry client). */
  registry: RegistryReader;
  logger: Logger;
  /**
   * Total estimated model memory in MiB (`AIMAAS_INFERENCE_MEMORY_MB`); a Deploy over it is
   * refused with RESOURCE_EXHAUSTED. @default no limit
   */
  memoryLimitMb?: number;
  /** Estimated memory of a model = its file size × this. @default 2 */
  memoryFactor?: number;
  /** Where the inference metrics are registered. @default a registry of their own */
  metricsRegistry?: Registry;
}

/** One inference replica wired onto a NATS connection; see {@link openInference}. */
export interface InferenceReplica {
  handlers: { inference: InferenceHandlers; oip: OipHandlers };
  deployments: DeploymentManager;
  metrics: InferenceMetrics;
  /** Resolves once the stored deployments were restored (ServerReady is false until then). */
  restored: Promise<void>;
  /** Stops following aliases and the deployment bucket, and frees every model. The connection stays open. */
  close(): Promise<void>;
}

type Nats = NatsConnection;

/** Compiles the memory options, naming a bad one. */
function memoryLimitBytes(options: InferenceOptions): number | undefined {
  const { memoryLimitMb, memoryFactor } = options;
  if (memoryFactor !== undefined && !(memoryFactor > 0))
    throw new TypeError(`memoryFactor: expected a positive number, got ${memoryFactor}`);
  if (memoryLimitMb === undefined) return undefined;
  if (!(memoryLimitMb > 0))
    throw new TypeError(`AIMAAS_INFERENCE_MEMORY_MB: expected a positive number of MiB, got ${memoryLimitMb}`);
  return memoryLimitMb * 1024 * 1024;
}

/**
 * Everything an inference replica needs on one NATS connection: the deployments bucket (restored
 * at start, then watched so deployments made on another replica are served here too), an
 * ephemeral `registry.alias.set` subscription of its own (each replica hot-swaps its own models),
 * the `inference.deployment.*` event publisher, metrics, and the handlers of both services.
 *
 * @example
 * const inference = await openInference(nc, { registry: clients.registry, logger });
 * server.add(InferenceServiceService, inference.handlers.inference)
 *   .add(GRPCInferenceServiceService, inference.handlers.oip)
 *   .onShutdown(() => inference.close());
 */
export async function openInference(nc: Nats, options: InferenceOptions): Promise<InferenceReplica> {
  const { logger } = options;
  const limit = memoryLimitBytes(options);
  await ensureStreams(nc);
  const kv: KvStore<DeploymentRecord> = await openKv<DeploymentRecord>(nc, DEPLOYMENTS_BUCKET, { history: 1 });
  const metrics = createInferenceMetrics(options.metricsRegistry);
  const deployments = new DeploymentManager({
    registry: options.registry,
    kv,
    events: createEventPublisher(nc, { source: '/aimaas/inference', logger }),
    metrics,
    logger,
    ...(limit !== undefined && { memoryLimitBytes: limit }),
    ...(options.memoryFactor !== undefined && { memoryFactor: options.memoryFactor }),
  });
  const stop = new AbortController();
  const aliases: EventSubscription = await subscribeEvents({
    nc,
    types: ['registry.alias.set'],
    deliver: 'new',
    signal: stop.signal,
    logger,
    handler: async (event) => {
      if (event.payload.change) await deployments.onAliasSet(event.payload.change);
    },
  });
  const watcher = await kv.watch('>', { include: 'updates', signal: stop.signal });
  const watching = (async () => {
    for await (const change of watcher) {
      if (change.operation === 'PUT' && change.value) await deployments.restore(change.value);
      else if (change.operation !== 'PUT') await deployments.forget(decodeKey(change.key));
    }
  })().catch((error: unknown) => logger.warn({ err: error }, 'watching the deployments bucket stopped'));

  let ready = false;
  const restored = (async () => {
    const stored = await kv.list();
    await Promise.all(stored.map((entry) => deployments.restore(entry.value)));
    ready = true;
    logger.info({ deployments: stored.length }, 'stored deployments restored');
  })().catch((error: unknown) => logger.error({ err: error }, 'restoring deployments failed'));

  return {
    handlers: {
      inference: createInferenceService({ deployments, metrics }),
      oip: createOipService({ deployments, metrics, isReady: () => ready && !stop.signal.aborted }),
    },
    deployments,
    metrics,
    restored: restored.then(() => undefined),
    async close() {
      stop.abort();
      watcher.stop();
      await aliases.stop();
      await watching;
      await deployments.close();
    },
  };
}

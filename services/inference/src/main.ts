/**
 * The inference process: configuration → NATS → registry client → deployments (restored from the
 * `aimaas_deployments` bucket) → `aimaas.v1.InferenceService` and `inference.GRPCInferenceService`
 * on one port. Stops in order on SIGTERM/SIGINT: NOT_SERVING, in-flight calls finish, alias and
 * bucket watches stop, models are freed, the registry client closes, NATS drains, telemetry flushes.
 */
import { reflectionFiles, InferenceServiceService, GRPCInferenceServiceService } from '@aimaas/proto';
import { positiveIntegerSetting, positiveNumberSetting, runServiceProcess } from '@aimaas/runtime';
import { createClients } from '@aimaas/sdk';
import { connectNats } from '@aimaas/storage';
import { openInference } from './open-inference.js';

await runServiceProcess({
  service: 'inference',
  protoFiles: reflectionFiles(['aimaas/v1/inference.proto', 'inference/grpc_predict_v2.proto']),
  async wire({ config, logger, server, metrics }) {
    // The models' estimated memory (not the RSS gate of the other services): 4 GiB unless set.
    const memory = positiveIntegerSetting('AIMAAS_INFERENCE_MEMORY_MB', 4096);
    const factor = positiveNumberSetting('AIMAAS_INFERENCE_MEMORY_FACTOR', 2);
    const nc = await connectNats(config.natsUrl, { name: 'inference', logger });
    const clients = createClients({ addresses: { registry: config.addresses.registry }, actor: 'inference' });
    const inference = await openInference(nc, {
      registry: clients.registry,
      logger,
      metricsRegistry: metrics,
      memoryLimitMb: memory,
      memoryFactor: factor,
    });
    server
      .add(InferenceServiceService, inference.handlers.inference)
      .add(GRPCInferenceServiceService, inference.handlers.oip)
      .onShutdown(() => inference.close())
      .onShutdown(() => clients.close())
      .onShutdown(() => nc.drain());
  },
});

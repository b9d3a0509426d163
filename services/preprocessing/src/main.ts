/**
 * The preprocessing process: configuration → NATS → `openPreprocessing` (streams, buckets, the
 * handlers and the orphan sweeper) → gRPC server (via `runServiceProcess`, which also serves
 * health, reflection and metrics and shuts down in order on SIGTERM/SIGINT: NOT_SERVING, in-flight
 * calls finish, the sweeper stops, NATS drains, telemetry flushes).
 */
import { PreprocessingServiceService, reflectionFiles } from '@aimaas/proto';
import { runServiceProcess } from '@aimaas/runtime';
import { connectNats } from '@aimaas/storage';
import { openPreprocessing } from './open-preprocessing.js';
import { preprocessingOptionsFromEnv } from './preprocessing-options.js';

await runServiceProcess({
  service: 'preprocessing',
  protoFiles: reflectionFiles(['aimaas/v1/preprocessing.proto']),
  async wire({ config, logger, server }) {
    const nc = await connectNats(config.natsUrl, { name: 'preprocessing', logger });
    const preprocessing = await openPreprocessing(nc, { logger, options: preprocessingOptionsFromEnv() });
    server
      .add(PreprocessingServiceService, preprocessing.handlers)
      .onShutdown(() => preprocessing.close())
      .onShutdown(() => nc.drain());
  },
});

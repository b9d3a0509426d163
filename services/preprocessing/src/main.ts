/**
 * The preprocessing process: configuration → NATS → buckets and event streams → service →
 * gRPC server, and the sweeper of what dead imports and prepares left behind (via `runServiceProcess`, which also serves health, reflection and metrics and
 * shuts down in order on SIGTERM/SIGINT: NOT_SERVING, in-flight calls finish, NATS drains,
 * telemetry flushes).
 */
import { PROTO_ROOT, PreprocessingServiceService } from '@aimaas/proto';
import { runServiceProcess } from '@aimaas/runtime';
import { createEventPublisher, ensureStreams } from '@aimaas/events';
import { connectNats, startOrphanSweeper } from '@aimaas/storage';
import { openDatasetBuckets, WRITER_LEASES } from './dataset-store.js';
import { preprocessingOptionsFromEnv } from './preprocessing-options.js';
import { createPreprocessingService } from './preprocessing-service.js';

await runServiceProcess({
  service: 'preprocessing',
  protoFiles: { includeDirs: [PROTO_ROOT], files: ['aimaas/v1/preprocessing.proto'] },
  async wire({ config, logger, server }) {
    const nc = await connectNats(config.natsUrl, { name: 'preprocessing', logger });
    await ensureStreams(nc);
    const { kv, objects } = await openDatasetBuckets(nc);
    const events = createEventPublisher(nc, { source: '/aimaas/preprocessing', logger });
    const options = preprocessingOptionsFromEnv();
    const stopSweeper = startOrphanSweeper(
      { kv, objects, leasePrefix: WRITER_LEASES },
      { idleMs: 2 * options.importIdleMs!, logger },
    );
    server
      .add(PreprocessingServiceService, createPreprocessingService({ kv, objects, events, logger, options }))
      .onShutdown(stopSweeper)
      .onShutdown(() => nc.drain());
  },
});

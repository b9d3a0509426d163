/**
 * The compression process. Its RPCs are specified in proto/aimaas/v1/compression.proto; until the compression
 * issue lands they answer UNIMPLEMENTED, while health, reflection and metrics are served.
 */
import { reflectionFiles, CompressionServiceService } from '@aimaas/proto';
import { runServiceProcess } from '@aimaas/runtime';

await runServiceProcess({
  service: 'compression',
  protoFiles: reflectionFiles(['aimaas/v1/compression.proto']),
  wire({ server }) {
    server.add(CompressionServiceService, {});
  },
});

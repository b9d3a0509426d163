/**
 * The preprocessing process. Its RPCs are specified in proto/aimaas/v1/preprocessing.proto; until the preprocessing
 * issue lands they answer UNIMPLEMENTED, while health, reflection and metrics are served.
 */
import { PROTO_ROOT, PreprocessingServiceService } from '@aimaas/proto';
import { runServiceProcess } from '@aimaas/runtime';

await runServiceProcess({
  service: 'preprocessing',
  protoFiles: { includeDirs: [PROTO_ROOT], files: ['aimaas/v1/preprocessing.proto'] },
  wire({ server }) {
    server.add(PreprocessingServiceService, {});
  },
});

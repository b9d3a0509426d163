/**
 * The training process. Its RPCs are specified in proto/aimaas/v1/training.proto; until the training
 * issue lands they answer UNIMPLEMENTED, while health, reflection and metrics are served.
 */
import { PROTO_ROOT, TrainingServiceService } from '@aimaas/proto';
import { runServiceProcess } from '@aimaas/runtime';

await runServiceProcess({
  service: 'training',
  protoFiles: { includeDirs: [PROTO_ROOT], files: ['aimaas/v1/training.proto'] },
  wire({ server }) {
    server.add(TrainingServiceService, {});
  },
});

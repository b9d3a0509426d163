/**
 * The inference process. Its RPCs are specified in proto/aimaas/v1/inference.proto; until the inference
 * issue lands they answer UNIMPLEMENTED, while health, reflection and metrics are served.
 */
import { reflectionFiles, InferenceServiceService, GRPCInferenceServiceService } from '@aimaas/proto';
import { runServiceProcess } from '@aimaas/runtime';

await runServiceProcess({
  service: 'inference',
  protoFiles: reflectionFiles(['aimaas/v1/inference.proto', 'inference/grpc_predict_v2.proto']),
  wire({ server }) {
    server.add(InferenceServiceService, {}).add(GRPCInferenceServiceService, {});
  },
});

/**
 * Generated protobuf messages and grpc-js service definitions for every AIMaaS contract
 * (package `aimaas.v1`) and the Open Inference Protocol (package `inference`).
 * The code under src/gen is produced by `buf generate` (ts-proto) at build time; never edit it.
 *
 * @example
 * import { RegistryServiceClient, ModelRef } from '@aimaas/proto';
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Task } from './gen/aimaas/v1/common.js';

export * from './gen/aimaas/v1/common.js';
export * from './gen/aimaas/v1/registry.js';
export * from './gen/aimaas/v1/preprocessing.js';
export * from './gen/aimaas/v1/training.js';
export * from './gen/aimaas/v1/compression.js';
export * from './gen/aimaas/v1/inference.js';
export * from './gen/aimaas/v1/events.js';
export * from './gen/inference/grpc_predict_v2.js';
export { Timestamp } from './gen/google/protobuf/timestamp.js';

/** Absolute path of the repository's `proto/` folder (the .proto sources). */
export const PROTO_ROOT = fileURLToPath(new URL('../../../proto', import.meta.url));

/** The .proto files relative to PROTO_ROOT, e.g. for server reflection. */
export const PROTO_FILES = [
  'aimaas/v1/common.proto',
  'aimaas/v1/registry.proto',
  'aimaas/v1/preprocessing.proto',
  'aimaas/v1/training.proto',
  'aimaas/v1/compression.proto',
  'aimaas/v1/inference.proto',
  'aimaas/v1/events.proto',
  'inference/grpc_predict_v2.proto',
] as const;

/** Fully qualified service names, as used by health checks and reflection. */
export const SERVICE_NAMES = {
  preprocessing: 'aimaas.v1.PreprocessingService',
  training: 'aimaas.v1.TrainingService',
  compression: 'aimaas.v1.CompressionService',
  registry: 'aimaas.v1.RegistryService',
  inference: 'aimaas.v1.InferenceService',
  oip: 'inference.GRPCInferenceService',
} as const;

/** Where `npm run generate` writes the FileDescriptorSet of every .proto (`buf build -o`). */
export const DESCRIPTOR_SET_PATH = fileURLToPath(new URL('../descriptors.binpb', import.meta.url));

/** The compiled FileDescriptorSet of every contract, for server reflection. */
export function readDescriptorSet(): Uint8Array {
  try {
    return readFileSync(DESCRIPTOR_SET_PATH);
  } catch (error) {
    throw new Error(`${DESCRIPTOR_SET_PATH} is missing: run "npm run build" (it runs buf build)`, { cause: error });
  }
}

/**
 * What server reflection should describe for a service: the given .proto files (relative to
 * PROTO_ROOT) with their compiled descriptors, so `buf curl` and `grpcurl` resolve the schema.
 *
 * @example
 * createGrpcServer({ serviceName: 'registry', protoFiles: reflectionFiles(['aimaas/v1/registry.proto']) });
 */
export function reflectionFiles(files: string[]): {
  includeDirs: string[];
  files: string[];
  descriptorSet: Uint8Array;
} {
  return { includeDirs: [PROTO_ROOT], files, descriptorSet: readDescriptorSet() };
}

/** The lower-case name of a wire Task, as the pipeline and ML libraries spell it; undefined for UNSPECIFIED. */
export function taskName(task: Task): 'classification' | 'regression' | 'reconstruction' | undefined {
  switch (task) {
    case Task.TASK_CLASSIFICATION:
      return 'classification';
    case Task.TASK_REGRESSION:
      return 'regression';
    case Task.TASK_RECONSTRUCTION:
      return 'reconstruction';
    default:
      return undefined;
  }
}

/**
 * @aimaas/inference: the inference service. Deployments of registry versions served by ONNX
 * Runtime (TF.js as fallback) with Triton-style dynamic batching and hot swaps, behind
 * `aimaas.v1.InferenceService` and the KServe Open Inference Protocol v2 (`inference.GRPCInferenceService`).
 */
export { openInference, DEPLOYMENTS_BUCKET } from './open-inference.js';
export type { InferenceOptions, InferenceReplica } from './open-inference.js';
export { DeploymentManager } from './deployment-manager.js';
export type { DeploymentManagerDeps } from './deployment-manager.js';
export { DEFAULT_MAX_QUEUE_SIZE, formatRef, recordOf } from './deployment-record.js';
export type { DeploymentRecord } from './deployment-record.js';
export { createInferenceService } from './inference-service.js';
export type { InferenceHandlers, InferenceServiceDeps } from './inference-service.js';
export { createOipService, modelInfer } from './oip-service.js';
export type { OipHandlers, OipServiceDeps } from './oip-service.js';
export { createInferenceMetrics, counterValue } from './inference-metrics.js';
export type { InferenceMetrics } from './inference-metrics.js';
export { DynamicBatcher } from './dynamic-batcher.js';
export type { BatcherOptions, BatchResult, SubmitOptions } from './dynamic-batcher.js';
export { LiveModel, chooseRuntime, estimateMemoryBytes, loadLiveModel } from './live-model.js';
export type { BatchingSettings, LoadOptions, RegistryReader } from './live-model.js';
export { createOnnxRunner, createTfjsRunner, zeroFeeds } from './model-runner.js';
export type { ModelRunner, TensorInfo } from './model-runner.js';
export { releaseFreedMemory } from './memory-release.js';
export type { MemoryRelease } from './memory-release.js';
export { decodeInput, elementCount, ELEMENT_TYPES, OIP_DATATYPES } from './datatypes.js';
export type { ElementArray, ElementType, RunnerTensor, WireTensor } from './datatypes.js';

/**
 * @aimaas/inference: the inference service. Deployments of registry versions served by ONNX
 * Runtime (TF.js as fallback) with Triton-style dynamic batching and hot swaps, behind
 * `aimaas.v1.InferenceService` and the KServe Open Inference Protocol v2 (`inference.GRPCInferenceService`).
 */
export { openInference } from './open-inference.js';
export type { InferenceOptions, InferenceReplica } from './open-inference.js';
export { counterValue } from './inference-metrics.js';
export { DynamicBatcher } from './dynamic-batcher.js';
export { estimateMemoryBytes } from './live-model.js';
export { releaseFreedMemory } from './memory-release.js';
export type { RunnerTensor } from './datatypes.js';

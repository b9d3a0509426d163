/**
 * @aimaas/compression: the compression service. Quantization (TF.js float16/uint8/uint16, ONNX
 * dynamic int8), magnitude pruning with a polynomial schedule, knowledge distillation and weight
 * clustering, as queued, watched, cancellable and resumable jobs; each result is measured against
 * its source and registered as a new version with its lineage.
 *
 * @example
 * const compression = await openCompression(nc, { registry: clients.registry, preprocessing: clients.preprocessing, logger });
 * server.add(CompressionServiceService, compression.handlers).onShutdown(() => compression.close());
 */
export { openCompression, COMPRESSION_CHECKPOINTS_BUCKET } from './open-compression.js';
export type { CompressionOpenOptions, CompressionReplica } from './open-compression.js';
export type { CompressionWorkerOptions } from './worker.js';
export { polynomialSparsity, MagnitudePruner } from './methods/prune.js';
export { kMeans1d, WeightClusterer } from './methods/cluster.js';
export { distillationLoss } from './methods/distill.js';

import { positiveIntegerSetting } from '@aimaas/runtime';

/**
 * The limits of a compression request (part of the contract; see README), checked at submit before
 * anything is allocated. The ones that bound memory can be set per deployment.
 */
export const COMPRESSION_LIMITS = {
  /** Longest model name, source name or alias. */
  maxNameLength: 128,
  /** Longest `request_id` and `prepared_dataset_id`. */
  maxIdLength: 256,
  /** Most fine-tune epochs (prune, cluster) and distillation epochs. */
  maxEpochs: 1_000,
  /** Most gradual pruning steps. */
  maxPruningSteps: 10_000_000,
  /** Most centroids per kernel (12-bit indices). */
  maxClusters: 4_096,
  /** Largest distillation temperature. */
  maxTemperature: 100,
  /** Most bytes of a source version's tfjs-layers and onnx files (a job holds them in memory). */
  maxSourceBytes: positiveIntegerSetting('AIMAAS_COMPRESSION_MAX_SOURCE_BYTES', 512 * 1024 * 1024),
  /** Most feature values of one split a job holds (64 Mi floats, 256 MiB: Fashion-MNIST's 60,000 × 784 fit). */
  maxSplitValues: positiveIntegerSetting('AIMAAS_COMPRESSION_MAX_SPLIT_VALUES', 64 * 1024 * 1024),
} as const;

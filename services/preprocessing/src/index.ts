export { openPreprocessing } from './open-preprocessing.js';
export type { PreprocessingReplica } from './open-preprocessing.js';
/**
 * @aimaas/preprocessing: the preprocessing service. Imports datasets (CSV, JSON Lines, JSON
 * arrays) as versioned columnar shards with profiles, prepares them with a fitted pipeline into
 * float32 tensors per split, streams those splits, and applies fitted pipelines to raw records.
 * `src/main.ts` is the process; this module is the service for tests and embedding.
 */
export type { PreprocessingOptions } from './preprocessing-options.js';
export { openDatasetBuckets } from './dataset-store.js';
export { JsonArrayParser, JsonLinesParser } from './json-parser.js';
export { Utf8StreamDecoder } from './utf8-stream.js';
export { decodeShard, encodeShard } from './shard-codec.js';

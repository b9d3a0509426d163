import * as tf from '@tensorflow/tfjs';
import { InvalidArtifactError } from './errors.js';
import { quantizeWeightData, weightByteLength, type WeightQuantization } from './quantization.js';

/** File name of the topology + manifest in the `tfjs-layers` format. */
export const MODEL_JSON = 'model.json';
/** File name of the single weights shard written by `saveModelToBytes`. */
export const WEIGHTS_BIN = 'weights.bin';

/** Options of `saveModelToBytes`. */
export interface SaveModelOptions {
  /** Quantize float32 weights in the manifest, as TF.js decodes them. @default none */
  quantization?: WeightQuantization;
  /** Also save the optimizer's state (for checkpoints a job resumes from). @default false */
  includeOptimizer?: boolean;
  /** Free-form JSON stored as `userDefinedMetadata` in model.json. */
  userDefinedMetadata?: Record<string, unknown>;
}

/** A model in the TF.js layers format, in memory. */
export interface ModelFiles {
  /** `model.json` and `weights.bin`, ready to store or to pass to `loadModelFromFiles`. */
  files: Map<string, Uint8Array>;
  /** The bytes of `model.json` (UTF-8). */
  modelJson: Uint8Array;
  /** The bytes of `weights.bin`. */
  weights: Uint8Array;
  /** The manifest inside model.json: `[{ paths: ['weights.bin'], weights: [...] }]`. */
  weightsManifest: tf.io.WeightsManifestConfig;
}

/**
 * Serializes a model to the TF.js layers format (model.json with a weightsManifest naming
 * `weights.bin`, plus weights.bin) without touching the filesystem.
 *
 * @example
 * const { files } = await saveModelToBytes(model, { quantization: 'uint8' });
 * await store.put('model.json', files.get('model.json')!);
 */
export async function saveModelToBytes(model: tf.LayersModel, options: SaveModelOptions = {}): Promise<ModelFiles> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      captured = artifacts;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
    { includeOptimizer: options.includeOptimizer ?? false },
  );
  if (!captured) throw new Error('TF.js did not produce model artifacts');
  const raw = captured.weightData == null ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(captured.weightData);
  let weights: Uint8Array = new Uint8Array(raw);
  let specs = captured.weightSpecs ?? [];
  if (options.quantization) ({ data: weights, specs } = quantizeWeightData(weights, specs, options.quantization));
  const weightsManifest: tf.io.WeightsManifestConfig = [{ paths: [WEIGHTS_BIN], weights: specs }];
  const json: tf.io.ModelJSON = {
    modelTopology: captured.modelTopology as tf.io.ModelJSON['modelTopology'],
    format: captured.format ?? 'layers-model',
    generatedBy: captured.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: captured.convertedBy ?? null,
    weightsManifest,
  };
  if (captured.trainingConfig) json.trainingConfig = captured.trainingConfig;
  if (options.userDefinedMetadata)
    json.userDefinedMetadata = options.userDefinedMetadata as tf.io.ModelJSON['userDefinedMetadata'];
  const modelJson = new TextEncoder().encode(JSON.stringify(json));
  const files = new Map<string, Uint8Array>([
    [MODEL_JSON, modelJson],
    [WEIGHTS_BIN, weights],
  ]);
  return { files, modelJson, weights, weightsManifest };
}

/** Options of `loadModelFromFiles`. */
export interface LoadModelOptions {
  /** Fail when a weight in the files has no variable in the model, or vice versa. @default true */
  strict?: boolean;
}

/**
 * Loads a TF.js layers model from in-memory files: `model.json` plus every shard its manifest
 * names (concatenated in manifest order; a path is matched exactly, then by base name). Quantized
 * manifests are decoded by TF.js itself. Works with any shard layout, not only `weights.bin`.
 *
 * @throws InvalidArtifactError naming the missing or malformed file.
 */
export async function loadModelFromFiles(
  files: ReadonlyMap<string, Uint8Array> | Readonly<Record<string, Uint8Array>>,
  options: LoadModelOptions = {},
): Promise<tf.LayersModel> {
  const map: ReadonlyMap<string, Uint8Array> = files instanceof Map ? files : new Map(Object.entries(files));
  const json = parseModelJson(map.get(MODEL_JSON));
  const specs: tf.io.WeightsManifestEntry[] = [];
  const shards: Uint8Array[] = [];
  for (const [g, group] of (json.weightsManifest ?? []).entries()) {
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new InvalidArtifactError(`model.json weightsManifest[${g}] needs paths and weights`);
    }
    specs.push(...group.weights);
    for (const path of group.paths) shards.push(findFile(map, path));
  }
  const total = shards.reduce((n, s) => n + s.byteLength, 0);
  let expected = 0;
  for (const spec of specs) expected += spec.dtype === 'string' ? Number.NaN : weightByteLength(spec);
  if (!Number.isNaN(expected) && expected !== total) {
    throw new InvalidArtifactError(
      `weight files hold ${total} bytes but model.json's weightsManifest describes ${expected}`,
    );
  }
  const weightData = new Uint8Array(total);
  let offset = 0;
  for (const s of shards) {
    weightData.set(s, offset);
    offset += s.byteLength;
  }
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: json.modelTopology,
    weightSpecs: specs,
    weightData: weightData.buffer,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
  };
  if (json.trainingConfig) artifacts.trainingConfig = json.trainingConfig;
  if (json.userDefinedMetadata) artifacts.userDefinedMetadata = json.userDefinedMetadata;
  try {
    return await tf.loadLayersModel(tf.io.fromMemory(artifacts), { strict: options.strict ?? true });
  } catch (error) {
    throw new InvalidArtifactError(`model.json could not be loaded: ${(error as Error).message}`, { cause: error });
  }
}

function parseModelJson(bytes: Uint8Array | undefined): tf.io.ModelJSON {
  if (!bytes) throw new InvalidArtifactError(`the files contain no ${MODEL_JSON}`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new InvalidArtifactError(`${MODEL_JSON} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (json == null || typeof json !== 'object' || (json as tf.io.ModelJSON).modelTopology == null) {
    throw new InvalidArtifactError(`${MODEL_JSON} has no modelTopology`);
  }
  return json as tf.io.ModelJSON;
}

function findFile(files: ReadonlyMap<string, Uint8Array>, path: string): Uint8Array {
  const exact = files.get(path) ?? files.get(path.replace(/^\.\//, ''));
  if (exact) return exact;
  const base = path.split('/').pop()!;
  for (const [name, bytes] of files) if (name.split('/').pop() === base) return bytes;
  throw new InvalidArtifactError(`weights file ${JSON.stringify(path)} named in ${MODEL_JSON} is missing`);
}

/** User metadata stored in a model.json, or undefined. */
export function readUserMetadata(modelJson: Uint8Array): Record<string, unknown> | undefined {
  return parseModelJson(modelJson).userDefinedMetadata as Record<string, unknown> | undefined;
}

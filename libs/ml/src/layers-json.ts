import * as tf from '@tensorflow/tfjs';
import { InvalidModelSpecError } from './errors.js';
import { SeedSequence, type BuildOptions } from './model-spec.js';

/** Initializer classes that draw random numbers and so accept a `seed`. */
const RANDOM_INITIALIZERS = new Set([
  'GlorotUniform',
  'GlorotNormal',
  'HeUniform',
  'HeNormal',
  'LeCunUniform',
  'LeCunNormal',
  'RandomUniform',
  'RandomNormal',
  'TruncatedNormal',
  'VarianceScaling',
  'Orthogonal',
]);
/** Layer classes whose config takes a `seed` for their noise. */
const SEEDED_LAYERS = new Set(['Dropout', 'SpatialDropout1D', 'AlphaDropout', 'GaussianDropout', 'GaussianNoise']);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Builds a model from a TF.js layers topology: a whole `model.json` (its `modelTopology` is used,
 * weights are not loaded) or the topology itself (`{"class_name": "Sequential", "config": …}`).
 * Initializers and noise layers without a seed get one from `options.seed`. The model must have
 * one input of `options.inputShape` and one output matching the task (last dimension
 * `outputSize`, or the input's shape for reconstruction).
 *
 * @throws InvalidModelSpecError (field `layersJson`) when the JSON or the shapes are wrong.
 */
export async function buildFromLayersJson(json: string, options: BuildOptions): Promise<tf.LayersModel> {
  let parsed: Json;
  try {
    parsed = JSON.parse(json) as Json;
  } catch (error) {
    throw new InvalidModelSpecError(`layersJson is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const topology = isObject(parsed) && isObject(parsed['modelTopology']) ? parsed['modelTopology'] : parsed;
  if (
    !isObject(topology) ||
    (typeof topology['class_name'] !== 'string' && typeof topology['className'] !== 'string')
  ) {
    throw new InvalidModelSpecError(
      'layersJson must be a TF.js model.json or a layers topology with class_name and config',
    );
  }
  injectSeeds(topology, new SeedSequence(options.seed));
  let model: tf.LayersModel;
  try {
    model = await tf.models.modelFromJSON({ modelTopology: topology as tf.io.ModelJSON['modelTopology'] });
  } catch (error) {
    throw new InvalidModelSpecError(`layersJson could not be turned into a model: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    checkShapes(model, options);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return value != null && typeof value === 'object' && !Array.isArray(value);
}

/** Depth-first, in document order, so the same JSON and seed always give the same seeds. */
function injectSeeds(node: Json, seeds: SeedSequence): void {
  if (Array.isArray(node)) {
    node.forEach((child) => injectSeeds(child, seeds));
    return;
  }
  if (!isObject(node)) return;
  const className = node['class_name'] ?? node['className'];
  const config = node['config'];
  if (typeof className === 'string' && isObject(config)) {
    if ((RANDOM_INITIALIZERS.has(className) || SEEDED_LAYERS.has(className)) && config['seed'] == null) {
      config['seed'] = seeds.next();
    }
  }
  for (const key of Object.keys(node)) injectSeeds(node[key]!, seeds);
}

function describeShape(shape: ReadonlyArray<number | null>): string {
  return `[${shape.map((d) => (d == null ? '?' : d)).join(', ')}]`;
}

function checkShapes(model: tf.LayersModel, options: BuildOptions): void {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new InvalidModelSpecError(
      `layersJson must describe a model with one input and one output, got ${model.inputs.length} and ${model.outputs.length}`,
    );
  }
  const inShape = model.inputs[0]!.shape.slice(1);
  const want = options.inputShape;
  const inputOk = inShape.length === want.length && inShape.every((d, i) => d == null || d === want[i]);
  if (!inputOk) {
    throw new InvalidModelSpecError(
      `layersJson input shape ${describeShape(inShape)} does not match the data's inputShape ${describeShape(want)}`,
    );
  }
  const outShape = model.outputs[0]!.shape.slice(1);
  if (options.task === 'reconstruction') {
    const same = outShape.length === want.length && outShape.every((d, i) => d == null || d === want[i]);
    if (!same) {
      throw new InvalidModelSpecError(
        `layersJson output shape ${describeShape(outShape)} must equal the input shape ${describeShape(want)} for reconstruction`,
      );
    }
    return;
  }
  const last = outShape[outShape.length - 1];
  if (outShape.length !== 1 || last !== options.outputSize) {
    throw new InvalidModelSpecError(
      `layersJson output shape ${describeShape(outShape)} must be [${options.outputSize}] (outputSize) for ${options.task}`,
    );
  }
}

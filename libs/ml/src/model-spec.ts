import { InvalidModelSpecError } from './errors.js';

/** What a model learns; decides its output activation and loss (see `buildModel`). */
export type Task = 'classification' | 'regression' | 'reconstruction';

/**
 * Element-wise activations a spec may name (TF.js names). `gelu_new` is left out: TF.js 4.22
 * saves it but cannot load it back.
 */
export const ACTIVATIONS = [
  'relu',
  'relu6',
  'elu',
  'selu',
  'sigmoid',
  'hardSigmoid',
  'tanh',
  'softplus',
  'softsign',
  'swish',
  'mish',
  'gelu',
  'linear',
] as const;
/** One of {@link ACTIVATIONS}. */
export type Activation = (typeof ACTIVATIONS)[number];

/** A multi-layer perceptron: Dense → [BatchNorm] → activation → [Dropout] per hidden layer. */
export interface MlpSpec {
  /** Units of each hidden layer, e.g. `[128, 64]`; may be empty (then it is a linear model). */
  hiddenUnits: number[];
  /** @default 'relu' */
  activation?: string;
  /** Dropout rate after each hidden layer, in [0, 1). @default 0 */
  dropout?: number;
  /** BatchNormalization between each Dense and its activation. @default false */
  batchNorm?: boolean;
}

/** One convolution block: Conv2D (+ activation) then an optional pooling layer. */
export interface ConvBlockSpec {
  filters: number;
  /** Square kernel side, or `[height, width]`. */
  kernelSize: number | [number, number];
  /** @default 1 */
  strides?: number | [number, number];
  /** @default 'same' */
  padding?: 'same' | 'valid';
  /** @default 'max' */
  pool?: 'max' | 'avg' | 'none';
  /** Pool window and stride. @default 2 */
  poolSize?: number;
  /** @default 'relu' */
  activation?: string;
}

/** A 2-D convolutional network on NHWC images: conv blocks → Flatten → Dense layers → output. */
export interface CnnSpec {
  convBlocks: ConvBlockSpec[];
  /** Hidden Dense layers after Flatten. @default [] */
  denseUnits?: number[];
  /**
   * Dropout after each hidden Dense layer (after Flatten when there is none), as in the
   * TensorFlow tutorial CNN: Flatten → Dense(1024) → Dropout(0.4) → output. @default 0
   */
  dropout?: number;
  /**
   * `[height, width, channels]` when the model's input is a flat feature vector (`inputShape`
   * `[h·w·c]`): the model starts with a Reshape. Without it a flat input must be a square image
   * with one channel (`[64]` → `[8, 8, 1]`).
   */
  imageShape?: [number, number, number];
}

/** A stacked recurrent network on `[timesteps, features]` inputs. */
export interface RnnSpec {
  cell: 'lstm' | 'gru';
  /** Units of each recurrent layer; all but the last return sequences. */
  units: number[];
  /** Wrap each recurrent layer in Bidirectional (concat merge). @default false */
  bidirectional?: boolean;
  /** Dropout after each recurrent layer. @default 0 */
  dropout?: number;
}

/** A dense autoencoder: encoder → latent → mirrored decoder → linear output of the input's size. */
export interface AutoencoderSpec {
  encoderUnits: number[];
  latentSize: number;
  /** @default 'relu' */
  activation?: string;
}

/** A single Dense layer: linear regression, or multinomial logistic regression. */
export type LinearSpec = Record<string, never>;

/**
 * The architecture of a model. Exactly one member is set; it mirrors the `ModelSpec` oneof of
 * `proto/aimaas/v1` (the services map the protobuf message onto this type).
 *
 * @example
 * const spec: ModelSpec = { mlp: { hiddenUnits: [64, 32], dropout: 0.1, batchNorm: true } };
 */
export interface ModelSpec {
  mlp?: MlpSpec;
  cnn?: CnnSpec;
  rnn?: RnnSpec;
  autoencoder?: AutoencoderSpec;
  linear?: LinearSpec;
  /** A TF.js layers topology (`model.json` or its `modelTopology`) for anything else. */
  layersJson?: string;
}

/** The kind of architecture a spec selects. */
export type ModelKind = keyof ModelSpec;

/** Data-dependent settings of `buildModel`. */
export interface BuildOptions {
  /** One example's shape, without the batch dimension: `[features]`, `[h, w, c]`, `[t, f]`. */
  inputShape: number[];
  /** Classes (classification) or targets (regression); ignored for reconstruction. */
  outputSize: number;
  task: Task;
  /** Seeds every initializer and dropout layer: the same seed gives identical weights. */
  seed: number;
}

const KINDS: readonly ModelKind[] = ['mlp', 'cnn', 'rnn', 'autoencoder', 'linear', 'layersJson'];

/**
 * Returns which architecture `spec` selects.
 *
 * @throws InvalidModelSpecError unless exactly one member is set.
 */
export function modelKind(spec: ModelSpec): ModelKind {
  const set = KINDS.filter((k) => spec[k] != null);
  if (set.length !== 1) {
    throw new InvalidModelSpecError(
      `spec must set exactly one of ${KINDS.join(', ')}; ` +
        (set.length === 0 ? 'none is set' : `got ${set.join(' and ')}`),
    );
  }
  return set[0]!;
}

/** Checks the data-dependent options; throws naming the offending field. */
export function checkBuildOptions(options: BuildOptions): void {
  const { inputShape, outputSize, task, seed } = options;
  if (!Array.isArray(inputShape) || inputShape.length === 0) {
    throw new InvalidModelSpecError('inputShape must be a non-empty list of positive integers');
  }
  inputShape.forEach((d, i) => positiveInt(d, `inputShape[${i}]`));
  if (task !== 'classification' && task !== 'regression' && task !== 'reconstruction') {
    throw new InvalidModelSpecError(
      `task must be classification, regression or reconstruction, got ${JSON.stringify(task)}`,
    );
  }
  if (task === 'classification' && !(Number.isInteger(outputSize) && outputSize >= 2)) {
    throw new InvalidModelSpecError(
      `outputSize must be the number of classes (an integer ≥ 2) for classification, got ${outputSize}`,
    );
  }
  if (task === 'regression') positiveInt(outputSize, 'outputSize');
  if (!Number.isFinite(seed)) throw new InvalidModelSpecError(`seed must be a finite number, got ${seed}`);
}

/** Throws unless `value` is an integer ≥ 1. */
export function positiveInt(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidModelSpecError(`${field} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Throws unless `value` is a rate in [0, 1); returns 0 when absent. */
export function rate(value: number | undefined, field: string): number {
  if (value == null) return 0;
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) {
    throw new InvalidModelSpecError(`${field} must be a rate in [0, 1), got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Throws unless `value` names a supported activation; returns `fallback` when absent. */
export function activation(value: string | undefined, field: string, fallback: Activation): Activation {
  if (value == null || value === '') return fallback;
  if (!(ACTIVATIONS as readonly string[]).includes(value)) {
    throw new InvalidModelSpecError(`${field} must be one of ${ACTIVATIONS.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as Activation;
}

/** A number or `[a, b]` as a pair of positive integers. */
export function pairOf(
  value: number | [number, number] | undefined,
  field: string,
  fallback: number,
): [number, number] {
  if (value == null) return [fallback, fallback];
  if (typeof value === 'number') return [positiveInt(value, field), value];
  if (!Array.isArray(value) || value.length !== 2) {
    throw new InvalidModelSpecError(`${field} must be a positive integer or [height, width]`);
  }
  return [positiveInt(value[0], `${field}[0]`), positiveInt(value[1], `${field}[1]`)];
}

/**
 * Derives a stream of well-spread integer seeds from one user seed, so each initializer and
 * dropout layer of a model gets its own seed and the whole model is reproducible.
 */
export class SeedSequence {
  private counter = 0;
  constructor(private readonly seed: number) {}

  /** The next seed, an integer in [0, 2^31). */
  next(): number {
    this.counter += 1;
    return mixSeed(this.seed, this.counter);
  }
}

/** A 32-bit avalanche hash of (seed, index); equal inputs give equal outputs. */
function mixSeed(seed: number, index: number): number {
  let h = (Math.trunc(seed) ^ Math.imul(index, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h & 0x7fffffff;
}

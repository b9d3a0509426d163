import * as tf from '@tensorflow/tfjs';
import { InvalidModelSpecError } from './errors.js';
import { buildFromLayersJson } from './layers-json.js';
import {
  activation,
  checkBuildOptions,
  modelKind,
  pairOf,
  positiveInt,
  rate,
  SeedSequence,
  type AutoencoderSpec,
  type BuildOptions,
  type CnnSpec,
  type MlpSpec,
  type ModelSpec,
  type RnnSpec,
} from './model-spec.js';

type AnyLayer = tf.layers.Layer;

/**
 * Builds an uncompiled TF.js model from a spec (exactly one member set) and the data's shape.
 *
 * Every model has one input layer named `input` and a last layer named `output`:
 * - classification: Dense(outputSize, softmax) — also for two classes, so scores always have one
 *   column per class and labels are one-hot (`categoricalCrossentropy`, see `compileModel`);
 * - regression: Dense(outputSize, linear) with MSE;
 * - reconstruction: Dense(input size, linear) with MSE, reshaped back to `inputShape`.
 * Weights come from seeded initializers (Glorot-uniform kernels, orthogonal recurrent kernels,
 * zero biases) and dropout layers are seeded, so the same spec, options and seed give the same
 * weights. `layersJson` topologies get seeds injected into initializers that have none.
 *
 * @throws InvalidModelSpecError naming the field that is wrong (e.g. `cnn.convBlocks[2].filters`).
 * @example
 * const model = await buildModel({ cnn: { convBlocks: [{ filters: 8, kernelSize: 3 }] } },
 *   { inputShape: [28, 28, 1], outputSize: 10, task: 'classification', seed: 42 });
 */
export async function buildModel(spec: ModelSpec, options: BuildOptions): Promise<tf.LayersModel> {
  checkBuildOptions(options);
  const kind = modelKind(spec);
  if (kind === 'layersJson') return buildFromLayersJson(spec.layersJson!, options);
  if ((kind === 'autoencoder') !== (options.task === 'reconstruction')) {
    throw new InvalidModelSpecError(
      kind === 'autoencoder'
        ? `an autoencoder spec needs task reconstruction, got ${options.task}`
        : `task reconstruction needs an autoencoder (or layersJson) spec, got ${kind}`,
    );
  }
  const seeds = new SeedSequence(options.seed);
  const layers: AnyLayer[] = [tf.layers.inputLayer({ inputShape: options.inputShape, name: 'input' })];
  if (kind === 'mlp') layers.push(...mlpLayers(spec.mlp!, options, seeds));
  if (kind === 'cnn') layers.push(...cnnLayers(spec.cnn!, options, seeds));
  if (kind === 'rnn') layers.push(...rnnLayers(spec.rnn!, options, seeds));
  if (kind === 'autoencoder') layers.push(...autoencoderLayers(spec.autoencoder!, options, seeds));
  if (kind === 'linear') layers.push(...flattenIfNeeded(options.inputShape));
  layers.push(...headLayers(options, seeds));
  const model = tf.sequential({ layers, name: kind });
  reseedBackwardLayers(model, seeds);
  return model;
}

function dense(units: number, act: string, name: string, seeds: SeedSequence, useBias = true): AnyLayer {
  return tf.layers.dense({
    units,
    activation: act as never,
    useBias,
    name,
    kernelInitializer: tf.initializers.glorotUniform({ seed: seeds.next() }),
    biasInitializer: 'zeros',
  });
}

function dropout(value: number, name: string, seeds: SeedSequence): AnyLayer[] {
  return value > 0 ? [tf.layers.dropout({ rate: value, seed: seeds.next(), name })] : [];
}

function flattenIfNeeded(inputShape: number[]): AnyLayer[] {
  return inputShape.length > 1 ? [tf.layers.flatten({ name: 'flatten' })] : [];
}

function headLayers(options: BuildOptions, seeds: SeedSequence): AnyLayer[] {
  const { task, inputShape, outputSize } = options;
  if (task === 'classification') return [dense(outputSize, 'softmax', 'output', seeds)];
  if (task === 'regression') return [dense(outputSize, 'linear', 'output', seeds)];
  const size = inputShape.reduce((a, b) => a * b, 1);
  if (inputShape.length === 1) return [dense(size, 'linear', 'output', seeds)];
  return [
    dense(size, 'linear', 'reconstruction', seeds),
    tf.layers.reshape({ targetShape: inputShape, name: 'output' }),
  ];
}

function mlpLayers(spec: MlpSpec, options: BuildOptions, seeds: SeedSequence): AnyLayer[] {
  if (!Array.isArray(spec.hiddenUnits)) throw new InvalidModelSpecError('mlp.hiddenUnits must be a list');
  const act = activation(spec.activation, 'mlp.activation', 'relu');
  const drop = rate(spec.dropout, 'mlp.dropout');
  const out = flattenIfNeeded(options.inputShape);
  spec.hiddenUnits.forEach((units, i) => {
    const n = i + 1;
    positiveInt(units, `mlp.hiddenUnits[${i}]`);
    if (spec.batchNorm) {
      // The BN shift replaces the Dense bias.
      out.push(dense(units, 'linear', `dense_${n}`, seeds, false));
      out.push(tf.layers.batchNormalization({ name: `batch_norm_${n}` }));
      out.push(tf.layers.activation({ activation: act as never, name: `activation_${n}` }));
    } else {
      out.push(dense(units, act, `dense_${n}`, seeds));
    }
    out.push(...dropout(drop, `dropout_${n}`, seeds));
  });
  return out;
}

function imageShapeOf(spec: CnnSpec, inputShape: number[]): [number, number, number] {
  if (inputShape.length === 3) return inputShape as [number, number, number];
  if (inputShape.length !== 1) {
    throw new InvalidModelSpecError(
      `cnn needs inputShape [height, width, channels] or a flat [features], got [${inputShape.join(', ')}]`,
    );
  }
  const n = inputShape[0]!;
  if (spec.imageShape != null) {
    const s = spec.imageShape;
    if (!Array.isArray(s) || s.length !== 3)
      throw new InvalidModelSpecError('cnn.imageShape must be [height, width, channels]');
    s.forEach((d, i) => positiveInt(d, `cnn.imageShape[${i}]`));
    if (s[0] * s[1] * s[2] !== n) {
      throw new InvalidModelSpecError(
        `cnn.imageShape [${s.join(', ')}] holds ${s[0] * s[1] * s[2]} values, but inputShape has ${n} features`,
      );
    }
    return [s[0], s[1], s[2]];
  }
  const side = Math.round(Math.sqrt(n));
  if (side * side !== n) {
    throw new InvalidModelSpecError(`cnn on ${n} flat features needs cnn.imageShape (${n} is not a square image)`);
  }
  return [side, side, 1];
}

function cnnLayers(spec: CnnSpec, options: BuildOptions, seeds: SeedSequence): AnyLayer[] {
  if (!Array.isArray(spec.convBlocks) || spec.convBlocks.length === 0) {
    throw new InvalidModelSpecError('cnn.convBlocks must list at least one block');
  }
  const image = imageShapeOf(spec, options.inputShape);
  const out: AnyLayer[] = [];
  if (options.inputShape.length === 1) out.push(tf.layers.reshape({ targetShape: image, name: 'to_image' }));
  let [h, w] = image;
  spec.convBlocks.forEach((block, i) => {
    const field = `cnn.convBlocks[${i}]`;
    const n = i + 1;
    const filters = positiveInt(block.filters, `${field}.filters`);
    const kernelSize = pairOf(block.kernelSize, `${field}.kernelSize`, 3);
    const strides = pairOf(block.strides, `${field}.strides`, 1);
    const padding = block.padding ?? 'same';
    if (padding !== 'same' && padding !== 'valid')
      throw new InvalidModelSpecError(`${field}.padding must be same or valid`);
    out.push(
      tf.layers.conv2d({
        filters,
        kernelSize,
        strides,
        padding,
        name: `conv_${n}`,
        activation: activation(block.activation, `${field}.activation`, 'relu') as never,
        kernelInitializer: tf.initializers.glorotUniform({ seed: seeds.next() }),
      }),
    );
    h = padding === 'same' ? Math.ceil(h / strides[0]) : Math.ceil((h - kernelSize[0] + 1) / strides[0]);
    w = padding === 'same' ? Math.ceil(w / strides[1]) : Math.ceil((w - kernelSize[1] + 1) / strides[1]);
    const pool = block.pool ?? 'max';
    if (pool !== 'max' && pool !== 'avg' && pool !== 'none')
      throw new InvalidModelSpecError(`${field}.pool must be max, avg or none`);
    if (pool !== 'none') {
      const size = positiveInt(block.poolSize ?? 2, `${field}.poolSize`);
      const args = { poolSize: size, strides: size, padding: 'valid' as const, name: `pool_${n}` };
      out.push(pool === 'max' ? tf.layers.maxPooling2d(args) : tf.layers.averagePooling2d(args));
      h = Math.floor((h - size) / size) + 1;
      w = Math.floor((w - size) / size) + 1;
    }
    if (!(h >= 1 && w >= 1)) {
      throw new InvalidModelSpecError(
        `${field} shrinks the ${image[0]}x${image[1]} image to nothing; use fewer blocks, padding same or a smaller pool`,
      );
    }
  });
  out.push(tf.layers.flatten({ name: 'flatten' }));
  const drop = rate(spec.dropout, 'cnn.dropout');
  (spec.denseUnits ?? []).forEach((units, i) => {
    positiveInt(units, `cnn.denseUnits[${i}]`);
    out.push(dense(units, 'relu', `dense_${i + 1}`, seeds));
    out.push(...dropout(drop, `dropout_${i + 1}`, seeds));
  });
  if ((spec.denseUnits ?? []).length === 0) out.push(...dropout(drop, 'dropout_output', seeds));
  return out;
}

function rnnLayers(spec: RnnSpec, options: BuildOptions, seeds: SeedSequence): AnyLayer[] {
  if (spec.cell !== 'lstm' && spec.cell !== 'gru')
    throw new InvalidModelSpecError(`rnn.cell must be lstm or gru, got ${JSON.stringify(spec.cell)}`);
  if (!Array.isArray(spec.units) || spec.units.length === 0)
    throw new InvalidModelSpecError('rnn.units must list at least one layer');
  const out: AnyLayer[] = [];
  if (options.inputShape.length === 1) {
    out.push(tf.layers.reshape({ targetShape: [options.inputShape[0]!, 1], name: 'to_sequence' }));
  } else if (options.inputShape.length !== 2) {
    throw new InvalidModelSpecError(
      `rnn needs inputShape [timesteps, features], got [${options.inputShape.join(', ')}]`,
    );
  }
  const drop = rate(spec.dropout, 'rnn.dropout');
  spec.units.forEach((units, i) => {
    const n = i + 1;
    const args = {
      units: positiveInt(units, `rnn.units[${i}]`),
      returnSequences: i < spec.units.length - 1,
      activation: 'tanh' as const,
      recurrentActivation: 'sigmoid' as const,
      kernelInitializer: tf.initializers.glorotUniform({ seed: seeds.next() }),
      recurrentInitializer: tf.initializers.orthogonal({ seed: seeds.next() }),
      name: `${spec.cell}_${n}`,
    };
    const cell = spec.cell === 'lstm' ? tf.layers.lstm(args) : tf.layers.gru(args);
    out.push(
      spec.bidirectional
        ? tf.layers.bidirectional({ layer: cell as tf.RNN, mergeMode: 'concat', name: `bidirectional_${n}` })
        : cell,
    );
    out.push(...dropout(drop, `dropout_${n}`, seeds));
  });
  return out;
}

function autoencoderLayers(spec: AutoencoderSpec, options: BuildOptions, seeds: SeedSequence): AnyLayer[] {
  if (!Array.isArray(spec.encoderUnits)) throw new InvalidModelSpecError('autoencoder.encoderUnits must be a list');
  const act = activation(spec.activation, 'autoencoder.activation', 'relu');
  const out = flattenIfNeeded(options.inputShape);
  spec.encoderUnits.forEach((u, i) => {
    out.push(dense(positiveInt(u, `autoencoder.encoderUnits[${i}]`), act, `encoder_${i + 1}`, seeds));
  });
  out.push(dense(positiveInt(spec.latentSize, 'autoencoder.latentSize'), act, 'latent', seeds));
  [...spec.encoderUnits].reverse().forEach((u, i) => out.push(dense(u, act, `decoder_${i + 1}`, seeds)));
  return out;
}

/**
 * Bidirectional copies its layer's config, seeds included, so both directions would start from
 * the same weights; give the backward direction its own draws.
 */
function reseedBackwardLayers(model: tf.LayersModel, seeds: SeedSequence): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'Bidirectional') continue;
    const backward = (layer as unknown as { backwardLayer: AnyLayer }).backwardLayer;
    const fresh = backward.weights.map((w) => {
      const seed = seeds.next();
      if (w.originalName.endsWith('/recurrent_kernel'))
        return tf.initializers.orthogonal({ seed }).apply(w.shape as number[]);
      if (w.originalName.endsWith('/kernel')) return tf.initializers.glorotUniform({ seed }).apply(w.shape as number[]);
      return tf.zeros(w.shape as number[]);
    });
    backward.setWeights(fresh);
    tf.dispose(fresh);
  }
}

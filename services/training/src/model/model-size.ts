import type { ModelSpec } from '@aimaas/proto';
import type { DataShape } from './training-model.js';

const positive = (v: unknown, fallback: number): number =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback;

/** Weights and biases of a dense chain through `widths`. */
function denseChain(widths: number[]): number {
  let total = 0;
  for (let i = 1; i < widths.length; i++) total += widths[i - 1]! * widths[i]! + widths[i]!;
  return total;
}

/**
 * An upper bound of a model's parameter count computed from its spec alone, before anything is
 * allocated (building a TF.js model allocates its weights): exact for mlp and linear, following
 * the block arithmetic of the CNN builder for cnn, gate counts for rnn, and for a `layers_json`
 * topology every Dense/Conv/recurrent layer as if fed by the widest input it could be.
 */
export function modelParameterBound(spec: ModelSpec, shape: DataShape): number {
  const features = shape.featureSize;
  const out = shape.outputSize;
  if (spec.linear) return denseChain([features, out]);
  if (spec.mlp)
    return (
      denseChain([features, ...spec.mlp.hiddenUnits, out]) +
      (spec.mlp.batchNorm ? 4 * spec.mlp.hiddenUnits.reduce((a, b) => a + b, 0) : 0)
    );
  if (spec.cnn) {
    const image =
      spec.inputShape.length === 3
        ? spec.inputShape
        : shape.featureShape.length === 3
          ? shape.featureShape
          : [features, 1, 1];
    let [h, w, c] = image as [number, number, number];
    let total = 0;
    for (const block of spec.cnn.convBlocks) {
      const k = positive(block.kernelSize, 3);
      const s = positive(block.strides, 1);
      total += k * k * c * block.filters + block.filters;
      c = block.filters;
      h = Math.max(1, Math.ceil(h / s));
      w = Math.max(1, Math.ceil(w / s));
      if (block.pool !== 'none') {
        const p = positive(block.poolSize, 2);
        h = Math.max(1, Math.floor(h / p));
        w = Math.max(1, Math.floor(w / p));
      }
    }
    return total + denseChain([h * w * c, ...spec.cnn.denseUnits, out]);
  }
  if (spec.rnn) {
    const gates = spec.rnn.cell === 'gru' ? 3 : 4;
    const directions = spec.rnn.bidirectional ? 2 : 1;
    let input = spec.inputShape.length === 2 ? spec.inputShape[1]! : (shape.featureShape.at(-1) ?? features);
    let total = 0;
    for (const units of spec.rnn.units) {
      total += directions * gates * (input * units + units * units + 2 * units);
      input = directions * units;
    }
    return total + denseChain([input, out]);
  }
  if (spec.autoencoder) {
    const widths = [features, ...spec.autoencoder.encoderUnits, spec.autoencoder.latentSize];
    return 2 * denseChain(widths);
  }
  if (spec.layersJson !== undefined) return layersJsonBound(spec.layersJson, features);
  return 0;
}

/** See {@link modelParameterBound}; a topology that is not JSON counts 0 (training's checks refuse it). */
function layersJsonBound(json: string, features: number): number {
  let topology: unknown;
  try {
    topology = JSON.parse(json);
  } catch {
    return 0;
  }
  const layers: unknown[] = [];
  const walk = (node: unknown, depth: number): void => {
    if (depth > 16 || node === null || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (typeof record.class_name === 'string' && record.config && typeof record.config === 'object')
      layers.push(record);
    for (const value of Object.values(record)) walk(value, depth + 1);
  };
  walk(topology, 0);
  // Bounds of what feeds the next layer: the widest dense/recurrent output so far, and (for a
  // Dense after a Flatten) every feature position times the most conv filters so far.
  let widest = features;
  let filters = 1;
  let total = 0;
  for (const layer of layers as Array<{ class_name: string; config: Record<string, unknown> }>) {
    const isConv = /Conv/.test(layer.class_name);
    const units = positive(isConv ? layer.config.filters : layer.config.units, 0);
    if (units === 0) continue;
    const gates = /LSTM/.test(layer.class_name)
      ? 4
      : /GRU/.test(layer.class_name)
        ? 3
        : /RNN/.test(layer.class_name)
          ? 1
          : 0;
    if (isConv) {
      const kernel = Array.isArray(layer.config.kernel_size)
        ? (layer.config.kernel_size as unknown[]).reduce((a: number, b) => a * positive(b, 1), 1)
        : positive(layer.config.kernel_size, 1) ** 2;
      total += kernel * Math.max(filters, features) * units + units;
      filters = Math.max(filters, units);
    } else {
      const input = Math.max(widest, features * filters);
      total += gates > 0 ? gates * (input * units + units * units + 2 * units) : input * units + units;
      widest = Math.max(widest, units);
    }
  }
  return total;
}

/** The layers a spec asks for: hidden layers, conv blocks plus dense layers, recurrent layers, or a topology's layers. */
export function modelLayerCount(spec: ModelSpec): number {
  if (spec.mlp) return spec.mlp.hiddenUnits.length;
  if (spec.cnn) return spec.cnn.convBlocks.length + spec.cnn.denseUnits.length;
  if (spec.rnn) return spec.rnn.units.length;
  if (spec.autoencoder) return 2 * spec.autoencoder.encoderUnits.length + 1;
  if (spec.layersJson !== undefined) {
    // Counting `"class_name"` occurrences bounds the layers without parsing an oversized topology.
    let count = 0;
    for (
      let at = spec.layersJson.indexOf('"class_name"');
      at >= 0;
      at = spec.layersJson.indexOf('"class_name"', at + 1)
    )
      count++;
    return count;
  }
  return 1;
}

import { attr, ElemType } from './onnx-graph.js';
import { activate } from './activations.js';
import type { ConvertContext, LayerConverter, OnnxValue } from './convert-context.js';

/** Converters for normalization, noise (identity at inference), activation, merge and embedding layers. */

const passThrough: LayerConverter = (ctx) => [ctx.inputs[0]!];

function single(ctx: ConvertContext): OnnxValue {
  return ctx.inputs[0]!;
}

function axisOf(ctx: ConvertContext, rank: number, fallback = -1): number {
  const raw = ctx.config['axis'] ?? fallback;
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length !== 1 || typeof list[0] !== 'number') ctx.fail(`axis ${JSON.stringify(raw)} (one axis only)`);
  const axis = list[0] as number;
  return axis < 0 ? rank + axis : axis;
}

/** Inference-time BatchNormalization folded into y = x·a + b per channel (computed in float64). */
const BatchNormalization: LayerConverter = (ctx) => {
  const v = single(ctx);
  const rank = v.shape.length;
  const axis = axisOf(ctx, rank);
  if (axis === 0) ctx.fail('axis 0 is the batch axis');
  const eps = Number(ctx.config['epsilon'] ?? 1e-3);
  const mean = ctx.weight('moving_mean').values;
  const variance = ctx.weight('moving_variance').values;
  const gamma = ctx.maybeWeight('gamma')?.values;
  const beta = ctx.maybeWeight('beta')?.values;
  const scale = new Float32Array(mean.length);
  const shift = new Float32Array(mean.length);
  for (let c = 0; c < mean.length; c++) {
    const a = (gamma ? gamma[c]! : 1) / Math.sqrt(variance[c]! + eps);
    scale[c] = a;
    shift[c] = (beta ? beta[c]! : 0) - mean[c]! * a;
  }
  const channelsFirst = rank === 4 && v.layout === 'nchw' && axis === 3;
  const x = channelsFirst ? v.name : ctx.nhwc(v);
  const trailing = channelsFirst ? 2 : rank - 1 - axis;
  const dims = [mean.length, ...Array<number>(trailing).fill(1)];
  const { g, hint } = ctx;
  const y = g.op(
    'Add',
    [
      g.op('Mul', [x, g.floatConst(`${hint}/scale`, scale, dims)], {}, hint),
      g.floatConst(`${hint}/shift`, shift, dims),
    ],
    {},
    hint,
  );
  return [{ name: y, shape: ctx.outputShapes[0]!, layout: channelsFirst ? 'nchw' : 'nhwc' }];
};

/** LayerNormalization over the last axis, decomposed into opset-13 ops. */
const LayerNormalization: LayerConverter = (ctx) => {
  const v = single(ctx);
  const rank = v.shape.length;
  if (axisOf(ctx, rank) !== rank - 1) ctx.fail('axis other than the last');
  const { g, hint } = ctx;
  const x = ctx.nhwc(v);
  const reduce = { axes: attr.ints([-1]), keepdims: attr.int(1) };
  const centered = g.op('Sub', [x, g.op('ReduceMean', [x], reduce, hint)], {}, hint);
  const variance = g.op('ReduceMean', [g.op('Mul', [centered, centered], {}, hint)], reduce, hint);
  const eps = g.floatConst(`${hint}/epsilon`, [Number(ctx.config['epsilon'] ?? 1e-3)], []);
  let y = g.op('Div', [centered, g.op('Sqrt', [g.op('Add', [variance, eps], {}, hint)], {}, hint)], {}, hint);
  const gamma = ctx.maybeWeight('gamma');
  const beta = ctx.maybeWeight('beta');
  if (gamma) y = g.op('Mul', [y, g.floatConst(`${hint}/gamma`, gamma.values, gamma.shape)], {}, hint);
  if (beta) y = g.op('Add', [y, g.floatConst(`${hint}/beta`, beta.values, beta.shape)], {}, hint);
  return [{ name: y, shape: ctx.outputShapes[0]!, layout: 'nhwc' }];
};

const Activation: LayerConverter = (ctx) => [activate(ctx, single(ctx), ctx.config['activation'])];

const ReLU: LayerConverter = (ctx) => {
  const v = single(ctx);
  const max = ctx.config['maxValue'];
  if (max == null) return [activate(ctx, v, 'relu')];
  const { g, hint } = ctx;
  const y = g.op(
    'Clip',
    [v.name, g.floatConst(`${hint}/min`, [0], []), g.floatConst(`${hint}/max`, [Number(max)], [])],
    {},
    hint,
  );
  return [{ ...v, name: y }];
};

function withAlpha(op: string, key: string, fallback: number): LayerConverter {
  return (ctx) => {
    const v = single(ctx);
    const y = ctx.g.op(op, [v.name], { alpha: attr.float(Number(ctx.config[key] ?? fallback)) }, ctx.hint);
    return [{ ...v, name: y }];
  };
}

const PReLU: LayerConverter = (ctx) => {
  const v = single(ctx);
  const alpha = ctx.weight('alpha');
  const y = ctx.g.op(
    'PRelu',
    [ctx.nhwc(v), ctx.g.floatConst(`${ctx.hint}/alpha`, alpha.values, alpha.shape)],
    {},
    ctx.hint,
  );
  return [{ name: y, shape: ctx.outputShapes[0]!, layout: 'nhwc' }];
};

const Softmax: LayerConverter = (ctx) => {
  const v = single(ctx);
  if (axisOf(ctx, v.shape.length) !== v.shape.length - 1) ctx.fail('softmax over an axis other than the last');
  return [activate(ctx, v, 'softmax')];
};

/** Inputs in one shared layout: NCHW only if every input is a rank-4 NCHW tensor. */
function alignedInputs(ctx: ConvertContext): { names: string[]; layout: 'nhwc' | 'nchw' } {
  const allNchw = ctx.inputs.every((v) => v.shape.length === 4 && v.layout === 'nchw');
  return allNchw
    ? { names: ctx.inputs.map((v) => v.name), layout: 'nchw' }
    : { names: ctx.inputs.map((v) => ctx.nhwc(v)), layout: 'nhwc' };
}

function variadic(op: 'Sum' | 'Mean' | 'Max' | 'Min'): LayerConverter {
  return (ctx) => {
    const { names, layout } = alignedInputs(ctx);
    return [{ name: ctx.g.op(op, names, {}, ctx.hint), shape: ctx.outputShapes[0]!, layout }];
  };
}

const Multiply: LayerConverter = (ctx) => {
  const { names, layout } = alignedInputs(ctx);
  const y = names.slice(1).reduce((acc, n) => ctx.g.op('Mul', [acc, n], {}, ctx.hint), names[0]!);
  return [{ name: y, shape: ctx.outputShapes[0]!, layout }];
};

const Concatenate: LayerConverter = (ctx) => {
  const rank = ctx.inputs[0]!.shape.length;
  const axis = axisOf(ctx, rank);
  const y = ctx.g.op(
    'Concat',
    ctx.inputs.map((v) => ctx.nhwc(v)),
    { axis: attr.int(axis) },
    ctx.hint,
  );
  return [{ name: y, shape: ctx.outputShapes[0]!, layout: 'nhwc' }];
};

/** Embedding: Gather rows of the table by the (float or int) ids, cast to int64. */
const Embedding: LayerConverter = (ctx) => {
  const v = single(ctx);
  if (ctx.config['maskZero'] === true) ctx.fail('maskZero');
  const table = ctx.weight('embeddings');
  const { g, hint } = ctx;
  const ids = g.op('Cast', [ctx.nhwc(v)], { to: attr.int(ElemType.INT64) }, hint);
  const y = g.op(
    'Gather',
    [g.floatConst(`${hint}/embeddings`, table.values, table.shape), ids],
    { axis: attr.int(0) },
    hint,
  );
  return [{ name: y, shape: ctx.outputShapes[0]!, layout: 'nhwc' }];
};

/** Converters by TF.js class name. */
export const TENSOR_CONVERTERS: Record<string, LayerConverter> = {
  Dropout: passThrough,
  SpatialDropout1D: passThrough,
  GaussianNoise: passThrough,
  GaussianDropout: passThrough,
  AlphaDropout: passThrough,
  BatchNormalization,
  LayerNormalization,
  Activation,
  ReLU,
  LeakyReLU: withAlpha('LeakyRelu', 'alpha', 0.3),
  ELU: withAlpha('Elu', 'alpha', 1),
  ThresholdedReLU: withAlpha('ThresholdedRelu', 'theta', 1),
  PReLU,
  Softmax,
  Add: variadic('Sum'),
  Average: variadic('Mean'),
  Maximum: variadic('Max'),
  Minimum: variadic('Min'),
  Multiply,
  Concatenate,
  Embedding,
};

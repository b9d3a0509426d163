import { attr } from './onnx-graph.js';
import { activate } from './activations.js';
import {
  pairConfig,
  spatialPads,
  type ConvertContext,
  type LayerConverter,
  type OnnxValue,
  type WeightArray,
} from './convert-context.js';

/** Converters for Dense and the 2-D spatial layers (convolutions, pooling, padding). */

function checkChannelsLast(ctx: ConvertContext): void {
  const format = ctx.config['dataFormat'];
  if (format != null && format !== 'channelsLast') ctx.fail(`dataFormat ${String(format)} (only channelsLast)`);
}

/** `[top, left, bottom, right]` ONNX pads for a 2-D window over `v`. */
function pads2d(
  ctx: ConvertContext,
  v: OnnxValue,
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number],
): number[] {
  const padding = String(ctx.config['padding'] ?? 'valid');
  if (padding !== 'same' && padding !== 'valid') ctx.fail(`padding ${padding}`);
  try {
    const [t, b] = spatialPads(v.shape[1] ?? null, kernel[0], strides[0], dilations[0], padding);
    const [l, r] = spatialPads(v.shape[2] ?? null, kernel[1], strides[1], dilations[1], padding);
    return [t, l, b, r];
  } catch (error) {
    return ctx.fail((error as Error).message);
  }
}

/** TF.js `[kh, kw, in, out]` kernel → ONNX `[out, in, kh, kw]`. */
function convKernel(k: WeightArray): { values: Float32Array; dims: number[] } {
  const [kh, kw, ci, co] = k.shape as [number, number, number, number];
  const out = new Float32Array(k.values.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++)
          out[((o * ci + i) * kh + y) * kw + x] = k.values[((y * kw + x) * ci + i) * co + o]!;
      }
    }
  }
  return { values: out, dims: [co, ci, kh, kw] };
}

/** TF.js depthwise `[kh, kw, c, m]` kernel → ONNX grouped `[c·m, 1, kh, kw]` (group = c). */
function depthwiseKernel(k: WeightArray): { values: Float32Array; dims: number[]; groups: number } {
  const [kh, kw, c, m] = k.shape as [number, number, number, number];
  const out = new Float32Array(k.values.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let ch = 0; ch < c; ch++) {
        for (let j = 0; j < m; j++) out[((ch * m + j) * kh + y) * kw + x] = k.values[((y * kw + x) * c + ch) * m + j]!;
      }
    }
  }
  return { values: out, dims: [c * m, 1, kh, kw], groups: c };
}

function conv(
  ctx: ConvertContext,
  x: string,
  kernel: { values: Float32Array; dims: number[] },
  extra: {
    strides: [number, number];
    dilations: [number, number];
    pads: number[];
    group?: number;
    bias?: WeightArray;
    tag: string;
  },
): string {
  const { g, hint } = ctx;
  const inputs = [x, g.floatConst(`${hint}/${extra.tag}`, kernel.values, kernel.dims)];
  if (extra.bias) inputs.push(g.floatConst(`${hint}/bias`, extra.bias.values, extra.bias.shape));
  return g.op(
    'Conv',
    inputs,
    {
      kernel_shape: attr.ints(kernel.dims.slice(2)),
      strides: attr.ints(extra.strides),
      dilations: attr.ints(extra.dilations),
      pads: attr.ints(extra.pads),
      group: attr.int(extra.group ?? 1),
    },
    hint,
  );
}

const Dense: LayerConverter = (ctx) => {
  const [v] = ctx.inputs as [OnnxValue];
  const k = ctx.weight('kernel');
  const b = ctx.maybeWeight('bias');
  let y = ctx.g.op('MatMul', [ctx.nhwc(v), ctx.g.floatConst(`${ctx.hint}/kernel`, k.values, k.shape)], {}, ctx.hint);
  if (b) y = ctx.g.op('Add', [y, ctx.g.floatConst(`${ctx.hint}/bias`, b.values, b.shape)], {}, ctx.hint);
  return [activate(ctx, { name: y, shape: ctx.outputShapes[0]!, layout: 'nhwc' }, ctx.config['activation'])];
};

const Conv2D: LayerConverter = (ctx) => {
  checkChannelsLast(ctx);
  const [v] = ctx.inputs as [OnnxValue];
  const k = ctx.weight('kernel');
  const kernel = convKernel(k);
  const strides = pairConfig(ctx.config['strides'], 1);
  const dilations = pairConfig(ctx.config['dilationRate'], 1);
  const pads = pads2d(ctx, v, [kernel.dims[2]!, kernel.dims[3]!], strides, dilations);
  const y = conv(ctx, ctx.nchw(v), kernel, { strides, dilations, pads, bias: ctx.maybeWeight('bias'), tag: 'kernel' });
  return [activate(ctx, { name: y, shape: ctx.outputShapes[0]!, layout: 'nchw' }, ctx.config['activation'])];
};

const DepthwiseConv2D: LayerConverter = (ctx) => {
  checkChannelsLast(ctx);
  const [v] = ctx.inputs as [OnnxValue];
  const kernel = depthwiseKernel(ctx.weight('depthwise_kernel'));
  const strides = pairConfig(ctx.config['strides'], 1);
  const dilations = pairConfig(ctx.config['dilationRate'], 1);
  const pads = pads2d(ctx, v, [kernel.dims[2]!, kernel.dims[3]!], strides, dilations);
  const y = conv(ctx, ctx.nchw(v), kernel, {
    strides,
    dilations,
    pads,
    group: kernel.groups,
    bias: ctx.maybeWeight('bias'),
    tag: 'depthwise_kernel',
  });
  return [activate(ctx, { name: y, shape: ctx.outputShapes[0]!, layout: 'nchw' }, ctx.config['activation'])];
};

const SeparableConv2D: LayerConverter = (ctx) => {
  checkChannelsLast(ctx);
  const [v] = ctx.inputs as [OnnxValue];
  const depthwise = depthwiseKernel(ctx.weight('depthwise_kernel'));
  const strides = pairConfig(ctx.config['strides'], 1);
  const dilations = pairConfig(ctx.config['dilationRate'], 1);
  const pads = pads2d(ctx, v, [depthwise.dims[2]!, depthwise.dims[3]!], strides, dilations);
  const mid = conv(ctx, ctx.nchw(v), depthwise, {
    strides,
    dilations,
    pads,
    group: depthwise.groups,
    tag: 'depthwise_kernel',
  });
  const y = conv(ctx, mid, convKernel(ctx.weight('pointwise_kernel')), {
    strides: [1, 1],
    dilations: [1, 1],
    pads: [0, 0, 0, 0],
    bias: ctx.maybeWeight('bias'),
    tag: 'pointwise_kernel',
  });
  return [activate(ctx, { name: y, shape: ctx.outputShapes[0]!, layout: 'nchw' }, ctx.config['activation'])];
};

function pooling(op: 'MaxPool' | 'AveragePool'): LayerConverter {
  return (ctx) => {
    checkChannelsLast(ctx);
    const [v] = ctx.inputs as [OnnxValue];
    const kernel = pairConfig(ctx.config['poolSize'], 2);
    const strides = pairConfig(ctx.config['strides'] ?? ctx.config['poolSize'], 2);
    const pads = pads2d(ctx, v, kernel, strides, [1, 1]);
    const attrs = { kernel_shape: attr.ints(kernel), strides: attr.ints(strides), pads: attr.ints(pads) };
    // TF averages over the window's valid pixels only.
    if (op === 'AveragePool') Object.assign(attrs, { count_include_pad: attr.int(0) });
    const y = ctx.g.op(op, [ctx.nchw(v)], attrs, ctx.hint);
    return [{ name: y, shape: ctx.outputShapes[0]!, layout: 'nchw' }];
  };
}

function globalPooling2d(op: 'GlobalAveragePool' | 'GlobalMaxPool'): LayerConverter {
  return (ctx) => {
    checkChannelsLast(ctx);
    if (ctx.config['keepDims'] === true) ctx.fail('keepDims');
    const [v] = ctx.inputs as [OnnxValue];
    const pooled = ctx.g.op(op, [ctx.nchw(v)], {}, ctx.hint);
    const y = ctx.g.op('Flatten', [pooled], { axis: attr.int(1) }, ctx.hint);
    return [{ name: y, shape: ctx.outputShapes[0]!, layout: 'nhwc' }];
  };
}

function globalPooling1d(op: 'ReduceMean' | 'ReduceMax'): LayerConverter {
  return (ctx) => {
    checkChannelsLast(ctx);
    const [v] = ctx.inputs as [OnnxValue];
    const y = ctx.g.op(op, [ctx.nhwc(v)], { axes: attr.ints([1]), keepdims: attr.int(0) }, ctx.hint);
    return [{ name: y, shape: ctx.outputShapes[0]!, layout: 'nhwc' }];
  };
}

const ZeroPadding2D: LayerConverter = (ctx) => {
  checkChannelsLast(ctx);
  const [v] = ctx.inputs as [OnnxValue];
  const p = ctx.config['padding'] as [[number, number], [number, number]];
  const [[t, b], [l, r]] = p;
  const nchw = v.layout === 'nchw';
  const pads = nchw ? [0, 0, t, l, 0, 0, b, r] : [0, t, l, 0, 0, b, r, 0];
  const y = ctx.g.op('Pad', [v.name, ctx.g.int64Const(`${ctx.hint}/pads`, pads)], {}, ctx.hint);
  return [{ name: y, shape: ctx.outputShapes[0]!, layout: v.layout }];
};

/** Flatten keeps TF.js (NHWC) element order, so a transposed input is brought back first. */
const Flatten: LayerConverter = (ctx) => {
  const [v] = ctx.inputs as [OnnxValue];
  const y = ctx.g.op('Flatten', [ctx.nhwc(v)], { axis: attr.int(1) }, ctx.hint);
  return [{ name: y, shape: ctx.outputShapes[0]!, layout: 'nhwc' }];
};

const Reshape: LayerConverter = (ctx) => {
  const [v] = ctx.inputs as [OnnxValue];
  // TF.js serializes the inferred dimension (-1) as null; 0 copies the batch dimension.
  const target = (ctx.config['targetShape'] as Array<number | null>).map((d) => d ?? -1);
  const shape = ctx.g.int64Const(`${ctx.hint}/shape`, [0, ...target]);
  const y = ctx.g.op('Reshape', [ctx.nhwc(v), shape], {}, ctx.hint);
  return [{ name: y, shape: ctx.outputShapes[0]!, layout: 'nhwc' }];
};

const Permute: LayerConverter = (ctx) => {
  const [v] = ctx.inputs as [OnnxValue];
  const dims = ctx.config['dims'] as number[];
  const y = ctx.g.op('Transpose', [ctx.nhwc(v)], { perm: attr.ints([0, ...dims]) }, ctx.hint);
  return [{ name: y, shape: ctx.outputShapes[0]!, layout: 'nhwc' }];
};

const RepeatVector: LayerConverter = (ctx) => {
  const [v] = ctx.inputs as [OnnxValue];
  const n = ctx.config['n'] as number;
  const expanded = ctx.g.op('Unsqueeze', [ctx.nhwc(v), ctx.g.int64Const(`${ctx.hint}/axes`, [1])], {}, ctx.hint);
  const y = ctx.g.op('Tile', [expanded, ctx.g.int64Const(`${ctx.hint}/repeats`, [1, n, 1])], {}, ctx.hint);
  return [{ name: y, shape: ctx.outputShapes[0]!, layout: 'nhwc' }];
};

/** Converters by TF.js class name. */
export const SPATIAL_CONVERTERS: Record<string, LayerConverter> = {
  Dense,
  Conv2D,
  DepthwiseConv2D,
  SeparableConv2D,
  ZeroPadding2D,
  Flatten,
  Reshape,
  Permute,
  RepeatVector,
  MaxPooling2D: pooling('MaxPool'),
  AveragePooling2D: pooling('AveragePool'),
  GlobalAveragePooling2D: globalPooling2d('GlobalAveragePool'),
  GlobalMaxPooling2D: globalPooling2d('GlobalMaxPool'),
  GlobalAveragePooling1D: globalPooling1d('ReduceMean'),
  GlobalMaxPooling1D: globalPooling1d('ReduceMax'),
};

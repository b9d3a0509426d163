import { attr, type OnnxGraph } from './onnx-graph.js';
import type { ConvertContext, OnnxValue } from './convert-context.js';

/** TF.js selu constants (tfjs-core `selu_util`): alpha = SCALEALPHA / SCALE. */
const SELU_SCALE = 1.0507009873554805;
const SELU_ALPHA = 1.7580993408473768 / SELU_SCALE;

type ElementWise = (g: OnnxGraph, x: string, hint: string) => string;

function scalar(g: OnnxGraph, hint: string, value: number): string {
  return g.floatConst(`${hint}/const`, [value], []);
}

/** Element-wise activations, named as TF.js serializes them. */
const ELEMENT_WISE: Record<string, ElementWise> = {
  relu: (g, x, h) => g.op('Relu', [x], {}, h),
  relu6: (g, x, h) => g.op('Clip', [x, scalar(g, `${h}/min`, 0), scalar(g, `${h}/max`, 6)], {}, h),
  elu: (g, x, h) => g.op('Elu', [x], { alpha: attr.float(1) }, h),
  selu: (g, x, h) => g.op('Selu', [x], { alpha: attr.float(SELU_ALPHA), gamma: attr.float(SELU_SCALE) }, h),
  sigmoid: (g, x, h) => g.op('Sigmoid', [x], {}, h),
  hardSigmoid: (g, x, h) => g.op('HardSigmoid', [x], { alpha: attr.float(0.2), beta: attr.float(0.5) }, h),
  tanh: (g, x, h) => g.op('Tanh', [x], {}, h),
  softplus: (g, x, h) => g.op('Softplus', [x], {}, h),
  softsign: (g, x, h) => g.op('Softsign', [x], {}, h),
  swish: (g, x, h) => g.op('Mul', [x, g.op('Sigmoid', [x], {}, h)], {}, h),
  mish: (g, x, h) => g.op('Mul', [x, g.op('Tanh', [g.op('Softplus', [x], {}, h)], {}, h)], {}, h),
  gelu: (g, x, h) => {
    // x · ½(1 + erf(x / √2)), as TF.js computes it.
    const erf = g.op('Erf', [g.op('Div', [x, scalar(g, `${h}/sqrt2`, Math.SQRT2)], {}, h)], {}, h);
    const cdf = g.op('Mul', [g.op('Add', [erf, scalar(g, `${h}/one`, 1)], {}, h), scalar(g, `${h}/half`, 0.5)], {}, h);
    return g.op('Mul', [x, cdf], {}, h);
  },
  gelu_new: (g, x, h) => {
    // ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
    const cube = g.op('Mul', [g.op('Mul', [x, x], {}, h), x], {}, h);
    const inner = g.op('Add', [x, g.op('Mul', [cube, scalar(g, `${h}/c`, 0.044715)], {}, h)], {}, h);
    const t = g.op('Tanh', [g.op('Mul', [inner, scalar(g, `${h}/k`, Math.sqrt(2 / Math.PI))], {}, h)], {}, h);
    const onePlus = g.op('Add', [t, scalar(g, `${h}/one`, 1)], {}, h);
    return g.op('Mul', [g.op('Mul', [x, onePlus], {}, h), scalar(g, `${h}/half`, 0.5)], {}, h);
  },
};

/** Activation names this exporter can write. */
const EXPORTABLE_ACTIVATIONS = ['linear', 'softmax', 'logSoftmax', ...Object.keys(ELEMENT_WISE)];

/**
 * Applies a TF.js activation (by its serialized name) to `v`. softmax/logSoftmax act on the last
 * TF.js axis, so they first bring a transposed tensor back to NHWC.
 */
export function activate(ctx: ConvertContext, v: OnnxValue, name: unknown): OnnxValue {
  const act = typeof name === 'string' ? name : 'linear';
  if (act === 'linear') return v;
  const hint = `${ctx.hint}/${act}`;
  if (act === 'softmax' || act === 'logSoftmax') {
    const op = act === 'softmax' ? 'Softmax' : 'LogSoftmax';
    return { name: ctx.g.op(op, [ctx.nhwc(v)], { axis: attr.int(-1) }, hint), shape: v.shape, layout: 'nhwc' };
  }
  const fn = ELEMENT_WISE[act];
  if (!fn) return ctx.fail(`activation "${act}" is not supported (supported: ${EXPORTABLE_ACTIVATIONS.join(', ')})`);
  return { name: fn(ctx.g, v.name, hint), shape: v.shape, layout: v.layout };
}

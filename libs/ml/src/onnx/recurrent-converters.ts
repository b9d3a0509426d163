import type * as tf from '@tensorflow/tfjs';
import { attr, type Attr } from './onnx-graph.js';
import type { ConvertContext, LayerConverter, OnnxValue } from './convert-context.js';

/**
 * LSTM, GRU and SimpleRNN (alone or in Bidirectional) as the ONNX LSTM / GRU / RNN operators.
 *
 * Gate layouts: a TF.js LSTM kernel is `[in, 4·units]` in gate order i, f, c, o; ONNX wants
 * `W[dir, 4·units, in]` in order i, o, f, c. TF.js 4.22 GRU has gates z, r, h (same order as
 * ONNX), applies the reset gate before the recurrent product (reset_after is unsupported in
 * TF.js), so it matches ONNX `linear_before_reset = 0`, and has one bias on the input side (the
 * ONNX recurrent bias is zero). TF.js only ever starts from zero states, as ONNX does by default.
 */

interface CellKind {
  op: 'LSTM' | 'GRU' | 'RNN';
  gates: number;
  /** ONNX gate k takes TF.js gate block `order[k]`. */
  order: number[];
  /** TF.js config keys of the ONNX activation list (f, g, h…). */
  activationKeys: string[];
}

const KINDS: Record<string, CellKind> = {
  LSTM: {
    op: 'LSTM',
    gates: 4,
    order: [0, 3, 1, 2],
    activationKeys: ['recurrentActivation', 'activation', 'activation'],
  },
  GRU: { op: 'GRU', gates: 3, order: [0, 1, 2], activationKeys: ['recurrentActivation', 'activation'] },
  SimpleRNN: { op: 'RNN', gates: 1, order: [0], activationKeys: ['activation'] },
};

/**
 * TF.js activation → ONNX RNN activation. Only functions whose ONNX default parameters equal
 * TF.js's (HardSigmoid 0.2/0.5, Elu 1) are listed, so no activation_alpha/beta is needed.
 */
const RNN_ACTIVATIONS: Record<string, string> = {
  sigmoid: 'Sigmoid',
  tanh: 'Tanh',
  relu: 'Relu',
  hardSigmoid: 'HardSigmoid',
  softsign: 'Softsign',
  softplus: 'Softplus',
  elu: 'Elu',
};

const INT64_MIN = -(2 ** 63);

interface DirectionWeights {
  w: Float32Array;
  r: Float32Array;
  b: Float32Array;
  activations: string[];
}

function checkRecurrentLayer(ctx: ConvertContext, layer: tf.layers.Layer, config: Record<string, unknown>): CellKind {
  const kind = KINDS[layer.getClassName()];
  if (!kind) return ctx.fail(`wrapped layer ${layer.getClassName()} is not LSTM, GRU or SimpleRNN`);
  if (config['stateful'] === true) ctx.fail('stateful recurrent layers');
  if (config['returnState'] === true) ctx.fail('returnState');
  if (ctx.inputs.length !== 1) ctx.fail('initial states passed as inputs');
  return kind;
}

/** One direction's W `[G·U, in]`, R `[G·U, U]` and B `[2·G·U]` in ONNX gate order. */
function directionWeights(
  ctx: ConvertContext,
  layer: tf.layers.Layer,
  kind: CellKind,
  units: number,
): DirectionWeights {
  const kernel = ctx.weight('kernel', layer);
  const recurrent = ctx.weight('recurrent_kernel', layer);
  const bias = ctx.maybeWeight('bias', layer);
  const inputs = kernel.shape[0]!;
  const width = kind.gates * units;
  const w = new Float32Array(width * inputs);
  const r = new Float32Array(width * units);
  const b = new Float32Array(2 * width);
  kind.order.forEach((src, gate) => {
    for (let u = 0; u < units; u++) {
      const row = gate * units + u;
      const col = src * units + u;
      for (let f = 0; f < inputs; f++) w[row * inputs + f] = kernel.values[f * width + col]!;
      for (let j = 0; j < units; j++) r[row * units + j] = recurrent.values[j * width + col]!;
      if (bias) b[row] = bias.values[col]!;
    }
  });
  const config = layer.getConfig() as Record<string, unknown>;
  const activations = kind.activationKeys.map((key) => {
    const name = String(config[key] ?? 'tanh');
    const onnxName = RNN_ACTIVATIONS[name];
    if (!onnxName)
      return ctx.fail(`recurrent ${key} "${name}" (supported: ${Object.keys(RNN_ACTIVATIONS).join(', ')})`);
    return onnxName;
  });
  return { w, r, b, activations };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Emits the ONNX recurrent node; returns Y `[T, D, B, U]` and Y_h `[D, B, U]`. */
function emitRecurrent(
  ctx: ConvertContext,
  kind: CellKind,
  units: number,
  dirs: DirectionWeights[],
  direction: string,
): { y: string; yH: string } {
  const { g, hint } = ctx;
  const d = dirs.length;
  const inputs = dirs[0]!.w.length / (kind.gates * units);
  const x = g.op('Transpose', [ctx.nhwc(ctx.inputs[0]!)], { perm: attr.ints([1, 0, 2]) }, hint); // [T, B, F]
  const w = g.floatConst(`${hint}/W`, concat(dirs.map((s) => s.w)), [d, kind.gates * units, inputs]);
  const r = g.floatConst(`${hint}/R`, concat(dirs.map((s) => s.r)), [d, kind.gates * units, units]);
  const b = g.floatConst(`${hint}/B`, concat(dirs.map((s) => s.b)), [d, 2 * kind.gates * units]);
  const attrs: Record<string, Attr> = {
    hidden_size: attr.int(units),
    direction: attr.str(direction),
    activations: attr.strs(dirs.flatMap((s) => s.activations)),
  };
  if (kind.op === 'GRU') attrs['linear_before_reset'] = attr.int(0);
  const outputs = kind.op === 'LSTM' ? 3 : 2;
  const [y, yH] = g.node(kind.op, [x, w, r, b], attrs, hint, outputs) as [string, string];
  return { y, yH };
}

/** `[…, D, U]` → TF.js output: directions concatenated, summed, multiplied or averaged. */
function mergeDirections(
  ctx: ConvertContext,
  t: string,
  dirAxis: number,
  keep: number[],
  units: number,
  mode: string,
  d: number,
): string {
  const { g, hint } = ctx;
  if (d === 1 || mode === 'concat') {
    return g.op('Reshape', [t, g.int64Const(`${hint}/shape`, [...keep.map(() => 0), d * units])], {}, hint);
  }
  const pick = (i: number): string =>
    g.op('Gather', [t, g.int64Const(`${hint}/dir${i}`, [i], [])], { axis: attr.int(dirAxis) }, hint);
  const [a, b] = [pick(0), pick(1)];
  if (mode === 'sum') return g.op('Add', [a, b], {}, hint);
  if (mode === 'mul') return g.op('Mul', [a, b], {}, hint);
  if (mode === 'ave')
    return g.op('Mul', [g.op('Add', [a, b], {}, hint), g.floatConst(`${hint}/half`, [0.5], [])], {}, hint);
  return ctx.fail(`mergeMode ${mode}`);
}

function recurrentOutput(
  ctx: ConvertContext,
  kind: CellKind,
  units: number,
  dirs: DirectionWeights[],
  direction: string,
  returnSequences: boolean,
  mergeMode: string,
  reverseTime: boolean,
): OnnxValue[] {
  const { g, hint } = ctx;
  const { y, yH } = emitRecurrent(ctx, kind, units, dirs, direction);
  let out: string;
  if (returnSequences) {
    let seq = y;
    if (reverseTime) {
      // A lone go_backwards layer returns its outputs in processing (reversed) order.
      seq = g.op(
        'Slice',
        [
          y,
          g.int64Const(`${hint}/starts`, [-1]),
          g.int64Const(`${hint}/ends`, [INT64_MIN]),
          g.int64Const(`${hint}/axes`, [0]),
          g.int64Const(`${hint}/steps`, [-1]),
        ],
        {},
        hint,
      );
    }
    const batchFirst = g.op('Transpose', [seq], { perm: attr.ints([2, 0, 1, 3]) }, hint); // [B, T, D, U]
    out = mergeDirections(ctx, batchFirst, 2, [0, 0], units, mergeMode, dirs.length);
  } else {
    const batchFirst = g.op('Transpose', [yH], { perm: attr.ints([1, 0, 2]) }, hint); // [B, D, U]
    out = mergeDirections(ctx, batchFirst, 1, [0], units, mergeMode, dirs.length);
  }
  return [{ name: out, shape: ctx.outputShapes[0]!, layout: 'nhwc' }];
}

const Recurrent: LayerConverter = (ctx) => {
  const kind = checkRecurrentLayer(ctx, ctx.layer, ctx.config);
  const units = Number(ctx.config['units']);
  const backwards = ctx.config['goBackwards'] === true;
  const weights = directionWeights(ctx, ctx.layer, kind, units);
  return recurrentOutput(
    ctx,
    kind,
    units,
    [weights],
    backwards ? 'reverse' : 'forward',
    ctx.config['returnSequences'] === true,
    'concat',
    backwards,
  );
};

const Bidirectional: LayerConverter = (ctx) => {
  const wrapper = ctx.layer as unknown as {
    forwardLayer: tf.layers.Layer;
    backwardLayer: tf.layers.Layer;
    mergeMode: string | null;
  };
  const forwardConfig = wrapper.forwardLayer.getConfig() as Record<string, unknown>;
  const backwardConfig = wrapper.backwardLayer.getConfig() as Record<string, unknown>;
  const kind = checkRecurrentLayer(ctx, wrapper.forwardLayer, forwardConfig);
  checkRecurrentLayer(ctx, wrapper.backwardLayer, backwardConfig);
  if (wrapper.mergeMode == null) ctx.fail('mergeMode null (separate outputs per direction)');
  if (forwardConfig['goBackwards'] === true || backwardConfig['goBackwards'] !== true)
    ctx.fail('a forward layer that goes backwards');
  const units = Number(forwardConfig['units']);
  const dirs = [
    directionWeights(ctx, wrapper.forwardLayer, kind, units),
    directionWeights(ctx, wrapper.backwardLayer, kind, units),
  ];
  return recurrentOutput(
    ctx,
    kind,
    units,
    dirs,
    'bidirectional',
    forwardConfig['returnSequences'] === true,
    wrapper.mergeMode!,
    false,
  );
};

/** Converters by TF.js class name. */
export const RECURRENT_CONVERTERS: Record<string, LayerConverter> = {
  LSTM: Recurrent,
  GRU: Recurrent,
  SimpleRNN: Recurrent,
  Bidirectional,
};

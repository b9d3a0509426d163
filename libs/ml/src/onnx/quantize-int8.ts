import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { InvalidArtifactError } from '../errors.js';
import { roundHalfToEven } from '../rounding.js';

const { onnx } = onnxProto;
const { DataType } = onnx.TensorProto;
const { AttributeType } = onnx.AttributeProto;

/** Options of `quantizeOnnxInt8`. */
export interface OnnxInt8Options {
  /**
   * One weight scale per output column (MatMul) or output channel (Conv) instead of one per
   * tensor. Costs nothing at run time (the scales are applied after the integer product).
   * @default true
   */
  perChannel?: boolean;
  /**
   * Weights with fewer elements stay float: for tiny layers the quantize step costs more than it
   * saves. A Conv kernel 3×3×1×32 (288) is quantized, a Dense 16→8 (128) is not.
   * @default 256
   */
  minElements?: number;
  /**
   * MatMul weights in the 7-bit range [-64, 64] (`w_scale = max|w| / 64`) instead of
   * [-127, 127]. On x86 CPUs without VNNI (AVX2, AVX-512 before Cascade Lake) ONNX Runtime's
   * u8×s8 kernel adds pairs of products in a saturating int16 `vpmaddubsw`: 255·127·2 > 32767,
   * while 255·64·2 fits. Simulated on a 784-256-128-10 MLP with image-like inputs, the full range
   * saturated 2–3.5% of those pair sums in the first layer, with errors as large as the sum
   * itself; the 7-bit range raised the max output error only from 0.022 to 0.029 (logit range
   * 3.9, argmax unchanged). A model is served wherever it lands, so the safe range is the
   * default; pass `false` when every serving CPU has VNNI (or is Arm). Conv weights always use
   * the full range: their U8U8 kernel cannot saturate.
   * @default true
   */
  reduceRange?: boolean;
  /**
   * Which float ops to rewrite. Leave `Conv` out to keep convolutions in float: ONNX Runtime's
   * float Conv (NCHWc, fused activation) beats ConvInteger on CPU, and conv kernels are usually a
   * small share of the file.
   * @default ['MatMul', 'Conv']
   */
  opTypes?: ReadonlyArray<'MatMul' | 'Conv'>;
}

/** What `quantizeOnnxInt8` returns. */
export interface OnnxInt8Result {
  /** The quantized ModelProto. */
  bytes: Uint8Array;
  /** How many float weight initializers were replaced by int8 ones (0: nothing qualified). */
  quantizedWeights: number;
  /** Integer op types the new graph uses, sorted (e.g. `['DynamicQuantizeLinear', 'MatMulInteger']`). */
  integerOps: string[];
}

/** @internal Shared with `quantize-int8-static.ts`. */
export interface CompiledOptions {
  perChannel: boolean;
  minElements: number;
  matMulQMax: number;
  opTypes: Set<string>;
}

/** @internal */
export function compileOptions(options: OnnxInt8Options): CompiledOptions {
  const perChannel = options.perChannel ?? true;
  const minElements = options.minElements ?? 256;
  const reduceRange = options.reduceRange ?? true;
  if (typeof perChannel !== 'boolean') throw new TypeError(`perChannel must be a boolean, got ${String(perChannel)}`);
  if (!Number.isInteger(minElements) || minElements < 0) {
    throw new TypeError(`minElements must be a non-negative integer, got ${String(minElements)}`);
  }
  if (typeof reduceRange !== 'boolean')
    throw new TypeError(`reduceRange must be a boolean, got ${String(reduceRange)}`);
  const opTypes = options.opTypes ?? ['MatMul', 'Conv'];
  if (!Array.isArray(opTypes) || opTypes.some((op) => op !== 'MatMul' && op !== 'Conv')) {
    throw new TypeError(`opTypes must list 'MatMul' and/or 'Conv', got ${JSON.stringify(opTypes)}`);
  }
  return { perChannel, minElements, matMulQMax: reduceRange ? 64 : 127, opTypes: new Set(opTypes) };
}

/**
 * Rewrites an ONNX model (as `exportOnnx` writes it) into ONNX Runtime's *dynamic* int8 form:
 * weights stored as symmetric int8, activations quantized per call, products in integer kernels.
 *
 * - `MatMul(x, W[K, N])` → `DynamicQuantizeLinear(x)` → `MatMulInteger(x_q, W_q, x_zp)` → `Cast`
 *   → `Mul(x_scale · w_scale)`; ONNX Runtime fuses the chain into one `DynamicQuantizeMatMul`.
 * - `Conv(x, W[M, C/group, kH, kW], B?)` (depthwise and grouped too) → `DynamicQuantizeLinear(x)`
 *   → `ConvInteger(x_q, W_q + 128, x_zp, 128)` with the same attributes → `Cast` → `Mul` by the
 *   scales shaped `[1, M, 1, 1]` → `Add(B as [1, M, 1, 1])`. The weights are the same symmetric
 *   int8 values stored as uint8 with zero point 128: ONNX Runtime 1.30 accepts int8 ConvInteger
 *   weights too, but runs them about 4× slower than uint8 ones (measured), and U8U8 has no
 *   int16 saturation on any CPU.
 *
 * Weights are symmetric, zero point 0: `w_scale = max|w| / q_max` per output column/channel (or
 * per tensor), `W_q = round_half_to_even(w / w_scale)` clamped to ±q_max, so a weight that is 0
 * stays exactly 0 and an all-zero column gets scale 1. `q_max` is 64 for MatMul by default (the
 * 7-bit range, safe from int16 saturation on CPUs without VNNI; see `reduceRange`) and 127 for
 * Conv. Activations are uint8 with a per-call scale and zero point, as in ONNX Runtime's own
 * dynamic quantizer. Weights that are also graph inputs and weights under `minElements` stay
 * float; a float weight still read by a node left in float is kept too. Every other node, the
 * inputs, outputs and metadata are kept; `quantization = int8-dynamic`,
 * `quantization_per_channel` and `quantization_reduce_range` are added to `metadata_props`.
 *
 * @throws InvalidArtifactError when `model` is not an ONNX ModelProto, its default-domain opset
 *   is below 11, it is already quantized, or a weight holds a non-finite value.
 * @throws TypeError naming a bad option.
 * @example
 * const { bytes, quantizedWeights } = quantizeOnnxInt8(exportOnnx(model));
 * const session = await ort.InferenceSession.create(bytes);
 */
export function quantizeOnnxInt8(model: Uint8Array, options: OnnxInt8Options = {}): OnnxInt8Result {
  const opts = compileOptions(options);
  const proto = decodeModel(model);
  const graph = proto.graph!;
  const rewriter = new Int8Rewriter(graph, opts);
  graph.node = (graph.node ?? []).flatMap((node) => rewriter.rewrite(node));
  rewriter.dropReplacedInitializers();
  proto.metadataProps = [
    ...proto.metadataProps,
    { key: 'quantization', value: 'int8-dynamic' },
    { key: 'quantization_per_channel', value: String(opts.perChannel) },
    { key: 'quantization_reduce_range', value: String(opts.matMulQMax === 64) },
  ];
  return {
    bytes: onnx.ModelProto.encode(proto).finish(),
    quantizedWeights: rewriter.quantized.size,
    integerOps: [...rewriter.integerOps].sort(),
  };
}

/** @internal `minOpset` and `needs` name what the caller's form requires. */
export function decodeModel(bytes: Uint8Array, minOpset = 11, needs = 'DynamicQuantizeLinear'): OnnxTypes.ModelProto {
  if (!(bytes instanceof Uint8Array))
    throw new InvalidArtifactError('ONNX model must be given as bytes (a Uint8Array)');
  let proto: OnnxTypes.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new InvalidArtifactError(`not an ONNX model (ModelProto does not decode: ${(error as Error).message})`, {
      cause: error,
    });
  }
  if (Number(proto.irVersion) <= 0 || !proto.graph || !proto.graph.node?.length) {
    throw new InvalidArtifactError('not an ONNX model (no ir_version or no graph nodes)');
  }
  const opset = proto.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!opset || Number(opset.version) < minOpset) {
    const got = opset ? Number(opset.version) : 'none';
    throw new InvalidArtifactError(
      `ONNX model needs a default-domain opset of at least ${minOpset} for ${needs}, got ${got}`,
    );
  }
  const done = proto.metadataProps.find((p) => p.key === 'quantization');
  if (done) throw new InvalidArtifactError(`ONNX model is already quantized (quantization = ${done.value})`);
  return proto;
}

/** Names of a quantized weight's initializers; `zeroName` only for the uint8 offset form. */
interface StoredWeight {
  qName: string;
  scaleName: string;
  zeroName?: string;
}

/** A float weight turned into int8 values and scales. */
interface QuantizedWeight {
  q: Int8Array;
  scales: Float32Array;
}

export { roundHalfToEven } from '../rounding.js';

/** Symmetric quantization with `channels` scales; `channelOf(i)` maps an element to its scale. */
function quantizeSymmetric(
  values: Float32Array,
  channels: number,
  channelOf: (i: number) => number,
  qMax: number,
): QuantizedWeight {
  const maxAbs = new Float64Array(channels);
  for (let i = 0; i < values.length; i++) {
    const c = channelOf(i);
    maxAbs[c] = Math.max(maxAbs[c]!, Math.abs(values[i]!));
  }
  const scales = Float32Array.from(maxAbs, (m) => (m === 0 ? 1 : m / qMax));
  const q = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = roundHalfToEven(values[i]! / scales[channelOf(i)]!);
    q[i] = Math.max(-qMax, Math.min(qMax, v));
  }
  return { q, scales };
}

/** @internal */
export function dimsOf(t: OnnxTypes.ITensorProto): number[] {
  return (t.dims ?? []).map((d) => Number(d));
}

/** Rewrites quantizable MatMul/Conv nodes of one graph, keeping names unique. */
class Int8Rewriter {
  /** Quantized weights by float initializer name. */
  readonly quantized = new Map<string, StoredWeight>();
  readonly integerOps = new Set<string>();
  private readonly initializers = new Map<string, OnnxTypes.ITensorProto>();
  private readonly used = new Set<string>();
  /** Initializers that are also graph inputs: a caller may override them, so they stay float. */
  private readonly graphInputs: Set<string>;
  /** Float initializers with an int8 (or reshaped) replacement; dropped once nothing reads them. */
  private readonly replaced = new Set<string>();
  private readonly biases = new Map<string, string>();
  private readonly activations = new Map<string, [string, string, string]>();
  private readonly added: OnnxTypes.ITensorProto[] = [];

  constructor(
    private readonly graph: OnnxTypes.IGraphProto,
    private readonly opts: CompiledOptions,
  ) {
    for (const t of graph.initializer ?? []) this.initializers.set(t.name!, t);
    this.graphInputs = new Set((graph.input ?? []).map((v) => v.name!));
    collectNames(graph, this.used);
  }

  rewrite(node: OnnxTypes.INodeProto): OnnxTypes.INodeProto[] {
    const [x, w, b] = node.input ?? [];
    if (node.domain || !x || this.initializers.has(x) || (node.output ?? []).length !== 1) return [node];
    if (!this.opts.opTypes.has(node.opType ?? '')) return [node];
    if (node.opType === 'MatMul' && node.input!.length === 2) {
      const weight = this.weight(w!, 2);
      if (!weight) return [node];
      const [, n] = dimsOf(weight);
      return this.integerChain(node, 'MatMulInteger', x, w!, weight, n!, (i) => i % n!, [n!], []);
    }
    if (node.opType === 'Conv') {
      const weight = this.weight(w!, 3);
      if (!weight) return [node];
      const dims = dimsOf(weight);
      const m = dims[0]!;
      const inner = dims.slice(1).reduce((a, c) => a * c, 1);
      const broadcast = [1, m, ...dims.slice(2).map(() => 1)];
      const channelOf = (i: number): number => Math.floor(i / inner);
      return this.integerChain(node, 'ConvInteger', x, w!, weight, m, channelOf, broadcast, node.attribute ?? [], b);
    }
    return [node];
  }

  /** Removes float initializers that no node reads any more. */
  dropReplacedInitializers(): void {
    const read = new Set<string>();
    collectInputs(this.graph, read);
    for (const o of this.graph.output ?? []) read.add(o.name!);
    this.graph.initializer = [
      ...(this.graph.initializer ?? []).filter((t) => !this.replaced.has(t.name!) || read.has(t.name!)),
      ...this.added,
    ];
  }

  /** The float initializer `name` when it may be quantized: rank ≥ `minRank`, big enough. */
  private weight(name: string, minRank: number): OnnxTypes.ITensorProto | undefined {
    const t = this.initializers.get(name);
    if (!t || t.dataType !== DataType.FLOAT || this.graphInputs.has(name)) return undefined;
    if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return undefined;
    const dims = dimsOf(t);
    if (minRank === 2 ? dims.length !== 2 : dims.length < minRank) return undefined;
    const count = dims.reduce((a, c) => a * c, 1);
    return count >= this.opts.minElements && count > 0 ? t : undefined;
  }

  private integerChain(
    node: OnnxTypes.INodeProto,
    op: 'MatMulInteger' | 'ConvInteger',
    x: string,
    w: string,
    weight: OnnxTypes.ITensorProto,
    channels: number,
    channelOf: (i: number) => number,
    scaleDims: number[],
    attribute: OnnxTypes.IAttributeProto[],
    bias?: string,
  ): OnnxTypes.INodeProto[] {
    const nodes: OnnxTypes.INodeProto[] = [];
    const [xq, xScale, xZero] = this.quantizedActivation(x, nodes);
    const { qName, scaleName, zeroName } = this.quantizedWeight(
      w,
      weight,
      channels,
      channelOf,
      scaleDims,
      op === 'ConvInteger',
    );
    const base = node.name || node.output![0]!;
    const y = node.output![0]!;
    const scale = this.name(`${base}_scale`);
    const integer = this.name(`${base}_int32`);
    const float = this.name(`${base}_cast`);
    nodes.push(
      { opType: 'Mul', name: this.name(`${base}/scale/Mul`), input: [xScale, scaleName], output: [scale] },
      {
        opType: op,
        name: this.name(`${base}/${op}`),
        attribute,
        output: [integer],
        input: zeroName ? [xq, qName, xZero, zeroName] : [xq, qName, xZero],
      },
      {
        opType: 'Cast',
        name: this.name(`${base}/Cast`),
        input: [integer],
        output: [float],
        attribute: [{ name: 'to', type: AttributeType.INT, i: DataType.FLOAT }],
      },
    );
    this.integerOps.add(op);
    const scaled = bias ? this.name(`${base}_scaled`) : y;
    nodes.push({ opType: 'Mul', name: this.name(`${base}/Mul`), input: [float, scale], output: [scaled] });
    if (bias) {
      const b = this.broadcastBias(bias, scaleDims, nodes);
      nodes.push({ opType: 'Add', name: this.name(`${base}/bias/Add`), input: [scaled, b], output: [y] });
    }
    return nodes;
  }

  /** One `DynamicQuantizeLinear` per activation, shared by all its quantized consumers. */
  private quantizedActivation(x: string, nodes: OnnxTypes.INodeProto[]): [string, string, string] {
    let outs = this.activations.get(x);
    if (!outs) {
      outs = [this.name(`${x}_quantized`), this.name(`${x}_scale`), this.name(`${x}_zero_point`)];
      nodes.push({
        opType: 'DynamicQuantizeLinear',
        name: this.name(`${x}/DynamicQuantizeLinear`),
        input: [x],
        output: [...outs],
      });
      this.activations.set(x, outs);
      this.integerOps.add('DynamicQuantizeLinear');
    }
    return outs;
  }

  /**
   * Stores `w` as int8 (`offset` false) or as uint8 `q + 128` with zero point 128 (`offset`
   * true): the same symmetric values, in the U8U8 form ONNX Runtime's ConvInteger runs fastest.
   */
  private quantizedWeight(
    w: string,
    weight: OnnxTypes.ITensorProto,
    channels: number,
    channelOf: (i: number) => number,
    scaleDims: number[],
    offset: boolean,
  ): StoredWeight {
    const known = this.quantized.get(w);
    if (known) return known;
    const values = floatValues(weight);
    const perChannel = this.opts.perChannel;
    // U8U8 (offset) kernels accumulate in int32, so only U8S8 needs the reduced range.
    const qMax = offset ? 127 : this.opts.matMulQMax;
    const { q, scales } = perChannel
      ? quantizeSymmetric(values, channels, channelOf, qMax)
      : quantizeSymmetric(values, 1, () => 0, qMax);
    const stored: StoredWeight = { qName: this.name(`${w}_quantized`), scaleName: this.name(`${w}_scale`) };
    const raw = new Uint8Array(q.buffer);
    if (offset) {
      for (let i = 0; i < raw.length; i++) raw[i] = q[i]! + 128;
      stored.zeroName = this.uint8ZeroPoint();
    }
    this.quantized.set(w, stored);
    this.replaced.add(w);
    this.added.push(
      { name: stored.qName, dims: weight.dims, dataType: offset ? DataType.UINT8 : DataType.INT8, rawData: raw },
      {
        name: stored.scaleName,
        dims: perChannel ? scaleDims : [],
        dataType: DataType.FLOAT,
        rawData: new Uint8Array(scales.buffer),
      },
    );
    return stored;
  }

  private zeroPoint128: string | undefined;

  /** The shared uint8 scalar 128. */
  private uint8ZeroPoint(): string {
    if (!this.zeroPoint128) {
      this.zeroPoint128 = this.name('uint8_zero_point_128');
      this.added.push({ name: this.zeroPoint128, dims: [], dataType: DataType.UINT8, rawData: new Uint8Array([128]) });
    }
    return this.zeroPoint128;
  }

  /** The bias as `[1, M, 1, 1]`: a reshaped copy of an initializer, or a Reshape node. */
  private broadcastBias(bias: string, dims: number[], nodes: OnnxTypes.INodeProto[]): string {
    const cached = this.biases.get(bias);
    if (cached) return cached;
    const t = this.initializers.get(bias);
    const name = this.name(`${bias}_broadcast`);
    if (t && !this.graphInputs.has(bias)) {
      this.added.push({ ...t, name, dims });
      this.replaced.add(bias);
      this.biases.set(bias, name);
      return name;
    }
    const shape = this.name(`${bias}_shape`);
    const rawData = new Uint8Array(BigInt64Array.from(dims.map(BigInt)).buffer);
    this.added.push({ name: shape, dims: [dims.length], dataType: DataType.INT64, rawData });
    nodes.push({ opType: 'Reshape', name: this.name(`${bias}/Reshape`), input: [bias, shape], output: [name] });
    return name;
  }

  /** `base`, or `base_1`, `base_2`… when taken. */
  private name(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }
}

/** @internal */
export function floatValues(t: OnnxTypes.ITensorProto): Float32Array {
  const count = dimsOf(t).reduce((a, c) => a * c, 1);
  const values =
    t.rawData && t.rawData.length > 0
      ? new Float32Array(Uint8Array.from(t.rawData).buffer, 0, t.rawData.length >> 2)
      : Float32Array.from(t.floatData ?? []);
  if (values.length !== count) {
    throw new InvalidArtifactError(`initializer ${t.name}: ${values.length} float values for dims [${dimsOf(t)}]`);
  }
  for (const v of values) {
    if (!Number.isFinite(v))
      throw new InvalidArtifactError(`initializer ${t.name} holds a non-finite value (${v}); cannot quantize it`);
  }
  return values;
}

/** Every node input of `graph` and its subgraphs (If/Loop/Scan bodies read outer names). @internal */
export function collectInputs(graph: OnnxTypes.IGraphProto, into: Set<string>): void {
  for (const node of graph.node ?? []) {
    for (const i of node.input ?? []) into.add(i);
    for (const a of node.attribute ?? []) {
      if (a.g) collectInputs(a.g, into);
      for (const g of a.graphs ?? []) collectInputs(g, into);
    }
  }
}

/** Every tensor and node name of `graph` and its subgraphs. @internal */
export function collectNames(graph: OnnxTypes.IGraphProto, into: Set<string>): void {
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) into.add(v.name!);
  for (const t of graph.initializer ?? []) into.add(t.name!);
  for (const node of graph.node ?? []) {
    if (node.name) into.add(node.name);
    for (const n of [...(node.input ?? []), ...(node.output ?? [])]) into.add(n);
    for (const a of node.attribute ?? []) {
      if (a.g) collectNames(a.g, into);
      for (const g of a.graphs ?? []) collectNames(g, into);
    }
  }
}

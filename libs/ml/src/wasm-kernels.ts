import * as tf from '@tensorflow/tfjs';

/**
 * Gradient kernels that `@tensorflow/tfjs-backend-wasm` 4.22 lacks, written with forward ops the
 * wasm backend does have. Without them `model.fit` fails on wasm for Conv2D (Conv2DBackpropFilter),
 * DepthwiseConv2D / SeparableConv2D (DepthwiseConv2dNativeBackprop{Filter,Input}) and Embedding
 * (UnsortedSegmentSum, the gradient of Gather).
 *
 * Two more replace wasm kernels that exist but take a plain loop rather than XNNPACK:
 * Conv2DBackpropInput, 5–6× slower than the forward convolution it is written with here (it was
 * half of a Fashion-MNIST CNN training step), and BatchMatMul with a transposed operand (the
 * gradients of every Dense layer), 10–25× slower than a transpose and an untransposed product.
 * (A MaxPoolGrad built from element-wise ops was tried and lost to the wasm loop: its Equal, Tile
 * and Cumsum kernels are loops too.)
 *
 * The kernels run inside the engine's kernel scope, so the ops they call are not taped and every
 * intermediate is freed by `tf.tidy`; the returned tensor becomes the kernel's output.
 */

type Pair = [number, number];
type PadAttr = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
type RoundingMode = 'floor' | 'round' | 'ceil' | undefined;

/** The kernel names this module registers for the `wasm` backend. */
export const WASM_TRAINING_KERNELS = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'UnsortedSegmentSum',
] as const;

/** Kernels the wasm backend has, replaced by faster ones built from its XNNPACK forward ops. */
export const WASM_FASTER_KERNELS = ['Conv2DBackpropInput', 'BatchMatMul'] as const;

type KernelName = (typeof WASM_TRAINING_KERNELS)[number] | (typeof WASM_FASTER_KERNELS)[number];

/** The wasm backend's own kernels, which a replacement calls for the cases that are fast. */
const wasmOriginals = new Map<string, tf.KernelFunc>();

const IMPLEMENTATIONS: Record<KernelName, tf.KernelFunc> = {
  BatchMatMul: (args) => batchMatMul(args),
  Conv2DBackpropFilter: (args) => conv2dBackpropFilter(args),
  Conv2DBackpropInput: (args) => conv2dBackpropInput(args),
  DepthwiseConv2dNativeBackpropFilter: (args) => depthwiseBackpropFilter(args),
  DepthwiseConv2dNativeBackpropInput: (args) => depthwiseBackpropInput(args),
  UnsortedSegmentSum: (args) => unsortedSegmentSum(args),
};

/**
 * Registers the missing training kernels for the `wasm` backend. Idempotent; kernels the wasm
 * backend already provides (a future version may) are left alone. `initBackend('wasm')` calls it.
 *
 * @returns the kernel names registered by this call.
 */
export function registerWasmTrainingKernels(): string[] {
  const registered: string[] = [];
  for (const kernelName of WASM_TRAINING_KERNELS) {
    if (tf.getKernel(kernelName, 'wasm') != null) continue;
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: IMPLEMENTATIONS[kernelName] });
    registered.push(kernelName);
  }
  for (const kernelName of WASM_FASTER_KERNELS) {
    const existing = tf.getKernel(kernelName, 'wasm');
    if (existing?.kernelFunc === IMPLEMENTATIONS[kernelName]) continue;
    if (existing != null) {
      wasmOriginals.set(kernelName, existing.kernelFunc);
      tf.unregisterKernel(kernelName, 'wasm');
    }
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: IMPLEMENTATIONS[kernelName] });
    registered.push(kernelName);
  }
  return registered;
}

/** Kernel inputs are the caller's tensors; wrap bare TensorInfos defensively. */
function asTensor<R extends tf.Rank>(info: tf.TensorInfo | undefined, what: string): tf.Tensor<R> {
  if (info == null) throw new Error(`missing kernel input ${what}`);
  if (info instanceof tf.Tensor) return info as tf.Tensor<R>;
  return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor<R>;
}

function pair(value: number | number[]): Pair {
  return typeof value === 'number' ? [value, value] : [value[0]!, value[1]!];
}

function assertNhwc(dataFormat: unknown, kernel: string): void {
  if (dataFormat != null && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernel} on wasm supports NHWC only, got ${String(dataFormat)}`);
  }
}

/** The attributes both Conv2D gradient kernels get, beside the shape of what they compute. */
interface Conv2DGradAttrs {
  strides: number | Pair;
  pad: PadAttr;
  dataFormat?: string;
  dimRoundingMode?: RoundingMode;
}

/**
 * dW[a,b,i,o] = Σ_{n,y,x} xPad[n, y·sh + a, x·sw + b, i] · dy[n, y, x, o]: a forward convolution of
 * x with its channels as the batch, using dy (batch as input channels) as the filter, with the
 * dilation set to the stride. Padding (same, valid, explicit, asymmetric) is applied to x up front.
 */
function conv2dBackpropFilter({ inputs, attrs }: Parameters<tf.KernelFunc>[0]): tf.Tensor {
  const a = attrs as unknown as Conv2DGradAttrs & { filterShape: [number, number, number, number] };
  assertNhwc(a.dataFormat, 'Conv2DBackpropFilter');
  const x = asTensor<tf.Rank.R4>(inputs['x'], 'x');
  const dy = asTensor<tf.Rank.R4>(inputs['dy'], 'dy');
  const [kh, kw] = a.filterShape;
  const info = tf.backend_util.computeConv2DInfo(x.shape, a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode);
  return tf.tidy(() => {
    const { top, bottom, left, right } = info.padInfo;
    const xPad = tf.pad(x, [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ]);
    const xT = tf.transpose(xPad, [3, 1, 2, 0]); // [inC, Hp, Wp, N]
    const dyT = tf.transpose(dy, [1, 2, 0, 3]); // [outH, outW, N, outC]
    const out = tf.conv2d(xT, dyT, 1, 'valid', 'NHWC', [info.strideHeight, info.strideWidth]);
    const cut = tf.slice(out, [0, 0, 0, 0], [-1, kh, kw, -1]); // [inC, kh, kw, outC]
    return tf.transpose(cut, [1, 2, 0, 3]);
  });
}

/**
 * dx = the full correlation of the stride-dilated dy with the spatially flipped filter, its in and
 * out channels swapped: one forward convolution (XNNPACK) instead of the wasm backend's loop.
 */
function conv2dBackpropInput({ inputs, attrs }: Parameters<tf.KernelFunc>[0]): tf.Tensor {
  const a = attrs as unknown as Conv2DGradAttrs & { inputShape: [number, number, number, number] };
  assertNhwc(a.dataFormat, 'Conv2DBackpropInput');
  const dy = asTensor<tf.Rank.R4>(inputs['dy'], 'dy');
  const filter = asTensor<tf.Rank.R4>(inputs['filter'], 'filter');
  const info = tf.backend_util.computeConv2DInfo(a.inputShape, filter.shape, a.strides, 1, a.pad, a.dimRoundingMode);
  return tf.tidy(() => {
    const dilated = spreadByStride(dy, info.strideHeight, info.strideWidth);
    const padded = padForFullCorrelation(dilated, a.inputShape, filter.shape, info.padInfo);
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]); // [kh, kw, outC, inC]
    return tf.conv2d(padded, flipped as tf.Tensor4D, 1, 'valid');
  });
}

/**
 * A·B where an operand is stored transposed: the wasm kernel's transposed path is a loop, its
 * plain path XNNPACK. So materialize transposes and multiply plainly, either as A·B (transposing
 * the operands stored transposed) or as (Bᵀ·Aᵀ)ᵀ (transposing the others and the result),
 * whichever moves fewer elements: for a Dense layer's dX = dY·Wᵀ the second avoids copying W.
 */
function batchMatMul(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | tf.TensorInfo[] {
  const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
  if (!transposeA && !transposeB) return wasmOriginals.get('BatchMatMul')!(args);
  const a = asTensor(args.inputs['a'], 'a');
  const b = asTensor(args.inputs['b'], 'b');
  const rows = (t: tf.Tensor, transposed: boolean): number => t.shape[t.rank - (transposed ? 1 : 2)]!;
  const cols = (t: tf.Tensor, transposed: boolean): number => t.shape[t.rank - (transposed ? 2 : 1)]!;
  const [m, k, n] = [rows(a, transposeA), cols(a, transposeA), cols(b, transposeB)];
  const direct = (transposeA ? m * k : 0) + (transposeB ? k * n : 0);
  const swapped = (transposeA ? 0 : m * k) + (transposeB ? 0 : k * n) + m * n;
  return tf.tidy(() => {
    if (direct <= swapped) {
      return tf.matMul(transposeA ? swapLast2(a) : a, transposeB ? swapLast2(b) : b);
    }
    return swapLast2(tf.matMul(transposeB ? b : swapLast2(b), transposeA ? a : swapLast2(a)));
  });
}

/** The tensor with its last two axes swapped. */
function swapLast2(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  [perm[t.rank - 2], perm[t.rank - 1]] = [t.rank - 1, t.rank - 2];
  return tf.transpose(t, perm);
}

/** dy with stride − 1 zeros between its rows and between its columns. */
function spreadByStride(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return dy;
  const [n, oh, ow, k] = dy.shape;
  const spread = tf.pad(tf.reshape(dy, [n, oh, 1, ow, 1, k]), [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  return tf.slice(
    tf.reshape(spread, [n, oh * sh, ow * sw, k]) as tf.Tensor4D,
    [0, 0, 0, 0],
    [n, (oh - 1) * sh + 1, (ow - 1) * sw + 1, k],
  );
}

/**
 * Pads a stride-dilated dy so that a valid correlation with a kh×kw filter gives an h×w image:
 * kh − 1 − top rows above, and below whatever makes h + kh − 1 rows (same for columns).
 */
function padForFullCorrelation(
  dilated: tf.Tensor4D,
  inputShape: readonly number[],
  filterShape: readonly number[],
  padInfo: { top: number; left: number },
): tf.Tensor4D {
  const [, h, w] = inputShape as [number, number, number, number];
  const [kh, kw] = filterShape as [number, number];
  const padTop = kh - 1 - padInfo.top;
  const padLeft = kw - 1 - padInfo.left;
  const padBottom = h + kh - 1 - dilated.shape[1] - padTop;
  const padRight = w + kw - 1 - dilated.shape[2] - padLeft;
  return tf.pad(dilated, [
    [0, 0],
    [padTop, padBottom],
    [padLeft, padRight],
    [0, 0],
  ]);
}

interface DepthwiseAttrs {
  strides: number | Pair;
  pad: PadAttr;
  dilations?: number | Pair;
  dimRoundingMode?: RoundingMode;
  filterShape?: [number, number, number, number];
  inputShape?: [number, number, number, number];
}

function assertUnitDilation(dilations: number | Pair | undefined, kernel: string): void {
  const [dh, dw] = pair(dilations ?? 1);
  if (dh !== 1 || dw !== 1) throw new Error(`${kernel} on wasm supports dilation 1 only`);
}

/**
 * dW[a,b,c,m] = Σ_{n,y,x} xPad[n, y·sh + a, x·sw + b, c] · dy[n, y, x, c·M + m]: a depthwise
 * convolution over a batch-of-one image whose channels are (n, c), with dy as the (dilated)
 * filter, then a sum over n.
 */
function depthwiseBackpropFilter({ inputs, attrs }: Parameters<tf.KernelFunc>[0]): tf.Tensor {
  const a = attrs as unknown as DepthwiseAttrs & { filterShape: [number, number, number, number] };
  assertUnitDilation(a.dilations, 'DepthwiseConv2dNativeBackpropFilter');
  const x = asTensor<tf.Rank.R4>(inputs['x'], 'x');
  const dy = asTensor<tf.Rank.R4>(inputs['dy'], 'dy');
  const [kh, kw, c, m] = a.filterShape;
  const [n, , ,] = x.shape;
  const info = tf.backend_util.computeConv2DInfo(x.shape, a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, true);
  return tf.tidy(() => {
    const { top, bottom, left, right } = info.padInfo;
    const xPad = tf.pad(x, [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ]);
    const [, hp, wp] = xPad.shape;
    // [1, Hp, Wp, N·C]: image channels ordered (n, c).
    const image = tf.reshape(tf.transpose(xPad, [1, 2, 0, 3]), [1, hp, wp, n * c]) as tf.Tensor4D;
    const [, oh, ow] = dy.shape;
    // [outH, outW, N·C, M]: the filter for channel (n, c) is dy[n, :, :, c·M : c·M + M].
    const filter = tf.reshape(tf.transpose(tf.reshape(dy, [n, oh, ow, c, m]), [1, 2, 0, 3, 4]), [
      oh,
      ow,
      n * c,
      m,
    ]) as tf.Tensor4D;
    const out = tf.depthwiseConv2d(image, filter, 1, 'valid', 'NHWC', [info.strideHeight, info.strideWidth]);
    const cut = tf.slice(out, [0, 0, 0, 0], [1, kh, kw, -1]);
    return tf.sum(tf.reshape(cut, [kh, kw, n, c, m]), 2);
  });
}

/**
 * dx = the full correlation of the stride-dilated dy with the flipped filter, channel by channel:
 * a depthwise convolution over C·M channels (multiplier 1), then a sum over the multiplier.
 */
function depthwiseBackpropInput({ inputs, attrs }: Parameters<tf.KernelFunc>[0]): tf.Tensor {
  const a = attrs as unknown as DepthwiseAttrs & { inputShape: [number, number, number, number] };
  assertUnitDilation(a.dilations, 'DepthwiseConv2dNativeBackpropInput');
  const dy = asTensor<tf.Rank.R4>(inputs['dy'], 'dy');
  const filter = asTensor<tf.Rank.R4>(inputs['filter'], 'filter');
  const [n, h, w, c] = a.inputShape;
  const [kh, kw, , m] = filter.shape;
  const info = tf.backend_util.computeConv2DInfo(
    a.inputShape,
    filter.shape,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
    true,
  );
  const [sh, sw] = [info.strideHeight, info.strideWidth];
  return tf.tidy(() => {
    const dilated = spreadByStride(dy, sh, sw);
    const padded = padForFullCorrelation(dilated, a.inputShape, filter.shape, info.padInfo);
    const flipped = tf.reverse(filter, [0, 1]);
    const perChannel = tf.reshape(flipped, [kh, kw, c * m, 1]) as tf.Tensor4D;
    const out = tf.depthwiseConv2d(padded, perChannel, 1, 'valid'); // [N, H, W, C·M]
    return tf.sum(tf.reshape(out, [n, h, w, c, m]), 4);
  });
}

/** out[s, …] = Σ_{i : ids[i] = s} x[i, …], as a scatter with summed duplicates. */
function unsortedSegmentSum({ inputs, attrs }: Parameters<tf.KernelFunc>[0]): tf.Tensor {
  const { numSegments } = attrs as unknown as { numSegments: number };
  const x = asTensor(inputs['x'], 'x');
  const ids = asTensor(inputs['segmentIds'], 'segmentIds');
  return tf.tidy(() => {
    const rows = ids.size;
    const inner = x.shape.slice(ids.rank);
    const innerSize = inner.reduce((p, d) => p * d, 1);
    const flatIds = tf.reshape(tf.cast(ids, 'int32'), [rows]);
    // One-hot matmul keeps it to kernels wasm has; ids outside [0, numSegments) are dropped.
    // (wasm's OneHot writes int32 whatever dtype is asked for, hence int32 and a cast.)
    const oneHot = tf.cast(tf.oneHot(flatIds, numSegments, 1, 0, 'int32'), 'float32'); // [rows, S]
    const values = tf.reshape(tf.cast(x, 'float32'), [rows, innerSize]);
    const summed = tf.matMul(oneHot, values, true, false); // [S, inner]
    const out = tf.reshape(summed, [numSegments, ...inner]);
    return x.dtype === 'int32' ? tf.cast(tf.round(out), 'int32') : out;
  });
}

import * as tf from '@tensorflow/tfjs';
import { OnnxExportError } from '../errors.js';
import { attr, ElemType, OnnxGraph, type GraphValue } from './onnx-graph.js';
import { readWeight, type ConvertContext, type LayerConverter, type OnnxValue, type Shape } from './convert-context.js';
import { SPATIAL_CONVERTERS } from './spatial-converters.js';
import { TENSOR_CONVERTERS } from './tensor-converters.js';
import { RECURRENT_CONVERTERS } from './recurrent-converters.js';

/** Options of `exportOnnx`. */
export interface OnnxExportOptions {
  /** ONNX opset, 13 to 17. @default 13 */
  opset?: number;
  /** Name of the graph input (further inputs get `_1`, `_2`…). @default 'input' */
  inputName?: string;
  /** Name of the graph output (further outputs get `_1`, `_2`…). @default 'output' */
  outputName?: string;
  /** Extra `metadata_props` written into the model. */
  metadata?: Record<string, string>;
}

const CONVERTERS: Record<string, LayerConverter> = {
  ...SPATIAL_CONVERTERS,
  ...TENSOR_CONVERTERS,
  ...RECURRENT_CONVERTERS,
};

/** TF.js layer classes `exportOnnx` converts (InputLayer and nested models are handled too). */
export const ONNX_EXPORTABLE_LAYERS: readonly string[] = Object.keys(CONVERTERS).sort();

/** The parts of tfjs-layers' internal graph the exporter walks. */
interface SymbolicTensorLike {
  id: number;
  shape: Shape;
  dtype: string;
}
interface NodeLike {
  inputTensors: SymbolicTensorLike[];
  outputTensors: SymbolicTensorLike[];
}
interface GraphLayer {
  inboundNodes: NodeLike[];
}

/**
 * Exports a TF.js layers model to ONNX (a serialized ModelProto), with the same input layout as
 * TF.js (channels-last images, `[batch, timesteps, features]` sequences) and a dynamic batch
 * dimension. The graph input is named `input` and the output `output`, so serving code is the same
 * for every model. Conv/Pool run in NCHW internally with transposes only where the layout must
 * change; Flatten happens in TF.js order. Dropout and noise layers vanish; BatchNormalization is
 * folded to its inference form.
 *
 * @throws OnnxExportError naming the first layer (and its class) that cannot be exported.
 * @throws RangeError when `opset` is not 13–17.
 * @example
 * const bytes = exportOnnx(model, { opset: 13 });
 * const session = await ort.InferenceSession.create(bytes);
 */
export function exportOnnx(model: tf.LayersModel, options: OnnxExportOptions = {}): Uint8Array {
  const opset = options.opset ?? 13;
  if (!Number.isInteger(opset) || opset < 13 || opset > 17) {
    throw new RangeError(`opset must be an integer from 13 to 17, got ${opset}`);
  }
  const inputName = options.inputName ?? 'input';
  const outputName = options.outputName ?? 'output';
  const g = new OnnxGraph(opset);
  const values = new Map<number, OnnxValue>();
  const graphInputs: GraphValue[] = model.inputs.map((t, i) => {
    const name = g.uniqueName(i === 0 ? inputName : `${inputName}_${i}`);
    values.set(t.id, { name, shape: t.shape, layout: 'nhwc' });
    return { name, elemType: t.dtype === 'int32' ? ElemType.INT32 : ElemType.FLOAT, shape: t.shape };
  });
  // Reserve the output names first so no internal tensor takes them.
  const outputNames = model.outputs.map((_, i) => g.uniqueName(i === 0 ? outputName : `${outputName}_${i}`));
  const outputs = convertGraph(g, model, values, '');
  const transposed = new Map<string, string>();
  const graphOutputs: GraphValue[] = outputs.map((v, i) => {
    const name = outputNames[i]!;
    g.node('Identity', [toLayout(g, v, 'nhwc', transposed)], {}, name, [name]);
    return { name, elemType: ElemType.FLOAT, shape: v.shape };
  });
  return g.encode({
    graphName: model.name,
    inputs: graphInputs,
    outputs: graphOutputs,
    producerVersion: `tfjs-layers ${tf.version_layers}`,
    docString: `Exported from TF.js layers model "${model.name}"`,
    metadata: { source_format: 'tfjs-layers', input_layout: 'channels_last', ...options.metadata },
  });
}

function toLayout(g: OnnxGraph, v: OnnxValue, layout: 'nhwc' | 'nchw', cache: Map<string, string>): string {
  if (v.shape.length !== 4 || v.layout === layout) return v.name;
  const key = `${v.name}->${layout}`;
  let name = cache.get(key);
  if (!name) {
    const perm = layout === 'nhwc' ? [0, 2, 3, 1] : [0, 3, 1, 2];
    name = g.op('Transpose', [v.name], { perm: attr.ints(perm) }, `${v.name}_${layout}`);
    cache.set(key, name);
  }
  return name;
}

/**
 * Converts every layer call of `model` whose inputs are in `values`, until the model's outputs
 * are known; nested models (a Sequential used as a layer) are inlined.
 */
function convertGraph(
  g: OnnxGraph,
  model: tf.LayersModel,
  values: Map<number, OnnxValue>,
  prefix: string,
): OnnxValue[] {
  const transposed = new Map<string, string>();
  const pending: Array<{ layer: tf.layers.Layer; node: NodeLike }> = [];
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    for (const node of (layer as unknown as GraphLayer).inboundNodes) pending.push({ layer, node });
  }
  let progress = true;
  while (progress) {
    progress = false;
    for (let i = 0; i < pending.length; i++) {
      const { layer, node } = pending[i]!;
      const inputs = node.inputTensors.map((t) => values.get(t.id));
      if (inputs.some((v) => v === undefined)) continue;
      const outs = convertCall(g, layer, node, inputs as OnnxValue[], prefix, transposed);
      node.outputTensors.forEach((t, k) => values.set(t.id, outs[k]!));
      pending.splice(i--, 1);
      progress = true;
    }
  }
  return model.outputs.map((t) => {
    const v = values.get(t.id);
    if (!v)
      throw new OnnxExportError(model.name, model.getClassName(), `output ${t.id} is not reachable from the inputs`);
    return v;
  });
}

function convertCall(
  g: OnnxGraph,
  layer: tf.layers.Layer,
  node: NodeLike,
  inputs: OnnxValue[],
  prefix: string,
  transposed: Map<string, string>,
): OnnxValue[] {
  const className = layer.getClassName();
  if (layer instanceof tf.LayersModel) {
    const inner = new Map<number, OnnxValue>();
    layer.inputs.forEach((t, i) => inner.set(t.id, inputs[i]!));
    return convertGraph(g, layer, inner, `${prefix}${layer.name}/`);
  }
  const fail = (reason: string): never => {
    throw new OnnxExportError(layer.name, className, reason);
  };
  const converter = CONVERTERS[className];
  if (!converter) return fail('no ONNX converter for this layer class');
  const ctx: ConvertContext = {
    g,
    layer,
    config: layer.getConfig() as Record<string, unknown>,
    inputs,
    outputShapes: node.outputTensors.map((t) => t.shape),
    hint: `${prefix}${layer.name}`,
    nhwc: (v) => toLayout(g, v, 'nhwc', transposed),
    nchw: (v) => toLayout(g, v, 'nchw', transposed),
    weight: (suffix, from = layer) => readWeight(from, suffix) ?? fail(`weight "${suffix}" not found`),
    maybeWeight: (suffix, from = layer) => readWeight(from, suffix),
    fail,
  };
  try {
    return converter(ctx);
  } catch (error) {
    if (error instanceof OnnxExportError) throw error;
    throw new OnnxExportError(layer.name, className, (error as Error).message, { cause: error });
  }
}

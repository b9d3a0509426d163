import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

const { onnx } = onnxProto;
const { AttributeType } = onnx.AttributeProto;
const { DataType } = onnx.TensorProto;

/** An ONNX attribute value, tagged with its type. */
export type Attr =
  | { i: number }
  | { f: number }
  | { s: string }
  | { ints: number[] }
  | { floats: number[] }
  | { strings: string[] };

/** Shorthands for attribute values. */
export const attr = {
  int: (i: number): Attr => ({ i }),
  float: (f: number): Attr => ({ f }),
  str: (s: string): Attr => ({ s }),
  ints: (ints: number[]): Attr => ({ ints }),
  floats: (floats: number[]): Attr => ({ floats }),
  strs: (strings: string[]): Attr => ({ strings }),
};

/** Element types used by the exporter (ONNX TensorProto.DataType values). */
export const ElemType = { FLOAT: DataType.FLOAT, INT32: DataType.INT32, INT64: DataType.INT64 } as const;

/** A graph input or output: name, element type and shape (`null` dims become named params). */
export interface GraphValue {
  name: string;
  elemType: number;
  shape: ReadonlyArray<number | null>;
}

const encoder = new TextEncoder();

function toAttribute(name: string, value: Attr): OnnxTypes.IAttributeProto {
  if ('i' in value) return { name, type: AttributeType.INT, i: value.i };
  if ('f' in value) return { name, type: AttributeType.FLOAT, f: value.f };
  if ('s' in value) return { name, type: AttributeType.STRING, s: encoder.encode(value.s) };
  if ('ints' in value) return { name, type: AttributeType.INTS, ints: value.ints };
  if ('floats' in value) return { name, type: AttributeType.FLOATS, floats: value.floats };
  return { name, type: AttributeType.STRINGS, strings: value.strings.map((s) => encoder.encode(s)) };
}

function valueInfo(v: GraphValue, dimPrefix: string): OnnxTypes.IValueInfoProto {
  const dim = v.shape.map((d, i) =>
    d == null ? { dimParam: i === 0 ? 'batch' : `${dimPrefix}_dim${i}` } : { dimValue: d },
  );
  return { name: v.name, type: { tensorType: { elemType: v.elemType, shape: { dim } } } };
}

/** Accumulates nodes and initializers, hands out unique tensor names, and encodes a ModelProto. */
export class OnnxGraph {
  private readonly nodes: OnnxTypes.INodeProto[] = [];
  private readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly used = new Set<string>();

  constructor(readonly opset: number) {}

  /** Reserves `base`, or `base_1`, `base_2`, … if taken. */
  uniqueName(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, '_') || 't';
    let name = clean;
    for (let k = 1; this.used.has(name); k++) name = `${clean}_${k}`;
    this.used.add(name);
    return name;
  }

  /** Adds a float32 initializer and returns its name. */
  floatConst(hint: string, values: Float32Array | number[], dims: number[]): string {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new Error(`initializer ${hint}: ${data.length} values for dims [${dims}]`);
    const name = this.uniqueName(hint);
    const rawData = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    this.initializers.push({ name, dims, dataType: DataType.FLOAT, rawData });
    return name;
  }

  /** Adds an int64 initializer (1-D unless `dims` says otherwise) and returns its name. */
  int64Const(hint: string, values: number[], dims: number[] = [values.length]): string {
    const name = this.uniqueName(hint);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dims, dataType: DataType.INT64, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  /**
   * Appends a node and returns its output names (fresh names derived from `hint`). Pass
   * `outputs` to name them yourself; an empty string input marks an omitted optional input.
   */
  node(
    op: string,
    inputs: string[],
    attrs: Record<string, Attr> = {},
    hint = op.toLowerCase(),
    outputs: number | string[] = 1,
  ): string[] {
    const outNames =
      typeof outputs === 'number'
        ? Array.from({ length: outputs }, (_, i) => this.uniqueName(outputs === 1 ? hint : `${hint}_${i}`))
        : outputs.map((o) => (o === '' ? '' : (this.used.add(o), o)));
    this.nodes.push({
      opType: op,
      name: this.uniqueName(`${hint}/${op}`),
      input: inputs,
      output: outNames,
      attribute: Object.entries(attrs).map(([k, v]) => toAttribute(k, v)),
    });
    return outNames;
  }

  /** Shorthand for a single-output node. */
  op(op: string, inputs: string[], attrs: Record<string, Attr> = {}, hint?: string): string {
    return this.node(op, inputs, attrs, hint)[0]!;
  }

  /** Encodes the graph as an ONNX ModelProto. */
  encode(meta: {
    graphName: string;
    inputs: GraphValue[];
    outputs: GraphValue[];
    producerVersion: string;
    docString?: string;
    metadata?: Record<string, string>;
  }): Uint8Array {
    const model = onnx.ModelProto.create({
      // IR 7 came with opset 13-14, IR 8 with opset 15-18.
      irVersion: this.opset >= 15 ? 8 : 7,
      opsetImport: [{ domain: '', version: this.opset }],
      producerName: 'aimaas-ml',
      producerVersion: meta.producerVersion,
      docString: meta.docString ?? '',
      metadataProps: Object.entries(meta.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: meta.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: meta.inputs.map((v) => valueInfo(v, v.name)),
        output: meta.outputs.map((v) => valueInfo(v, v.name)),
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

import { InvalidArgumentError } from '@aimaas/runtime';
import { decodeInput, rawBytes, typedContents, type RunnerTensor, type WireTensor } from './datatypes.js';
import type { TensorInfo } from './model-runner.js';

/** A request's inputs decoded for the runtime, and its row count (dimension 0). */
export interface DecodedInputs {
  feeds: Record<string, RunnerTensor>;
  rows: number;
}

function describe(specs: readonly TensorInfo[]): string {
  return specs.map((s) => `${s.name} (${s.datatype} [${s.shape.join(',')}])`).join(', ');
}

function checkShape(tensor: WireTensor, spec: TensorInfo): void {
  const { name, shape } = tensor;
  const expected = `[${spec.shape.join(',')}]`;
  if (shape.length !== spec.shape.length) {
    throw new InvalidArgumentError(
      `input "${name}": shape [${shape.join(',')}] has ${shape.length} dimensions, the model expects ${spec.shape.length}: ${expected} (-1 = any size)`,
    );
  }
  shape.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 0) {
      throw new InvalidArgumentError(
        `input "${name}": shape [${shape.join(',')}] dimension ${i} is ${d}; expected a non-negative size`,
      );
    }
    const want = spec.shape[i]!;
    if (want >= 0 && d !== want) {
      throw new InvalidArgumentError(
        `input "${name}": shape [${shape.join(',')}] does not match the model's ${expected}: dimension ${i} is ${d}, expected ${want}`,
      );
    }
  });
}

/**
 * Checks a request's input tensors against the model's inputs (every input given once, known
 * names, shapes, datatypes convertible without loss, content sizes) and decodes them.
 *
 * @throws InvalidArgumentError naming the input and what was expected.
 */
export function decodeInputs(specs: readonly TensorInfo[], tensors: readonly WireTensor[]): DecodedInputs {
  const feeds: Record<string, RunnerTensor> = {};
  let rows: number | undefined;
  for (const tensor of tensors) {
    const spec = specs.find((s) => s.name === tensor.name);
    if (!spec)
      throw new InvalidArgumentError(`unknown input "${tensor.name}"; the model's inputs are ${describe(specs)}`);
    if (feeds[tensor.name]) throw new InvalidArgumentError(`input "${tensor.name}" is given more than once`);
    checkShape(tensor, spec);
    const data = decodeInput(tensor, spec.type);
    const first = tensor.shape[0] ?? 1;
    if (rows !== undefined && first !== rows) {
      throw new InvalidArgumentError(
        `input "${tensor.name}": batch dimension ${first} differs from the other inputs' ${rows}`,
      );
    }
    rows = first;
    feeds[tensor.name] = { type: spec.type, data, dims: [...tensor.shape] };
  }
  const missing = specs.filter((s) => !feeds[s.name]);
  if (missing.length > 0) {
    throw new InvalidArgumentError(
      `missing input ${missing.map((s) => `"${s.name}"`).join(', ')}; the model's inputs are ${describe(specs)}`,
    );
  }
  return { feeds, rows: rows ?? 0 };
}

/**
 * The outputs a request asked for, in the asked order (all of the model's, in its order, when
 * none were named).
 * @throws InvalidArgumentError for an unknown output name.
 */
export function selectOutputs(specs: readonly TensorInfo[], requested: readonly string[]): TensorInfo[] {
  if (requested.length === 0) return [...specs];
  return requested.map((name) => {
    const spec = specs.find((s) => s.name === name);
    if (!spec)
      throw new InvalidArgumentError(`unknown output "${name}" requested; the model's outputs are ${describe(specs)}`);
    return spec;
  });
}

/** One output in OIP form: metadata, plus typed contents or raw bytes. */
export interface EncodedOutput {
  name: string;
  datatype: string;
  shape: number[];
  contents: ReturnType<typeof typedContents> | undefined;
  raw: Buffer | undefined;
}

/** Encodes the selected outputs raw (when the request came raw) or typed. */
export function encodeOutputs(
  selected: readonly TensorInfo[],
  outputs: Record<string, RunnerTensor>,
  raw: boolean,
): EncodedOutput[] {
  return selected.map((spec) => {
    const tensor = outputs[spec.name]!;
    return {
      name: spec.name,
      datatype: spec.datatype,
      shape: [...tensor.dims],
      contents: raw ? undefined : typedContents(tensor),
      raw: raw ? rawBytes(tensor) : undefined,
    };
  });
}

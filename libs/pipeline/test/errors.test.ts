import { describe, expect, it } from 'vitest';
import {
  PipelineFormatError,
  PipelineInputError,
  PipelineSpecError,
  fitPipeline,
  parsePipeline,
  serializePipeline,
  transformRecords,
} from '../src/index.js';
import type { PipelineSpec, Table } from '../src/index.js';

const table: Table = {
  columns: ['x', 'y'],
  values: { x: Float64Array.of(1, 2, 3, 4), y: Float64Array.of(10, 20, 30, 40) },
};
const strict = fitPipeline(table, { columns: { x: { steps: [{ op: 'scale', method: 'standard' }] } } });
const imputed = fitPipeline(table); // numeric default: median impute + standard scale

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('apply-time input errors', () => {
  it('names the record and column of a missing column', () => {
    const error = thrown(() => transformRecords(strict, [{ x: 1, y: 2 }, { y: 3 }]));
    expect(error).toBeInstanceOf(PipelineInputError);
    expect(error).toMatchObject({ record: 1, column: 'x', code: 'INVALID_ARGUMENT' });
    expect((error as Error).message).toBe(
      'record 1, column "x": the column is missing from the record; expected a number (this column has no imputation step)',
    );
  });

  it('names record 0 when no record has the column', () => {
    expect(thrown(() => transformRecords(strict, [{ y: 1 }, { y: 2 }]))).toMatchObject({
      record: 0,
      column: 'x',
      message:
        'record 0, column "x": the column is missing from the input; expected a number (this column has no imputation step)',
    });
  });

  it('names the record and column of a non-numeric value in a numeric column', () => {
    const error = thrown(() =>
      transformRecords(strict, [
        { x: 1, y: 1 },
        { x: 2, y: 1 },
        { x: 'abc', y: 1 },
      ]),
    );
    expect(error).toBeInstanceOf(PipelineInputError);
    expect(error).toMatchObject({ record: 2, column: 'x' });
    expect((error as Error).message).toBe('record 2, column "x": value "abc" is not a number; expected a number');
  });

  it('rejects a null without imputation', () => {
    expect((thrown(() => transformRecords(strict, [{ x: null, y: 1 }])) as Error).message).toBe(
      'record 0, column "x": value is missing (null); expected a number (this column has no imputation step)',
    );
  });

  it('imputes a missing column, a null and "abc" when fitted with imputation', () => {
    const steps = imputed.columns[0]!.steps;
    expect(steps[0]).toEqual({ op: 'impute', strategy: 'median', value: 2.5 });
    const scale = steps[1] as { center: number; scale: number };
    const expected = Math.fround((2.5 - scale.center) / scale.scale);
    const out = transformRecords(imputed, [{ y: 10 }, { x: null, y: 10 }, { x: 'abc', y: 10 }]);
    expect([out.features[0], out.features[2], out.features[4]]).toEqual([expected, expected, expected]);
  });

  it('reports a record that is not an object', () => {
    expect(thrown(() => transformRecords(strict, [{ x: 1, y: 1 }, 'oops']))).toMatchObject({ record: 1, column: null });
  });

  it('rejects an unknown class label', () => {
    const labelled: Table = { columns: ['x', 'label'], values: { x: Float64Array.of(1, 2), label: ['cat', 'dog'] } };
    const pipeline = fitPipeline(labelled, { target: 'label' });
    expect((thrown(() => transformRecords(pipeline, [{ x: 1, label: 'cow' }])) as Error).message).toBe(
      'record 0, column "label": unknown class label "cow"; expected one of "cat", "dog"',
    );
  });
});

describe('spec errors', () => {
  const specError = (spec: PipelineSpec) => thrown(() => fitPipeline(table, spec));

  it('names the column and step of an unknown method', () => {
    const error = specError({ columns: { x: { steps: [{ op: 'scale', method: 'zscore' as 'standard' }] } } });
    expect(error).toBeInstanceOf(PipelineSpecError);
    expect(error).toMatchObject({ column: 'x', step: 'scale' });
    expect((error as Error).message).toBe(
      'column "x", step "scale": method is "zscore"; expected one of standard, minmax, robust',
    );
  });

  it('rejects a step that does not fit the column type', () => {
    expect((specError({ columns: { x: { type: 'integer', steps: [{ op: 'onehot' }] } } }) as Error).message).toBe(
      'column "x", step "onehot": does not apply to integer columns; integer columns take impute, clip, log1p, scale (set the column\'s type to change this)',
    );
  });

  it('rejects a misspelt option, a misplaced impute and an out-of-range setting', () => {
    expect(
      specError({ columns: { x: { steps: [{ op: 'impute', strategy: 'mean', valu: 3 } as never] } } }),
    ).toMatchObject({ column: 'x', step: 'impute' });
    expect(
      specError({ columns: { x: { steps: [{ op: 'log1p' }, { op: 'impute', strategy: 'mean' }] } } }),
    ).toMatchObject({
      message: 'column "x", step "impute": must be the first step',
    });
    expect(specError({ dropRowsMissingAbove: 1.5 })).toMatchObject({ column: null, step: 'dropRowsMissingAbove' });
    expect(specError({ target: 'z' })).toMatchObject({ column: 'z', step: 'target' });
    expect(specError({ dropRowMissingAbove: 0.5 } as PipelineSpec)).toMatchObject({
      column: null,
      step: 'dropRowMissingAbove',
    });
    expect(specError({ columns: { x: { step: [] } as never } })).toMatchObject({ column: 'x', step: 'step' });
  });

  it('rejects median imputation of a column with no values', () => {
    const empty: Table = { columns: ['x'], values: { x: Float64Array.of(NaN, NaN) } };
    expect(thrown(() => fitPipeline(empty))).toMatchObject({ column: 'x', step: 'impute' });
  });
});

describe('parsePipeline', () => {
  const json = JSON.parse(serializePipeline(imputed)) as Record<string, unknown>;

  it('rejects a pipeline of another version with a clear message', () => {
    const error = thrown(() => parsePipeline(JSON.stringify({ ...json, version: 2 })));
    expect(error).toBeInstanceOf(PipelineFormatError);
    expect((error as Error).message).toBe(
      'invalid pipeline at version: version 2 is not supported (written by a newer AIMaaS); this build reads version 1',
    );
  });

  it('rejects a document that is not a pipeline, or not JSON', () => {
    expect((thrown(() => parsePipeline({ format: 'onnx' })) as Error).message).toBe(
      'invalid pipeline at format: is "onnx"; expected "aimaas.pipeline" (this is not an AIMaaS pipeline)',
    );
    expect(thrown(() => parsePipeline('{not json'))).toMatchObject({ path: '$' });
  });

  it('names the path of a malformed field', () => {
    const columns = json.columns as { steps: { op: string }[] }[];
    const broken = { ...json, columns: [{ ...columns[0], steps: [{ op: 'explode' }] }, columns[1]] };
    expect(thrown(() => parsePipeline(broken))).toMatchObject({ path: '$.columns[0].steps[0].op' });
    expect(thrown(() => parsePipeline({ ...json, features: ['x'] }))).toMatchObject({ path: '$.features' });
  });

  it('accepts what serializePipeline wrote', () => {
    expect(parsePipeline(serializePipeline(imputed))).toEqual(imputed);
  });
});

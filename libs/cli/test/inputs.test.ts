import { describe, expect, it } from 'vitest';
import {
  csvToRecords,
  datasetRefArg,
  formatDuration,
  parseCsvRows,
  parseRecordsArg,
  parseRecordsFile,
  parseSplit,
  parseTensorArg,
  prepareRequest,
  tensorValues,
  UsageError,
} from '@aimaas/cli';

describe('CSV records', () => {
  it('splits quoted cells with delimiters, doubled quotes, newlines and CRLF', () => {
    expect(parseCsvRows('a,b\r\n1,"x, ""y""\nz"\r\n\r\n2,\n')).toEqual([
      ['a', 'b'],
      ['1', 'x, "y"\nz'],
      ['2', ''],
    ]);
    expect(parseCsvRows('a;b\n1;2', ';')).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
  });

  it('turns rows into records: numbers as numbers, empty cells null, other text kept', () => {
    expect(csvToRecords('\ufeffx,name,y\n1.5,setosa,\n-2,"007",1e3\n')).toEqual([
      { x: 1.5, name: 'setosa', y: null },
      { x: -2, name: 7, y: 1000 },
    ]);
  });

  it('names the row whose cell count differs from the header', () => {
    expect(() => csvToRecords('a,b\n1,2\n3\n')).toThrow(
      new UsageError('CSV row 3: 1 cells, expected 2 (as the header)'),
    );
    expect(() => parseCsvRows('a\n"open')).toThrow(UsageError);
  });

  it('reads records from --records, .json and .jsonl', () => {
    expect(parseRecordsArg('[{"a":1},{"a":2}]')).toEqual([{ a: 1 }, { a: 2 }]);
    expect(parseRecordsArg('{"a":1}')).toEqual([{ a: 1 }]);
    expect(() => parseRecordsArg('[1]')).toThrow('--records: record 1 is not a JSON object');
    expect(() => parseRecordsArg('[')).toThrow(/^--records: not JSON/);
    expect(parseRecordsFile('r.jsonl', '{"a":1}\n\n{"a":2}\n')).toEqual([{ a: 1 }, { a: 2 }]);
    expect(() => parseRecordsFile('r.jsonl', '{"a":1}\n{')).toThrow('r.jsonl line 2: not JSON');
    expect(parseRecordsFile('r.json', '[{"a":null}]')).toEqual([{ a: null }]);
    expect(parseRecordsFile('r.csv', 'a\n3\n')).toEqual([{ a: 3 }]);
  });
});

describe('--tensor', () => {
  it('encodes values row-major little-endian and decodes them back', () => {
    const t = parseTensorArg('input:FP32:2x2:1,2.5,-3,4');
    expect(t).toMatchObject({ name: 'input', datatype: 'FP32', shape: [2, 2] });
    expect(t.raw.byteLength).toBe(16);
    expect(t.raw.readFloatLE(4)).toBe(2.5);
    expect(tensorValues(t)).toEqual([1, 2.5, -3, 4]);
    expect(tensorValues(parseTensorArg('ids:int64:3:1,2,3'))).toEqual([1, 2, 3]);
    expect(tensorValues(parseTensorArg('m:BOOL:2:true,false'))).toEqual([1, 0]);
    expect(tensorValues({ name: 's', datatype: 'BYTES', shape: [1], raw: Buffer.from('x') })).toBeUndefined();
  });

  it('rejects malformed tensors naming what is wrong', () => {
    expect(() => parseTensorArg('input:FP32:1x4')).toThrow(/expected name:DATATYPE:shape:values/);
    expect(() => parseTensorArg('input:FP16:1:1')).toThrow(/datatype FP16 is not one of FP32/);
    expect(() => parseTensorArg('input:FP32:1xa:1')).toThrow('--tensor input: shape 1xa: expected dimensions like 1x4');
    expect(() => parseTensorArg('input:INT32:2:1,1.5')).toThrow('--tensor input: value "1.5" is not a INT32 number');
    expect(() => parseTensorArg('input:FP32:1x4:1,2,3')).toThrow('--tensor input: 3 values, shape 1x4 needs 4');
  });
});

describe('datasets arguments', () => {
  it('parses dataset references and splits', () => {
    expect(datasetRefArg('iris')).toEqual({ name: 'iris', version: 0 });
    expect(datasetRefArg('iris@3')).toEqual({ name: 'iris', version: 3 });
    expect(() => datasetRefArg('iris@latest')).toThrow(UsageError);
    expect(parseSplit('0.8,0.1,0.1')).toEqual({ train: 0.8, validation: 0.1, test: 0.1 });
    expect(() => parseSplit('0.8,0.2')).toThrow(/expected three fractions/);
  });

  it('builds the PrepareDataset request', () => {
    expect(
      prepareRequest('iris@2', { target: 'species', task: 'classification', features: 'a, b', kfold: '5', seed: '9' }),
    ).toEqual({
      dataset: { name: 'iris', version: 2 },
      target: 'species',
      task: 1,
      features: ['a', 'b'],
      seed: 9,
      kfold: { folds: 5 },
    });
    expect(() => prepareRequest('iris', { target: 't', task: 'clustering' })).toThrow(
      /--task clustering: expected classification or regression/,
    );
    expect(() => prepareRequest('iris', { target: 't', task: 'regression', kfold: '3', split: '1,0,0' })).toThrow(
      'give one of --split, --split-column or --kfold, not --split and --kfold',
    );
    expect(
      prepareRequest('fmnist', { target: 'label', task: 'classification', 'split-column': 'split' }),
    ).toMatchObject({
      split: { train: 0, validation: 0, test: 0, column: 'split' },
    });
    expect(prepareRequest('iris', { target: 't', task: 'regression', split: '0.8,0.1,0.1' })).toMatchObject({
      split: { train: 0.8, validation: 0.1, test: 0.1, column: '' },
    });
    expect(() => prepareRequest('iris', { target: 't', task: 'regression', 'split-column': '' })).toThrow(
      '--split-column must name a column',
    );
  });
});

describe('formatDuration', () => {
  it('writes m:ss and h:mm:ss', () => {
    expect(formatDuration(65)).toBe('1:05');
    expect(formatDuration(3723)).toBe('1:02:03');
  });
});

import { describe, expect, it } from 'vitest';
import { parseCell } from '@aimaas/pipeline';
import { JsonArrayParser, JsonLinesParser, Utf8StreamDecoder, decodeShard, encodeShard } from '../src/index.js';
import { parseDecimal } from '../src/cell-conversion.js';

type Parsed = { fields: unknown; line: number; endLine: number; problem: string | null };

describe('Utf8StreamDecoder', () => {
  it('drops a BOM split across chunks and joins characters cut by a chunk boundary', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('é,€\n😀,\uFEFF\n', 'utf8')]);
    for (const size of [1, 2, 3, 5]) {
      const decoder = new Utf8StreamDecoder();
      let text = '';
      for (let at = 0; at < bytes.length; at += size) text += decoder.decode(bytes.subarray(at, at + size)).text;
      text += decoder.end().text;
      expect(text).toBe('é,€\n😀,\uFEFF\n');
    }
  });

  it('names the lines that hold invalid bytes', () => {
    const decoder = new Utf8StreamDecoder();
    const decoded = decoder.decode(
      Buffer.concat([Buffer.from('ok\nbad '), Buffer.from([0xff, 0xfe]), Buffer.from('\nok\n'), Buffer.from([0xc3])]),
    );
    expect(decoded.badLines).toEqual([1]);
    expect(decoder.end().badLines).toEqual([0]);
  });
});

describe('parseDecimal', () => {
  it('reads numbers exactly as the pipeline does', () => {
    const samples = [
      '0',
      '-0',
      '5.1',
      '0.1',
      '3.14159265358979',
      '1234567.891',
      '-0.000001',
      '.5',
      '7.',
      '+2',
      '1e3',
      '12345678901234567890',
      ' 4 ',
      '0.30000000000000004',
    ];
    for (const text of samples) expect(Object.is(parseDecimal(text), parseCell(text, 'numeric'))).toBe(true);
    for (let i = 0; i < 20_000; i++) {
      const text = (Math.random() * 10 ** Math.floor(Math.random() * 12) - 1000).toFixed(Math.floor(Math.random() * 9));
      expect(parseDecimal(text)).toBe(Number(text));
    }
  });

  it('gives NaN for words', () => {
    expect(parseDecimal('abc')).toBeNaN();
    expect(parseDecimal('1.2.3')).toBeNaN();
    expect(parseDecimal('-')).toBeNaN();
  });
});

describe('shard codec', () => {
  it('round-trips float64 and dictionary-encoded string columns, and decodes chosen columns', () => {
    const words = Array.from({ length: 300 }, (_, i) => (i % 7 === 0 ? null : `w${i % 290}é`));
    const columns = new Map([
      [
        'x',
        {
          kind: 'f64' as const,
          values: Float64Array.from({ length: 300 }, (_, i) => (i % 5 === 0 ? Number.NaN : i / 3)),
        },
      ],
      ['w', { kind: 'str' as const, values: words }],
    ]);
    const bytes = encodeShard(300, columns);
    const all = decodeShard(bytes.slice());
    expect(all.rows).toBe(300);
    expect(all.columns.get('x')).toEqual(columns.get('x'));
    expect(all.columns.get('w')!.values).toEqual(words);
    const unaligned = new Uint8Array(bytes.length + 1).subarray(1);
    unaligned.set(bytes);
    expect([...decodeShard(unaligned, new Set(['w'])).columns.keys()]).toEqual(['w']);
  });
});

describe('JSON parsers', () => {
  it('reads JSON Lines and reports lines that are not objects', () => {
    const out: Parsed[] = [];
    const parser = new JsonLinesParser((value, line, endLine, problem) =>
      out.push({ fields: value, line, endLine, problem }),
    );
    parser.push('{"a":1}\r\n\n[1]\n{"a"');
    parser.push(':2}');
    parser.end();
    expect(out).toEqual([
      { fields: { a: 1 }, line: 1, endLine: 1, problem: null },
      { fields: undefined, line: 3, endLine: 3, problem: 'expected a JSON object, got an array' },
      { fields: { a: 2 }, line: 4, endLine: 4, problem: null },
    ]);
  });

  it('streams a JSON array element by element, with strings holding brackets', () => {
    const text = '[\n  {"a": "x]}", "b": [1, {"c": 2}]},\n  {"a": "\\"q"},\n  3\n]\n';
    for (const piece of [1, 4, 100]) {
      const out: Parsed[] = [];
      const parser = new JsonArrayParser((value, line, endLine, problem) =>
        out.push({ fields: value, line, endLine, problem }),
      );
      for (let at = 0; at < text.length; at += piece) parser.push(text.slice(at, at + piece));
      parser.end();
      expect(out.map((r) => [r.fields, r.line, r.problem])).toEqual([
        [{ a: 'x]}', b: [1, { c: 2 }] }, 2, null],
        [{ a: '"q' }, 3, null],
        [undefined, 4, 'expected a JSON object, got a number'],
      ]);
    }
  });

  it('rejects a broken array as a whole', () => {
    const parser = new JsonArrayParser(() => undefined);
    expect(() => parser.push('{"a": 1}')).toThrow('line 1: expected a JSON array of objects ("["), got "{"');
    const open = new JsonArrayParser(() => undefined);
    open.push('[{"a": 1}');
    expect(() => open.end()).toThrow(/not closed/);
  });
});

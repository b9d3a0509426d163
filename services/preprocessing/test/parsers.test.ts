import { describe, expect, it } from 'vitest';
import { parseCell } from '@aimaas/pipeline';
import {
  CsvParser,
  JsonArrayParser,
  JsonLinesParser,
  Utf8StreamDecoder,
  decodeShard,
  encodeShard,
  recordFields,
} from '../src/index.js';
import { parseDecimal } from '../src/cell-conversion.js';

type Parsed = { fields: unknown; line: number; endLine: number; problem: string | null };

/** Parses `text` cut into pieces of `piece` characters. */
function parseCsv(text: string, piece = text.length, options = {}): Parsed[] {
  const out: Parsed[] = [];
  const parser = new CsvParser(options, (record) =>
    out.push({ fields: recordFields(record), line: record.line, endLine: record.endLine, problem: record.problem }),
  );
  for (let at = 0; at < text.length; at += Math.max(1, piece)) parser.push(text.slice(at, at + Math.max(1, piece)));
  parser.end();
  return out;
}

describe('CsvParser', () => {
  const text = 'name,note,n\r\n"Smith, J","said ""hi""\non two lines",3\r\nplain,,4\n\n"last",x,5';

  it.each([1, 2, 3, 7, 1000])(
    'reads quoted delimiters, doubled quotes, CRLF and quoted newlines in pieces of %i',
    (piece) => {
      expect(parseCsv(text, piece)).toEqual([
        { fields: ['name', 'note', 'n'], line: 1, endLine: 1, problem: null },
        { fields: ['Smith, J', 'said "hi"\non two lines', '3'], line: 2, endLine: 3, problem: null },
        { fields: ['plain', '', '4'], line: 4, endLine: 4, problem: null },
        { fields: ['last', 'x', '5'], line: 6, endLine: 6, problem: null },
      ]);
    },
  );

  it('takes another delimiter and quote character', () => {
    expect(parseCsv("a;'b;c'\n1;'it''s'\n", 4, { delimiter: ';', quote: "'" }).map((r) => r.fields)).toEqual([
      ['a', 'b;c'],
      ['1', "it's"],
    ]);
  });

  it('reports a quote left open with the line it opened on', () => {
    const records = parseCsv('a,b\n1,"open\n2,3\n');
    expect(records[1]).toMatchObject({ line: 2, endLine: 4, problem: expect.stringMatching(/^unclosed quote/) });
  });

  it('reports text after a closing quote but keeps reading the next rows', () => {
    const records = parseCsv('a,b\n"x"y,1\n2,3\n');
    expect(records[1]!.problem).toMatch(/unexpected character "y" after a closing quote in field 1/);
    expect(records[2]).toEqual({ fields: ['2', '3'], line: 3, endLine: 3, problem: null });
  });

  it('reads records that end in a lone CR', () => {
    expect(parseCsv('a,b\r1,2\r\n3,4', 3).map((r) => [r.fields, r.line])).toEqual([
      [['a', 'b'], 1],
      [['1', '2'], 2],
      [['3', '4'], 3],
    ]);
  });

  it('reads any well-formed file the same way whatever the piece size', () => {
    let seed = 7;
    const random = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296;
    const cell = (): string => {
      const kind = random();
      if (kind < 0.5) return String(Math.floor(random() * 1000) / 10);
      const chars = [...'ab,"\n\r xé😀'];
      return Array.from({ length: Math.floor(random() * 6) }, () => chars[Math.floor(random() * chars.length)]).join(
        '',
      );
    };
    const rows = Array.from({ length: 300 }, () => Array.from({ length: 4 }, cell));
    const quote = (text: string) => (/[",\r\n]/.test(text) || text === '' ? `"${text.replace(/"/g, '""')}"` : text);
    const file = rows.map((row) => row.map(quote).join(',')).join('\r\n') + '\r\n';
    for (const piece of [1, 5, 64, 100_000]) expect(parseCsv(file, piece).map((r) => r.fields)).toEqual(rows);
  });

  it('keeps an empty quoted field but skips blank lines', () => {
    expect(parseCsv('a\n""\n\n\nb\n').map((r) => r.fields)).toEqual([['a'], [''], ['b']]);
  });
});

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

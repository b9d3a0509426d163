import { describe, expect, it } from 'vitest';
import { CsvParser, recordFields } from '../src/index.js';

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

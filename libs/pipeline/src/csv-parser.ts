/**
 * A streaming RFC 4180 CSV parser over decoded text: any delimiter and quote character, CRLF or
 * LF line ends (a lone CR also ends a record), quoted fields with doubled quotes and line breaks
 * inside. Text arrives in pieces cut anywhere; records come out with the physical lines they
 * span, so errors can name them. Blank lines are skipped.
 *
 * Records are handed out as a reusable {@link CsvRecord} view: a field that lies in the current
 * piece of text is a range of it, so a number can be read without making a string; lines
 * without a quote take a fast path.
 */

import { PipelineLimitError } from './errors.js';

/** Options of {@link CsvParser}. */
export interface CsvParserOptions {
  /** One character. @default ',' */
  delimiter?: string;
  /** One character. @default '"' */
  quote?: string;
  /** Most fields of a record; one more is RESOURCE_EXHAUSTED. @default Infinity */
  maxFields?: number;
  /** Longest field, in characters; a longer one is RESOURCE_EXHAUSTED. @default Infinity */
  maxFieldChars?: number;
}

/** One parsed record; valid only during the handler call that receives it. */
export interface CsvRecord {
  /** Number of fields. */
  readonly count: number;
  /** The line the record starts on (1-based). */
  readonly line: number;
  /** The line it ends on. */
  readonly endLine: number;
  /** What makes the record malformed (an unclosed quote, text after a closing quote), or null. */
  readonly problem: string | null;
  /** The piece of text that ranges refer to. */
  readonly text: string;
  /** Where field `i` starts in `text`, or -1 when the field is only available as a string. */
  startOf(i: number): number;
  /** Where field `i` ends in `text` (exclusive). */
  endOf(i: number): number;
  /** Field `i` as a string. */
  field(i: number): string;
}

/** Receives each record. */
export type CsvRecordHandler = (record: CsvRecord) => void;

/** The fields of a record as strings. */
export function recordFields(record: CsvRecord): string[] {
  return Array.from({ length: record.count }, (_, i) => record.field(i));
}

const LF = 10;
const CR = 13;

const enum State {
  FieldStart,
  Unquoted,
  Quoted,
  QuoteInQuoted,
}

/**
 * Parses CSV text pushed in pieces. A field is quoted only when it starts with the quote
 * character; a quote inside an unquoted field is kept as it is. After a closing quote only the
 * delimiter or a line end may follow; anything else makes the record malformed (`problem`), as
 * does a quote still open at the end (`unclosed quote`).
 *
 * @example
 * const parser = new CsvParser({}, (record) => rows.push(recordFields(record)));
 * parser.push('a,"b\nc"\r\n1,2');
 * parser.end(); // rows: [['a', 'b\nc'], ['1', '2']]
 */
export class CsvParser implements CsvRecord {
  count = 0;
  line = 1;
  endLine = 1;
  problem: string | null = null;
  text = '';
  private readonly delimiter: number;
  private readonly quote: number;
  private readonly quoteChar: string;
  private starts = new Int32Array(64);
  private ends = new Int32Array(64);
  private owned: string[] = [];
  private state = State.FieldStart;
  private field0 = '';
  private next = 1;
  /** The current record has a quoted field (so a lone empty field is not a blank line). */
  private quoted = false;
  /** A CR ended the last piece: an LF starting the next one belongs to it. */
  private skipLf = false;
  private nextQuote = -1;
  private nextCr = -1;
  private readonly maxFields: number;
  private readonly maxFieldChars: number;

  constructor(
    options: CsvParserOptions,
    private readonly onRecord: CsvRecordHandler,
  ) {
    this.maxFields = options.maxFields ?? Number.POSITIVE_INFINITY;
    this.maxFieldChars = options.maxFieldChars ?? Number.POSITIVE_INFINITY;
    this.delimiter = (options.delimiter ?? ',').charCodeAt(0);
    this.quoteChar = options.quote ?? '"';
    this.quote = this.quoteChar.charCodeAt(0);
  }

  /** The physical line the next character of input is on (1-based). */
  get currentLine(): number {
    return this.next;
  }

  startOf(i: number): number {
    return this.starts[i]!;
  }

  endOf(i: number): number {
    return this.ends[i]!;
  }

  field(i: number): string {
    const start = this.starts[i]!;
    return start >= 0 ? this.text.slice(start, this.ends[i]!) : this.owned[i]!;
  }

  /** Parses the next piece of text, emitting every record it completes. */
  push(text: string): void {
    this.text = text;
    this.nextQuote = -1;
    this.nextCr = -1;
    const n = text.length;
    let i = 0;
    if (this.skipLf && n > 0) {
      this.skipLf = false;
      if (text.charCodeAt(0) === LF) i = 1;
    }
    while (i < n) {
      if (this.state === State.FieldStart && this.count === 0) {
        const after = this.fastRecord(text, i);
        if (after >= 0) {
          i = after;
          continue;
        }
      }
      i = this.step(text, i);
    }
    // Fields of an unfinished record must outlive this piece of text.
    for (let k = 0; k < this.count; k++) {
      if (this.starts[k]! >= 0) this.own(k, text.slice(this.starts[k]!, this.ends[k]!));
    }
  }

  /** Ends the input: emits the last record, or reports a quote left open. */
  end(): void {
    if (this.state === State.Quoted) {
      this.own(this.count++, this.field0);
      this.problem = `unclosed quote (opened in field ${this.count}; the rest of the file, to line ${this.next}, is inside it)`;
      this.emit(this.next);
    } else if (this.state !== State.FieldStart || this.count > 0) {
      this.own(this.count++, this.field0);
      this.emit(this.next);
    }
    this.field0 = '';
    this.state = State.FieldStart;
  }

  /** A whole quote-free line from `i`: its fields as ranges. Returns where the next record starts, or -1. */
  private fastRecord(text: string, i: number): number {
    const lineEnd = text.indexOf('\n', i);
    if (lineEnd === -1) return -1;
    if (this.nextQuote < i) this.nextQuote = indexOrEnd(text, this.quoteChar, i);
    if (this.nextQuote < lineEnd) return -1;
    if (this.nextCr < i) this.nextCr = indexOrEnd(text, '\r', i);
    let end = lineEnd;
    if (this.nextCr < lineEnd) {
      if (this.nextCr !== lineEnd - 1) return -1;
      end = lineEnd - 1;
    }
    const line = this.next++;
    if (end === i) return lineEnd + 1;
    const delimiter = this.delimiter;
    let k = 0;
    let from = i;
    this.line = line;
    for (let j = i; j < end; j++) {
      if (text.charCodeAt(j) === delimiter) {
        if (j - from > this.maxFieldChars) this.fieldTooLong(k);
        this.range(k++, from, j);
        from = j + 1;
      }
    }
    if (end - from > this.maxFieldChars) this.fieldTooLong(k);
    this.range(k++, from, end);
    this.count = k;
    this.endLine = line;
    this.onRecord(this);
    this.count = 0;
    return lineEnd + 1;
  }

  /** One step of the general state machine from `i`; returns the next position. */
  private step(text: string, i: number): number {
    const n = text.length;
    if (this.state === State.FieldStart) {
      if (this.count === 0) this.line = this.next;
      if (text.charCodeAt(i) === this.quote) {
        this.state = State.Quoted;
        this.quoted = true;
        return i + 1;
      }
      this.state = State.Unquoted;
    }
    if (this.state === State.Unquoted) {
      let j = i;
      let c = 0;
      while (j < n) {
        c = text.charCodeAt(j);
        if (c === this.delimiter || c === LF || c === CR) break;
        j++;
      }
      if (this.field0.length === 0 && j < n) {
        this.range(this.count, i, j);
        return this.endField(text, j, c, false);
      }
      this.field0 += text.slice(i, j);
      if (this.field0.length > this.maxFieldChars) this.fieldTooLong(this.count);
      return j === n ? n : this.endField(text, j, c, true);
    }
    if (this.state === State.Quoted) {
      const j = text.indexOf(this.quoteChar, i);
      const piece = text.slice(i, j === -1 ? n : j);
      this.next += countLineFeeds(piece);
      this.field0 += piece;
      if (this.field0.length > this.maxFieldChars) this.fieldTooLong(this.count, ' (an unclosed quote?)');
      if (j === -1) return n;
      this.state = State.QuoteInQuoted;
      return j + 1;
    }
    const c = text.charCodeAt(i);
    if (c === this.quote) {
      this.field0 += this.quoteChar;
      this.state = State.Quoted;
      return i + 1;
    }
    if (c === this.delimiter || c === LF || c === CR) return this.endField(text, i, c, true);
    // Keep reading the rest as unquoted text, but the record is malformed.
    this.problem ??= `unexpected character ${JSON.stringify(text[i])} after a closing quote in field ${this.count + 1}`;
    this.state = State.Unquoted;
    return i;
  }

  /** Closes the current field at `at` (a delimiter or line end); returns the next position. */
  private endField(text: string, at: number, c: number, owned: boolean): number {
    if (owned) this.own(this.count, this.field0);
    this.count++;
    this.field0 = '';
    this.state = State.FieldStart;
    if (c === this.delimiter) return at + 1;
    const endLine = this.next++;
    let next = at + 1;
    if (c === CR) {
      if (next < text.length) {
        if (text.charCodeAt(next) === LF) next++;
      } else this.skipLf = true;
    }
    this.emit(endLine);
    return next;
  }

  private emit(endLine: number): void {
    const blank = this.count === 1 && !this.quoted && this.field(0) === '';
    this.endLine = endLine;
    if (!blank || this.problem !== null) this.onRecord(this);
    this.count = 0;
    this.problem = null;
    this.quoted = false;
  }

  private range(k: number, start: number, end: number): void {
    if (k >= this.starts.length) this.grow(k);
    this.starts[k] = start;
    this.ends[k] = end;
  }

  private own(k: number, value: string): void {
    if (k >= this.starts.length) this.grow(k);
    this.starts[k] = -1;
    this.owned[k] = value;
  }

  private fieldTooLong(k: number, hint = ''): never {
    throw new PipelineLimitError(
      `line ${this.line}: field ${k + 1} is longer than ${this.maxFieldChars} characters${hint}; the limit is AIMAAS_PREPROCESSING_MAX_CELL_CHARS`,
    );
  }

  private grow(k: number): void {
    if (k >= this.maxFields) {
      throw new PipelineLimitError(
        `line ${this.line}: a record has more than ${this.maxFields} fields; the limit is AIMAAS_PREPROCESSING_MAX_COLUMNS`,
      );
    }
    const starts = new Int32Array(this.starts.length * 2);
    starts.set(this.starts);
    const ends = new Int32Array(this.ends.length * 2);
    ends.set(this.ends);
    this.starts = starts;
    this.ends = ends;
  }
}

function indexOrEnd(text: string, char: string, from: number): number {
  const at = text.indexOf(char, from);
  return at === -1 ? text.length : at;
}

function countLineFeeds(text: string): number {
  let count = 0;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) count++;
  return count;
}

/**
 * Streaming readers of JSON Lines (one object per line) and of one JSON array of objects. Text
 * arrives in pieces cut anywhere; each record is parsed as soon as it is complete, so a large
 * array never has to be held whole. Records come out with the lines they span.
 */
import { InvalidArgumentError, ResourceExhaustedError } from '@aimaas/runtime';

/** Receives each record: the parsed value (undefined when it is not valid JSON), its lines, and what is wrong with it. */
type JsonRecordHandler = (
  value: Record<string, unknown> | undefined,
  line: number,
  endLine: number,
  problem: string | null,
) => void;

/** What a JSON record may be: checked before it is parsed. */
interface JsonRecordLimits {
  /** Longest record, in characters (RESOURCE_EXHAUSTED past it). @default Infinity */
  maxRecordChars?: number;
  /** Deepest nesting of arrays and objects (the record is malformed past it). @default Infinity */
  maxDepth?: number;
}

/** What both JSON parsers share: the record handler and the limits. */
abstract class JsonRecordParser {
  protected readonly maxChars: number;
  protected readonly maxDepth: number;

  constructor(
    protected readonly onRecord: JsonRecordHandler,
    limits: JsonRecordLimits = {},
  ) {
    this.maxChars = limits.maxRecordChars ?? Number.POSITIVE_INFINITY;
    this.maxDepth = limits.maxDepth ?? Number.POSITIVE_INFINITY;
  }
}

/** A streaming parser of records: text in, records out. */
export interface RecordParser {
  push(text: string): void;
  end(): void;
  /** The physical line the next character of input is on (1-based). */
  readonly currentLine: number;
}

/**
 * JSON Lines: every non-blank line is one JSON object. A line that is not JSON, or not an
 * object, is a malformed record.
 */
export class JsonLinesParser extends JsonRecordParser implements RecordParser {
  private pending = '';
  private line = 1;

  get currentLine(): number {
    return this.line;
  }

  push(text: string): void {
    let start = 0;
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', start)) {
      const piece = text.slice(start, at);
      this.record(this.pending.length === 0 ? piece : this.pending + piece);
      this.pending = '';
      start = at + 1;
    }
    if (start < text.length) this.pending += text.slice(start);
    if (this.pending.length > this.maxChars) throw recordTooLong(this.line, this.maxChars);
  }

  end(): void {
    if (this.pending.length > 0) this.record(this.pending);
    this.pending = '';
  }

  private record(raw: string): void {
    const line = this.line++;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.trim().length === 0) return;
    if (text.length > this.maxChars) throw recordTooLong(line, this.maxChars);
    const { value, problem } = parseRecord(text, this.maxDepth);
    this.onRecord(value, line, line, problem);
  }
}

const enum ArrayState {
  BeforeArray,
  BeforeElement,
  InElement,
  AfterElement,
  AfterArray,
}

/**
 * One JSON array of objects, `[{…}, {…}]`, read element by element. An element that is not a
 * valid JSON object is a malformed record; a broken array (no `[`, a missing `,`, no closing
 * `]`) is INVALID_ARGUMENT at once, whatever the policy, because the records can no longer be told apart.
 */
export class JsonArrayParser extends JsonRecordParser implements RecordParser {
  private state = ArrayState.BeforeArray;
  private line = 1;
  private element = '';
  private elementLine = 1;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private records = 0;
  private maxSeenDepth = 0;

  get currentLine(): number {
    return this.line;
  }

  /** True once the opening `[` was read. */
  get started(): boolean {
    return this.state !== ArrayState.BeforeArray;
  }

  push(text: string): void {
    const n = text.length;
    let i = 0;
    while (i < n) {
      if (this.state === ArrayState.InElement) {
        i = this.scanElement(text, i);
        continue;
      }
      const c = text.charCodeAt(i);
      if (c === 10) this.line++;
      if (c === 32 || c === 9 || c === 10 || c === 13) {
        i++;
        continue;
      }
      const char = text[i]!;
      if (this.state === ArrayState.BeforeArray) {
        if (char !== '[') this.broken(`expected a JSON array of objects ("["), got ${JSON.stringify(char)}`);
        this.state = ArrayState.BeforeElement;
        i++;
      } else if (this.state === ArrayState.BeforeElement) {
        if (char === ']' && this.records === 0) this.state = ArrayState.AfterArray;
        else if (char === ']' || char === ',')
          this.broken(`expected a record after ${this.records === 0 ? '"["' : '","'}, got ${JSON.stringify(char)}`);
        else {
          this.state = ArrayState.InElement;
          this.elementLine = this.line;
          this.element = '';
          this.depth = 0;
        }
      } else if (this.state === ArrayState.AfterElement) {
        if (char === ',') this.state = ArrayState.BeforeElement;
        else if (char === ']') this.state = ArrayState.AfterArray;
        else this.broken(`expected "," or "]" after record ${this.records}, got ${JSON.stringify(char)}`);
        i++;
      } else {
        this.broken(`unexpected ${JSON.stringify(char)} after the end of the JSON array`);
      }
    }
  }

  end(): void {
    if (this.state === ArrayState.BeforeArray || this.state === ArrayState.AfterArray) return;
    if (this.state === ArrayState.InElement && this.depth === 0 && !this.inString && this.element.length > 0)
      this.finishElement();
    this.broken('unexpected end of file: the JSON array is not closed with "]"');
  }

  /** Scans element text from `start`; returns where scanning stopped. */
  private scanElement(text: string, start: number): number {
    const n = text.length;
    let i = start;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 92) this.escaped = true;
        else if (c === 34) this.inString = false;
        else if (c === 10) this.line++;
        i++;
        continue;
      }
      if (c === 34) this.inString = true;
      else if (c === 123 || c === 91) {
        if (++this.depth > this.maxSeenDepth) this.maxSeenDepth = this.depth;
      } else if (c === 125 || c === 93) {
        if (this.depth === 0) break; // "]" ending the array after a bare value
        this.depth--;
        if (this.depth === 0) {
          this.element += text.slice(start, i + 1);
          if (this.element.length > this.maxChars) throw recordTooLong(this.elementLine, this.maxChars);
          this.finishElement();
          return i + 1;
        }
      } else if (c === 44 && this.depth === 0) break;
      else if (c === 10) this.line++;
      i++;
    }
    this.element += text.slice(start, i);
    if (this.element.length > this.maxChars) throw recordTooLong(this.elementLine, this.maxChars);
    if (i < n) this.finishElement();
    return i;
  }

  private finishElement(): void {
    const deep = this.maxSeenDepth > this.maxDepth;
    this.maxSeenDepth = 0;
    const { value, problem } = deep ? { value: undefined, problem: tooDeep(this.maxDepth) } : parseRecord(this.element);
    this.records++;
    this.element = '';
    this.state = ArrayState.AfterElement;
    this.onRecord(value, this.elementLine, this.line, problem);
  }

  private broken(problem: string): never {
    throw new InvalidArgumentError(`line ${this.line}: ${problem}`);
  }
}

function recordTooLong(line: number, max: number): ResourceExhaustedError {
  return new ResourceExhaustedError(
    `line ${line}: a record longer than ${max} characters; the limit is AIMAAS_PREPROCESSING_MAX_RECORD_CHARS`,
  );
}

function tooDeep(max: number): string {
  return `nested deeper than ${max} levels of arrays and objects (AIMAAS_PREPROCESSING_MAX_JSON_DEPTH)`;
}

/** The deepest nesting of `[` and `{` outside strings, stopping early once past `max`. */
function nestingDepth(text: string, max: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > deepest && (deepest = depth) > max) return deepest;
    } else if (c === 125 || c === 93) depth--;
  }
  return deepest;
}

function parseRecord(
  text: string,
  maxDepth = Number.POSITIVE_INFINITY,
): { value: Record<string, unknown> | undefined; problem: string | null } {
  if (Number.isFinite(maxDepth) && nestingDepth(text, maxDepth) > maxDepth)
    return { value: undefined, problem: tooDeep(maxDepth) };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { value: undefined, problem: `not valid JSON (${(error as Error).message})` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    return { value: undefined, problem: `expected a JSON object, got ${got}` };
  }
  return { value: value as Record<string, unknown>, problem: null };
}

/**
 * Incremental UTF-8 decoding of an uploaded file whose chunks may split a character anywhere.
 * Every chunk is validated with a fatal `TextDecoder`; when a chunk holds invalid bytes it is
 * decoded leniently instead and the lines holding them are reported, so that the parser can
 * treat exactly those rows as malformed (policy FAIL or SKIP) and name their line.
 */
import { isUtf8 } from 'node:buffer';

/** Text decoded from one chunk, and the lines of it that held invalid UTF-8. */
export interface DecodedText {
  text: string;
  /**
   * Lines of `text` that held invalid bytes, counted from 0 = the line `text` starts on (the
   * line the previous chunk ended in), ascending. Empty for valid input.
   */
  badLines: number[];
}

const NEWLINE = 0x0a;
const EMPTY = new Uint8Array(0);

/**
 * Decodes a byte stream as UTF-8. A byte-order mark at the very start is dropped (and only
 * there: a U+FEFF later in the file is kept). Bytes of a character cut by a chunk boundary are
 * carried to the next chunk.
 *
 * @example
 * const decoder = new Utf8StreamDecoder();
 * for (const chunk of chunks) parser.push(decoder.decode(chunk));
 * parser.push(decoder.end());
 */
export class Utf8StreamDecoder {
  private readonly fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  private readonly lenient = new TextDecoder('utf-8', { ignoreBOM: true });
  private carry: Uint8Array = EMPTY;
  private atStart = true;

  /** Decodes the next chunk. */
  decode(chunk: Uint8Array): DecodedText {
    let bytes = this.carry.length === 0 ? chunk : concat(this.carry, chunk);
    if (this.atStart) {
      // Wait for three bytes before deciding whether the file starts with a BOM.
      if (bytes.length < 3 && bytes.every((b, i) => b === BOM[i])) {
        this.carry = bytes.slice();
        return { text: '', badLines: [] };
      }
      this.atStart = false;
      if (bytes[0] === BOM[0] && bytes[1] === BOM[1] && bytes[2] === BOM[2]) bytes = bytes.subarray(3);
    }
    const complete = completeLength(bytes);
    this.carry = complete === bytes.length ? EMPTY : bytes.slice(complete);
    return this.decodeComplete(bytes.subarray(0, complete));
  }

  /** Decodes what is left at the end of the stream (a cut-off character is invalid). */
  end(): DecodedText {
    const rest = this.carry;
    this.carry = EMPTY;
    this.atStart = false;
    return this.decodeComplete(rest);
  }

  private decodeComplete(bytes: Uint8Array): DecodedText {
    if (bytes.length === 0) return { text: '', badLines: [] };
    try {
      return { text: this.fatal.decode(bytes), badLines: [] };
    } catch {
      return { text: this.lenient.decode(bytes), badLines: invalidLines(bytes) };
    }
  }
}

const BOM = [0xef, 0xbb, 0xbf];

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Length of the prefix of `bytes` that ends on a character boundary: a trailing lead byte whose
 * continuation bytes have not all arrived yet is left for the next chunk. Invalid bytes are not
 * held back (they are reported where they are).
 */
function completeLength(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const byte = bytes[n - back]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back for its lead
    const need = byte >= 0xf0 && byte <= 0xf4 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc2 && byte < 0xe0 ? 2 : 1;
    return need > back && byte >= 0xc2 && byte <= 0xf4 ? n - back : n;
  }
  return n;
}

/** Lines (0-based from the start of `bytes`) holding invalid UTF-8. */
function invalidLines(bytes: Uint8Array): number[] {
  const bad: number[] = [];
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let start = 0;
  for (let line = 0; start <= view.length; line++) {
    let end = view.indexOf(NEWLINE, start);
    if (end === -1) end = view.length;
    if (end > start && !isUtf8(view.subarray(start, end))) bad.push(line);
    start = end + 1;
  }
  return bad;
}

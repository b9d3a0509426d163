import { DataLossError, InvalidArgumentError } from '@aimaas/runtime';
import { storeError } from './store-errors.js';

/** Characters a key part keeps as they are; everything else is escaped as `=XX` per UTF-8 byte. */
const PLAIN = /^[-/_a-zA-Z0-9]$/;
const VALID_KEY = /^[-/_=.a-zA-Z0-9]+$/;
const VALID_FILTER = /^[-/_=.a-zA-Z0-9*>]+$/;
const HEX = '0123456789ABCDEF';
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Decoder = new TextDecoder();

/**
 * Escape one part of a KV key (a model name, a tag) so it only uses the characters JetStream KV
 * allows in a token: `[-/_a-zA-Z0-9]` stay, every other UTF-8 byte (including `.`, `=`, spaces,
 * `*`, `>`) becomes `=XX` (upper-case hex). Reversible with {@link decodeKey}; distinct parts
 * give distinct encodings, so prefixes built from encoded parts never collide.
 *
 * @example
 * encodeKey('resnet 50.v2') // 'resnet=2050=2Ev2'
 * joinKey('models', 'resnet 50.v2', 'versions', 3) // 'models.resnet=2050=2Ev2.versions.3'
 */
export function encodeKey(part: string): string {
  if (part.length === 0) {
    throw storeError(
      InvalidArgumentError,
      'KV key part is empty: every part between dots needs at least one character',
    );
  }
  let out = '';
  for (const char of part) {
    if (PLAIN.test(char)) {
      out += char;
      continue;
    }
    for (const byte of utf8.encode(char)) out += `=${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

/** Reverse {@link encodeKey}. Throws `InvalidArgumentError` for text encodeKey cannot produce. */
export function decodeKey(encoded: string): string {
  if (!encoded.includes('=')) return encoded;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const char = encoded[i]!;
    if (char !== '=') {
      bytes.push(char.charCodeAt(0));
      continue;
    }
    const hex = encoded.slice(i + 1, i + 3);
    if (!/^[0-9A-F]{2}$/.test(hex)) {
      throw storeError(
        InvalidArgumentError,
        `KV key part "${encoded}" has a bad escape at offset ${i}: expected =XX (upper-case hex)`,
      );
    }
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  try {
    return strictUtf8.decode(Uint8Array.from(bytes));
  } catch (err) {
    throw storeError(InvalidArgumentError, `KV key part "${encoded}" does not decode to UTF-8 text`, { cause: err });
  }
}

/**
 * Build a dotted key from parts, escaping each with {@link encodeKey} (numbers as decimals).
 *
 * @example
 * joinKey('aliases', modelName, 'champion')
 */
export function joinKey(...parts: Array<string | number>): string {
  return parts.map((part) => encodeKey(String(part))).join('.');
}

/** Split a dotted key into its decoded parts (the reverse of {@link joinKey}). */
export function splitKey(key: string): string[] {
  return key.split('.').map(decodeKey);
}

/**
 * Longest KV key: the subject of a request that carries it must stay well inside NATS's 4 KiB
 * control line, or the server closes the whole connection ("maximum control line exceeded").
 */
export const MAX_KEY_LENGTH = 1024;

/** Throws `InvalidArgumentError` unless `key` is a valid literal KV key. */
export function assertKey(key: string, bucket: string): void {
  if (key.length > MAX_KEY_LENGTH) {
    throw storeError(
      InvalidArgumentError,
      `KV key of ${key.length} characters in bucket "${bucket}" is over ${MAX_KEY_LENGTH}: "${key.slice(0, 100)}…"`,
      {
        publicMessage: `an id or name of ${key.length} characters is too long to store (the key limit is ${MAX_KEY_LENGTH})`,
      },
    );
  }
  if (!VALID_KEY.test(key) || key.startsWith('.') || key.endsWith('.') || key.includes('..')) {
    throw storeError(
      InvalidArgumentError,
      `KV key "${key}" in bucket "${bucket}" is invalid: expected dot-separated non-empty parts of ` +
        '[-/_=a-zA-Z0-9] (escape free text such as model names with encodeKey)',
    );
  }
}

/** Throws `InvalidArgumentError` unless `filter` is a valid key filter (`*` a part, `>` the rest). */
export function assertFilter(filter: string, bucket: string): void {
  if (filter.length > MAX_KEY_LENGTH) {
    throw storeError(
      InvalidArgumentError,
      `KV key filter of ${filter.length} characters in bucket "${bucket}" is over ${MAX_KEY_LENGTH}`,
      {
        publicMessage: `an id or name of ${filter.length} characters is too long to look up (the key limit is ${MAX_KEY_LENGTH})`,
      },
    );
  }
  const parts = filter.split('.');
  const wildcardsOk = parts.every(
    (part, i) => part === '*' || (part === '>' && i === parts.length - 1) || !/[*>]/.test(part),
  );
  if (!VALID_FILTER.test(filter) || parts.some((part) => part === '') || !wildcardsOk) {
    throw storeError(
      InvalidArgumentError,
      `KV key filter "${filter}" in bucket "${bucket}" is invalid: expected dot-separated parts where ` +
        '"*" matches one part and a final ">" matches the rest',
    );
  }
}

/** JSON text of `value` as UTF-8; `where` names the key in the error for a value JSON cannot hold. */
export function encodeJson(value: unknown, where: string): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw storeError(InvalidArgumentError, `value for ${where} cannot be written as JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (text === undefined) {
    throw storeError(InvalidArgumentError, `value for ${where} cannot be written as JSON (got ${typeof value})`);
  }
  return utf8.encode(text);
}

/** Parse stored JSON; bytes that are not JSON mean the stored value is damaged (`DataLossError`). */
export function decodeJson<T>(data: Uint8Array, where: string): T {
  try {
    return JSON.parse(utf8Decoder.decode(data)) as T;
  } catch (err) {
    throw storeError(DataLossError, `stored value of ${where} is not valid JSON`, { cause: err });
  }
}

/**
 * Seeded generators of what a hostile or careless client sends: random byte strings, and
 * well-formed messages of a method's request type whose every field holds a value from the
 * families that have broken services before (huge numbers and strings, deep nesting, prototype
 * keys, NATS wildcards, long ids, mismatched shapes).
 */
import protobuf from 'protobufjs';

export { createRandom as seededRandom } from '@aimaas/pipeline';

/** Random bytes: empty, short, a protobuf-looking prefix, or up to 64 KiB of noise. */
export function randomBytes(random: () => number): Buffer {
  const sizes = [0, 1, 5, 17, 64, 1024, 65_536];
  const size = sizes[Math.floor(random() * sizes.length)]!;
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = Math.floor(random() * 256);
  // Half of them start like a length-delimited field 1, so decoders go further in.
  if (size > 2 && random() < 0.5) bytes[0] = 0x0a;
  return bytes;
}

const LONG = 'x'.repeat(100_000);
/** String values of the hostile families. */
const HOSTILE_STRINGS: readonly string[] = [
  '',
  LONG,
  'a'.repeat(5_000),
  '__proto__',
  'constructor',
  '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}',
  'models.>',
  'a.*.b',
  '>',
  '*',
  '../../../../etc/passwd',
  '/abs/path',
  'nul\u0000byte',
  '\ud800',
  '🦄'.repeat(1000),
  `${'['.repeat(50_000)}${']'.repeat(50_000)}`,
  `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`,
  "description LIKE '%a%a%a%a%a%a%a%a%a%a%a%a%a%b'",
  "name = 'x' AND ".repeat(500),
  '[{"a": 1e400}]',
  'NaN',
  '-1',
  'fmnist@production',
  'iris',
];

/** 64-bit integer values, as decimal strings (protobufjs takes them for int64/uint64). */
const HOSTILE_INT64: readonly string[] = [
  '0',
  '-1',
  '9007199254740992',
  '9007199254740993',
  '9223372036854775807',
  '-9223372036854775808',
  '1000000000000',
];
const HOSTILE_INT32: readonly number[] = [0, -1, 1, 2_147_483_647, -2_147_483_648, 999];
const HOSTILE_UINT32: readonly number[] = [0, 1, 4_294_967_295, 1_000_000_000];
const HOSTILE_DOUBLE: readonly number[] = [0, -0, 1e308, -1e308, Number.NaN, Number.POSITIVE_INFINITY, 5e-324, 2 ** 53];
const HOSTILE_SHAPES: readonly string[][] = [
  ['1000000000000', '4'],
  ['-1'],
  ['0'],
  ['2147483648', '2147483648'],
  Array.from({ length: 100 }, () => '2'),
];

function pick<T>(random: () => number, values: readonly T[]): T {
  return values[Math.floor(random() * values.length)]!;
}

function scalar(field: protobuf.Field, random: () => number): unknown {
  switch (field.type) {
    case 'string':
      return pick(random, HOSTILE_STRINGS);
    case 'bytes':
      return randomBytes(random);
    case 'bool':
      return random() < 0.5;
    case 'double':
    case 'float':
      return pick(random, HOSTILE_DOUBLE);
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return pick(random, HOSTILE_INT64);
    case 'uint64':
    case 'fixed64':
      return pick(
        random,
        HOSTILE_INT64.filter((v) => !v.startsWith('-')),
      );
    case 'uint32':
    case 'fixed32':
      return pick(random, HOSTILE_UINT32);
    default:
      return pick(random, HOSTILE_INT32);
  }
}

function value(field: protobuf.Field, random: () => number, depth: number): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Enum) return pick(random, [...Object.values(resolved.values), 999, -1]);
  if (resolved instanceof protobuf.Type) return depth > 3 ? {} : hostileMessage(resolved, random, depth + 1);
  return scalar(field, random);
}

/**
 * A message of `type` with each field set at random (about two in three), each value from the
 * hostile families; repeated numbers get up to 100,000 elements, repeated strings and messages up
 * to 3, and a field named `shape` mostly a hostile shape.
 */
export function hostileMessage(type: protobuf.Type, random: () => number, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    if (random() < 0.33) continue;
    if (field instanceof protobuf.MapField) {
      const map: Record<string, unknown> = Object.create(null);
      const keys = ['__proto__', 'constructor', 'a.*', LONG.slice(0, 5_000), '', 'ok'];
      for (const key of keys) if (random() < 0.6) map[key] = value(field, random, depth);
      out[field.name] = map;
    } else if (field.repeated) {
      if (field.name === 'shape' && random() < 0.7) out[field.name] = pick(random, HOSTILE_SHAPES);
      else {
        // Long runs of numbers, short runs of strings and messages (which may hold 100 KB each).
        const numeric = !field.resolvedType && field.type !== 'string' && field.type !== 'bytes';
        const length = pick(random, numeric ? [0, 1, 3, 1000, 100_000] : [0, 1, 3]);
        const one = value(field, random, depth);
        out[field.name] = Array.from({ length }, () => (field.resolvedType ? value(field, random, depth) : one));
      }
    } else {
      out[field.name] = value(field, random, depth);
    }
  }
  return out;
}

/** Encodes `message` as `type`, or undefined when protobufjs cannot (an out-of-range value). */
export function encodeMessage(type: protobuf.Type, message: Record<string, unknown>): Buffer | undefined {
  try {
    return Buffer.from(type.encode(type.fromObject(message)).finish());
  } catch {
    return undefined;
  }
}

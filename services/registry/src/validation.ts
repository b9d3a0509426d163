import { InvalidArgumentError } from '@aimaas/runtime';

/** Registered model names: what the registry accepts in every `name` field. */
const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Alias names: lower case, starting with a letter, so an alias can never read as a version number. */
const ALIAS_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;

/** Aliases a caller may not set: `latest` is what a ModelRef without selector already means. */
const RESERVED_ALIASES = new Set(['latest']);

const FORMAT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;
const SHA256_PATTERN = /^[0-9a-f]{64}$/;
const MAX_PATH_LENGTH = 1024;
const MAX_KEY_LENGTH = 256;
const MAX_VALUE_LENGTH = 8192;
const MAX_DESCRIPTION = 16 * 1024;

/** Throws unless `name` is a valid registered model name; `field` names it in the message. */
export function validateModelName(name: string, field = 'name'): string {
  if (name === '') throw new InvalidArgumentError(`${field}: must not be empty`);
  if (!MODEL_NAME_PATTERN.test(name)) {
    throw new InvalidArgumentError(
      `${field}: ${JSON.stringify(name)} is not a valid model name; expected 1 to 128 characters ` +
        'of [A-Za-z0-9._-] starting with a letter or digit ([A-Za-z0-9][A-Za-z0-9._-]{0,127})',
    );
  }
  return name;
}

/** Throws unless `version` is a positive integer version number. */
export function validateVersion(version: number, field = 'version'): number {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new InvalidArgumentError(`${field}: must be a version number 1 or greater, got ${version}`);
  }
  return version;
}

/** Throws unless `alias` is a valid alias name. */
export function validateAlias(alias: string, field = 'alias'): string {
  if (alias === '') throw new InvalidArgumentError(`${field}: must not be empty`);
  if (/^[0-9]+$/.test(alias)) {
    throw new InvalidArgumentError(
      `${field}: ${JSON.stringify(alias)} is a number; an alias must not look like a version`,
    );
  }
  if (!ALIAS_PATTERN.test(alias)) {
    throw new InvalidArgumentError(
      `${field}: ${JSON.stringify(alias)} is not a valid alias; expected a lower-case letter followed by ` +
        'up to 63 of [a-z0-9_-] ([a-z][a-z0-9_-]*)',
    );
  }
  if (RESERVED_ALIASES.has(alias)) {
    throw new InvalidArgumentError(
      `${field}: "${alias}" is reserved (a ModelRef without version or alias means latest)`,
    );
  }
  return alias;
}

/** Checks a string map (tags, params): keys non-empty and bounded, values bounded. */
export function validateStringMap(map: Record<string, string>, field: string): void {
  for (const [key, value] of Object.entries(map)) {
    validateMapKey(key, field);
    if (value.length > MAX_VALUE_LENGTH) {
      throw new InvalidArgumentError(
        `${field}.${key}: value is ${value.length} characters; at most ${MAX_VALUE_LENGTH}`,
      );
    }
  }
}

/** Checks a metric map: keys as for tags, every value a finite number. */
export function validateMetrics(map: Record<string, number>, field = 'metrics'): void {
  for (const [key, value] of Object.entries(map)) {
    validateMapKey(key, field);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new InvalidArgumentError(`${field}.${key}: must be a finite number, got ${String(value)}`);
    }
  }
}

/** Checks the keys named for removal (remove_tags). */
export function validateKeyList(keys: readonly string[], field: string): void {
  keys.forEach((key, i) => {
    if (key === '') throw new InvalidArgumentError(`${field}[${i}]: must not be empty`);
  });
}

function validateMapKey(key: string, field: string): void {
  if (key === '') throw new InvalidArgumentError(`${field}: keys must not be empty`);
  if (key.length > MAX_KEY_LENGTH) {
    throw new InvalidArgumentError(
      `${field}: key "${key.slice(0, 32)}…" is ${key.length} characters; at most ${MAX_KEY_LENGTH}`,
    );
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) {
    throw new InvalidArgumentError(`${field}: key ${JSON.stringify(key)} contains a control character`);
  }
}

/**
 * Checks a relative artifact path: not empty, not absolute, no `..` or `.` or empty segments, no
 * backslashes or control characters. Returns it unchanged.
 */
export function validateFilePath(path: string, field = 'file.path'): string {
  if (path === '') throw new InvalidArgumentError(`${field}: must not be empty`);
  const bad = (why: string) => new InvalidArgumentError(`${field}: ${JSON.stringify(path)} ${why}`);
  if (path.length > MAX_PATH_LENGTH) throw bad(`is longer than ${MAX_PATH_LENGTH} characters`);
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path))
    throw bad('is absolute; expected a path relative to the version');
  if (path.includes('\\')) throw bad('contains a backslash; use "/" between folders');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) throw bad('contains a control character');
  for (const segment of path.split('/')) {
    if (segment === '..') throw bad('contains ".."; paths must stay inside the version');
    if (segment === '.' || segment === '') throw bad('contains an empty or "." segment');
  }
  return path;
}

/** Checks an artifact format label; empty is allowed (unknown format). */
export function validateFormat(format: string, field = 'file.format'): string {
  if (format !== '' && !FORMAT_PATTERN.test(format)) {
    throw new InvalidArgumentError(
      `${field}: ${JSON.stringify(format)} is not a valid format; expected a label such as "tfjs-layers" or "onnx" ` +
        '(letters, digits, ".", "_", "+", "-")',
    );
  }
  return format;
}

/** Normalizes and checks an expected SHA-256: empty (unknown) or 64 hex digits. Returns lower case. */
export function validateSha256(sha256: string, field = 'file.sha256'): string {
  const lower = sha256.toLowerCase();
  if (lower !== '' && !SHA256_PATTERN.test(lower)) {
    throw new InvalidArgumentError(`${field}: expected 64 hexadecimal digits, got ${JSON.stringify(sha256)}`);
  }
  return lower;
}

/** Applies the page-size convention: 0 means `fallback`, negative is refused, larger than `max` is capped. */
export function pageSize(requested: number, fallback = 100, max = 1000, field = 'page_size'): number {
  if (!Number.isInteger(requested) || requested < 0) {
    throw new InvalidArgumentError(`${field}: must be 0 (default ${fallback}) or a positive number, got ${requested}`);
  }
  if (requested === 0) return fallback;
  return Math.min(requested, max);
}

/** Checks a description's length. */
export function validateDescription(description: string, field = 'description'): string {
  if (description.length > MAX_DESCRIPTION) {
    throw new InvalidArgumentError(`${field}: is ${description.length} characters; at most ${MAX_DESCRIPTION}`);
  }
  return description;
}

/** Checks set/remove lists of an update: valid keys, and no key both set and removed. */
export function validateTagEdits(set: Record<string, string>, remove: readonly string[], field = 'tags'): void {
  validateStringMap(set, `set_${field}`);
  validateKeyList(remove, `remove_${field}`);
  const both = remove.find((key) => Object.hasOwn(set, key));
  if (both !== undefined)
    throw new InvalidArgumentError(`remove_${field}: "${both}" is also in set_${field}; set or remove it, not both`);
}

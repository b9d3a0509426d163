import type { ModelRef } from '@aimaas/proto';

const VERSION = /^[1-9][0-9]*$/;
const ALIAS = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/**
 * Parses a model reference as users write it: `name` (the latest version), `name@3` (a version)
 * or `name@production` (an alias). Throws a `TypeError` saying what was expected.
 *
 * @example
 * parseModelRef('fmnist@production'); // { name: 'fmnist', alias: 'production' }
 * parseModelRef('fmnist@3');          // { name: 'fmnist', version: 3 }
 */
export function parseModelRef(text: string): ModelRef {
  const at = text.indexOf('@');
  const name = at < 0 ? text : text.slice(0, at);
  if (name === '' || /\s/.test(name)) {
    throw new TypeError(`model reference "${text}": expected name, name@<version> or name@<alias>`);
  }
  if (at < 0) return { name };
  const selector = text.slice(at + 1);
  if (VERSION.test(selector)) {
    const version = Number(selector);
    if (!Number.isSafeInteger(version))
      throw new TypeError(`model reference "${text}": version ${selector} is too large`);
    return { name, version };
  }
  if (ALIAS.test(selector)) return { name, alias: selector };
  throw new TypeError(
    `model reference "${text}": "${selector}" after @ is neither a version (1, 2, …) nor an alias (a letter, then letters, digits, _ . -)`,
  );
}

/**
 * The inverse of {@link parseModelRef}: `name`, `name@3` or `name@production`.
 *
 * @example
 * formatModelRef({ name: 'fmnist', version: 3 }); // 'fmnist@3'
 */
export function formatModelRef(ref: ModelRef): string {
  if (ref.version !== undefined && ref.version !== 0) return `${ref.name}@${ref.version}`;
  if (ref.alias !== undefined && ref.alias !== '') return `${ref.name}@${ref.alias}`;
  return ref.name;
}

/** A `ModelRef` from either form: a `ModelRef` as it is, a string through {@link parseModelRef}. */
export function toModelRef(ref: ModelRef | string): ModelRef {
  return typeof ref === 'string' ? parseModelRef(ref) : ref;
}

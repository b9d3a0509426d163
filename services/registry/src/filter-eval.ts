import type { Comparison, FilterKey, FilterOperator, OrderKey } from './filter-parser.js';

/** The flat view of a model version that filters and orderings are evaluated against. */
export interface SearchRecord {
  readonly name: string;
  readonly version: number;
  /** Lower-case task name without prefix: "classification", "regression", ... */
  readonly task: string;
  readonly description: string;
  /** ISO-8601 UTC, so string order is time order. */
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly params: Readonly<Record<string, string>>;
  readonly metrics: Readonly<Record<string, number>>;
  readonly aliases: readonly string[];
}

/** A compiled filter. */
export type Predicate = (record: SearchRecord) => boolean;

type Scalar = string | number | undefined;

function scalarOf(record: SearchRecord, key: FilterKey): Scalar {
  switch (key.kind) {
    case 'tags':
    case 'params':
    case 'metrics':
      return Object.hasOwn(record[key.kind], key.name) ? record[key.kind][key.name] : undefined;
    case 'attribute':
      switch (key.name) {
        case 'name':
          return record.name;
        case 'version':
          return record.version;
        case 'task':
          return record.task;
        case 'description':
          return record.description;
        case 'created_at':
          return record.createdAt;
        case 'updated_at':
          return record.updatedAt;
        case 'alias':
          return undefined;
      }
  }
}

function compare(op: FilterOperator, left: string | number, right: string | number): boolean {
  switch (op) {
    case '=':
      return left === right;
    case '!=':
      return left !== right;
    case '<':
      return left < right;
    case '<=':
      return left <= right;
    case '>':
      return left > right;
    case '>=':
      return left >= right;
    default:
      return false;
  }
}

/** One piece of a LIKE pattern between `%`s: characters, `undefined` standing for `_` (any one). */
type Segment = Array<string | undefined>;

/** Whether `segment` matches `text` (code points) at `at`. */
function segmentAt(segment: Segment, text: string[], at: number): boolean {
  if (at + segment.length > text.length) return false;
  for (let i = 0; i < segment.length; i++) if (segment[i] !== undefined && segment[i] !== text[at + i]) return false;
  return true;
}

/**
 * Compiles a SQL LIKE pattern into a matcher that runs in O(text × pattern) time whatever the
 * pattern (no regular expression is built from it, so no backtracking blow-up): `%` any run, `_`
 * one character, and a backslash makes the next character literal (`50\%` matches "50%"). The
 * pieces between `%`s are matched leftmost-first, which is exact for `%` wildcards: the first
 * piece anchored at the start, the last at the end, each middle one at its earliest place.
 *
 * @example
 * likeMatcher('fm%st')('fmnist'); // true
 */
export function likeMatcher(pattern: string, caseInsensitive = false): (text: string) => boolean {
  const fold = (t: string) => (caseInsensitive ? t.toLowerCase() : t);
  const chars = Array.from(fold(pattern));
  const segments: Segment[] = [[]];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '\\' && i + 1 < chars.length) segments.at(-1)!.push(chars[++i]!);
    else if (c === '%') segments.push([]);
    else if (c === '_') segments.at(-1)!.push(undefined);
    else segments.at(-1)!.push(c);
  }
  return (input) => {
    const text = Array.from(fold(input));
    const first = segments[0]!;
    if (segments.length === 1) return text.length === first.length && segmentAt(first, text, 0);
    const last = segments.at(-1)!;
    if (!segmentAt(first, text, 0)) return false;
    let at = first.length;
    const end = text.length - last.length;
    if (end < at || !segmentAt(last, text, end)) return false;
    for (const segment of segments.slice(1, -1)) {
      let found = -1;
      for (let start = at; start + segment.length <= end; start++) {
        if (segmentAt(segment, text, start)) {
          found = start;
          break;
        }
      }
      if (found < 0) return false;
      at = found + segment.length;
    }
    return true;
  };
}

function compileTerm(term: Comparison): Predicate {
  const { key, operator, value } = term;
  if (operator === 'LIKE' || operator === 'ILIKE') {
    const matches = likeMatcher(String(value), operator === 'ILIKE');
    if (key.kind === 'attribute' && key.name === 'alias') return (r) => r.aliases.some(matches);
    return (r) => {
      const v = scalarOf(r, key);
      return typeof v === 'string' && matches(v);
    };
  }
  if (key.kind === 'attribute' && key.name === 'alias') {
    // An alias is a set: "!=" means none of the aliases equals the value, the rest mean "some alias".
    if (operator === '!=') return (r) => !r.aliases.includes(String(value));
    return (r) => r.aliases.some((a) => compare(operator, a, value));
  }
  if (key.kind === 'params' && typeof value === 'number') {
    // Params are strings; a numeric literal compares them as numbers where they parse as numbers.
    return (r) => {
      const v = scalarOf(r, key);
      if (v === undefined || String(v).trim() === '') return false;
      const n = Number(v);
      return Number.isFinite(n) && compare(operator, n, value);
    };
  }
  // SQL semantics: a missing tag, param or metric satisfies no comparison, "!=" included.
  return (r) => {
    const v = scalarOf(r, key);
    return v !== undefined && compare(operator, v, value);
  };
}

/** Compiles parsed terms into one predicate (all terms must hold). */
export function compileFilter(terms: readonly Comparison[]): Predicate {
  const predicates = terms.map(compileTerm);
  if (predicates.length === 0) return () => true;
  return (record) => predicates.every((p) => p(record));
}

/** The ordering when order_by is empty, and the tie-breakers appended to any other. */
const DEFAULT_ORDER: readonly OrderKey[] = [
  { key: { kind: 'attribute', name: 'name' }, descending: false },
  { key: { kind: 'attribute', name: 'version' }, descending: true },
];

function sortValue(record: SearchRecord, key: FilterKey): Scalar {
  const v = scalarOf(record, key);
  if (key.kind === 'params' && typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return v;
}

function compareValues(a: Scalar, b: Scalar): number {
  if (a === b) return 0;
  // Missing values sort last whichever the direction; handled by the caller.
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1; // numbers before strings (mixed params)
  if (typeof b === 'number') return 1;
  return (a as string) < (b as string) ? -1 : 1;
}

/**
 * Compiles order keys into a comparator; missing values sort last in either direction, and
 * `name ASC, version DESC` break ties so the order (and so paging) is total.
 */
export function compileOrder(keys: readonly OrderKey[]): (a: SearchRecord, b: SearchRecord) => number {
  const all = [...keys];
  for (const fallback of DEFAULT_ORDER) {
    const seen = all.some(
      (k) => k.key.kind === 'attribute' && fallback.key.kind === 'attribute' && k.key.name === fallback.key.name,
    );
    if (!seen) all.push(fallback);
  }
  return (a, b) => {
    for (const { key, descending } of all) {
      const va = sortValue(a, key);
      const vb = sortValue(b, key);
      if (va === undefined || vb === undefined) {
        if (va === vb) continue;
        return va === undefined ? 1 : -1;
      }
      const c = compareValues(va, vb);
      if (c !== 0) return descending ? -c : c;
    }
    return 0;
  };
}

import { InvalidArgumentError, ResourceExhaustedError } from '@aimaas/runtime';

/** A plain attribute of a model version that a filter or order_by can name. */
type AttributeName = 'name' | 'version' | 'task' | 'description' | 'created_at' | 'updated_at' | 'alias';

/** What a filter term looks at: an attribute, or one entry of a map (tags, params, metrics). */
export type FilterKey =
  | { readonly kind: 'attribute'; readonly name: AttributeName }
  | { readonly kind: 'tags' | 'params' | 'metrics'; readonly name: string };

/** Comparison operators; LIKE uses SQL wildcards (`%` any run, `_` one character, `\` escapes). */
export type FilterOperator = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'LIKE' | 'ILIKE';

/** One `key operator value` term of a filter. */
export interface Comparison {
  readonly key: FilterKey;
  readonly operator: FilterOperator;
  readonly value: string | number;
  /** Where the term starts in the filter text (0-based). */
  readonly position: number;
}

/** One key of an order_by clause. */
export interface OrderKey {
  readonly key: FilterKey;
  readonly descending: boolean;
}

const ATTRIBUTES: readonly AttributeName[] = [
  'name',
  'version',
  'task',
  'description',
  'created_at',
  'updated_at',
  'alias',
];
const MAP_PREFIXES: Record<string, 'tags' | 'params' | 'metrics'> = {
  tags: 'tags',
  tag: 'tags',
  params: 'params',
  param: 'params',
  metrics: 'metrics',
  metric: 'metrics',
};
const KEY_LIST = 'name, version, task, description, created_at, updated_at, alias, tags.<k>, params.<k>, metrics.<k>';
const OPERATOR_LIST = '=, !=, <, <=, >, >=, LIKE';
const TASKS = ['unspecified', 'classification', 'regression', 'reconstruction'];

/**
 * A cursor over filter or order_by text that reports errors with the 0-based character position
 * where parsing broke, prefixed with the request field (`filter: ...`).
 */
class Scanner {
  pos = 0;
  constructor(
    readonly text: string,
    readonly field: string,
  ) {}

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }
  atEnd(): boolean {
    return this.pos >= this.text.length;
  }
  peek(): string {
    return this.text[this.pos] ?? '';
  }
  /** Describes what is at `pos` for an error message. */
  found(pos = this.pos): string {
    if (pos >= this.text.length) return 'the end of the ' + this.field;
    const word = /^\S{1,24}/.exec(this.text.slice(pos))?.[0] ?? this.text[pos]!;
    return JSON.stringify(word);
  }
  fail(message: string, pos = this.pos): never {
    throw new InvalidArgumentError(`${this.field}: ${message.replace('%POS%', String(pos))}`);
  }
  /** Consumes a keyword (case-insensitive) when it stands alone at the cursor. */
  keyword(word: string): boolean {
    const end = this.pos + word.length;
    if (this.text.slice(this.pos, end).toUpperCase() !== word) return false;
    if (/[A-Za-z0-9_]/.test(this.text[end] ?? '')) return false;
    this.pos = end;
    return true;
  }
  identifier(): string | undefined {
    const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos));
    if (!match) return undefined;
    this.pos += match[0].length;
    return match[0];
  }
}

function parseKey(s: Scanner, context: 'filter' | 'order_by'): { key: FilterKey; text: string } {
  const start = s.pos;
  const head = s.identifier();
  if (head === undefined) {
    s.fail(`expected a key (${KEY_LIST}) at position %POS%, found ${s.found()}`);
  }
  const prefix = MAP_PREFIXES[head.toLowerCase()];
  if (prefix) {
    if (s.peek() !== '.')
      s.fail(`expected "." and an entry name after "${head}" at position %POS%, e.g. ${prefix}.accuracy`);
    s.pos++;
    const name = parseMapEntryName(s);
    return { key: { kind: prefix, name }, text: s.text.slice(start, s.pos) };
  }
  const attribute = head.toLowerCase() as AttributeName;
  if (!ATTRIBUTES.includes(attribute) || (context === 'order_by' && attribute === 'alias')) {
    const allowed = context === 'order_by' ? KEY_LIST.replace(' alias,', '') : KEY_LIST;
    s.fail(`unknown key "${head}" at position ${start}; expected one of ${allowed}`);
  }
  return { key: { kind: 'attribute', name: attribute }, text: head };
}

/** `accuracy`, `val_loss`, `lr.decay`, or a backquoted name (a doubled backquote is a backquote). */
function parseMapEntryName(s: Scanner): string {
  if (s.peek() === '`') {
    const open = s.pos++;
    let name = '';
    for (;;) {
      if (s.atEnd()) s.fail(`unterminated backquoted key starting at position ${open}`);
      const c = s.text[s.pos++]!;
      if (c !== '`') {
        name += c;
      } else if (s.peek() === '`') {
        name += '`';
        s.pos++;
      } else {
        break;
      }
    }
    if (name === '') s.fail(`empty backquoted key at position ${open}`);
    return name;
  }
  const match = /^[A-Za-z0-9_.:/-]+/.exec(s.text.slice(s.pos));
  if (!match)
    s.fail(
      `expected an entry name at position %POS% (use backquotes for odd names: tags.\`my key\`), found ${s.found()}`,
    );
  s.pos += match[0].length;
  return match[0];
}

function parseOperator(s: Scanner): FilterOperator | undefined {
  for (const op of ['<=', '>=', '!=', '<>', '==', '=', '<', '>'] as const) {
    if (s.text.startsWith(op, s.pos)) {
      s.pos += op.length;
      return op === '<>' ? '!=' : op === '==' ? '=' : op;
    }
  }
  if (s.keyword('LIKE')) return 'LIKE';
  if (s.keyword('ILIKE')) return 'ILIKE';
  return undefined;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', "'": "'", '\\': '\\', '`': '`' };

/** A quoted string; `\%` and `\_` stay escaped so LIKE can tell them from wildcards. */
function parseString(s: Scanner): string {
  const quote = s.text[s.pos]!;
  const open = s.pos++;
  let value = '';
  for (;;) {
    if (s.atEnd()) s.fail(`unterminated string starting at position ${open}; close it with ${quote}`);
    const c = s.text[s.pos++]!;
    if (c === quote) return value;
    if (c !== '\\') {
      value += c;
      continue;
    }
    const next = s.text[s.pos++];
    if (next === undefined) s.fail(`unterminated string starting at position ${open}; close it with ${quote}`);
    if (next === 'u' && /^[0-9a-fA-F]{4}/.test(s.text.slice(s.pos))) {
      value += String.fromCharCode(parseInt(s.text.slice(s.pos, s.pos + 4), 16));
      s.pos += 4;
    } else {
      value += ESCAPES[next] ?? `\\${next}`;
    }
  }
}

function parseValue(s: Scanner, after: string): string | number {
  const c = s.peek();
  if (c === '"' || c === "'") return parseString(s);
  const number = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![A-Za-z0-9_.])/.exec(s.text.slice(s.pos));
  if (number) {
    s.pos += number[0].length;
    return Number(number[0]);
  }
  const bare = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.text.slice(s.pos))?.[0];
  const hint = bare ? ` (quote strings: "${bare}")` : '';
  return s.fail(
    `expected a value (a quoted string or a number) after "${after}" at position %POS%, found ${s.found()}${hint}`,
  );
}

/** Checks that the value's type fits the key and operator; normalizes task names. */
function checkTypes(
  s: Scanner,
  key: FilterKey,
  keyText: string,
  op: FilterOperator,
  value: string | number,
  at: number,
): string | number {
  const numeric = key.kind === 'metrics' || (key.kind === 'attribute' && key.name === 'version');
  if ((op === 'LIKE' || op === 'ILIKE') && (numeric || typeof value !== 'string')) {
    s.fail(`${op} needs a string key and a quoted pattern; "${keyText} ${op}" at position ${at} does not fit`);
  }
  if (numeric && typeof value !== 'number') {
    s.fail(`${keyText} compares with a number, found the string ${JSON.stringify(value)} at position ${at}`);
  }
  if (!numeric && key.kind !== 'params' && typeof value !== 'string') {
    s.fail(`${keyText} compares with a quoted string, found the number ${value} at position ${at}`);
  }
  if (key.kind === 'attribute' && key.name === 'task' && op !== 'LIKE' && op !== 'ILIKE') {
    const task = String(value)
      .toLowerCase()
      .replace(/^task_/, '');
    if (!TASKS.includes(task))
      s.fail(`task: unknown task ${JSON.stringify(value)} at position ${at}; expected one of ${TASKS.join(', ')}`);
    return task;
  }
  return value;
}

/** Bounds of a SearchModelVersions filter (each term's LIKE runs in O(value × pattern)). */
const FILTER_LIMITS = { maxLength: 4_096, maxTerms: 32 } as const;

/**
 * Parses a SearchModelVersions filter: `key op value` terms joined by AND (any case), e.g.
 * `name = "fmnist" AND metrics.accuracy > 0.9 AND tags.\`my key\` LIKE 'vis%'`. An empty filter
 * matches everything. Throws InvalidArgumentError saying where (0-based position) parsing broke.
 *
 * @example
 * parseFilter('metrics.accuracy 0.9'); // throws: filter: expected an operator after "metrics.accuracy" at position 17 ...
 */
export function parseFilter(text: string): Comparison[] {
  if (text.length > FILTER_LIMITS.maxLength) {
    throw new ResourceExhaustedError(`filter: at most ${FILTER_LIMITS.maxLength} characters, got ${text.length}`);
  }
  const s: Scanner = new Scanner(text, 'filter');
  const terms: Comparison[] = [];
  s.skipSpace();
  if (s.atEnd()) return terms;
  for (;;) {
    const position = s.pos;
    const { key, text: keyText } = parseKey(s, 'filter');
    s.skipSpace();
    const opAt = s.pos;
    const operator = parseOperator(s);
    if (!operator)
      s.fail(
        `expected an operator after "${keyText}" at position ${opAt} (one of ${OPERATOR_LIST}), found ${s.found(opAt)}`,
      );
    s.skipSpace();
    const valueAt = s.pos;
    const raw = parseValue(s, `${keyText} ${s.text.slice(opAt, opAt + operator.length).trim() || operator}`);
    const value = checkTypes(s, key, keyText, operator, raw, valueAt);
    terms.push({ key, operator, value, position });
    if (terms.length > FILTER_LIMITS.maxTerms)
      throw new ResourceExhaustedError(`filter: at most ${FILTER_LIMITS.maxTerms} terms`);
    s.skipSpace();
    if (s.atEnd()) return terms;
    const joinAt = s.pos;
    if (s.keyword('AND')) {
      s.skipSpace();
      continue;
    }
    if (s.keyword('OR')) s.fail(`OR at position ${joinAt} is not supported; terms can only be joined by AND`);
    s.fail(`expected AND or the end of the filter at position ${joinAt}, found ${s.found(joinAt)}`);
  }
}

/**
 * Parses an order_by clause: comma-separated keys, each optionally followed by ASC or DESC, e.g.
 * `metrics.accuracy DESC, version`. An empty clause gives no keys (the caller applies its default).
 */
export function parseOrderBy(text: string): OrderKey[] {
  const s: Scanner = new Scanner(text, 'order_by');
  const keys: OrderKey[] = [];
  s.skipSpace();
  if (s.atEnd()) return keys;
  for (;;) {
    const { key } = parseKey(s, 'order_by');
    s.skipSpace();
    let descending = false;
    if (s.keyword('DESC')) descending = true;
    else s.keyword('ASC');
    keys.push({ key, descending });
    s.skipSpace();
    if (s.atEnd()) return keys;
    if (s.peek() !== ',')
      s.fail(`expected ASC, DESC, "," or the end of order_by at position %POS%, found ${s.found()}`);
    s.pos++;
    s.skipSpace();
  }
}

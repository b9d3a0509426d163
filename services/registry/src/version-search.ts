import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '@aimaas/runtime';
import type { SearchModelVersionsRequest, SearchModelVersionsResponse } from '@aimaas/proto';
import { compileFilter, compileOrder } from './filter-eval.js';
import { parseFilter, parseOrderBy, type Comparison } from './filter-parser.js';
import { toModelVersion } from './records.js';
import { pageSize } from './validation.js';
import type { IndexedVersion, VersionIndex } from './version-index.js';

interface CachedResult {
  generation: number;
  matches: IndexedVersion[];
}

const CACHE_ENTRIES = 16;
/**
 * A page stops early once its versions reach this many bytes, so a response stays under the 4 MiB
 * that gRPC clients accept by default even when versions carry large pipeline JSON.
 */
const PAGE_BYTE_BUDGET = 3 * 1024 * 1024;

/** The opaque page token: where the next page starts, bound to the query that issued it. */
interface PageToken {
  /** Offset of the next page in the ordered matches. */
  o: number;
  /** Hash of the filter and order_by that produced the token. */
  q: string;
}

function queryHash(filter: string, orderBy: string): string {
  return createHash('sha256').update(filter).update('\u0000').update(orderBy).digest('base64url').slice(0, 16);
}

/** Encodes a page token (base64url JSON). */
function encodePageToken(offset: number, hash: string): string {
  return Buffer.from(JSON.stringify({ o: offset, q: hash } satisfies PageToken)).toString('base64url');
}

/** Decodes a page token issued for `hash`, or throws INVALID_ARGUMENT saying why it is refused. */
function decodePageToken(token: string, hash: string, field = 'page_token'): number {
  let parsed: Partial<PageToken> | undefined;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<PageToken>;
  } catch {
    parsed = undefined;
  }
  if (
    !parsed ||
    typeof parsed.o !== 'number' ||
    !Number.isSafeInteger(parsed.o) ||
    parsed.o < 0 ||
    typeof parsed.q !== 'string'
  ) {
    throw new InvalidArgumentError(
      `${field}: not a token this service issued; pass next_page_token from the previous response`,
    );
  }
  if (parsed.q !== hash) {
    throw new InvalidArgumentError(
      `${field}: was issued for another filter or order_by; repeat the query that returned it`,
    );
  }
  return parsed.o;
}

/** Terms of the form `name = "x"` let a search scan one model instead of all of them. */
function onlyModel(terms: readonly Comparison[]): string | undefined {
  const term = terms.find((t) => t.key.kind === 'attribute' && t.key.name === 'name' && t.operator === '=');
  return typeof term?.value === 'string' ? term.value : undefined;
}

/**
 * Runs SearchModelVersions against the in-memory {@link VersionIndex}: parses the filter and
 * order_by (INVALID_ARGUMENT with the position where they broke), evaluates over every indexed
 * version, orders, and pages with offset tokens bound to the query (a page may hold fewer than
 * page_size versions when they are large; see PAGE_BYTE_BUDGET). The ordered matches of recent
 * queries are cached until the index changes, so paging through a large result is cheap.
 */
export class VersionSearch {
  readonly #index: VersionIndex;
  readonly #cache = new Map<string, CachedResult>();

  constructor(index: VersionIndex) {
    this.#index = index;
  }

  /** Answers one SearchModelVersions request. */
  search(request: SearchModelVersionsRequest): SearchModelVersionsResponse {
    const terms = parseFilter(request.filter);
    const order = parseOrderBy(request.orderBy);
    const size = pageSize(request.pageSize);
    const hash = queryHash(request.filter.trim(), request.orderBy.trim());
    const offset = request.pageToken === '' ? 0 : decodePageToken(request.pageToken, hash);

    let cached = this.#cache.get(hash);
    if (!cached || cached.generation !== this.#index.generation) {
      const predicate = compileFilter(terms);
      const matches: IndexedVersion[] = [];
      for (const entry of this.#index.versions(onlyModel(terms))) {
        if (predicate(entry.search)) matches.push(entry);
      }
      const compare = compileOrder(order);
      matches.sort((a, b) => compare(a.search, b.search));
      cached = { generation: this.#index.generation, matches };
      this.#remember(hash, cached);
    }
    const { matches } = cached;
    let end = offset;
    for (let bytes = 0; end < matches.length && end - offset < size; end++) {
      bytes += matches[end]!.bytes;
      if (end > offset && bytes > PAGE_BYTE_BUDGET) break;
    }
    const page = matches.slice(offset, end);
    const next = end < matches.length ? encodePageToken(end, hash) : '';
    return {
      versions: page.map((entry) => toModelVersion(entry.stored, [...entry.search.aliases])),
      nextPageToken: next,
      totalSize: matches.length,
    };
  }

  #remember(hash: string, result: CachedResult): void {
    this.#cache.delete(hash);
    this.#cache.set(hash, result);
    if (this.#cache.size > CACHE_ENTRIES) this.#cache.delete(this.#cache.keys().next().value!);
  }
}

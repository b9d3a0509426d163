import type { KvStore, KvWatcher } from '@aimaas/storage';
import type { SearchRecord } from './filter-eval.js';
import { KEYS, parseKey } from './model-store.js';
import { aliasesOf, toSearchRecord, type StoredModel, type StoredVersion } from './records.js';

/** A version as the index holds it: the stored record and its flat search view. */
export interface IndexedVersion {
  readonly stored: StoredVersion;
  readonly revision: number;
  /** Roughly how many bytes the version takes in a response (its JSON length). */
  readonly bytes: number;
  /** Its `aliases` are kept current as the model's aliases move. */
  readonly search: SearchRecord & { aliases: string[] };
}

interface IndexedModel {
  stored: StoredModel;
  revision: number;
}

/** Receives what goes wrong in the background watch (it restarts by itself). */
export type IndexErrorHandler = (error: unknown) => void;

/**
 * A per-process, in-memory copy of every model and version record, kept fresh by watching the
 * registry bucket, so searches and listings never re-read thousands of keys.
 *
 * Consistency: writes this process commits are applied at once (read-your-writes within a
 * replica); other replicas' writes arrive through the watch, typically within milliseconds
 * (eventual consistency across replicas). `sync()` waits until everything committed before it is
 * visible. Point reads (GetModelVersion, ...) go to the bucket itself and are always current.
 */
export class VersionIndex {
  readonly #kv: KvStore<unknown>;
  readonly #onError: IndexErrorHandler;
  readonly #models = new Map<string, IndexedModel>();
  readonly #versions = new Map<string, Map<number, IndexedVersion>>();
  /** Last revision applied per key, tombstones included, so a late watch event never undoes a newer write. */
  readonly #revisions = new Map<string, number>();
  #watched = 0;
  #waiters: Array<{ revision: number; resolve: () => void }> = [];
  #watcher: KvWatcher<unknown> | undefined;
  #stopped = false;
  #loop: Promise<void> | undefined;
  /** Bumped on every change; lets callers cache derived results. */
  generation = 0;

  constructor(kv: KvStore<unknown>, onError: IndexErrorHandler = () => {}) {
    this.#kv = kv;
    this.#onError = onError;
  }

  /** Starts the watch and resolves once the index holds everything committed before the call. */
  async start(): Promise<void> {
    this.#watcher = await this.#kv.watch('>');
    this.#loop = this.#run(this.#watcher);
    await this.sync();
  }

  /** Stops the watch. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watcher?.stop();
    await this.#loop;
    for (const waiter of this.#waiters) waiter.resolve();
    this.#waiters = [];
  }

  /**
   * Resolves once every write committed to the bucket before this call (by any replica) is in
   * the index: writes a barrier key and waits for the watch to deliver it.
   */
  async sync(): Promise<void> {
    const revision = await this.#kv.put(KEYS.barrier('index'), { at: new Date().toISOString() });
    if (this.#watched >= revision || this.#stopped) return;
    await new Promise<void>((resolve) => this.#waiters.push({ revision, resolve }));
  }

  async #run(first: KvWatcher<unknown>): Promise<void> {
    let watcher = first;
    let pauseMs = 250;
    while (!this.#stopped) {
      try {
        for await (const change of watcher) {
          this.apply(change.key, change.value as StoredModel | StoredVersion | undefined, change.revision);
          this.#advance(change.revision);
          pauseMs = 250;
        }
      } catch (error) {
        if (!this.#stopped) this.#onError(error);
      }
      if (this.#stopped) return;
      // The watch ended without stop(): resume after the last revision seen, backing off.
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      pauseMs = Math.min(pauseMs * 2, 10_000);
      try {
        watcher = await this.#kv.watch('>', { fromRevision: this.#watched + 1 });
        this.#watcher = watcher;
      } catch (error) {
        this.#onError(error);
      }
    }
  }

  #advance(revision: number): void {
    if (revision <= this.#watched) return;
    this.#watched = revision;
    const ready = this.#waiters.filter((w) => w.revision <= revision);
    if (ready.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => w.revision > revision);
    for (const waiter of ready) waiter.resolve();
  }

  /**
   * Applies one record (undefined: deleted) written at `revision`, unless a newer revision of the
   * key was applied already. Called by the watch and, for this process's own writes, at once.
   */
  apply(key: string, value: StoredModel | StoredVersion | undefined, revision: number): void {
    const last = this.#revisions.get(key);
    if (last !== undefined && (revision < last || (revision === last && value !== undefined))) return;
    let parsed: ReturnType<typeof parseKey>;
    try {
      parsed = parseKey(key);
    } catch {
      return; // not a key this service writes
    }
    if (parsed.kind === 'other') return;
    this.#revisions.set(key, revision);
    this.generation++;
    if (parsed.kind === 'model') this.#applyModel(parsed.name, value as StoredModel | undefined, revision);
    else this.#applyVersion(parsed.name, parsed.version, value as StoredVersion | undefined, revision);
  }

  #applyModel(name: string, model: StoredModel | undefined, revision: number): void {
    const before = this.#models.get(name)?.stored.aliases ?? {};
    if (model) this.#models.set(name, { stored: model, revision });
    else this.#models.delete(name);
    const after = model?.aliases ?? {};
    // Only versions an alias left or reached need their alias list recomputed.
    const touched = new Set<number>();
    for (const [alias, v] of Object.entries(before)) if (after[alias] !== v) touched.add(v);
    for (const [alias, v] of Object.entries(after)) if (before[alias] !== v) touched.add(v);
    const versions = this.#versions.get(name);
    for (const v of touched) {
      const entry = versions?.get(v);
      if (entry) entry.search.aliases = aliasesOf(model, v);
    }
  }

  #applyVersion(name: string, version: number, stored: StoredVersion | undefined, revision: number): void {
    let versions = this.#versions.get(name);
    if (!stored) {
      versions?.delete(version);
      if (versions?.size === 0) this.#versions.delete(name);
      return;
    }
    if (!versions) this.#versions.set(name, (versions = new Map()));
    const aliases = aliasesOf(this.#models.get(name)?.stored, version);
    const bytes = JSON.stringify(stored).length;
    versions.set(version, { stored, revision, bytes, search: { ...toSearchRecord(stored, aliases), aliases } });
  }

  /** A live model as last seen, or undefined. */
  model(name: string): StoredModel | undefined {
    const model = this.#models.get(name)?.stored;
    return model && !model.deleting ? model : undefined;
  }

  /** Every live model, in name order. */
  models(): StoredModel[] {
    return [...this.#models.values()]
      .map((m) => m.stored)
      .filter((m) => !m.deleting)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * The versions of live models, optionally of one model only. Versions whose model record is
   * absent (mid-delete, or not yet seen) are left out.
   */
  *versions(name?: string): Iterable<IndexedVersion> {
    const names = name === undefined ? this.#versions.keys() : [name];
    for (const n of names) {
      if (!this.model(n)) continue;
      const versions = this.#versions.get(n);
      if (versions) yield* versions.values();
    }
  }

  /** How many versions the index holds (all models). */
  get size(): number {
    let n = 0;
    for (const versions of this.#versions.values()) n += versions.size;
    return n;
  }
}

/**
 * Creates a {@link VersionIndex} over the registry bucket and waits until it holds every record
 * committed so far. Stop it with `index.stop()` at shutdown.
 *
 * @example
 * const index = await startVersionIndex(kv, { onError: (err) => logger.warn({ err }, 'index watch') });
 */
export async function startVersionIndex(
  kv: KvStore<unknown>,
  opts: { onError?: IndexErrorHandler } = {},
): Promise<VersionIndex> {
  const index = new VersionIndex(kv, opts.onError);
  await index.start();
  return index;
}

import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from '@aimaas/runtime';
import type { ModelRef, ModelVersion } from '@aimaas/proto';
import { encodeKey, joinKey, splitKey, type KvStore } from '@aimaas/storage';
import { aliasesOf, toModelVersion, type AliasChangeRecord, type StoredModel, type StoredVersion } from './records.js';
import { validateAlias, validateModelName, validateVersion } from './validation.js';

/**
 * The registry bucket's layout (every part escaped with the storage key encoder):
 *
 * | key | value |
 * |---|---|
 * | `models.<name>` | {@link StoredModel}: description, tags, latest version, aliases |
 * | `versions.<name>.<version>` | {@link StoredVersion}: metadata and files of one version |
 * | `aliashist.<name>.<seq>` | {@link AliasChangeRecord}: one alias move |
 * | `barriers.<replica>` | a marker the version index writes to know its watch caught up |
 * | `uploads.<upload id>` | the lease of an upload in progress (`WriterLease`) |
 */
export const KEYS = {
  model: (name: string) => joinKey('models', name),
  version: (name: string, version: number) => joinKey('versions', name, version),
  versionPrefix: (name: string) => `versions.${encodeKey(name)}.`,
  aliasChange: (name: string, seq: number) => joinKey('aliashist', name, seq),
  aliasChangePrefix: (name: string) => `aliashist.${encodeKey(name)}.`,
  barrier: (replica: string) => joinKey('barriers', replica),
} as const;

/** The key part upload leases live under: `uploads.<upload id>` (see `WriterLease`). */
export const UPLOAD_LEASES = 'uploads';

/** What a key of the registry bucket holds, decoded from the key alone. */
export type ParsedKey =
  | { kind: 'model'; name: string }
  | { kind: 'version'; name: string; version: number }
  | { kind: 'other' };

/** Decodes a registry key (see {@link KEYS}). */
export function parseKey(key: string): ParsedKey {
  const parts = splitKey(key);
  if (parts[0] === 'models' && parts.length === 2) return { kind: 'model', name: parts[1]! };
  if (parts[0] === 'versions' && parts.length === 3)
    return { kind: 'version', name: parts[1]!, version: Number(parts[2]) };
  return { kind: 'other' };
}

/** Told about every write this process commits, so its own reads see them at once. */
export type WriteObserver = (key: string, value: StoredModel | StoredVersion | undefined, revision: number) => void;

/** A stored record with the KV revision that wrote it. */
export interface Revisioned<T> {
  value: T;
  revision: number;
}

/**
 * Typed access to the registry KV bucket: models, versions and alias history, with
 * create-if-absent and update-by-revision, and domain errors that name the model and version.
 */
export class ModelStore {
  readonly #kv: KvStore<unknown>;
  readonly #observe: WriteObserver;

  constructor(kv: KvStore<unknown>, observe: WriteObserver = () => {}) {
    this.#kv = kv;
    this.#observe = observe;
  }

  /** The underlying bucket (for the version index's watch). */
  get kv(): KvStore<unknown> {
    return this.#kv;
  }

  /** The model, or undefined when absent or being deleted (unless `includeDeleting`). */
  async findModel(name: string, includeDeleting = false): Promise<Revisioned<StoredModel> | undefined> {
    const entry = await this.#kv.get(KEYS.model(name));
    if (!entry) return undefined;
    const value = entry.value as StoredModel;
    if (value.deleting && !includeDeleting) return undefined;
    return { value, revision: entry.revision };
  }

  /** The model, or NotFoundError naming it. */
  async getModel(name: string): Promise<Revisioned<StoredModel>> {
    const found = await this.findModel(name);
    if (!found) throw modelNotFound(name);
    return found;
  }

  /** Writes a new model; AlreadyExistsError when the name is taken. */
  async createModel(model: StoredModel): Promise<number> {
    const key = KEYS.model(model.name);
    try {
      const revision = await this.#kv.create(key, model);
      this.#observe(key, model, revision);
      return revision;
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err;
      const existing = await this.findModel(model.name, true);
      if (existing?.value.deleting) {
        throw new FailedPreconditionError(
          `model "${model.name}" is being deleted; create it again once the deletion is done`,
        );
      }
      throw new AlreadyExistsError(`model "${model.name}" already exists`, { cause: err });
    }
  }

  /**
   * Read-modify-write of a live model, retried while other writers win the revision race. `fn`
   * may run several times and may throw a domain error to refuse the change.
   */
  async mutateModel(
    name: string,
    fn: (model: StoredModel) => StoredModel | Promise<StoredModel>,
    opts: { retries?: number; includeDeleting?: boolean } = {},
  ): Promise<Revisioned<StoredModel>> {
    const key = KEYS.model(name);
    const entry = await this.#kv.mutate(
      key,
      async (current) => {
        const model = current as StoredModel | undefined;
        if (!model || (model.deleting && !opts.includeDeleting)) throw modelNotFound(name);
        return fn(structuredClone(model));
      },
      { retries: opts.retries ?? 1000 },
    );
    const value = entry.value as StoredModel;
    this.#observe(key, value, entry.revision);
    return { value, revision: entry.revision };
  }

  /** Removes the model record itself (its versions must be gone already). */
  async deleteModel(name: string, revision: number): Promise<void> {
    const key = KEYS.model(name);
    await this.#kv.delete(key, revision);
    this.#observe(key, undefined, revision);
  }

  /** The version, or undefined. */
  async findVersion(name: string, version: number): Promise<Revisioned<StoredVersion> | undefined> {
    const entry = await this.#kv.get(KEYS.version(name, version));
    return entry ? { value: entry.value as StoredVersion, revision: entry.revision } : undefined;
  }

  /** The version, or NotFoundError naming model and version. */
  async getVersion(name: string, version: number): Promise<Revisioned<StoredVersion>> {
    const found = await this.findVersion(name, version);
    if (!found) throw versionNotFound(name, version);
    return found;
  }

  /** Writes a new version record (its number was allocated by the model record). */
  async createVersion(version: StoredVersion): Promise<number> {
    const key = KEYS.version(version.name, version.version);
    const revision = await this.#kv.create(key, version);
    this.#observe(key, version, revision);
    return revision;
  }

  /** Read-modify-write of a version, retried on revision conflicts. */
  async mutateVersion(
    name: string,
    version: number,
    fn: (v: StoredVersion) => StoredVersion,
  ): Promise<Revisioned<StoredVersion>> {
    const key = KEYS.version(name, version);
    const entry = await this.#kv.mutate(key, (current) => {
      if (!current) throw versionNotFound(name, version);
      return fn(structuredClone(current as StoredVersion));
    });
    const value = entry.value as StoredVersion;
    this.#observe(key, value, entry.revision);
    return { value, revision: entry.revision };
  }

  /** Removes a version record; `revision` is the one last read (for the local index). */
  async deleteVersion(name: string, version: number, revision: number): Promise<void> {
    const key = KEYS.version(name, version);
    await this.#kv.delete(key);
    this.#observe(key, undefined, revision);
  }

  /** Every stored version of a model, read from the bucket (not the index). */
  async listVersions(name: string): Promise<Revisioned<StoredVersion>[]> {
    const entries = await this.#kv.list(KEYS.versionPrefix(name));
    return entries.map((e) => ({ value: e.value as StoredVersion, revision: e.revision }));
  }

  /** Records one alias move under its sequence number. */
  async putAliasChange(name: string, seq: number, change: AliasChangeRecord): Promise<void> {
    await this.#kv.put(KEYS.aliasChange(name, seq), change);
  }

  /** The model's alias history with sequence numbers, in no particular order. */
  async listAliasChanges(name: string): Promise<Array<{ seq: number; change: AliasChangeRecord }>> {
    const entries = await this.#kv.list(KEYS.aliasChangePrefix(name));
    return entries.map((e) => ({ seq: Number(splitKey(e.key)[2]), change: e.value as AliasChangeRecord }));
  }

  /** Deletes the model's whole alias history. */
  async deleteAliasHistory(name: string): Promise<void> {
    for (const key of await this.#kv.keys(`${KEYS.aliasChangePrefix(name)}>`)) await this.#kv.delete(key);
  }
}

/** NOT_FOUND for a model. */
function modelNotFound(name: string): NotFoundError {
  return new NotFoundError(`model "${name}" not found`);
}

/** NOT_FOUND for a version. */
export function versionNotFound(name: string, version: number): NotFoundError {
  return new NotFoundError(`model "${name}" has no version ${version}`);
}

/** A ModelRef resolved against the bucket: the model and the version it names. */
export interface ResolvedVersion {
  model: StoredModel;
  version: Revisioned<StoredVersion>;
}

/**
 * Resolves a ModelRef: by version number, by alias, or (neither, or version 0) the latest live
 * version. Reads the bucket, so the answer is current across replicas. NOT_FOUND names the model
 * and the version or alias that is missing.
 */
export async function resolveRef(
  store: ModelStore,
  ref: ModelRef | undefined,
  field = 'ref',
): Promise<ResolvedVersion> {
  if (!ref)
    throw new InvalidArgumentError(
      `${field}: must be set (a model name, and a version or an alias or neither for the latest)`,
    );
  validateModelName(ref.name, `${field}.name`);
  if (ref.alias !== undefined && ref.alias !== '') validateAlias(ref.alias, `${field}.alias`);
  const model = (await store.getModel(ref.name)).value;
  if (ref.version !== undefined && ref.version !== 0) {
    validateVersion(ref.version, `${field}.version`);
    return { model, version: await store.getVersion(ref.name, ref.version) };
  }
  if (ref.alias !== undefined && ref.alias !== '') {
    const target = model.aliases[ref.alias];
    if (target === undefined) throw new NotFoundError(`model "${ref.name}" has no alias "${ref.alias}"`);
    const version = await store.findVersion(ref.name, target);
    if (!version) throw versionNotFound(ref.name, target);
    return { model, version };
  }
  return { model, version: await latestVersion(store, model) };
}

/** The highest-numbered live version of a model; NOT_FOUND when it has none. */
async function latestVersion(store: ModelStore, model: StoredModel): Promise<Revisioned<StoredVersion>> {
  const deleted = new Set(model.deletedVersions);
  for (let v = model.latestVersion; v >= 1; v--) {
    if (deleted.has(v)) continue;
    const found = await store.findVersion(model.name, v);
    if (found) return found;
  }
  throw new NotFoundError(`model "${model.name}" has no versions`);
}

/** The public ModelVersion of a resolved ref, aliases filled in. */
export function publicVersion(resolved: ResolvedVersion): ModelVersion {
  return toModelVersion(resolved.version.value, aliasesOf(resolved.model, resolved.version.value.version));
}

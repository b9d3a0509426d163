import { randomUUID } from 'node:crypto';
import { AlreadyExistsError, NotFoundError } from '@aimaas/runtime';
import type { ModelStore, Revisioned } from './model-store.js';
import type { StoredModel, StoredVersion } from './records.js';

/** A version ready to commit: everything but its number and model incarnation. */
export type VersionDraft = Omit<StoredVersion, 'version' | 'modelUid'>;

/** What {@link VersionAllocator.commit} did. */
export interface CommittedVersion {
  /** The model after the allocation (its latestVersion is this version or higher). */
  model: StoredModel;
  version: Revisioned<StoredVersion>;
  /** The model record was created by this commit (create_model). */
  createdModel: StoredModel | undefined;
}

/** A new, empty model record. */
export function newModelRecord(
  name: string,
  at: Date,
  description = '',
  tags: Record<string, string> = {},
): StoredModel {
  const now = at.toISOString();
  return {
    name,
    description,
    tags,
    createdAt: now,
    updatedAt: now,
    latestVersion: 0,
    deletedVersions: [],
    aliases: {},
    aliasSeq: 0,
    uid: randomUUID(),
  };
}

/**
 * Hands out version numbers 1, 2, 3… per model, safely across any number of replicas: the next
 * number is taken by an update-by-revision of the model record (`latestVersion + 1`), retried
 * while another writer wins. Numbers are only taken at commit time, after the artifacts are
 * stored, so a failed upload consumes none.
 */
export class VersionAllocator {
  readonly #store: ModelStore;

  constructor(store: ModelStore) {
    this.#store = store;
  }

  /**
   * Allocates the next number of `draft.name` and writes the version record, created at `at`.
   * With `createModel` a missing model is created first. If the model is deleted (or deleted and
   * re-created) while this runs, the version record is removed again and NOT_FOUND is thrown;
   * the caller then removes the artifacts.
   */
  async commit(draft: VersionDraft, opts: { createModel: boolean; at: Date }): Promise<CommittedVersion> {
    let createdModel: StoredModel | undefined;
    const bump = (m: StoredModel): StoredModel => {
      m.latestVersion += 1;
      m.updatedAt = opts.at.toISOString();
      return m;
    };
    let allocated: Revisioned<StoredModel>;
    try {
      allocated = await this.#store.mutateModel(draft.name, bump);
    } catch (error) {
      if (!(error instanceof NotFoundError) || !opts.createModel) throw error;
      createdModel = newModelRecord(draft.name, opts.at);
      try {
        await this.#store.createModel(createdModel);
      } catch (createError) {
        // Another caller created it first: use theirs.
        if (!(createError instanceof AlreadyExistsError)) throw createError;
        createdModel = undefined;
      }
      allocated = await this.#store.mutateModel(draft.name, bump);
    }
    const model = allocated.value;
    const at = opts.at.toISOString();
    const record: StoredVersion = {
      ...draft,
      createdAt: at,
      updatedAt: at,
      version: model.latestVersion,
      modelUid: model.uid,
    };
    let revision: number;
    try {
      revision = await this.#store.createVersion(record);
    } catch (error) {
      await this.#release(draft.name, record.version);
      throw error;
    }
    // A DeleteRegisteredModel that began after our allocation may not have seen this record.
    const now = await this.#store.findModel(draft.name, true);
    if (!now || now.value.deleting || now.value.uid !== model.uid) {
      await this.#store.deleteVersion(draft.name, record.version, revision);
      throw new NotFoundError(`model "${draft.name}" was deleted while version ${record.version} was being created`);
    }
    return { model, version: { value: record, revision }, createdModel };
  }

  /** Marks an allocated number as not live (its record could not be written). */
  async #release(name: string, version: number): Promise<void> {
    await this.#store
      .mutateModel(name, (m) => {
        if (!m.deletedVersions.includes(version)) m.deletedVersions.push(version);
        return m;
      })
      .catch(() => undefined);
  }
}

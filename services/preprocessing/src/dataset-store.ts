/**
 * Where datasets and prepared datasets live. KV bucket `aimaas_datasets` holds the metadata:
 *
 * - `versions.<name>` → `{ latest }`: the version counter of a dataset name (never reused).
 * - `datasets.<name>.<version, 10 digits>` → {@link DatasetRecord}: the Dataset, its schema, its shards.
 * - `prepared.<id>` → {@link PreparedRecord}: the PreparedDataset and the layout of its tensors.
 *
 * Object store `aimaas_datasets` holds the blobs (columnar shards, tensor shards, fold indices),
 * each with its SHA-256 recorded in the metadata and checked on every read.
 */
import { Dataset, PreparedDataset } from '@aimaas/proto';
import type { ColumnSchema } from '@aimaas/pipeline';
import { AlreadyExistsError, NotFoundError } from '@aimaas/runtime';
import { encodeKey, ensureBuckets, WriterLease, type KvStore, type ObjectStore } from '@aimaas/storage';
import type { Logger } from '@aimaas/telemetry';

/** The KV bucket and object store of the preprocessing service. */
const DATASETS_BUCKET = 'aimaas_datasets';

/** One stored blob: its object name, rows (for shards), size and digest. */
export interface StoredObject {
  object: string;
  rows: number;
  bytes: number;
  sha256: string;
}

/** What the KV holds per dataset version. */
interface DatasetRecord {
  /** The Dataset as protobuf JSON. */
  dataset: unknown;
  schema: ColumnSchema[];
  shards: StoredObject[];
}

/** A dataset version read back. */
export interface StoredDataset {
  dataset: Dataset;
  schema: ColumnSchema[];
  shards: StoredObject[];
}

/** The stored tensors of one split (or of all rows, with k-fold). */
export interface TensorLayout {
  /** float32 values per row: the product of the feature shape. */
  width: number;
  labels: boolean;
  rows: number;
  shards: StoredObject[];
}

/** What the KV holds per prepared dataset. */
export interface PreparedRecord {
  /** The PreparedDataset as protobuf JSON. */
  prepared: unknown;
  /** Split name ("train", "validation", "test", or "all" with k-fold) → its tensors. */
  tensors: Record<string, TensorLayout>;
  /** With k-fold: the fold of every row of "all", as u8/u16 values in one object. */
  folds?: StoredObject;
}

/** A page of dataset versions. */
export interface DatasetPage {
  datasets: Dataset[];
  nextPageToken: string;
}

/**
 * Opens (creating when absent) the service's KV bucket and object store, both named
 * `aimaas_datasets`. Safe to run from every replica at start.
 */
export async function openDatasetBuckets(
  nc: Parameters<typeof ensureBuckets>[0],
): Promise<{ kv: KvStore<unknown>; objects: ObjectStore }> {
  const { kv, objects } = await ensureBuckets(nc, {
    kv: { [DATASETS_BUCKET]: { history: 1, description: 'AIMaaS datasets and prepared datasets' } },
    objects: { [DATASETS_BUCKET]: { description: 'AIMaaS dataset shards and prepared tensors' } },
  });
  return { kv: kv[DATASETS_BUCKET]!, objects: objects[DATASETS_BUCKET]! };
}

const datasetPrefix = (name: string): string => `datasets.${encodeKey(name)}.`;
const datasetKey = (name: string, version: number): string =>
  `${datasetPrefix(name)}${String(version).padStart(10, '0')}`;

/** The key part of the leases of imports and prepares at work: `writers.<id>` (see `WriterLease`). */
export const WRITER_LEASES = 'writers';

/** Metadata and blob access of datasets and prepared datasets; see the file comment for the layout. */
export class DatasetStore {
  constructor(
    readonly kv: KvStore<unknown>,
    readonly objects: ObjectStore,
  ) {}

  /** Takes the writer lease of an import or prepare writing under `prefix` (renewed at a third of `idleMs`). */
  lease(id: string, prefix: string, idleMs: number, logger: Logger): Promise<WriterLease> {
    return WriterLease.take(
      this.kv,
      { leasePrefix: WRITER_LEASES, id, prefix },
      { renewMs: Math.ceil(idleMs / 3), logger },
    );
  }

  /**
   * Stores a new version of `name` and returns it: the number is taken by writing the version's
   * record (create-if-absent, so two replicas never share one), one past both the high-water mark
   * `versions.<name>` and the newest record; the mark moves only after. A record that cannot be
   * written (too large for the store) therefore takes no number: no version is ever burned.
   */
  async commitDataset(
    name: string,
    build: (version: number) => Dataset,
    schema: ColumnSchema[],
    shards: StoredObject[],
    signal?: AbortSignal,
  ): Promise<Dataset> {
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const mark =
        ((await this.kv.get(`versions.${encodeKey(name)}`))?.value as { latest?: number } | undefined)?.latest ?? 0;
      const newest = (await this.kv.keys(`${datasetPrefix(name)}*`)).at(-1);
      const version = Math.max(mark, newest === undefined ? 0 : Number(newest.slice(newest.lastIndexOf('.') + 1))) + 1;
      const dataset = build(version);
      const record: DatasetRecord = { dataset: Dataset.toJSON(dataset), schema, shards };
      try {
        await this.kv.create(datasetKey(name, version), record);
      } catch (error) {
        if (error instanceof AlreadyExistsError && attempt < 100) continue; // another replica took it: the next one
        throw error;
      }
      await this.kv.mutate(`versions.${encodeKey(name)}`, (current) => ({
        latest: Math.max((current as { latest?: number } | undefined)?.latest ?? 0, version),
      }));
      return dataset;
    }
  }

  /**
   * A dataset version; version 0 is the latest.
   * @throws NotFoundError naming the dataset (and version).
   */
  async getDataset(name: string, version: number): Promise<StoredDataset> {
    const key = version > 0 ? datasetKey(name, version) : (await this.kv.keys(`${datasetPrefix(name)}*`)).at(-1);
    const entry = key === undefined ? undefined : await this.kv.get(key);
    if (entry === undefined) {
      throw new NotFoundError(
        version > 0 ? `dataset "${name}" has no version ${version}` : `dataset "${name}" not found`,
      );
    }
    const record = entry.value as DatasetRecord;
    return { dataset: Dataset.fromJSON(record.dataset), schema: record.schema, shards: record.shards };
  }

  /** Dataset versions in name, then version order, `pageSize` at a time, optionally of one name. */
  async listDatasets(pageSize: number, pageToken: string, name: string): Promise<DatasetPage> {
    const keys = await this.kv.keys(name === '' ? 'datasets.>' : `${datasetPrefix(name)}*`);
    const after = pageToken === '' ? '' : Buffer.from(pageToken, 'base64url').toString('utf8');
    const start = after === '' ? 0 : keys.findIndex((key) => key > after);
    const page = start === -1 ? [] : keys.slice(start, start + pageSize);
    const entries = await Promise.all(page.map((key) => this.kv.get(key)));
    const datasets = entries.flatMap((entry) =>
      entry === undefined ? [] : [Dataset.fromJSON((entry.value as DatasetRecord).dataset)],
    );
    const more = start !== -1 && start + pageSize < keys.length;
    return { datasets, nextPageToken: more ? Buffer.from(page.at(-1)!, 'utf8').toString('base64url') : '' };
  }

  /**
   * Deletes one version, or (version 0) every version of `name`: the metadata first, so readers
   * stop seeing it at once, then its shards. Returns the shards for the caller to remove.
   * @throws NotFoundError when there is nothing to delete.
   */
  async deleteDatasets(name: string, version: number): Promise<StoredObject[]> {
    const keys = version > 0 ? [datasetKey(name, version)] : await this.kv.keys(`${datasetPrefix(name)}*`);
    const shards: StoredObject[] = [];
    let deleted = 0;
    for (const key of keys) {
      const entry = await this.kv.get(key);
      if (entry === undefined) continue;
      await this.kv.delete(key);
      deleted++;
      shards.push(...(entry.value as DatasetRecord).shards);
    }
    if (deleted === 0)
      throw new NotFoundError(
        version > 0 ? `dataset "${name}" has no version ${version}` : `dataset "${name}" not found`,
      );
    return shards;
  }

  /** Records a prepared dataset. */
  async createPrepared(
    prepared: PreparedDataset,
    tensors: Record<string, TensorLayout>,
    folds?: StoredObject,
  ): Promise<void> {
    const record: PreparedRecord = { prepared: PreparedDataset.toJSON(prepared), tensors, ...(folds && { folds }) };
    await this.kv.create(`prepared.${encodeKey(prepared.id)}`, record);
  }

  /**
   * A prepared dataset with the layout of its tensors.
   * @throws NotFoundError naming the id.
   */
  async getPrepared(id: string): Promise<{ prepared: PreparedDataset; record: PreparedRecord }> {
    const entry = await this.kv.get(`prepared.${encodeKey(id)}`);
    if (entry === undefined) throw new NotFoundError(`prepared dataset "${id}" not found`);
    const record = entry.value as PreparedRecord;
    return { prepared: PreparedDataset.fromJSON(record.prepared), record };
  }

  /** Stores one blob. */
  async putObject(object: string, bytes: Uint8Array, rows: number, signal?: AbortSignal): Promise<StoredObject> {
    const info = await this.objects.put(object, bytes, { signal });
    return { object, rows, bytes: info.size, sha256: info.sha256 };
  }

  /** Reads one blob, verified against its recorded digest. */
  async readObject(stored: StoredObject, signal?: AbortSignal): Promise<Uint8Array> {
    return this.objects.getBytes(stored.object, { expectedSha256: stored.sha256, signal });
  }

  /** Removes blobs, ignoring ones already gone; returns the names that could not be removed. */
  async deleteObjects(objects: readonly string[]): Promise<string[]> {
    const failed: string[] = [];
    for (const object of objects) {
      try {
        await this.objects.delete(object);
      } catch (error) {
        if (!(error instanceof NotFoundError)) failed.push(object);
      }
    }
    return failed;
  }
}

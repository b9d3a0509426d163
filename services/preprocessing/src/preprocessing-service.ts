/**
 * The handlers of `aimaas.v1.PreprocessingService`. State lives in NATS only (KV and object
 * store `aimaas_datasets`), so any number of replicas can serve the same datasets.
 */
import type { PreprocessingServiceService } from '@aimaas/proto';
import type { ServiceImplementation } from '@aimaas/runtime';
import type { EventPublisher } from '@aimaas/events';
import type { KvStore, ObjectStore } from '@aimaas/storage';
import type { Logger } from '@aimaas/telemetry';
import { importDataset } from './dataset-import.js';
import { DatasetStore } from './dataset-store.js';
import { prepareDataset } from './prepare.js';
import { compilePreprocessingOptions, type PreprocessingOptions } from './preprocessing-options.js';
import { readSplit } from './split-reader.js';
import { PipelineCache, transformRecordsCall } from './transform-records.js';
import { checkDatasetName, checkDatasetRef, checkPageSize, checkPageToken, checkPreparedId } from './validation.js';

/** What the service is built from (see `openDatasetBuckets` for `kv` and `objects`). */
export interface PreprocessingServiceDeps {
  /** KV bucket `aimaas_datasets`: dataset and prepared-dataset metadata. */
  kv: KvStore<unknown>;
  /** Object store `aimaas_datasets`: dataset shards and prepared tensors. */
  objects: ObjectStore;
  /** Publisher of `dataset.imported` and `dataset.prepared`. */
  events: EventPublisher;
  logger: Logger;
  options?: PreprocessingOptions;
}

/**
 * Creates the PreprocessingService handlers.
 *
 * - **ImportDataset** (client stream: header, then chunks): CSV, JSON Lines or a JSON array,
 *   parsed and stored as columnar shards while it streams; versioned `name@1`, `name@2`, … with
 *   the SHA-256 of the bytes and a profile of every column. Malformed rows fail the import
 *   (nothing is stored) or are skipped and counted, by the header's policy.
 * - **GetDataset** / **ListDatasets** (paged, optionally one name) / **DeleteDataset** (one
 *   version, or every version when the ref's version is 0; prepared datasets made from it stay).
 * - **PrepareDataset**: fits a pipeline and stores float32 tensors per split (or for k folds).
 * - **GetPreparedDataset**, **ReadSplit** (batches of a split, optionally shuffled, resumable),
 *   **TransformRecords** (a fitted pipeline applied to JSON records).
 *
 * @example
 * const { kv, objects } = await openDatasetBuckets(nc);
 * server.add(PreprocessingServiceService, createPreprocessingService({ kv, objects, events, logger }));
 */
export function createPreprocessingService(
  deps: PreprocessingServiceDeps,
): ServiceImplementation<typeof PreprocessingServiceService> {
  const options = compilePreprocessingOptions(deps.options);
  const store = new DatasetStore(deps.kv, deps.objects);
  const pipelines = new PipelineCache(store);
  const context = { store, events: deps.events, logger: deps.logger, options };

  return {
    importDataset(requests, ctx) {
      return importDataset(requests, context, ctx.signal);
    },

    async getDataset(request) {
      const ref = checkDatasetRef(request.ref, 'ref');
      return (await store.getDataset(ref.name, ref.version)).dataset;
    },

    async listDatasets(request) {
      const pageSize = checkPageSize(request.pageSize, options.maxPageSize);
      if (request.name !== '') checkDatasetName(request.name, 'name');
      return store.listDatasets(pageSize, checkPageToken(request.pageToken), request.name);
    },

    async deleteDataset(request) {
      const ref = checkDatasetRef(request.ref, 'ref');
      const shards = await store.deleteDatasets(ref.name, ref.version);
      const left = await store.deleteObjects(shards.map((shard) => shard.object));
      if (left.length > 0)
        deps.logger.warn(
          { dataset: ref.name, version: ref.version, objects: left },
          'some shards of a deleted dataset could not be removed',
        );
      deps.logger.info({ dataset: ref.name, version: ref.version || 'all', shards: shards.length }, 'dataset deleted');
      return {};
    },

    prepareDataset(request, ctx) {
      return prepareDataset(request, context, ctx.signal);
    },

    async getPreparedDataset(request) {
      return (await store.getPrepared(checkPreparedId(request.id, 'id'))).prepared;
    },

    readSplit(request, ctx) {
      return readSplit(request, context, ctx.signal);
    },

    transformRecords(request) {
      return transformRecordsCall(request, pipelines);
    },
  };
}

/**
 * PrepareDataset: reads the dataset's columns, partitions the rows (a seeded, optionally
 * stratified train/validation/test split, the split a split column names for each row, or k
 * folds), fits the pipeline (on the training rows; with k-fold on all rows), applies it with the
 * same `transformTable` that TransformRecords and inference use, and stores each split's float32
 * features and labels as tensor shards. The PreparedDataset (with the fitted pipeline as JSON)
 * is recorded last; a failure removes every tensor already stored. Publishes `dataset.prepared`.
 */
import { randomUUID } from 'node:crypto';
import { DatasetPrepared, type PrepareDatasetRequest, type PreparedDataset, type SplitInfo } from '@aimaas/proto';
import {
  fitPipeline,
  kFoldIndices,
  serializePipeline,
  splitIndices,
  transformTable,
  type FittedPipeline,
  type Table,
} from '@aimaas/pipeline';
import { InvalidArgumentError } from '@aimaas/runtime';
import type { EventPublisher } from '@aimaas/events';
import type { Logger } from '@aimaas/telemetry';
import { BlobUploader } from './blob-uploader.js';
import type { DatasetStore, StoredObject, TensorLayout } from './dataset-store.js';
import { loadTable, selectRows, sliceRows } from './dataset-table.js';
import { checkClasses, labelKeys, planPrepare, predefinedSplit, usableRows, type PreparePlan } from './prepare-plan.js';
import type { CompiledPreprocessingOptions } from './preprocessing-options.js';
import { TensorWriter, tensorShardRows } from './tensor-shards.js';
import { toProtoTask } from './type-mapping.js';
import { checkDatasetRef, checkPartition, namingDatasetRow, type Partition } from './validation.js';

/** What a preparation needs from the service. */
export interface PrepareDeps {
  store: DatasetStore;
  events: EventPublisher;
  logger: Logger;
  options: CompiledPreprocessingOptions;
}

/** Rows of the dataset table going into one stored split. */
interface SplitRows {
  name: string;
  rows: Uint32Array;
}

/**
 * Runs one PrepareDataset call; see the file comment.
 *
 * @throws NotFoundError for an unknown dataset.
 * @throws InvalidArgumentError naming an unknown column, bad fractions, a split column value that
 *   names no split, a single-class target, or a spec the pipeline rejects.
 */
export async function prepareDataset(
  request: PrepareDatasetRequest,
  deps: PrepareDeps,
  signal: AbortSignal,
): Promise<PreparedDataset> {
  const ref = checkDatasetRef(request.dataset, 'dataset');
  const partition = checkPartition(request);
  const stored = await deps.store.getDataset(ref.name, ref.version);
  const { name, version } = stored.dataset;
  const plan = planPrepare(request, stored.schema, partition, `${name}@${version}`);
  const table = await loadTable(
    deps.store,
    stored,
    plan.splitColumn === null ? plan.load : [...plan.load, plan.splitColumn],
    signal,
  );
  const usable = usableRows(stored.dataset.rows, plan.target === null ? undefined : table.values[plan.target]);
  if (usable.length === 0)
    throw new InvalidArgumentError(
      `target ${JSON.stringify(plan.target)} is missing in every row of dataset "${name}@${version}"`,
    );
  const { splits, fitRows } = partitionRows(plan, partition, table, usable, request.seed);

  // The spec names the features, so a whole table's split column goes unseen.
  const fitTable = fitRows.length === stored.dataset.rows ? table : selectRows(table, fitRows, plan.load);
  let pipeline: FittedPipeline;
  try {
    pipeline = fitPipeline(fitTable, plan.spec);
  } catch (error) {
    throw namingDatasetRow(error, (record) => `dataset row ${fitRows[record]}`);
  }
  signal.throwIfAborted();

  const id = randomUUID();
  const lease = await deps.store.lease(id, `prepared/${id}/`, deps.options.importIdleMs, deps.logger);
  try {
    return await writePrepared(request, deps, signal, { id, table, splits, plan, pipeline, partition, name, version });
  } finally {
    await lease.release();
  }
}

/** Stores the tensors and the record of a prepared dataset; on failure removes what it wrote. */
async function writePrepared(
  request: PrepareDatasetRequest,
  deps: PrepareDeps,
  signal: AbortSignal,
  work: {
    id: string;
    table: Table;
    splits: SplitRows[];
    plan: PreparePlan;
    pipeline: FittedPipeline;
    partition: Partition;
    name: string;
    version: number;
  },
): Promise<PreparedDataset> {
  const { id, table, splits, plan, pipeline, partition, name, version } = work;
  const written = await writeTensors(table, splits, plan, pipeline, id, deps, signal);
  let folds: StoredObject | undefined;
  try {
    const tensors: Record<string, TensorLayout> = {};
    const infos: SplitInfo[] = [];
    splits.forEach((split, s) => {
      tensors[split.name] = written.layouts[s]!;
      if (partition.kind !== 'kfold')
        infos.push({ name: split.name, rows: written.layouts[s]!.rows, classCounts: written.classCounts[s]! });
    });
    let folded = 0;
    if (partition.kind === 'kfold') {
      const all = tensors.all!;
      if (partition.folds > all.rows)
        throw new InvalidArgumentError(
          `kfold.folds is ${partition.folds}, more than the ${all.rows} rows left after dropping`,
        );
      const assigned = assignFolds(
        all.rows,
        partition.folds,
        request.seed,
        plan.stratify ? written.labels : undefined,
        pipeline,
        infos,
      );
      folds = await deps.store.putObject(`prepared/${id}/folds`, assigned, all.rows, signal);
      folded = partition.folds;
    }
    const prepared: PreparedDataset = {
      id,
      dataset: { name, version },
      target: plan.target ?? '',
      task: toProtoTask(pipeline.task),
      featureNames: [...pipeline.features],
      featureShape: [pipeline.features.length],
      classLabels: pipeline.target?.task === 'classification' ? [...pipeline.target.classes] : [],
      splits: infos,
      pipelineJson: serializePipeline(pipeline),
      createdAt: new Date(),
      seed: request.seed,
      folds: folded,
    };
    await deps.store.createPrepared(prepared, tensors, folds);
    deps.logger.info(
      {
        prepared: id,
        dataset: `${name}@${version}`,
        features: pipeline.features.length,
        splits: infos.map((s) => `${s.name}:${s.rows}`),
      },
      'dataset prepared',
    );
    await publish(deps, prepared);
    return prepared;
  } catch (error) {
    await written.discard();
    if (folds !== undefined) await deps.store.deleteObjects([folds.object]);
    throw error;
  }
}

/** The stored splits and the rows the pipeline is fitted on. */
function partitionRows(
  plan: PreparePlan,
  partition: Partition,
  table: Table,
  usable: Uint32Array,
  seed: number,
): { splits: SplitRows[]; fitRows: Uint32Array } {
  const keys = plan.task === 'classification' ? labelKeys(table.values[plan.target!]!, usable) : undefined;
  if (partition.kind === 'kfold') {
    if (partition.folds > usable.length)
      throw new InvalidArgumentError(`kfold.folds is ${partition.folds}, more than the ${usable.length} usable rows`);
    if (keys) checkClasses(plan.target!, keys, null);
    return { splits: [{ name: 'all', rows: usable }], fitRows: usable };
  }
  const { train, validation, test } =
    partition.kind === 'column'
      ? predefinedSplit(table.values[partition.column]!, usable, partition.column)
      : splitIndices(usable.length, {
          train: partition.train,
          validation: partition.validation,
          test: partition.test,
          seed,
          ...(plan.stratify && keys && { stratifyBy: keys }),
        });
  const remedy =
    partition.kind === 'column' ? `give it rows whose ${JSON.stringify(partition.column)} is "train"` : undefined;
  if (keys) checkClasses(plan.target!, keys, { train, others: [validation, test] }, remedy);
  const global = (positions: Uint32Array): Uint32Array => positions.map((p) => usable[p]!);
  const trainRows = global(train);
  return {
    splits: [
      { name: 'train', rows: trainRows },
      { name: 'validation', rows: global(validation) },
      { name: 'test', rows: global(test) },
    ],
    fitRows: trainRows,
  };
}

/** Rows transformed per `transformTable` call. */
const TRANSFORM_ROWS = 16_384;

/** What {@link writeTensors} stored, per split (in `splits` order). */
interface WrittenTensors {
  layouts: TensorLayout[];
  classCounts: Record<string, number>[];
  /** Labels of every stored row of the only split (k-fold's "all"), for stratified folds. */
  labels: Float32Array | undefined;
  /** Removes every stored tensor. */
  discard(): Promise<void>;
}

/**
 * Transforms the table in file order, a run of rows at a time (no gathering of scattered rows),
 * and routes each output row to the writer of its split, so each split's tensors keep file order.
 * Rows `transformTable` drops (missing target, too many missing values) are left out.
 */
async function writeTensors(
  table: Table,
  splits: SplitRows[],
  plan: PreparePlan,
  pipeline: FittedPipeline,
  id: string,
  deps: PrepareDeps,
  signal: AbortSignal,
): Promise<WrittenTensors> {
  const width = pipeline.features.length;
  const withLabels = pipeline.target !== null;
  const shardRows = tensorShardRows(width, withLabels, deps.options.tensorShardBytes);
  const rows = table.rows ?? 0;
  const NONE = 255;
  const splitOf = new Uint8Array(rows).fill(NONE);
  splits.forEach((split, s) => {
    for (const row of split.rows) splitOf[row] = s;
  });
  const uploads = splits.map(
    (split) => new BlobUploader(deps.store, `prepared/${id}/${split.name}`, deps.options.maxPendingUploads, signal),
  );
  const writers = uploads.map(
    (upload, s) => new TensorWriter(upload, width, withLabels, shardRows, splits[s]!.rows.length),
  );
  const classes = pipeline.target?.task === 'classification' ? pipeline.target.classes : null;
  const counts = splits.map(() => new Float64Array(classes?.length ?? 0));
  const labels = splits.length === 1 && withLabels ? new Float32Array(splits[0]!.rows.length) : undefined;
  const discard = async (): Promise<void> => {
    for (const upload of uploads) await upload.discard();
  };
  try {
    for (let start = 0; start < rows; start += TRANSFORM_ROWS) {
      const end = Math.min(rows, start + TRANSFORM_ROWS);
      let result;
      try {
        result = transformTable(pipeline, sliceRows(table, start, end, plan.load), { labels: withLabels });
      } catch (error) {
        throw namingDatasetRow(error, (record) => `dataset row ${start + record}`);
      }
      const dropped = result.droppedRows;
      for (let r = 0, d = 0, out = 0; r < end - start; r++) {
        if (d < dropped.length && dropped[d] === r) {
          d++;
          continue;
        }
        const s = splitOf[start + r]!;
        if (s !== NONE) {
          const label = withLabels ? result.labels![out]! : 0;
          if (labels !== undefined) labels[writers[s]!.rows] = label;
          if (classes !== null) counts[s]![label]!++;
          writers[s]!.appendRow(result.features, out, label);
        }
        out++;
      }
      for (const upload of uploads) await upload.ready();
    }
    for (const writer of writers) writer.finish();
    const stored = await Promise.all(uploads.map((upload) => upload.finish()));
    return {
      layouts: stored.map((shards, s) => ({ width, labels: withLabels, rows: writers[s]!.rows, shards })),
      classCounts: counts.map((perClass) =>
        Object.fromEntries((classes ?? []).map((label, i) => [label, perClass[i]!])),
      ),
      labels: labels?.subarray(0, writers[0]!.rows),
      discard,
    };
  } catch (error) {
    await discard();
    throw error;
  }
}

/** Deals the rows of "all" into folds (u16 per row) and describes each fold. */
function assignFolds(
  rows: number,
  k: number,
  seed: number,
  labels: Float32Array | undefined,
  pipeline: FittedPipeline,
  infos: SplitInfo[],
): Uint8Array {
  const folds = kFoldIndices(rows, k, { seed, ...(labels && { stratifyBy: labels }) });
  const foldOf = new Uint16Array(rows);
  const classes = pipeline.target?.task === 'classification' ? pipeline.target.classes : null;
  folds.forEach((fold, f) => {
    const classCounts: Record<string, number> = Object.create(null); // class labels may be __proto__ or constructor
    for (const row of fold.validation) {
      foldOf[row] = f;
      if (classes && labels) {
        const label = classes[labels[row]!]!;
        classCounts[label] = (classCounts[label] ?? 0) + 1;
      }
    }
    infos.push({ name: `fold-${f}`, rows: fold.validation.length, classCounts });
  });
  return new Uint8Array(foldOf.buffer);
}

/** Publishes `dataset.prepared`; the record is stored already, so a failure is logged, not returned. */
async function publish(deps: PrepareDeps, prepared: PreparedDataset): Promise<void> {
  try {
    await deps.events.publish('dataset.prepared', DatasetPrepared.create({ prepared }), {
      id: `dataset-prepared-${prepared.id}`,
      subject: prepared.id,
    });
  } catch (error) {
    deps.logger.error({ err: error, prepared: prepared.id }, 'dataset.prepared could not be published');
  }
}

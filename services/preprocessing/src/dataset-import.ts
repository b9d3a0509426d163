/**
 * ImportDataset: the header, then the file streamed in chunks of any size. The bytes are hashed
 * (SHA-256) and decoded as they arrive, parsed record by record, typed, profiled and stored as
 * columnar shards while the upload goes on, so memory stays bounded by a few shards whatever
 * the file's size. The version number is taken only when the version's record is written (a
 * failed import takes none); on any failure every shard already stored is removed again.
 */
import { createHash, randomUUID } from 'node:crypto';
import { DatasetImported, type Dataset, type ImportDatasetRequest } from '@aimaas/proto';
import { DeadlineExceededError, InvalidArgumentError, nextWithin } from '@aimaas/runtime';
import type { EventPublisher } from '@aimaas/events';
import type { Logger } from '@aimaas/telemetry';
import { BlobUploader } from './blob-uploader.js';
import { nullMarkers } from './cell-conversion.js';
import { DatasetProfiler } from './dataset-profile.js';
import type { DatasetStore } from './dataset-store.js';
import { ImportTable, type MalformedExample } from './import-table.js';
import { shardRowsFor, type CompiledPreprocessingOptions } from './preprocessing-options.js';
import { RecordReader } from './record-reader.js';
import { encodeShard } from './shard-codec.js';
import { toProtoFormat } from './type-mapping.js';
import { Utf8StreamDecoder } from './utf8-stream.js';
import { compileImportHeader, type ImportPlan } from './validation.js';

/** What an import needs from the service. */
export interface ImportDeps {
  store: DatasetStore;
  events: EventPublisher;
  logger: Logger;
  options: CompiledPreprocessingOptions;
}

/**
 * Runs one ImportDataset call and returns the stored Dataset (name@version, rows, SHA-256,
 * profile, skipped rows). Publishes `dataset.imported` once the dataset is stored.
 *
 * @throws InvalidArgumentError for a bad header, an empty file, a file without data rows, or (policy
 *   FAIL) the first malformed row, naming its line and column.
 */
export async function importDataset(
  requests: AsyncIterable<ImportDatasetRequest>,
  deps: ImportDeps,
  signal: AbortSignal,
): Promise<Dataset> {
  const parts = requests[Symbol.asyncIterator]();
  const first = await parts.next();
  if (first.done || first.value.header === undefined) {
    throw new InvalidArgumentError(
      `the first ImportDatasetRequest must carry the header (name, format, options); got ${first.done ? 'none' : 'a chunk'}`,
    );
  }
  const plan = compileImportHeader(first.value.header);
  const importId = randomUUID();
  // Leased while it runs, so that a sweep takes its shards only if this process dies.
  const lease = await deps.store.lease(importId, `datasets/${importId}/`, deps.options.importIdleMs, deps.logger);
  const uploads = new BlobUploader(deps.store, `datasets/${importId}`, deps.options.maxPendingUploads, signal);
  try {
    const dataset = await readFile(idleLimited(parts, deps.options.importIdleMs), plan, uploads, deps, signal);
    deps.logger.info(
      {
        dataset: `${dataset.name}@${dataset.version}`,
        rows: dataset.rows,
        bytes: dataset.bytes,
        skipped: dataset.skippedRows,
      },
      'dataset imported',
    );
    await publish(deps, dataset, importId);
    return dataset;
  } catch (error) {
    const left = await uploads.discard();
    if (left.length > 0) deps.logger.warn({ objects: left }, 'could not remove every shard of a failed import');
    throw error;
  } finally {
    await lease.release();
  }
}

/** `parts`, ending with DEADLINE_EXCEEDED when the client sends nothing for `idleMs`. */
function idleLimited(parts: AsyncIterator<ImportDatasetRequest>, idleMs: number): AsyncIterator<ImportDatasetRequest> {
  const idle = (): Error =>
    new DeadlineExceededError(
      `ImportDataset: no message for ${idleMs / 1000} s; the import was ended and nothing was kept`,
    );
  return { next: () => nextWithin(parts, idleMs, idle) };
}

async function readFile(
  parts: AsyncIterator<ImportDatasetRequest>,
  plan: ImportPlan,
  uploads: BlobUploader,
  deps: ImportDeps,
  signal: AbortSignal,
): Promise<Dataset> {
  const { options } = deps;
  const profiler = new DatasetProfiler(options.profileInWorker);
  try {
    return await parseAndStore(parts, plan, uploads, profiler, deps, signal);
  } finally {
    profiler.close();
  }
}

async function parseAndStore(
  parts: AsyncIterator<ImportDatasetRequest>,
  plan: ImportPlan,
  uploads: BlobUploader,
  profiler: DatasetProfiler,
  { options, store }: ImportDeps,
  signal: AbortSignal,
): Promise<Dataset> {
  const table = new ImportTable({
    format: plan.format === 'csv' ? 'csv' : 'json',
    policy: plan.policy,
    inferRows: options.inferRows,
    categoricalMaxDistinct: options.categoricalMaxDistinct,
    overrides: plan.overrides,
    markers: nullMarkers(plan.nullMarkers),
    shardRows: (columns) => shardRowsFor(options, columns),
    maxColumns: options.limits.maxColumns,
    maxCellChars: options.limits.maxCellChars,
    onShard: (shard) => {
      const encoded = encodeShard(shard.rows, shard.columns);
      profiler.push(shard, encoded, shard.full);
      uploads.add(encoded, shard.rows);
    },
  });
  const reader = new RecordReader(plan, table, options.limits);
  const decoder = new Utf8StreamDecoder();
  const hash = createHash('sha256');
  let bytes = 0;
  for (;;) {
    const next = await parts.next();
    if (next.done) break;
    const part = next.value;
    if (part.header !== undefined)
      throw new InvalidArgumentError(
        'a second header arrived after the file had begun; send the header once, as the first message',
      );
    const chunk = part.chunk;
    if (chunk === undefined || chunk.length === 0) continue;
    hash.update(chunk);
    bytes += chunk.length;
    reader.push(decoder.decode(chunk));
    await uploads.ready();
  }
  signal.throwIfAborted();
  reader.push(decoder.end());
  reader.end();
  if (!reader.sawContent) throw new InvalidArgumentError('dataset is empty');
  table.finish();
  if (table.rows === 0) throw noDataRows(plan, table.skipped, table.examples);
  const shards = await uploads.finish();
  const schema = table.schema;
  const columns = await profiler.result(schema);
  const sha256 = hash.digest('hex');
  const dataset = await store.commitDataset(
    plan.name,
    (version) => ({
      name: plan.name,
      version,
      createdAt: new Date(),
      format: toProtoFormat(plan.format),
      rows: table.rows,
      bytes,
      sha256,
      columns,
      skippedRows: table.skipped,
      malformedExamples: table.examples.map(({ line, column, message }) => ({ line, column, message })),
      description: plan.description,
      tags: plan.tags,
    }),
    schema,
    shards,
    signal,
  );
  return dataset;
}

function noDataRows(plan: ImportPlan, skipped: number, examples: readonly MalformedExample[]): InvalidArgumentError {
  if (skipped === 0)
    return new InvalidArgumentError(
      `no data rows: the file has ${plan.format === 'csv' && plan.header ? 'a header row but' : ''} no records`.replace(
        '  ',
        ' ',
      ),
    );
  const first = examples[0]!;
  return new InvalidArgumentError(
    `no data rows: all ${skipped} rows were malformed (the first, line ${first.line}${first.column === '' ? '' : `, column ${JSON.stringify(first.column)}`}: ${first.message})`,
  );
}

/** Publishes `dataset.imported`; the dataset is stored already, so a failure is logged, not returned. */
async function publish(deps: ImportDeps, dataset: Dataset, importId: string): Promise<void> {
  try {
    await deps.events.publish('dataset.imported', DatasetImported.create({ dataset }), {
      id: `dataset-imported-${importId}`,
      subject: `${dataset.name}@${dataset.version}`,
    });
  } catch (error) {
    deps.logger.error(
      { err: error, dataset: `${dataset.name}@${dataset.version}` },
      'dataset.imported could not be published',
    );
  }
}

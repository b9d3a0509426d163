/**
 * ReadSplit: the rows of one prepared split as a stream of batches of FP32 tensors, in file
 * order or shuffled with a seed, starting at any row (to resume). Memory is bounded: rows are
 * read shard by shard; a shuffled read permutes rows within windows of shards of at most
 * `shuffleWindowBytes` (one window, so a full permutation, whenever the split fits in it), the
 * windows themselves taken in a seeded order. The order depends only on the split and the seed,
 * so an offset resumes exactly where a read stopped.
 */
import type { PreparedDataset, ReadSplitRequest, ReadSplitResponse } from '@aimaas/proto';
import { createRandom, shuffleInPlace } from '@aimaas/pipeline';
import { InvalidArgumentError } from '@aimaas/runtime';
import type { DatasetStore, PreparedRecord, TensorLayout } from './dataset-store.js';
import type { CompiledPreprocessingOptions } from './preprocessing-options.js';
import { decodeTensorShard, type TensorShard } from './tensor-shards.js';
import { checkPreparedId } from './validation.js';

/** What ReadSplit needs from the service. */
export interface SplitReadDeps {
  store: DatasetStore;
  options: CompiledPreprocessingOptions;
}

/** A run of shards read together, and how many of the split's rows they hold. */
interface Segment {
  index: number;
  shards: number[];
  count: number;
}

const FOLD_SPLIT = /^fold-(\d+)\/(train|validation)$/;

/**
 * Streams the batches of one split; see the file comment.
 *
 * @throws NotFoundError for an unknown prepared dataset.
 * @throws InvalidArgumentError for an unknown split, a batch size out of range, an offset past the end.
 */
export async function* readSplit(
  request: ReadSplitRequest,
  deps: SplitReadDeps,
  signal: AbortSignal,
): AsyncGenerator<ReadSplitResponse> {
  const { prepared, record } = await deps.store.getPrepared(
    checkPreparedId(request.preparedDatasetId, 'prepared_dataset_id'),
  );
  const { layout, selection } = await resolveSplit(request.split, prepared, record, deps.store, signal);
  const batchSize = request.batchSize === 0 ? 1024 : request.batchSize;
  const maxRows = Math.max(1, Math.floor(deps.options.maxBatchBytes / (4 * Math.max(1, layout.width))));
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > maxRows) {
    throw new InvalidArgumentError(
      `batch_size is ${request.batchSize}; expected 0 (1024) or 1 to ${maxRows} rows (${deps.options.maxBatchBytes} bytes of features per message)`,
    );
  }
  const total = selection === undefined ? layout.rows : selection.length;
  if (!Number.isSafeInteger(request.offset) || request.offset < 0 || request.offset > total) {
    throw new InvalidArgumentError(
      `offset is ${request.offset}; expected 0 to ${total} (the rows of split "${request.split}")`,
    );
  }
  const starts = shardStarts(layout);
  const rowsOf = (shard: number): Uint32Array => shardRows(starts, shard, selection);
  const countOf = (shard: number): number =>
    selection === undefined ? layout.shards[shard]!.rows : rowsOf(shard).length;
  const segments = planSegments(layout, countOf, request.shuffleSeed, deps.options.shuffleWindowBytes);
  const shape = prepared.featureShape.length > 0 ? prepared.featureShape : [layout.width];
  let batch = new Batch(batchSize, layout.width, layout.labels, request.offset);
  let position = 0;
  for (const segment of segments) {
    if (position + segment.count <= request.offset) {
      position += segment.count;
      continue;
    }
    const rows = segmentRows(segment, rowsOf, request.shuffleSeed);
    const loaded = new Map<number, TensorShard>();
    await Promise.all(
      segment.shards.map(async (s) => {
        const stored = layout.shards[s]!;
        const bytes = await deps.store.readObject(stored, signal);
        loaded.set(
          s,
          decodeTensorShard(
            bytes,
            stored.rows,
            layout.width,
            layout.labels,
            `tensor shard ${s} of split "${request.split}"`,
          ),
        );
      }),
    );
    for (let i = Math.max(0, request.offset - position); i < rows.length; ) {
      i = batch.fill(rows, i, starts, loaded);
      if (batch.full) {
        yield batch.message(shape);
        batch = new Batch(batchSize, layout.width, layout.labels, batch.offset + batch.rows);
      }
    }
    position += segment.count;
  }
  if (batch.rows > 0) yield batch.message(shape);
}

async function resolveSplit(
  split: string,
  prepared: PreparedDataset,
  record: PreparedRecord,
  store: DatasetStore,
  signal: AbortSignal,
): Promise<{ layout: TensorLayout; selection?: Uint32Array }> {
  const fold = FOLD_SPLIT.exec(split);
  if (
    fold !== null &&
    record.folds !== undefined &&
    record.tensors.all !== undefined &&
    Number(fold[1]) < prepared.folds
  ) {
    const bytes = await store.readObject(record.folds, signal);
    const foldOf = new Uint16Array(new Uint8Array(bytes).buffer);
    const wanted = Number(fold[1]);
    const validation = fold[2] === 'validation';
    const rows: number[] = [];
    for (let r = 0; r < foldOf.length; r++) if ((foldOf[r] === wanted) === validation) rows.push(r);
    return { layout: record.tensors.all, selection: Uint32Array.from(rows) };
  }
  const layout = split === 'all' ? undefined : record.tensors[split];
  if (layout === undefined) {
    const names =
      prepared.folds > 0
        ? `fold-0/train, fold-0/validation … fold-${prepared.folds - 1}/validation`
        : 'train, validation, test';
    throw new InvalidArgumentError(
      `split ${JSON.stringify(split)} is not in prepared dataset "${prepared.id}"; expected one of ${names}`,
    );
  }
  return { layout };
}

function shardStarts(layout: TensorLayout): number[] {
  const starts = [0];
  for (const shard of layout.shards) starts.push(starts.at(-1)! + shard.rows);
  return starts;
}

/** Rows of the layout held by `shard` (only the selected ones, when there is a selection), ascending. */
function shardRows(starts: readonly number[], shard: number, selection: Uint32Array | undefined): Uint32Array {
  const from = starts[shard]!;
  const to = starts[shard + 1]!;
  if (selection === undefined) return Uint32Array.from({ length: to - from }, (_, i) => from + i);
  return selection.subarray(lowerBound(selection, from), lowerBound(selection, to));
}

function lowerBound(sorted: Uint32Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** File order: a segment per shard. Shuffled: shards in a seeded order, grouped into windows. */
function planSegments(
  layout: TensorLayout,
  count: (shard: number) => number,
  seed: number,
  windowBytes: number,
): Segment[] {
  const indices = layout.shards.map((_, s) => s);
  if (seed === 0) return indices.map((s, index) => ({ index, shards: [s], count: count(s) }));
  const order = shuffleInPlace(Uint32Array.from(indices), createRandom(seed));
  const segments: Segment[] = [];
  let current: Segment | null = null;
  let bytes = 0;
  for (const s of order) {
    const size = layout.shards[s]!.bytes;
    if (current === null || bytes + size > windowBytes) {
      current = { index: segments.length, shards: [], count: 0 };
      segments.push(current);
      bytes = 0;
    }
    current.shards.push(s);
    current.count += count(s);
    bytes += size;
  }
  return segments;
}

/** The rows of a segment in read order: each window permuted with its own seed, so windows can be skipped. */
function segmentRows(segment: Segment, rowsOf: (shard: number) => Uint32Array, seed: number): Uint32Array {
  const rows = new Uint32Array(segment.count);
  let at = 0;
  for (const s of segment.shards) {
    const part = rowsOf(s);
    rows.set(part, at);
    at += part.length;
  }
  if (seed !== 0) shuffleInPlace(rows, createRandom((Math.imul(seed, 0x9e3779b1) ^ (segment.index + 1)) >>> 0));
  return rows;
}

/** The shard holding layout row `row`: the last start at or before it. */
function shardOf(starts: readonly number[], row: number): number {
  let lo = 0;
  let hi = starts.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (starts[mid]! <= row) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** One outgoing batch being filled. */
class Batch {
  readonly features: Float32Array;
  readonly labels: Float32Array | null;
  rows = 0;

  constructor(
    readonly capacity: number,
    readonly width: number,
    withLabels: boolean,
    readonly offset: number,
  ) {
    this.features = new Float32Array(capacity * width);
    this.labels = withLabels ? new Float32Array(capacity) : null;
  }

  get full(): boolean {
    return this.rows === this.capacity;
  }

  /** Copies rows from `rows[i…]` until the batch is full or the rows end; returns the next i. Runs of adjacent rows are copied at once. */
  fill(rows: Uint32Array, i: number, starts: readonly number[], loaded: ReadonlyMap<number, TensorShard>): number {
    while (i < rows.length && this.rows < this.capacity) {
      const first = rows[i]!;
      const shard = shardOf(starts, first);
      let run = 1;
      const end = starts[shard + 1]!;
      while (
        i + run < rows.length &&
        this.rows + run < this.capacity &&
        rows[i + run] === first + run &&
        first + run < end
      )
        run++;
      const source = loaded.get(shard)!;
      const local = first - starts[shard]!;
      this.features.set(
        source.features.subarray(local * this.width, (local + run) * this.width),
        this.rows * this.width,
      );
      if (this.labels !== null) this.labels.set(source.labels!.subarray(local, local + run), this.rows);
      this.rows += run;
      i += run;
    }
    return i;
  }

  message(shape: readonly number[]): ReadSplitResponse {
    const featureBytes = this.rows * this.width * 4;
    return {
      offset: this.offset,
      rows: this.rows,
      features: {
        name: 'features',
        datatype: 'FP32',
        shape: [this.rows, ...shape],
        raw: Buffer.from(this.features.buffer, 0, featureBytes),
      },
      labels:
        this.labels === null
          ? undefined
          : {
              name: 'labels',
              datatype: 'FP32',
              shape: [this.rows],
              raw: Buffer.from(this.labels.buffer, 0, this.rows * 4),
            },
    };
  }
}

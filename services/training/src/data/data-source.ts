import type { PreparedDataset, Tensor } from '@aimaas/proto';
import { createRandom } from '@aimaas/pipeline';
import { FailedPreconditionError } from '@aimaas/runtime';
import type { PreprocessingClient } from '@aimaas/sdk';
import type { TrainingPlan } from '../model/spec-mapping.js';

/** One batch of a split: row-major float32 features and one label value (or more) per row. */
export interface Batch {
  rows: number;
  features: Float32Array;
  labels: Float32Array;
}

/** Where a job's batches come from, epoch by epoch. */
export interface DataPlan {
  trainRows: number;
  validationRows: number;
  testRows: number;
  /** The training batches of 1-based `epoch`, in that epoch's shuffled order. */
  train(epoch: number, signal: AbortSignal): AsyncIterable<Batch>;
  /** Validation batches (same order every epoch); undefined when there is no validation data. */
  validation?: (signal: AbortSignal) => AsyncIterable<Batch>;
  /** Test batches; undefined when the prepared dataset has no test split. */
  test?: (signal: AbortSignal) => AsyncIterable<Batch>;
}

/** The one call the data source needs from the preprocessing client. */
export type SplitReader = Pick<PreprocessingClient, 'readSplit'>;

interface ReadOptions {
  split: string;
  batchSize: number;
  shuffleSeed: number;
  signal: AbortSignal;
  /** Rows to drop from the start of the stream. */
  skipRows?: number;
  /** Stop after this many rows (the stream is cancelled). */
  maxRows?: number;
}

/**
 * Plans how a job reads its prepared dataset through `PreprocessingService.ReadSplit`, one batch
 * at a time (memory stays at a batch however large the split is):
 * - train: shuffled by the server with seed `seed + epoch`, so a seed gives the same batches;
 * - validation: the `validation` split (or `fold-<i>/validation`); with none and a
 *   `validation_split`, the first rows of train read in a fixed seeded order are held out and the
 *   rest is train, re-shuffled per epoch within blocks of {@link SHUFFLE_BLOCK_ROWS} rows;
 * - test: the `test` split when present.
 */
export function createDataPlan(
  reader: SplitReader,
  prepared: PreparedDataset,
  plan: TrainingPlan,
  featureSize: number,
  fold?: number,
): DataPlan {
  const listed = (name: string): number => Number(prepared.splits.find((s) => s.name === name)?.rows ?? 0);
  // With k folds the prepared dataset lists `fold-<i>` (its validation rows); train is the rest.
  const foldRows = prepared.splits.filter((s) => /^fold-\d+$/.test(s.name)).reduce((n, s) => n + Number(s.rows), 0);
  const rowsOf = (name: string): number => {
    const folded = /^fold-(\d+)\/(train|validation)$/.exec(name);
    if (!folded || listed(name) > 0) return listed(name);
    const validation = listed(`fold-${folded[1]}`);
    return folded[2] === 'validation' ? validation : foldRows - validation;
  };
  const prefix = fold === undefined ? '' : `fold-${fold}/`;
  const trainSplit = `${prefix}train`;
  const validationSplit = `${prefix}validation`;
  const read = (options: ReadOptions) => readBatches(reader, prepared.id, featureSize, options);
  const { batchSize, seed } = plan;
  const epochSeed = (epoch: number) => (seed + epoch) >>> 0 || 1;
  const testRows = rowsOf('test');
  const test =
    testRows > 0 ? (signal: AbortSignal) => read({ split: 'test', batchSize, shuffleSeed: 0, signal }) : undefined;

  if (rowsOf(validationSplit) > 0 || plan.validationSplit === 0) {
    const validationRows = rowsOf(validationSplit);
    return {
      trainRows: rowsOf(trainSplit),
      validationRows,
      testRows,
      train: (epoch, signal) => read({ split: trainSplit, batchSize, shuffleSeed: epochSeed(epoch), signal }),
      ...(validationRows > 0 && {
        validation: (signal: AbortSignal) => read({ split: validationSplit, batchSize, shuffleSeed: 0, signal }),
      }),
      ...(test && { test }),
    };
  }
  const total = rowsOf(trainSplit);
  const held = Math.max(1, Math.round(total * plan.validationSplit));
  const fixedSeed = (seed ^ 0x9e3779b9) >>> 0 || 1;
  return {
    trainRows: total - held,
    validationRows: held,
    testRows,
    train: (epoch, signal) =>
      shuffleBlocks(
        read({ split: trainSplit, batchSize, shuffleSeed: fixedSeed, skipRows: held, signal }),
        featureSize,
        batchSize,
        epochSeed(epoch),
      ),
    validation: (signal) => read({ split: trainSplit, batchSize, shuffleSeed: fixedSeed, maxRows: held, signal }),
    ...(test && { test }),
  };
}

/** Rows re-shuffled together when validation is carved out of train. */
const SHUFFLE_BLOCK_ROWS = 8_192;

async function* readBatches(
  reader: SplitReader,
  id: string,
  featureSize: number,
  o: ReadOptions,
): AsyncGenerator<Batch> {
  let skip = o.skipRows ?? 0;
  let left = o.maxRows ?? Number.POSITIVE_INFINITY;
  const stream = reader.readSplit(
    { preparedDatasetId: id, split: o.split, batchSize: o.batchSize, shuffleSeed: o.shuffleSeed, offset: 0 },
    { signal: o.signal },
  );
  for await (const message of stream) {
    let batch = decodeBatch(
      message.rows,
      message.features,
      message.labels,
      featureSize,
      `${id}/${o.split} at row ${message.offset}`,
    );
    if (skip > 0) {
      const drop = Math.min(skip, batch.rows);
      skip -= drop;
      batch = sliceBatch(batch, drop, batch.rows, featureSize);
    }
    if (batch.rows > left) batch = sliceBatch(batch, 0, left, featureSize);
    if (batch.rows > 0) {
      left -= batch.rows;
      yield batch;
    }
    if (left <= 0) return;
  }
}

/** Decodes one ReadSplit message, checking that the tensors hold `rows` examples. */
function decodeBatch(
  rows: number,
  features: Tensor | undefined,
  labels: Tensor | undefined,
  featureSize: number,
  where: string,
): Batch {
  const x = toFloat32(features, `features of ${where}`);
  const y = labels && labels.raw.byteLength > 0 ? toFloat32(labels, `labels of ${where}`) : new Float32Array(0);
  if (x.length !== rows * featureSize) {
    throw new FailedPreconditionError(
      `prepared dataset ${where}: ${rows} rows should hold ${rows * featureSize} feature values, got ${x.length}`,
    );
  }
  if (y.length % Math.max(rows, 1) !== 0) {
    throw new FailedPreconditionError(
      `prepared dataset ${where}: ${y.length} label values do not split into ${rows} rows`,
    );
  }
  return { rows, features: x, labels: y };
}

function toFloat32(tensor: Tensor | undefined, what: string): Float32Array {
  if (!tensor) throw new FailedPreconditionError(`${what}: missing`);
  const raw = tensor.raw;
  const aligned = (bytes: number) => (raw.byteOffset % bytes === 0 ? raw : Uint8Array.prototype.slice.call(raw));
  switch (tensor.datatype || 'FP32') {
    case 'FP32': {
      const b = aligned(4);
      return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    }
    case 'FP64': {
      const b = aligned(8);
      return Float32Array.from(new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8));
    }
    case 'INT32': {
      const b = aligned(4);
      return Float32Array.from(new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4));
    }
    case 'INT64': {
      const b = aligned(8);
      return Float32Array.from(new BigInt64Array(b.buffer, b.byteOffset, b.byteLength / 8), Number);
    }
    default:
      throw new FailedPreconditionError(`${what}: datatype ${tensor.datatype} is not supported (expected FP32)`);
  }
}

function sliceBatch(batch: Batch, from: number, to: number, featureSize: number): Batch {
  const labelWidth = batch.rows === 0 ? 0 : batch.labels.length / batch.rows;
  return {
    rows: to - from,
    features: batch.features.subarray(from * featureSize, to * featureSize),
    labels: batch.labels.subarray(from * labelWidth, to * labelWidth),
  };
}

/** Re-batches a stream after shuffling the rows within blocks, with a seeded PRNG. */
async function* shuffleBlocks(
  source: AsyncIterable<Batch>,
  featureSize: number,
  batchSize: number,
  seed: number,
): AsyncGenerator<Batch> {
  const random = createRandom(seed);
  let block: Batch[] = [];
  let rows = 0;
  const flush = function* (): Generator<Batch> {
    const order = Array.from({ length: rows }, (_, i) => i);
    for (let i = rows - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const locate: Array<[Batch, number]> = [];
    for (const b of block) for (let r = 0; r < b.rows; r++) locate.push([b, r]);
    const labelWidth = block[0] && block[0].rows > 0 ? block[0].labels.length / block[0].rows : 0;
    for (let start = 0; start < rows; start += batchSize) {
      const n = Math.min(batchSize, rows - start);
      const out: Batch = {
        rows: n,
        features: new Float32Array(n * featureSize),
        labels: new Float32Array(n * labelWidth),
      };
      for (let k = 0; k < n; k++) {
        const [b, r] = locate[order[start + k]!]!;
        out.features.set(b.features.subarray(r * featureSize, (r + 1) * featureSize), k * featureSize);
        out.labels.set(b.labels.subarray(r * labelWidth, (r + 1) * labelWidth), k * labelWidth);
      }
      yield out;
    }
    block = [];
    rows = 0;
  };
  for await (const batch of source) {
    block.push(batch);
    rows += batch.rows;
    if (rows >= SHUFFLE_BLOCK_ROWS) yield* flush();
  }
  if (rows > 0) yield* flush();
}

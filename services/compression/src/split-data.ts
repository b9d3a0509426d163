import type { PreparedDataset } from '@aimaas/proto';
import { ResourceExhaustedError } from '@aimaas/runtime';
import type { PreprocessingClient } from '@aimaas/sdk';
import { COMPRESSION_LIMITS } from './limits.js';

/** A whole split in memory: row-major float32 features and one label value per row. */
export interface SplitData {
  split: string;
  rows: number;
  features: Float32Array;
  labels: Float32Array;
}

/** Rows of `split` in a prepared dataset (0 when it has none). */
export function splitRows(prepared: PreparedDataset, split: string): number {
  return Number(prepared.splits.find((s) => s.name === split)?.rows ?? 0);
}

/** The split metrics are measured on: test, else validation, else train. */
export function evaluationSplit(prepared: PreparedDataset): string {
  return ['test', 'validation'].find((s) => splitRows(prepared, s) > 0) ?? 'train';
}

/**
 * Reads a whole split through `PreprocessingService.ReadSplit`, refusing before reading when it
 * would hold more than `COMPRESSION_LIMITS.maxSplitValues` feature values.
 *
 * @throws ResourceExhaustedError naming the split and the limit.
 */
export async function readSplit(
  preprocessing: Pick<PreprocessingClient, 'readSplit'>,
  prepared: PreparedDataset,
  split: string,
  featureSize: number,
  signal: AbortSignal,
): Promise<SplitData> {
  const expected = splitRows(prepared, split);
  if (expected * featureSize > COMPRESSION_LIMITS.maxSplitValues) {
    throw new ResourceExhaustedError(
      `prepared dataset ${prepared.id} split ${split}: ${expected} rows × ${featureSize} features exceed the ${COMPRESSION_LIMITS.maxSplitValues} values a compression job holds (AIMAAS_COMPRESSION_COMPRESSION_LIMITS.maxSplitValues)`,
    );
  }
  const features = new Float32Array(expected * featureSize);
  const labels = new Float32Array(expected);
  let rows = 0;
  for await (const batch of preprocessing.readSplit(
    { preparedDatasetId: prepared.id, split, batchSize: 1024 },
    { signal },
  )) {
    if (rows + batch.rows > expected)
      throw new ResourceExhaustedError(`split ${split} sent more rows than the ${expected} it lists`);
    const f = Buffer.from(batch.features!.raw);
    features.set(new Float32Array(f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength)), rows * featureSize);
    const l = Buffer.from(batch.labels!.raw);
    // One label value per row (class index or scaled target).
    labels.set(
      new Float32Array(l.buffer.slice(l.byteOffset, l.byteOffset + l.byteLength)).subarray(0, batch.rows),
      rows,
    );
    rows += batch.rows;
  }
  return { split, rows, features: features.subarray(0, rows * featureSize), labels: labels.subarray(0, rows) };
}

/**
 * The stored tensors of a prepared split: runs of rows, each one object holding the rows'
 * features (rows × width float32, row-major) followed by their labels (rows float32, when the
 * dataset has a target), all little-endian as the Tensor message carries them.
 */
import { DataLossError } from '@aimaas/runtime';
import type { BlobUploader } from './blob-uploader.js';

/** Rows per tensor shard so that one stays under `maxBytes`. */
export function tensorShardRows(width: number, labels: boolean, maxBytes: number): number {
  return Math.max(1, Math.min(1 << 20, Math.floor(maxBytes / (4 * (width + (labels ? 1 : 0))))));
}

/**
 * Collects the `total` transformed rows of a split one at a time and uploads them as tensor
 * shards of `shardRows` rows (the last one smaller). Each shard is written into a buffer of its
 * exact size and goes out without a copy.
 *
 * @example
 * const writer = new TensorWriter(uploads, pipeline.features.length, true, 16_384, split.rows.length);
 * writer.appendRow(result.features, 0, result.labels![0]!);
 * writer.finish();
 */
export class TensorWriter {
  private buffer: ArrayBuffer | null = null;
  private features = new Float32Array(0);
  private labels: Float32Array | null = null;
  private capacity = 0;
  private count = 0;
  /** Rows written so far. */
  rows = 0;

  constructor(
    private readonly uploads: BlobUploader,
    readonly width: number,
    readonly withLabels: boolean,
    private readonly shardRows: number,
    private readonly total: number,
  ) {}

  /** Adds row `row` of row-major `features` (and its label). */
  appendRow(features: Float32Array, row: number, label: number): void {
    if (this.buffer === null) this.allocate();
    const width = this.width;
    const to = this.count * width;
    const from = row * width;
    const target = this.features;
    for (let k = 0; k < width; k++) target[to + k] = features[from + k]!;
    if (this.labels !== null) this.labels[this.count] = label;
    this.rows++;
    if (++this.count === this.capacity) this.flush();
  }

  /** Uploads the last, partial shard. */
  finish(): void {
    if (this.count > 0) this.flush();
  }

  private allocate(): void {
    // Fewer rows than expected can arrive (rows dropped by the pipeline): finish() then copies.
    this.capacity = Math.max(1, Math.min(this.shardRows, this.total - this.rows));
    const featureBytes = this.capacity * this.width * 4;
    this.buffer = new ArrayBuffer(featureBytes + (this.withLabels ? this.capacity * 4 : 0));
    this.features = new Float32Array(this.buffer, 0, this.capacity * this.width);
    this.labels = this.withLabels ? new Float32Array(this.buffer, featureBytes, this.capacity) : null;
  }

  private flush(): void {
    const rows = this.count;
    const featureBytes = rows * this.width * 4;
    let out: Uint8Array;
    if (rows === this.capacity) out = new Uint8Array(this.buffer!);
    else {
      out = new Uint8Array(featureBytes + (this.labels !== null ? rows * 4 : 0));
      out.set(new Uint8Array(this.buffer!, 0, featureBytes));
      if (this.labels !== null)
        out.set(new Uint8Array(this.labels.buffer, this.labels.byteOffset, rows * 4), featureBytes);
    }
    this.uploads.add(out, rows);
    this.count = 0;
    this.buffer = null;
  }
}

/** One tensor shard read back. */
export interface TensorShard {
  rows: number;
  features: Float32Array;
  labels: Float32Array | null;
}

/** Splits a stored tensor shard into its features and labels. */
export function decodeTensorShard(
  data: Uint8Array,
  rows: number,
  width: number,
  labels: boolean,
  where: string,
): TensorShard {
  const expected = rows * (width + (labels ? 1 : 0)) * 4;
  if (data.byteLength !== expected)
    throw new DataLossError(`${where} holds ${data.byteLength} bytes; expected ${expected}`);
  const bytes = data.byteOffset % 4 === 0 ? data : new Uint8Array(data);
  return {
    rows,
    features: new Float32Array(bytes.buffer, bytes.byteOffset, rows * width),
    labels: labels ? new Float32Array(bytes.buffer, bytes.byteOffset + rows * width * 4, rows) : null,
  };
}

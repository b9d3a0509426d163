/**
 * TransformRecords: a fitted pipeline (a prepared dataset's, or one given as JSON) applied to raw
 * JSON records with the pipeline library's `transformRecords`, the code path that produced the
 * prepared tensors, so the same raw row gives the same float32 features bit for bit. Missing
 * values are JSON null or an absent key. Rows are never dropped: the output has one row per record.
 */
import type { TransformRecordsRequest, TransformRecordsResponse } from '@aimaas/proto';
import { parsePipeline, transformRecords, type FittedPipeline } from '@aimaas/pipeline';
import { InvalidArgumentError } from '@aimaas/runtime';
import type { DatasetStore } from './dataset-store.js';
import { checkPreparedId } from './validation.js';

/** Parsed pipelines of prepared datasets, by id (they never change once prepared). */
export class PipelineCache {
  private readonly entries = new Map<string, FittedPipeline>();

  constructor(
    private readonly store: DatasetStore,
    private readonly capacity = 64,
  ) {}

  /** The fitted pipeline of a prepared dataset. @throws NotFoundError for an unknown id. */
  async get(id: string): Promise<FittedPipeline> {
    const cached = this.entries.get(id);
    if (cached !== undefined) {
      // Re-insert to keep the most recently used entries.
      this.entries.delete(id);
      this.entries.set(id, cached);
      return cached;
    }
    const { prepared } = await this.store.getPrepared(id);
    const pipeline = parsePipeline(prepared.pipelineJson);
    this.entries.set(id, pipeline);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return pipeline;
  }
}

/**
 * Runs one TransformRecords call.
 *
 * @throws InvalidArgumentError for a record that is not a JSON object, a pipeline JSON that does
 *   not parse, or a value the pipeline cannot read (naming the record index and column).
 * @throws NotFoundError for an unknown prepared dataset.
 */
export async function transformRecordsCall(
  request: TransformRecordsRequest,
  pipelines: PipelineCache,
): Promise<TransformRecordsResponse> {
  let pipeline: FittedPipeline;
  if (request.preparedDatasetId !== undefined && request.preparedDatasetId !== '') {
    pipeline = await pipelines.get(checkPreparedId(request.preparedDatasetId, 'prepared_dataset_id'));
  } else if (request.pipelineJson !== undefined && request.pipelineJson !== '') {
    // A PipelineFormatError carries INVALID_ARGUMENT itself (see @aimaas/runtime's error-status).
    pipeline = parsePipeline(request.pipelineJson);
  } else {
    throw new InvalidArgumentError('pipeline is missing; expected prepared_dataset_id or pipeline_json');
  }
  const records = request.recordsJson.map((text, index) => parseRecord(text, index));
  const result = transformRecords(pipeline, records, { labels: false, dropRows: false });
  const width = result.featureNames.length;
  return {
    features: {
      name: 'features',
      datatype: 'FP32',
      shape: [result.rows, width],
      raw: Buffer.from(result.features.buffer, result.features.byteOffset, result.rows * width * 4),
    },
    featureNames: [...result.featureNames],
  };
}

function parseRecord(text: string, index: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(
      `record ${index}: not valid JSON (${(error as Error).message}); expected a JSON object`,
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(
      `record ${index}: ${value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`}; expected a JSON object`,
    );
  }
  return value as Record<string, unknown>;
}

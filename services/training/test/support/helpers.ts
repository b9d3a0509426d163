import { JobState, type ProgressUpdate, type SubmitTrainingJobRequest, type TrainingJob } from '@aimaas/proto';
import { downloadModelArtifacts, type AimaasClients } from '@aimaas/sdk';
import { waitFor } from '@aimaas/testing';

/** A small, quick iris job (an MLP 4-16-16-3, adam) that the tests vary. */
export function irisJob(
  preparedDatasetId: string,
  overrides: Partial<SubmitTrainingJobRequest> = {},
): Partial<SubmitTrainingJobRequest> {
  return {
    preparedDatasetId,
    model: { mlp: { hiddenUnits: [16, 16], activation: 'relu', dropout: 0, batchNorm: false }, inputShape: [] },
    config: {
      optimizer: { name: 'adam', learningRate: 0.01, momentum: 0, nesterov: false },
      schedule: undefined,
      batchSize: 16,
      epochs: 60,
      seed: 1,
      earlyStopping: undefined,
      validationSplit: 0,
      workers: 0,
    },
    modelName: 'iris',
    ...overrides,
  };
}

/** Waits for a job to reach a final state and returns it. */
export async function waitForEnd(clients: AimaasClients, id: string, timeoutMs = 60_000): Promise<TrainingJob> {
  return waitFor(
    async () => {
      const job = await clients.training.getTrainingJob({ id });
      return (
        [JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED].includes(job.state) &&
        job
      );
    },
    { timeoutMs, intervalMs: 100, message: `training job ${id} to end` },
  );
}

/** Reads a whole WatchTrainingJob stream. */
export async function watchAll(clients: AimaasClients, id: string): Promise<ProgressUpdate[]> {
  const updates: ProgressUpdate[] = [];
  for await (const update of clients.training.watchTrainingJob({ id }, { deadlineMs: 120_000 })) updates.push(update);
  return updates;
}

/** The files of a registered version, by path. */
export async function downloadFiles(
  clients: AimaasClients,
  ref: { name: string; version: number },
): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const parts = new Map<string, Buffer[]>();
  await downloadModelArtifacts(
    clients.registry,
    { ref: { name: ref.name, version: ref.version } },
    {
      onChunk: (chunk, file) => {
        const list = parts.get(file.path) ?? [];
        list.push(Buffer.from(chunk));
        parts.set(file.path, list);
      },
      onFileEnd: (file) => {
        files.set(file.path, Buffer.concat(parts.get(file.path) ?? []));
      },
    },
  );
  return files;
}

/** Every row of a split as one features array and one labels array. */
export async function readWholeSplit(
  clients: AimaasClients,
  preparedDatasetId: string,
  split: string,
): Promise<{ rows: number; features: Float32Array; labels: Float32Array }> {
  const features: number[] = [];
  const labels: number[] = [];
  let rows = 0;
  for await (const batch of clients.preprocessing.readSplit({ preparedDatasetId, split, batchSize: 64 })) {
    const raw = Buffer.from(batch.features!.raw);
    features.push(...new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4));
    const rawLabels = Buffer.from(batch.labels!.raw);
    labels.push(...new Float32Array(rawLabels.buffer, rawLabels.byteOffset, rawLabels.byteLength / 4));
    rows += batch.rows;
  }
  return { rows, features: Float32Array.from(features), labels: Float32Array.from(labels) };
}

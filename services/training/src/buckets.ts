import { ensureBuckets, type ObjectStore } from '@aimaas/storage';
import { CHECKPOINTS_BUCKET, CheckpointStore } from './jobs/checkpoints.js';
import { ExperimentStore } from './experiments/experiment-store.js';
import { JOBS_BUCKET, JobStore } from './jobs/job-store.js';

/** The training service's stores over its NATS buckets. */
export interface TrainingStores {
  jobs: JobStore;
  experiments: ExperimentStore;
  checkpoints: CheckpointStore;
  /** The raw checkpoint object store (`aimaas_checkpoints`). */
  checkpointObjects: ObjectStore;
}

/**
 * Opens (creating when absent) the KV bucket `aimaas_jobs` and the object store
 * `aimaas_checkpoints`. Safe to run from every replica at start.
 *
 * @example
 * const { jobs, experiments, checkpoints } = await openTrainingStores(nc);
 */
export async function openTrainingStores(nc: Parameters<typeof ensureBuckets>[0]): Promise<TrainingStores> {
  const { kv, objects } = await ensureBuckets(nc, {
    kv: { [JOBS_BUCKET]: { history: 1, description: 'AIMaaS jobs: training and compression job records' } },
    objects: { [CHECKPOINTS_BUCKET]: { description: 'AIMaaS training checkpoints (one per running job)' } },
  });
  const jobsKv = kv[JOBS_BUCKET]!;
  const checkpointObjects = objects[CHECKPOINTS_BUCKET]!;
  return {
    jobs: new JobStore(jobsKv),
    experiments: new ExperimentStore(jobsKv),
    checkpoints: new CheckpointStore(checkpointObjects),
    checkpointObjects,
  };
}

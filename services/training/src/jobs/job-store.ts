import { createHash, randomUUID } from 'node:crypto';
import { JobState, ProgressUpdate, TrainingJob } from '@aimaas/proto';
import { NotFoundError } from '@aimaas/runtime';
import type { KvStore } from '@aimaas/storage';

/** The KV bucket holding job records (shared with compression, which uses its own key prefix). */
export const JOBS_BUCKET = 'aimaas_jobs';
/** Epoch-end updates kept per job for WatchTrainingJob's history. */
const MAX_HISTORY = 1_000;

/** One training job as stored: the public job plus what only the service needs. */
export interface JobRecord {
  job: TrainingJob;
  /** One progress update per finished epoch, oldest first (the history WatchTrainingJob replays). */
  history: ProgressUpdate[];
  /** Cross-validation fold this job trains on (`fold-<i>/train`), when it is one. */
  fold?: number;
  /** The search or cross-validation this job belongs to. */
  parent?: string;
  /** Set once the model is being exported and registered: from then on it cannot be cancelled. */
  registering?: boolean;
}

/** A record and the KV revision that wrote it. */
export interface StoredJob {
  record: JobRecord;
  revision: number;
}

interface EncodedRecord {
  job: unknown;
  history: unknown[];
  fold?: number;
  parent?: string;
  registering?: boolean;
}

/** States after which a job never changes again. */
const TERMINAL_STATES: ReadonlySet<JobState> = new Set([
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
]);

/**
 * The id of a new job: derived from the idempotency key when there is one (so a retried submit
 * finds its job), else random.
 */
export function jobIdFor(requestId: string): string {
  return requestId ? `tj-${createHash('sha256').update(requestId).digest('hex').slice(0, 32)}` : `tj-${randomUUID()}`;
}

/**
 * An id this service could have made (a job's or an experiment's): 1 to 128 of `[-_a-zA-Z0-9]`,
 * so the KV key stays short.
 */
export function isJobId(id: string): boolean {
  return id.length <= 128 && /^[-_a-zA-Z0-9]+$/.test(id);
}

/** NOT_FOUND for a job, quoting at most 100 characters of the id. */
function jobNotFound(id: string): NotFoundError {
  const quoted =
    id.length > 100 ? `${JSON.stringify(id.slice(0, 100))}… (${id.length} characters)` : JSON.stringify(id);
  return new NotFoundError(`training job ${quoted} not found`);
}

/** True for a trial of a hyperparameter search (its final weights are kept for the search). */
export function isSearchTrial(record: JobRecord): boolean {
  return record.parent?.startsWith('ts-') ?? false;
}

/** True when `state` is SUCCEEDED, FAILED or CANCELLED. */
export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.has(state);
}

/**
 * Training job records in the `aimaas_jobs` KV bucket under `training.jobs.<id>`, written with
 * create-if-absent and revision-checked updates, so any number of replicas and workers can share
 * them without losing a change.
 */
export class JobStore {
  /** @param kv the `aimaas_jobs` bucket (searches and cross-validations live there too). */
  constructor(readonly kv: KvStore<unknown>) {}

  /** The KV key of job `id`. */
  static key(id: string): string {
    return `training.jobs.${id}`;
  }

  /**
   * Stores a new record.
   *
   * @throws AlreadyExistsError when a job with this id exists (an idempotent retry).
   */
  async create(record: JobRecord): Promise<number> {
    return this.kv.create(JobStore.key(record.job.id), encode(record));
  }

  /** The record of `id`, or undefined. */
  async get(id: string): Promise<StoredJob | undefined> {
    if (!isJobId(id)) return undefined;
    const entry = await this.kv.get(JobStore.key(id));
    return entry && { record: decode(entry.value as EncodedRecord), revision: entry.revision };
  }

  /**
   * The record of `id`.
   *
   * @throws NotFoundError naming the job.
   */
  async require(id: string): Promise<StoredJob> {
    const stored = await this.get(id);
    if (!stored) throw jobNotFound(id);
    return stored;
  }

  /**
   * Read-modify-write of one record that retries when another writer got there first. `fn` may
   * run several times; throwing from it aborts the change (e.g. a job that was cancelled meanwhile).
   *
   * @throws NotFoundError when the job does not exist.
   */
  async mutate(id: string, fn: (record: JobRecord) => JobRecord, signal?: AbortSignal): Promise<JobRecord> {
    if (!isJobId(id)) throw jobNotFound(id);
    const entry = await this.kv.mutate(
      JobStore.key(id),
      (current) => {
        if (current === undefined) throw jobNotFound(id);
        return encode(fn(decode(current as EncodedRecord)));
      },
      signal ? { signal } : {},
    );
    return decode(entry.value as EncodedRecord);
  }

  /** Every training job record, in key order. */
  async list(): Promise<JobRecord[]> {
    const entries = await this.kv.list('training.jobs.');
    return entries.map((entry) => decode(entry.value as EncodedRecord));
  }

  /**
   * Calls `onChange` with each new revision of job `id` until `signal` aborts (the worker's way to
   * see a cancel at once, not on its next poll).
   */
  async watch(id: string, onChange: (record: JobRecord) => void, signal: AbortSignal): Promise<void> {
    const watcher = await this.kv.watch(JobStore.key(id), { signal });
    void (async () => {
      try {
        for await (const change of watcher) {
          if (change.value !== undefined) onChange(decode(change.value as EncodedRecord));
        }
      } catch {
        // the watch ends with the job; a failed watch only delays cancellation to the next check
      }
    })();
  }
}

/** Appends an epoch-end update to a record's history (bounded). */
export function withHistory(record: JobRecord, update: ProgressUpdate): JobRecord {
  const history = [...record.history.filter((h) => h.epoch < update.epoch), update];
  return { ...record, history: history.slice(-MAX_HISTORY) };
}

function encode(record: JobRecord): EncodedRecord {
  return {
    job: TrainingJob.toJSON(record.job),
    history: record.history.map((h) => ProgressUpdate.toJSON(h)),
    ...(record.fold === undefined ? {} : { fold: record.fold }),
    ...(record.parent === undefined ? {} : { parent: record.parent }),
    ...(record.registering ? { registering: true } : {}),
  };
}

function decode(value: EncodedRecord): JobRecord {
  return {
    job: TrainingJob.fromJSON(value.job),
    history: (value.history ?? []).map((h) => ProgressUpdate.fromJSON(h)),
    ...(value.fold === undefined ? {} : { fold: value.fold }),
    ...(value.parent === undefined ? {} : { parent: value.parent }),
    ...(value.registering ? { registering: true } : {}),
  };
}

import { createHash, randomUUID } from 'node:crypto';
import { CompressionJob, JobState, ModelRef, ProgressUpdate } from '@aimaas/proto';
import { NotFoundError } from '@aimaas/runtime';
import type { KvStore } from '@aimaas/storage';

/** Epoch-end updates kept per job for WatchCompressionJob's history. */
const MAX_HISTORY = 1_000;
/** Job ids this service hands out: `cj-` and 32 hex digits, or a UUID. */
const JOB_ID = /^cj-[0-9a-f-]{32,36}$/;

/** One compression job as stored: the public job plus what only the service needs. */
export interface CompressionRecord {
  job: CompressionJob;
  /** One progress update per phase change and finished fine-tune epoch, oldest first. */
  history: ProgressUpdate[];
  /** Set once the result is being registered: from then on it cannot be cancelled. */
  registering?: boolean;
  /** The source version resolved at submit (an alias may move while the job waits). */
  source?: ModelRef;
}

interface EncodedRecord {
  job: unknown;
  source?: unknown;
  history?: unknown[];
  registering?: boolean;
}

const TERMINAL: ReadonlySet<JobState> = new Set([
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
]);

/** True when `state` is SUCCEEDED, FAILED or CANCELLED. */
export function isTerminal(state: JobState): boolean {
  return TERMINAL.has(state);
}

/** The id of a new job: derived from the idempotency key when there is one, else random. */
export function compressionJobIdFor(requestId: string): string {
  return requestId ? `cj-${createHash('sha256').update(requestId).digest('hex').slice(0, 32)}` : `cj-${randomUUID()}`;
}

/**
 * Compression job records in the shared `aimaas_jobs` KV bucket under `compression.jobs.<id>`,
 * written with create-if-absent and revision-checked updates, so any number of replicas and
 * workers share them without losing a change.
 */
export class CompressionJobStore {
  constructor(readonly kv: KvStore<unknown>) {}

  static key(id: string): string {
    return `compression.jobs.${id}`;
  }

  /** @throws AlreadyExistsError when a job with this id exists (an idempotent retry). */
  async create(record: CompressionRecord): Promise<number> {
    return this.kv.create(CompressionJobStore.key(record.job.id), encode(record));
  }

  /** The record of `id`, or undefined (also for an id this service could not have made). */
  async get(id: string): Promise<CompressionRecord | undefined> {
    if (!JOB_ID.test(id)) return undefined;
    const entry = await this.kv.get(CompressionJobStore.key(id));
    return entry && decode(entry.value as EncodedRecord);
  }

  /** @throws NotFoundError naming the job. */
  async require(id: string): Promise<CompressionRecord> {
    const record = await this.get(id);
    if (!record) throw new NotFoundError(`compression job "${id.slice(0, 100)}" not found`);
    return record;
  }

  /**
   * Read-modify-write that retries when another writer got there first; `fn` may run several
   * times, and throwing from it aborts the change.
   */
  async mutate(id: string, fn: (record: CompressionRecord) => CompressionRecord): Promise<CompressionRecord> {
    const entry = await this.kv.mutate(CompressionJobStore.key(id), (current) => {
      if (current === undefined) throw new NotFoundError(`compression job "${id}" not found`);
      return encode(fn(decode(current as EncodedRecord)));
    });
    return decode(entry.value as EncodedRecord);
  }

  async list(): Promise<CompressionRecord[]> {
    const entries = await this.kv.list('compression.jobs.');
    return entries.map((entry) => decode(entry.value as EncodedRecord));
  }

  /**
   * Yields each new revision of job `id` (the current one first) until `signal` aborts: how a
   * worker sees a cancel at once and how WatchCompressionJob follows a job on any replica.
   */
  async *watch(id: string, signal: AbortSignal): AsyncGenerator<CompressionRecord> {
    const watcher = await this.kv.watch(CompressionJobStore.key(id), { signal });
    try {
      for await (const change of watcher) {
        if (change.value !== undefined) yield decode(change.value as EncodedRecord);
      }
    } finally {
      watcher.stop();
    }
  }
}

/** Appends an update to a record's history (bounded), replacing its progress. */
export function withProgress(record: CompressionRecord, update: ProgressUpdate): CompressionRecord {
  return {
    ...record,
    history: [...record.history, update].slice(-MAX_HISTORY),
    job: { ...record.job, progress: update },
  };
}

function encode(record: CompressionRecord): EncodedRecord {
  return {
    job: CompressionJob.toJSON(record.job),
    history: record.history.map((h) => ProgressUpdate.toJSON(h)),
    ...(record.registering ? { registering: true } : {}),
    ...(record.source ? { source: ModelRef.toJSON(record.source) } : {}),
  };
}

function decode(value: EncodedRecord): CompressionRecord {
  return {
    job: CompressionJob.fromJSON(value.job),
    history: (value.history ?? []).map((h) => ProgressUpdate.fromJSON(h)),
    ...(value.registering ? { registering: true } : {}),
    ...(value.source ? { source: ModelRef.fromJSON(value.source) } : {}),
  };
}

import { CrossValidation, JobState, ModelRef, Search, SubmitTrainingJobRequest } from '@aimaas/proto';
import { NotFoundError } from '@aimaas/runtime';
import type { KvStore } from '@aimaas/storage';
import { isJobId, isTerminal, type JobRecord } from '../jobs/job-store.js';
import type { TrialValues } from './search-space.js';

/** One job of an experiment (a search trial or a cross-validation fold). */
interface ExperimentMember {
  jobId: string;
  state: JobState;
  /** search: the trial's point. */
  values?: TrialValues;
  /** search: the objective value (best over the trial's epochs). */
  objective?: number;
  /** The job's final metrics. */
  metrics?: Record<string, number>;
}

/** A search or a cross-validation as stored under `training.experiments.<id>`. */
export interface ExperimentRecord {
  kind: 'search' | 'cv';
  id: string;
  /** The base request as protobuf JSON. */
  base: unknown;
  members: ExperimentMember[];
  objective?: string;
  minimize?: boolean;
  /** Set once every member ended. */
  state: JobState;
  bestJobId?: string;
  modelVersion?: { name: string; version: number };
  error?: string;
}

/**
 * Searches and cross-validations in the `aimaas_jobs` bucket. Members report their end through
 * {@link ExperimentStore.recordMember}, a revision-checked update, so trials finishing on several
 * workers at once all land.
 */
export class ExperimentStore {
  constructor(private readonly kv: KvStore<unknown>) {}

  static key(id: string): string {
    return `training.experiments.${id}`;
  }

  async create(record: ExperimentRecord): Promise<void> {
    await this.kv.create(ExperimentStore.key(record.id), record);
  }

  async get(id: string): Promise<ExperimentRecord | undefined> {
    if (!isJobId(id)) return undefined;
    return (await this.kv.get(ExperimentStore.key(id)))?.value as ExperimentRecord | undefined;
  }

  /** Read-modify-write of one experiment. @throws NotFoundError */
  async mutate(id: string, fn: (record: ExperimentRecord) => ExperimentRecord): Promise<ExperimentRecord> {
    const entry = await this.kv.mutate(ExperimentStore.key(id), (current) => {
      if (current === undefined) throw new NotFoundError(`experiment "${id}" not found`);
      return fn(current as ExperimentRecord);
    });
    return entry.value as ExperimentRecord;
  }

  /**
   * Records a member job's end. Returns the experiment and whether this call completed it (every
   * member ended), which happens exactly once.
   */
  async recordMember(job: JobRecord): Promise<{ record: ExperimentRecord; completed: boolean }> {
    let completed = false;
    const record = await this.mutate(job.parent!, (r) => {
      completed = false;
      const members = r.members.map((m) => (m.jobId === job.job.id ? memberFrom(m, job, r) : m));
      const done = members.every((m) => isTerminal(m.state));
      const next: ExperimentRecord = { ...r, members };
      if (done && !isTerminal(r.state) && !r.bestJobId) {
        completed = true;
        Object.assign(next, conclude(next));
      }
      return next;
    });
    return { record, completed };
  }
}

function memberFrom(member: ExperimentMember, job: JobRecord, experiment: ExperimentRecord): ExperimentMember {
  const next: ExperimentMember = { ...member, state: job.job.state, metrics: job.job.metrics };
  if (experiment.kind === 'search' && experiment.objective) {
    const values = job.history
      .map((h) => h.metrics[experiment.objective!])
      .filter((v): v is number => v !== undefined && Number.isFinite(v));
    const fallback =
      job.job.metrics[experiment.objective] ?? job.job.metrics[experiment.objective.replace(/^val_/, '')];
    const best = values.length > 0 ? (experiment.minimize ? Math.min(...values) : Math.max(...values)) : fallback;
    if (best !== undefined) next.objective = best;
  }
  return next;
}

/** The outcome of an experiment whose members all ended. */
function conclude(record: ExperimentRecord): Partial<ExperimentRecord> {
  const ok = record.members.filter((m) => m.state === JobState.JOB_STATE_SUCCEEDED);
  if (ok.length === 0) return { state: JobState.JOB_STATE_FAILED, error: 'no member job succeeded' };
  if (record.kind === 'cv') return { state: JobState.JOB_STATE_SUCCEEDED };
  const scored = ok.filter((m) => m.objective !== undefined);
  if (scored.length === 0)
    return { state: JobState.JOB_STATE_FAILED, error: `no trial reported the objective ${record.objective}` };
  const best = scored.reduce((a, b) =>
    (record.minimize ? b.objective! < a.objective! : b.objective! > a.objective!) ? b : a,
  );
  // A search stays RUNNING until the best trial is registered (see the finalizer).
  return { bestJobId: best.jobId };
}

/** The state of an experiment that is not concluded: QUEUED until a member runs. */
function liveState(record: ExperimentRecord): JobState {
  if (isTerminal(record.state)) return record.state;
  return record.members.some((m) => m.state !== JobState.JOB_STATE_QUEUED)
    ? JobState.JOB_STATE_RUNNING
    : JobState.JOB_STATE_QUEUED;
}

/** A stored search as the API returns it. */
export function toSearch(record: ExperimentRecord): Search {
  return Search.fromPartial({
    id: record.id,
    state: liveState(record),
    trials: record.members.map((m) => ({
      jobId: m.jobId,
      valuesJson: m.values ?? {},
      state: m.state,
      objective: m.objective ?? 0,
    })),
    bestJobId: record.bestJobId ?? '',
    ...(record.modelVersion && { modelVersion: ModelRef.fromPartial(record.modelVersion) }),
  });
}

/** A stored cross-validation as the API returns it: mean and (population) std of each metric. */
export function toCrossValidation(record: ExperimentRecord): CrossValidation {
  const ok = record.members.filter((m) => m.state === JobState.JOB_STATE_SUCCEEDED && m.metrics);
  const mean: Record<string, number> = {};
  const std: Record<string, number> = {};
  if (isTerminal(record.state) && ok.length > 0) {
    for (const key of Object.keys(ok[0]!.metrics!)) {
      const values = ok.map((m) => m.metrics![key]).filter((v): v is number => v !== undefined);
      const mu = values.reduce((a, b) => a + b, 0) / values.length;
      mean[key] = mu;
      std[key] = Math.sqrt(values.reduce((a, b) => a + (b - mu) ** 2, 0) / values.length);
    }
  }
  return CrossValidation.fromPartial({
    id: record.id,
    state: liveState(record),
    foldJobIds: record.members.map((m) => m.jobId),
    meanMetrics: mean,
    stdMetrics: std,
  });
}

/** The base request of an experiment. */
export function baseRequest(record: ExperimentRecord): SubmitTrainingJobRequest {
  return SubmitTrainingJobRequest.fromJSON(record.base);
}

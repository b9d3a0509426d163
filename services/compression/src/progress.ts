import { CompressionJob, JobState, ProgressUpdate } from '@aimaas/proto';
import type { EventPublisher } from '@aimaas/events';
import type { Logger } from '@aimaas/telemetry';
import { isTerminal, withProgress, type CompressionJobStore } from './job-store.js';

/** The events this service publishes (`compression.job.*`). */
export type CompressionEventPublisher = Pick<EventPublisher, 'publish'>;

/** Publishes a lifecycle event with a stable ce-id, so a retried step publishes it once. */
export async function publishJobEvent(
  events: CompressionEventPublisher,
  type: 'submitted' | 'started' | 'succeeded' | 'failed' | 'cancelled',
  job: CompressionJob,
  logger: Pick<Logger, 'warn'>,
): Promise<void> {
  try {
    await events.publish(
      `compression.job.${type}`,
      { job },
      { id: `${job.id}.${type}.${job.attempts}`, subject: job.id },
    );
  } catch (err) {
    // The record is the source of truth; a lost event only delays subscribers.
    logger.warn({ err, jobId: job.id, type }, 'publishing a compression event failed');
  }
}

/** A progress update for a phase ("loading", "measuring", "quantizing", "fine-tuning", …). */
export function phaseUpdate(jobId: string, phase: string, message = '', base?: ProgressUpdate): ProgressUpdate {
  return ProgressUpdate.fromPartial({ ...base, jobId, phase, message, time: new Date() });
}

/** Fine-tune progress, as the methods report it. */
export interface TuneProgress {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  /** loss, and for pruning the current sparsity. */
  metrics: Record<string, number>;
}

/**
 * A running job's progress: phase changes and fine-tune epoch ends are appended to the record's
 * history (what WatchCompressionJob replays) and always published; per-batch updates replace the
 * record's progress and go out as `compression.job.progress` at most once per `intervalMs`. A job
 * cancelled meanwhile keeps its final record.
 */
export class CompressionProgress {
  #lastSent = 0;
  #last: ProgressUpdate | undefined;

  constructor(
    private readonly job: Pick<CompressionJob, 'id' | 'attempts'>,
    private readonly store: CompressionJobStore,
    private readonly events: CompressionEventPublisher,
    private readonly intervalMs: number,
    private readonly logger: Pick<Logger, 'warn'>,
  ) {}

  /** Records a phase change. */
  async phase(phase: string, message: string): Promise<void> {
    await this.send(phaseUpdate(this.job.id, phase, message, this.#last), true);
  }

  /** Records fine-tune progress (epoch ends always, batches throttled); `checkpointEpoch` is the last saved epoch. */
  async tune(progress: TuneProgress, epochEnd: boolean, checkpointEpoch: number): Promise<void> {
    const now = Date.now();
    if (!epochEnd && now - this.#lastSent < this.intervalMs) return;
    const update = ProgressUpdate.fromPartial({
      jobId: this.job.id,
      ...progress,
      time: new Date(now),
      phase: 'fine-tuning',
      message: epochEnd ? `epoch ${progress.epoch}/${progress.epochs} done` : '',
    });
    await this.send(update, epochEnd, checkpointEpoch);
  }

  private async send(update: ProgressUpdate, keep: boolean, checkpointEpoch?: number): Promise<void> {
    this.#last = update;
    this.#lastSent = Date.now();
    await this.store.mutate(this.job.id, (record) => {
      if (isTerminal(record.job.state)) return record;
      const next = keep ? withProgress(record, update) : { ...record, job: { ...record.job, progress: update } };
      return checkpointEpoch === undefined
        ? next
        : { ...next, job: { ...next.job, checkpointEpoch: Math.max(next.job.checkpointEpoch, checkpointEpoch) } };
    });
    const job = CompressionJob.fromPartial({
      id: this.job.id,
      state: JobState.JOB_STATE_RUNNING,
      progress: update,
      attempts: this.job.attempts,
    });
    try {
      await this.events.publish('compression.job.progress', { job }, { subject: this.job.id });
    } catch (err) {
      this.logger.warn({ err, jobId: this.job.id }, 'publishing compression progress failed');
    }
  }
}

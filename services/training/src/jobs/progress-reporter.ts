import { JobState, ProgressUpdate, TrainingJob, type GangMember } from '@aimaas/proto';
import type { EventPublisher } from '@aimaas/events';
import type { Logger } from '@aimaas/telemetry';
import { isTerminal, withHistory, type JobStore } from './job-store.js';
import type { TrainerProgress } from '../model/trainer.js';

/** The events this service publishes (`training.job.*`). */
export type TrainingEventPublisher = Pick<EventPublisher, 'publish'>;

/** Publishes a lifecycle event with a stable ce-id, so a retried step publishes it once. */
export async function publishJobEvent(
  events: TrainingEventPublisher,
  type: 'submitted' | 'started' | 'succeeded' | 'failed' | 'cancelled',
  job: TrainingJob,
  logger: Pick<Logger, 'warn'>,
): Promise<void> {
  try {
    await events.publish(`training.job.${type}`, { job }, { id: `${job.id}.${type}.${job.attempts}`, subject: job.id });
  } catch (err) {
    // The job record is the source of truth; a lost event only delays watchers to their next poll.
    logger.warn({ err, jobId: job.id, type }, 'publishing a training event failed');
  }
}

/** A bare progress update for a phase change ("loading", "exporting", …). */
export function phaseUpdate(jobId: string, phase: string, message = '', base?: ProgressUpdate): ProgressUpdate {
  return ProgressUpdate.fromPartial({ ...base, jobId, phase, message, time: new Date() });
}

/**
 * Turns trainer callbacks into progress: per-batch updates go out as `training.job.progress`
 * events at most once per `intervalMs`; each epoch end always goes out and is also appended to the
 * job record's history (with the checkpointed epoch), so WatchTrainingJob on any replica can
 * replay it.
 */
export class ProgressReporter {
  #lastSent = 0;
  #last: ProgressUpdate | undefined;
  /** A data-parallel job's workers, written to the record with each epoch end. */
  gang: (() => GangMember[]) | undefined;

  constructor(
    private readonly jobId: string,
    private readonly attempts: number,
    private readonly store: JobStore,
    private readonly events: TrainingEventPublisher,
    private readonly intervalMs: number,
    private readonly logger: Pick<Logger, 'warn'>,
  ) {}

  /** The latest update sent. */
  get last(): ProgressUpdate | undefined {
    return this.#last;
  }

  /** Handles a trainer callback; epoch ends are awaited, batch updates are fire-and-forget. */
  async report(progress: TrainerProgress, epochEnd: boolean, checkpointEpoch: number): Promise<void> {
    const now = Date.now();
    // The throttle applies to per-batch updates; epoch ends always go out.
    if (!epochEnd) {
      if (now - this.#lastSent < this.intervalMs) return;
      this.#lastSent = now;
    }
    const update = ProgressUpdate.fromPartial({
      jobId: this.jobId,
      epoch: progress.epoch,
      epochs: progress.epochs,
      step: progress.step,
      stepsPerEpoch: progress.stepsPerEpoch,
      metrics: progress.metrics,
      samplesPerSecond: progress.samplesPerSecond,
      etaSeconds: progress.etaSeconds,
      time: new Date(now),
      phase: progress.phase,
      message: epochEnd ? `epoch ${progress.epoch}/${progress.epochs} done` : '',
    });
    this.#last = update;
    if (!epochEnd) {
      void this.publish(update, checkpointEpoch);
      return;
    }
    await this.store.mutate(this.jobId, (record) =>
      // A job cancelled meanwhile keeps its final progress; the trainer stops at its next batch.
      isTerminal(record.job.state)
        ? record
        : {
            ...withHistory(record, update),
            job: {
              ...record.job,
              progress: update,
              checkpointEpoch: Math.max(record.job.checkpointEpoch, checkpointEpoch),
              ...(this.gang && { gang: this.gang() }),
            },
          },
    );
    await this.publish(update, checkpointEpoch);
  }

  /** Sends a phase change ("evaluating", "exporting", "registering") as progress. */
  async phase(phase: string, message = ''): Promise<void> {
    const update = phaseUpdate(this.jobId, phase, message, this.#last);
    this.#last = update;
    await this.publish(update, update.epoch);
  }

  private async publish(update: ProgressUpdate, checkpointEpoch: number): Promise<void> {
    // Progress events carry a slim job: the id, state and progress (not the whole request).
    const job = TrainingJob.fromPartial({
      id: this.jobId,
      state: JobState.JOB_STATE_RUNNING,
      progress: update,
      attempts: this.attempts,
      checkpointEpoch,
    });
    try {
      await this.events.publish('training.job.progress', { job }, { subject: this.jobId });
    } catch (err) {
      this.logger.warn({ err, jobId: this.jobId }, 'publishing training progress failed');
    }
  }
}

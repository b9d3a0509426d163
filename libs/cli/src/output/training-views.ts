import { jobStateToJSON, type JobState, type ProgressUpdate, type TrainingJob } from '@aimaas/proto';
import { formatModelRef } from '@aimaas/sdk';
import type { CliWritable } from '../command.js';
import { formatDate, formatFields, formatNumber, formatRecord, formatTable, NONE } from './format.js';
import { enumWord } from './serving-views.js';

/** A job state as a word: `queued`, `running`, `succeeded`, `failed`, `cancelled`. */
export function jobState(job: { state: JobState }): string {
  return enumWord(jobStateToJSON(job.state), 'JOB_STATE_');
}

/** `mlp 64,32`, `cnn 2 blocks`, `linear`, … */
function architecture(job: TrainingJob): string {
  const model = job.request?.model;
  if (model === undefined) return NONE;
  if (model.mlp) return `mlp ${model.mlp.hiddenUnits.join(',')}`;
  if (model.cnn) return `cnn ${model.cnn.convBlocks.map((b) => `${b.filters}x${b.kernelSize}`).join(',')}`;
  if (model.rnn) return `rnn ${model.rnn.cell} ${model.rnn.units.join(',')}`;
  if (model.autoencoder) return `autoencoder ${model.autoencoder.latentSize}`;
  if (model.linear) return 'linear';
  if (model.layersJson) return 'layers-json';
  return NONE;
}

/** `3/10`, or `-` before the first epoch. */
function epochText(progress: ProgressUpdate | undefined): string {
  if (progress === undefined || progress.epochs <= 0) return NONE;
  return `${progress.epoch}/${progress.epochs}`;
}

/** The table of `jobs list`. */
export function jobsTable(jobs: readonly TrainingJob[]): string {
  return formatTable(
    ['id', 'state', 'model', 'architecture', 'epoch', 'metrics', 'created'],
    jobs.map((job) => [
      job.id,
      jobState(job),
      job.modelVersion?.name ? formatModelRef(job.modelVersion) : job.request?.modelName || NONE,
      architecture(job),
      epochText(job.progress),
      formatRecord(job.metrics),
      formatDate(job.createdAt),
    ]),
  );
}

/** A metric → value table, sorted by name. */
export function metricsTable(metrics: Record<string, number>): string {
  const names = Object.keys(metrics).sort();
  return formatTable(
    ['metric', { header: 'value', align: 'right' }],
    names.map((name) => [name, formatNumber(metrics[name]!)]),
  );
}

/** `jobs show`: the job's fields, then its test metrics. */
export function jobDetails(job: TrainingJob): string {
  const request = job.request;
  const config = request?.config;
  const fields: [string, string][] = [
    ['Job', job.id],
    ['State', jobState(job)],
    ['Prepared dataset', request?.preparedDatasetId || NONE],
    ['Model name', request?.modelName || NONE],
    ['Architecture', architecture(job)],
    ['Epochs', config && config.epochs > 0 ? String(config.epochs) : NONE],
    ['Batch size', config && config.batchSize > 0 ? String(config.batchSize) : NONE],
    ['Optimizer', config?.optimizer?.name || NONE],
    [
      'Learning rate',
      config?.optimizer && config.optimizer.learningRate > 0 ? formatNumber(config.optimizer.learningRate) : NONE,
    ],
    ['Progress', job.progress ? progressText(job.progress) : NONE],
    ['Registered', job.modelVersion?.name ? formatModelRef(job.modelVersion) : NONE],
    ['Created', formatDate(job.createdAt)],
    ['Started', formatDate(job.startedAt)],
    ['Finished', formatDate(job.finishedAt)],
    ['Attempts', String(job.attempts)],
  ];
  if (job.worker !== '') fields.push(['Worker', job.worker]);
  if (job.error !== '') fields.push(['Error', job.error]);
  const metrics = Object.keys(job.metrics).length > 0 ? `\n\n${metricsTable(job.metrics)}` : '';
  return formatFields(fields) + metrics;
}

/** `1:05`, `1:02:03`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return NONE;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/** How far training is, 0..1: epochs done plus the fraction of the current one. */
export function progressFraction(p: ProgressUpdate): number {
  if (p.epochs <= 0) return 0;
  const within = p.stepsPerEpoch > 0 ? Math.min(1, p.step / p.stepsPerEpoch) : 1;
  return Math.min(1, Math.max(0, (Math.max(p.epoch, 1) - 1 + within) / p.epochs));
}

/** One progress update as text: `epoch 3/10  loss=0.41 val_accuracy=0.9  1200 samples/s  ETA 0:12`. */
export function progressText(p: ProgressUpdate): string {
  const parts = [p.phase || 'training'];
  if (p.epochs > 0) parts.push(`epoch ${p.epoch}/${p.epochs}`);
  if (Object.keys(p.metrics).length > 0) parts.push(formatRecord(p.metrics).replace(/,/g, ' '));
  if (p.samplesPerSecond > 0) parts.push(`${formatNumber(Math.round(p.samplesPerSecond))} samples/s`);
  if (p.etaSeconds > 0) parts.push(`ETA ${formatDuration(p.etaSeconds)}`);
  return parts.join('  ');
}

/** What a {@link JobProgressBar} draws for one update: the bar's fill (none: no bar) and the text after it. */
export interface ProgressFrame {
  fraction?: number;
  text: string;
}

/**
 * A one-line job progress bar on stderr, redrawn in place, each frame padded over the one before:
 * `<label>  [######------------------]  25%  <text>`, or `<label>  <text>` for a frame without
 * a fraction.
 */
export class JobProgressBar {
  private lastLength = 0;
  private finished = false;
  private drawn = false;

  constructor(
    private readonly stream: CliWritable,
    private readonly label: string,
    private readonly frame: (update: ProgressUpdate) => ProgressFrame,
    private readonly barWidth = 24,
  ) {}

  /** The line for `update` (without `\r`). */
  render(update: ProgressUpdate): string {
    const { fraction, text } = this.frame(update);
    if (fraction === undefined) return `${this.label}  ${text}`;
    const filled = Math.round(fraction * this.barWidth);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(this.barWidth - filled)}]`;
    return `${this.label}  ${bar} ${`${Math.floor(fraction * 100)}%`.padStart(4)}  ${text}`;
  }

  update(update: ProgressUpdate): void {
    if (this.finished) return;
    const line = this.render(update);
    const pad = ' '.repeat(Math.max(0, this.lastLength - line.length));
    this.lastLength = line.length;
    this.drawn = true;
    this.stream.write(`\r${line}${pad}`);
  }

  /** Ends the line (when anything was drawn). Idempotent. */
  done(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.drawn) this.stream.write('\n');
  }
}

/**
 * A one-line training progress bar on stderr, redrawn in place:
 * `train  [######------------------]  25%  training  epoch 3/10  loss=0.41  1200 samples/s  ETA 0:12`.
 */
export class TrainingProgressBar extends JobProgressBar {
  constructor(stream: CliWritable, barWidth = 24) {
    super(stream, 'train', (update) => ({ fraction: progressFraction(update), text: progressText(update) }), barWidth);
  }
}

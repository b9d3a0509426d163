import type {
  CompressionJob,
  CompressionReport,
  ModelMeasurement,
  ModelSpec,
  ProgressUpdate,
  SubmitCompressionJobRequest,
} from '@aimaas/proto';
import { formatModelRef } from '@aimaas/sdk';
import type { CliWritable } from '../command.js';
import { formatBytes, formatDate, formatFields, formatNumber, formatRecord, formatTable, NONE } from './format.js';
import { formatDuration, JobProgressBar, jobState, progressFraction } from './training-views.js';

/** `mlp 32,16`, `cnn 16x3,32x3/64`, `linear`, … (a student's architecture). */
function architectureText(model: ModelSpec | undefined): string {
  if (model === undefined) return NONE;
  if (model.mlp) return `mlp ${model.mlp.hiddenUnits.join(',')}`;
  if (model.cnn) {
    const blocks = model.cnn.convBlocks.map((b) => `${b.filters}x${b.kernelSize}`).join(',');
    return `cnn ${blocks}${model.cnn.denseUnits.length > 0 ? `/${model.cnn.denseUnits.join(',')}` : ''}`;
  }
  if (model.linear) return 'linear';
  if (model.rnn) return `rnn ${model.rnn.cell} ${model.rnn.units.join(',')}`;
  if (model.autoencoder) return `autoencoder ${model.autoencoder.latentSize}`;
  if (model.layersJson) return 'layers-json';
  return NONE;
}

/**
 * The method of a request in a few words: `quantize uint8`, `quantize int8 per-channel`,
 * `prune 0.8`, `distill mlp 32,16`, `cluster 16`.
 */
export function methodText(request: SubmitCompressionJobRequest | undefined): string {
  if (request?.quantize) {
    const { dtype, perChannel } = request.quantize;
    return dtype === 'int8' ? `quantize int8 ${perChannel ? 'per-channel' : 'per-tensor'}` : `quantize ${dtype}`;
  }
  if (request?.prune)
    return `prune ${formatNumber(request.prune.targetSparsity)}${request.prune.scope === 'global' ? ' global' : ''}`;
  if (request?.distill) return `distill ${architectureText(request.distill.student)}`;
  if (request?.cluster) return `cluster ${request.cluster.clusters}`;
  return NONE;
}

/** The fine-tune settings of a method, for `compress jobs show`. */
function methodSettings(request: SubmitCompressionJobRequest | undefined): [string, string][] {
  const fields: [string, string][] = [];
  const epochs = (label: string, n: number) => fields.push([label, n > 0 ? String(n) : NONE]);
  if (request?.prune) {
    epochs('Fine-tune epochs', request.prune.fineTuneEpochs);
    fields.push(['Pruning steps', request.prune.pruningSteps > 0 ? String(request.prune.pruningSteps) : 'one shot']);
  }
  if (request?.cluster) {
    epochs('Fine-tune epochs', request.cluster.fineTuneEpochs);
    fields.push(['Centroid init', request.cluster.init || 'kmeans++']);
  }
  if (request?.distill) {
    fields.push(
      ['Temperature', formatNumber(request.distill.temperature)],
      ['Alpha', formatNumber(request.distill.alpha)],
    );
    epochs('Epochs', request.distill.config?.epochs ?? 0);
  }
  return fields;
}

/** `after / before` to 4 significant digits, `-` when either is missing or before is 0. */
function ratio(before: number | undefined, after: number | undefined): string {
  if (
    before === undefined ||
    after === undefined ||
    before === 0 ||
    !Number.isFinite(before) ||
    !Number.isFinite(after)
  )
    return NONE;
  return formatNumber(after / before);
}

/** A latency in ms, `-` for 0 (not measured). */
function latency(ms: number | undefined): string {
  return ms === undefined || ms <= 0 ? NONE : formatNumber(ms);
}

/**
 * The before/after table of a compression report. Rows: size raw, size gzip (bytes of the format
 * the method compresses), parameters, non-zero parameters, each metric (sorted by name), latency
 * b1 ms and b256 ms (median ms per batch of 1 and of 256). The last column is always
 * `after / before`: 0.25 is a model a quarter the size, 1 no change, above 1 a growth.
 *
 * @example
 * reportTable({ before, after });
 * // MEASURE              BEFORE    AFTER  AFTER/BEFORE
 * // size raw            2.95 kB  1.02 kB        0.3458
 * // …
 */
export function reportTable(report: CompressionReport): string {
  const before: Partial<ModelMeasurement> = report.before ?? {};
  const after: Partial<ModelMeasurement> = report.after ?? {};
  const bytes = (n: number | undefined) => (n === undefined ? NONE : formatBytes(n));
  const count = (n: number | undefined) => (n === undefined ? NONE : String(n));
  const metricNames = [...new Set([...Object.keys(before.metrics ?? {}), ...Object.keys(after.metrics ?? {})])].sort();
  const rows: string[][] = [
    ['size raw', bytes(before.sizeBytes), bytes(after.sizeBytes), ratio(before.sizeBytes, after.sizeBytes)],
    [
      'size gzip',
      bytes(before.gzippedBytes),
      bytes(after.gzippedBytes),
      ratio(before.gzippedBytes, after.gzippedBytes),
    ],
    ['parameters', count(before.parameters), count(after.parameters), ratio(before.parameters, after.parameters)],
    [
      'non-zero parameters',
      count(before.nonzeroParameters),
      count(after.nonzeroParameters),
      ratio(before.nonzeroParameters, after.nonzeroParameters),
    ],
    ...metricNames.map((name) => {
      const b = before.metrics?.[name];
      const a = after.metrics?.[name];
      return [name, b === undefined ? NONE : formatNumber(b), a === undefined ? NONE : formatNumber(a), ratio(b, a)];
    }),
    [
      'latency b1 ms',
      latency(before.latencyMsBatch1),
      latency(after.latencyMsBatch1),
      ratio(before.latencyMsBatch1 || undefined, after.latencyMsBatch1 || undefined),
    ],
    [
      'latency b256 ms',
      latency(before.latencyMsBatch256),
      latency(after.latencyMsBatch256),
      ratio(before.latencyMsBatch256 || undefined, after.latencyMsBatch256 || undefined),
    ],
  ];
  return formatTable(
    [
      'measure',
      { header: 'before', align: 'right' },
      { header: 'after', align: 'right' },
      { header: 'after/before', align: 'right' },
    ],
    rows,
  );
}

/** What the sizes and metrics of a report were measured on: `Sizes of tfjs-layers files; metrics on the test split.` */
function reportBasis(report: CompressionReport): string {
  const format = report.after?.format || report.before?.format;
  const split = report.after?.metricsSplit || report.before?.metricsSplit;
  const parts = [format ? `sizes of the ${format} files` : '', split ? `metrics on the ${split} split` : ''].filter(
    Boolean,
  );
  if (parts.length === 0) return '';
  const text = parts.join('; ');
  return `${text[0]!.toUpperCase()}${text.slice(1)}.`;
}

/** The report with its basis line, or `''` without a report. */
export function reportView(report: CompressionReport | undefined): string {
  if (report === undefined || (report.before === undefined && report.after === undefined)) return '';
  const basis = reportBasis(report);
  return basis === '' ? reportTable(report) : `${reportTable(report)}\n${basis}`;
}

/** The table of `compress jobs list`. */
export function compressionJobsTable(jobs: readonly CompressionJob[]): string {
  return formatTable(
    ['id', 'state', 'source', 'method', 'phase', 'result', 'created'],
    jobs.map((job) => [
      job.id,
      jobState(job),
      job.request?.source ? formatModelRef(job.request.source) : NONE,
      methodText(job.request),
      job.progress?.phase || NONE,
      job.modelVersion?.name ? formatModelRef(job.modelVersion) : NONE,
      formatDate(job.createdAt),
    ]),
  );
}

/**
 * One compression progress update as text:
 * `fine-tuning  epoch 2/4  step 3/12  loss=0.41 sparsity=0.6  ETA 0:12`, or for a phase without
 * epochs its message: `measuring  measuring the source: sizes, metrics, latency`.
 */
export function compressionProgressText(p: ProgressUpdate): string {
  const parts = [p.phase || 'compressing'];
  if (p.epochs > 0) parts.push(`epoch ${p.epoch}/${p.epochs}`);
  if (p.epochs > 0 && p.stepsPerEpoch > 0) parts.push(`step ${p.step}/${p.stepsPerEpoch}`);
  if (Object.keys(p.metrics).length > 0) parts.push(formatRecord(p.metrics).replace(/,/g, ' '));
  if (p.samplesPerSecond > 0) parts.push(`${formatNumber(Math.round(p.samplesPerSecond))} samples/s`);
  if (p.etaSeconds > 0) parts.push(`ETA ${formatDuration(p.etaSeconds)}`);
  if (p.epochs <= 0 && p.message !== '') parts.push(p.message);
  return parts.join('  ');
}

/**
 * The live line of `compress --watch` on stderr: a bar while fine-tuning (its fill is the share of
 * fine-tune epochs done), the phase and its message otherwise:
 * `compress  [######------------------]  25%  fine-tuning  epoch 1/4  step 12/12  loss=0.41`.
 */
export class CompressionProgressBar extends JobProgressBar {
  constructor(stream: CliWritable, barWidth = 24) {
    super(
      stream,
      'compress',
      (update) =>
        update.epochs > 0
          ? { fraction: progressFraction(update), text: compressionProgressText(update) }
          : { text: compressionProgressText(update) },
      barWidth,
    );
  }
}

/** `compress jobs show`: the job's fields, then its report. */
export function compressionJobDetails(job: CompressionJob): string {
  const request = job.request;
  const fields: [string, string][] = [
    ['Job', job.id],
    ['State', jobState(job)],
    ['Source', request?.source ? formatModelRef(request.source) : NONE],
    ['Method', methodText(request)],
    ...methodSettings(request),
    ['Prepared dataset', request?.preparedDatasetId || "the source's lineage"],
    ['Model name', request?.modelName || "the source's name"],
    ['Progress', job.progress ? compressionProgressText(job.progress) : NONE],
    ['Registered', job.modelVersion?.name ? formatModelRef(job.modelVersion) : NONE],
    ['Created', formatDate(job.createdAt)],
    ['Started', formatDate(job.startedAt)],
    ['Finished', formatDate(job.finishedAt)],
    ['Attempts', String(job.attempts)],
  ];
  if (job.worker !== '') fields.push(['Worker', job.worker]);
  if (job.error !== '') fields.push(['Error', job.error]);
  const report = reportView(job.report);
  return report === '' ? formatFields(fields) : `${formatFields(fields)}\n\n${report}`;
}

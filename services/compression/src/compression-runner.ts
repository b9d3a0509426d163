import * as tf from '@tensorflow/tfjs';
import {
  CompressionReport,
  ModelRef,
  type CompressionJob,
  type ModelMeasurement,
  type ModelVersion,
  type PreparedDataset,
} from '@aimaas/proto';
import {
  loadModelFromFiles,
  MODEL_JSON,
  exportOnnx,
  quantizeOnnxInt8,
  quantizeOnnxInt8Static,
  saveModelToBytes,
  WEIGHTS_BIN,
} from '@aimaas/ml';
import { FailedPreconditionError, InvalidArgumentError, ResourceExhaustedError } from '@aimaas/runtime';
import { downloadModelArtifacts, uploadModelVersion, type PreprocessingClient, type RegistryClient } from '@aimaas/sdk';
import type { CheckpointStore } from '@aimaas/training';
import { dataShapeOf, regressionTargetScaling, type DataShape } from '@aimaas/training';
import { compressModel, methodOf, type CompressedModel } from './compress-model.js';
import type { FineTuneCheckpoint } from './fine-tune.js';
import { measureArtifacts, type ArtifactFile, type MeasureContext } from './measure.js';
import type { CompressionProgress } from './progress.js';
import { COMPRESSION_LIMITS } from './limits.js';
import { evaluationSplit, readSplit, type SplitData } from './split-data.js';

/** The ONNX file of a version. */
const ONNX_FILE = 'model.onnx';

/** The registry calls a compression job makes. */
export type RegistryAccess = Pick<
  RegistryClient,
  'getModelVersion' | 'downloadModelArtifacts' | 'createModelVersion' | 'searchModelVersions'
>;

/** What running one job needs. */
export interface RunnerDeps {
  registry: RegistryAccess;
  preprocessing: Pick<PreprocessingClient, 'getPreparedDataset' | 'readSplit'>;
  checkpoints: CheckpointStore;
  /** Latency runs per measurement. */
  latencyRuns?: MeasureContext['runs'];
}

/** How a job ended when it was neither cancelled nor failed. */
export interface RunOutcome {
  report: CompressionReport;
  modelVersion: ModelRef;
}

/** Hooks the worker gives the runner. */
export interface RunHooks {
  progress: CompressionProgress;
  signal: AbortSignal;
  heartbeat(): void;
  /** Throws when the job was cancelled meanwhile; after it, the job cannot be cancelled. */
  beforeRegister(): Promise<void>;
}

/** Downloads a version's files (every one, or only `paths`) into memory, refusing past `maxBytes`. */
export async function downloadVersionFiles(
  registry: RegistryAccess,
  ref: ModelRef,
  signal: AbortSignal,
  options: { paths?: string[]; maxBytes?: number } = {},
): Promise<ArtifactFile[]> {
  const files: ArtifactFile[] = [];
  let parts: Uint8Array[] = [];
  let total = 0;
  await downloadModelArtifacts(
    registry as RegistryClient,
    { ref, paths: options.paths ?? [] },
    {
      signal,
      onFile: () => {
        parts = [];
      },
      onChunk: (chunk) => {
        total += chunk.byteLength;
        if (options.maxBytes !== undefined && total > options.maxBytes) {
          throw new ResourceExhaustedError(
            `source ${ref.name}@${ref.version}: its model files exceed the ${options.maxBytes} bytes a compression job takes`,
          );
        }
        parts.push(new Uint8Array(chunk));
      },
      onFileEnd: (file) => {
        files.push({ path: file.path, format: file.format, bytes: Buffer.concat(parts) });
      },
    },
  );
  return files;
}

/** The tfjs-layers files of a version as `loadModelFromFiles` takes them. */
function tfjsFiles(files: readonly ArtifactFile[]): Map<string, Uint8Array> {
  return new Map(files.filter((f) => f.format === 'tfjs-layers').map((f) => [f.path, f.bytes]));
}

/**
 * Writes a compressed model's files: tfjs-layers (quantized in the manifest when asked), and ONNX
 * exported from exactly the weights TF.js decodes from those files (so both formats serve the
 * same model), then quantized to int8 when asked (static from calibration rows, or dynamic). A model the exporter cannot express is
 * registered without ONNX.
 */
async function writeCompressedFiles(
  result: CompressedModel,
  jobId: string,
): Promise<{ files: ArtifactFile[]; onnxError?: string }> {
  const { files: saved } = await saveModelToBytes(result.model, {
    ...(result.tfjsQuantization && { quantization: result.tfjsQuantization }),
    userDefinedMetadata: { compression_job: jobId },
  });
  const files: ArtifactFile[] = [
    { path: MODEL_JSON, format: 'tfjs-layers', bytes: saved.get(MODEL_JSON)! },
    { path: WEIGHTS_BIN, format: 'tfjs-layers', bytes: saved.get(WEIGHTS_BIN)! },
  ];
  const decoded = result.tfjsQuantization && !result.onnxInt8 ? await loadModelFromFiles(saved) : result.model;
  try {
    let onnx = exportOnnx(decoded, { metadata: { compression_job: jobId } });
    if (result.onnxInt8?.calibration) {
      onnx = (
        await quantizeOnnxInt8Static(onnx, {
          perChannel: result.onnxInt8.perChannel,
          calibration: result.onnxInt8.calibration,
        })
      ).bytes;
    } else if (result.onnxInt8) {
      onnx = quantizeOnnxInt8(onnx, { perChannel: result.onnxInt8.perChannel }).bytes;
    }
    files.push({ path: ONNX_FILE, format: 'onnx', bytes: onnx });
    return { files };
  } catch (error) {
    // Without ONNX the version still serves through TF.js, unless ONNX int8 is what was asked for.
    if ((error as Error).name === 'OnnxExportError' && !result.onnxInt8)
      return { files, onnxError: (error as Error).message };
    if ((error as Error).name === 'OnnxExportError')
      throw new FailedPreconditionError(
        `int8 needs the ONNX export, which failed: ${(error as Error).message.slice(0, 200)}`,
      );
    throw error;
  } finally {
    if (decoded !== result.model) decoded.dispose();
  }
}

/**
 * Runs one claimed job: resolves and downloads the source version, reads the evaluation split
 * (and, for the methods that fine-tune, the training split) through the preprocessing service,
 * measures the source, runs the method (resuming from the job's checkpoint), writes and measures
 * the result, and registers it as a new version with its lineage and report. Every model is
 * disposed whatever happens.
 */
export async function runCompressionJob(
  deps: RunnerDeps,
  job: CompressionJob,
  source: ModelRef,
  hooks: RunHooks,
): Promise<RunOutcome> {
  const request = job.request!;
  const { progress, signal } = hooks;
  await progress.phase('loading', `downloading ${source.name}@${source.version}`);
  const version = await deps.registry.getModelVersion({ ref: source }, { signal });
  const modelPaths = version.files.filter((f) => f.format === 'tfjs-layers' || f.format === 'onnx').map((f) => f.path);
  const sourceFiles = await downloadVersionFiles(deps.registry, source, signal, {
    paths: modelPaths,
    maxBytes: COMPRESSION_LIMITS.maxSourceBytes,
  });
  const preparedId = request.preparedDatasetId || version.lineage?.preparedDatasetId || '';
  const prepared = await deps.preprocessing.getPreparedDataset({ id: preparedId }, { signal });
  const shape = dataShapeOf(prepared);
  const scaling = regressionTargetScaling(prepared);
  const evalSplit = evaluationSplit(prepared);
  await progress.phase('loading', `reading split ${evalSplit} of prepared dataset ${prepared.id}`);
  const evalData = await readSplit(deps.preprocessing, prepared, evalSplit, shape.featureSize, signal);
  const primaryFormat = request.quantize?.dtype === 'int8' ? 'onnx' : 'tfjs-layers';
  const measureContext = (): MeasureContext => ({
    task: shape.task,
    outputSize: shape.outputSize,
    data: evalData,
    primaryFormat,
    ...(scaling && { scaling }),
    ...(deps.latencyRuns && { runs: deps.latencyRuns }),
  });
  await progress.phase('measuring', 'measuring the source: sizes, metrics, latency');
  const before = await measureArtifacts(sourceFiles, measureContext());
  hooks.heartbeat();

  const model = await loadModelFromFiles(tfjsFiles(sourceFiles));
  let result: CompressedModel | undefined;
  try {
    const resume = await loadResume(deps.checkpoints, job.id);
    let checkpointEpoch = resume?.epoch ?? 0;
    let train: SplitData | undefined;
    await progress.phase(
      methodOf(request),
      resume ? `${describe(job)}: resuming after the checkpoint of epoch ${resume.epoch}` : describe(job),
    );
    result = await compressModel({
      request,
      source: model,
      shape,
      signal,
      ...(resume && { resume }),
      train: async () => {
        train ??= await readSplit(deps.preprocessing, prepared, 'train', shape.featureSize, signal);
        return train;
      },
      onProgress: async (p, epochEnd, metrics) => {
        hooks.heartbeat();
        await progress.tune(
          { epoch: p.epoch, epochs: p.epochs, step: p.step, stepsPerEpoch: p.stepsPerEpoch, metrics },
          epochEnd,
          checkpointEpoch,
        );
      },
      onEpochEnd: async (checkpoint) => {
        await deps.checkpoints.save(
          job.id,
          {
            state: { epoch: checkpoint.epoch, history: [], wait: 0, stopped: false, trainSeconds: 0, samples: 0 },
            weights: checkpoint.weights,
            ...(checkpoint.optimizer && { optimizer: checkpoint.optimizer }),
          },
          signal,
        );
        checkpointEpoch = checkpoint.epoch;
        hooks.heartbeat();
      },
    });
    await progress.phase('exporting', 'writing tfjs-layers and ONNX files');
    const { files, onnxError } = await writeCompressedFiles(result, job.id);
    await progress.phase('measuring', 'measuring the result: sizes, metrics, latency');
    const after = await measureArtifacts(files, measureContext());
    const report = CompressionReport.fromPartial({ before, after });
    await hooks.beforeRegister();
    await progress.phase('registering', `registering a version of ${request.modelName || source.name}`);
    const registered = await register(deps.registry, {
      job,
      source,
      version,
      prepared,
      shape,
      result,
      files,
      report,
      ...(onnxError && { onnxError }),
      signal,
    });
    return { report, modelVersion: registered };
  } finally {
    if (result && result.model !== model) result.model.dispose();
    model.dispose();
  }
}

async function loadResume(checkpoints: CheckpointStore, jobId: string): Promise<FineTuneCheckpoint | undefined> {
  const loaded = await checkpoints.load(jobId);
  if (!loaded) return undefined;
  if (loaded.bestWeights) tf.dispose(loaded.bestWeights);
  return {
    epoch: loaded.state.epoch,
    weights: loaded.weights,
    ...(loaded.optimizer && { optimizer: loaded.optimizer }),
  };
}

/** A one-line description of the job's method, for progress and the version's description. */
function describe(job: CompressionJob): string {
  const r = job.request!;
  if (r.quantize)
    return `quantize ${r.quantize.dtype}${r.quantize.dtype === 'int8' ? (r.quantize.perChannel ? ' per channel' : ' per tensor') : ''}`;
  if (r.prune)
    return `prune to ${r.prune.targetSparsity} sparsity (${r.prune.scope || 'global'}), ${r.prune.fineTuneEpochs} fine-tune epochs`;
  if (r.cluster)
    return `cluster into ${r.cluster.clusters} centroids per kernel, ${r.cluster.fineTuneEpochs} fine-tune epochs`;
  return `distill into a student at T=${r.distill!.temperature}, alpha=${r.distill!.alpha}`;
}

interface Registration {
  job: CompressionJob;
  source: ModelRef;
  version: ModelVersion;
  prepared: PreparedDataset;
  shape: DataShape;
  result: CompressedModel;
  files: ArtifactFile[];
  report: CompressionReport;
  onnxError?: string;
  signal: AbortSignal;
}

/** Report figures as version metrics: `compression.<before|after>.<figure>`. */
function reportMetrics(report: CompressionReport): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [side, m] of [
    ['before', report.before],
    ['after', report.after],
  ] as Array<[string, ModelMeasurement | undefined]>) {
    if (!m) continue;
    Object.assign(out, {
      [`compression.${side}.size_bytes`]: Number(m.sizeBytes),
      [`compression.${side}.gzipped_bytes`]: Number(m.gzippedBytes),
      [`compression.${side}.parameters`]: Number(m.parameters),
      [`compression.${side}.nonzero_parameters`]: Number(m.nonzeroParameters),
      [`compression.${side}.latency_ms_batch1`]: m.latencyMsBatch1,
      [`compression.${side}.latency_ms_batch256`]: m.latencyMsBatch256,
    });
    for (const [name, value] of Object.entries(m.metrics)) out[`compression.${side}.${name}`] = value;
  }
  return out;
}

/**
 * Registers the result as a new version of `model_name` (default: the source's name), or finds
 * the one an earlier delivery of this job registered (tag `compression_job`).
 */
async function register(registry: RegistryAccess, input: Registration): Promise<ModelRef> {
  const { job, source, version, prepared, result, files, report } = input;
  const name = job.request!.modelName || source.name;
  if (job.attempts > 1) {
    const found = await registry.searchModelVersions(
      { filter: `name = ${JSON.stringify(name)} AND tags.compression_job = ${JSON.stringify(job.id)}`, pageSize: 1 },
      { signal: input.signal },
    );
    const earlier = found.versions[0];
    if (earlier) return ModelRef.fromPartial({ name: earlier.name, version: earlier.version });
  }
  const method = methodOf(job.request!);
  // The source's own compression tags and params describe its step, not this one.
  const inherited = (entries: Record<string, string>) =>
    Object.fromEntries(Object.entries(entries).filter(([key]) => !key.startsWith('compression')));
  const tags: Record<string, string> = {
    ...inherited(version.tags),
    compression_job: job.id,
    'compression.method': method,
    'compression.source': `${source.name}@${source.version}`,
    ...result.tags,
  };
  delete tags.training_job;
  if (input.onnxError) tags.onnx_export_error = input.onnxError.slice(0, 500);
  else delete tags.onnx_export_error;
  const metrics = { ...report.after!.metrics, ...reportMetrics(report) };
  const registered = await uploadModelVersion(
    registry,
    {
      name,
      description: `${describe(job)} of ${source.name}@${source.version} (compression job ${job.id})`,
      tags,
      params: { ...inherited(version.params), ...result.tags },
      metrics,
      task: version.task,
      classLabels: version.classLabels,
      signature: version.signature,
      pipelineJson: version.pipelineJson || prepared.pipelineJson,
      lineage: {
        dataset: version.lineage?.dataset ?? prepared.dataset,
        preparedDatasetId: prepared.id,
        trainingJobId: version.lineage?.trainingJobId ?? '',
        parent: { name: source.name, version: source.version },
        compressionJobId: job.id,
      },
      createModel: true,
    },
    files.map((f) => ({ path: f.path, format: f.format, source: f.bytes })),
    { signal: input.signal },
  );
  return ModelRef.fromPartial({ name: registered.name, version: registered.version });
}

/** Refuses a source the service cannot compress: one without TF.js files. */
export function checkCompressible(version: ModelVersion): void {
  if (!version.files.some((f) => f.format === 'tfjs-layers')) {
    throw new FailedPreconditionError(`source ${version.name}@${version.version} has no tfjs-layers files to compress`);
  }
  if (!version.signature?.inputs?.length)
    throw new InvalidArgumentError(`source ${version.name}@${version.version} has no signature`);
}

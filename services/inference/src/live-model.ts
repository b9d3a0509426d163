import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime, type ModelVersion } from '@aimaas/proto';
import { parsePipeline, type FittedPipeline } from '@aimaas/pipeline';
import { FailedPreconditionError } from '@aimaas/runtime';
import { downloadModelArtifacts, downloadToDirectory, type RegistryClient } from '@aimaas/sdk';
import type { RunnerTensor } from './datatypes.js';
import { DynamicBatcher, type BatchResult, type SubmitOptions } from './dynamic-batcher.js';
import type { InferenceMetrics } from './inference-metrics.js';
import { createOnnxRunner, createTfjsRunner, zeroFeeds, type ModelRunner } from './model-runner.js';

/** The registry calls a deployment needs. */
export type RegistryReader = Pick<RegistryClient, 'getModelVersion' | 'downloadModelArtifacts'>;

/** Batching settings of a deployment, defaults applied. */
export interface BatchingSettings {
  maxBatchSize: number;
  maxQueueDelayUs: number;
  maxQueueSize: number;
}

/** The runtime a version is served with: ONNX Runtime when it has an onnx file (unless TF.js is asked for). */
export function chooseRuntime(version: ModelVersion, requested: Runtime): 'onnx' | 'tfjs' {
  const hasOnnx = version.files.some((f) => f.format === 'onnx');
  const hasTfjs = version.files.some((f) => f.format === 'tfjs-layers');
  const ref = `${version.name}@${version.version}`;
  if (requested === Runtime.RUNTIME_ONNX && !hasOnnx)
    throw new FailedPreconditionError(`model ${ref} has no onnx file; deploy it with runtime auto or tfjs`);
  if (requested === Runtime.RUNTIME_TFJS && !hasTfjs)
    throw new FailedPreconditionError(`model ${ref} has no tfjs-layers files; deploy it with runtime auto or onnx`);
  if (requested === Runtime.RUNTIME_TFJS || !hasOnnx) {
    if (!hasTfjs)
      throw new FailedPreconditionError(`model ${ref} has neither an onnx file nor tfjs-layers files to serve`);
    return 'tfjs';
  }
  return 'onnx';
}

/**
 * The memory a version will take once loaded: the size of the files the runtime reads times
 * `factor` (ONNX Runtime holds the initializers plus arenas; TF.js the weights as tensors).
 */
export function estimateMemoryBytes(version: ModelVersion, runtime: 'onnx' | 'tfjs', factor: number): number {
  const format = runtime === 'onnx' ? 'onnx' : 'tfjs-layers';
  const bytes = version.files.filter((f) => f.format === format).reduce((n, f) => n + f.size, 0);
  return Math.ceil(bytes * factor);
}

/**
 * One loaded, warmed-up version of a deployment: its runner, its batcher, and what Predict needs
 * (fitted pipeline, class labels). A hot swap loads a second LiveModel beside this one, switches,
 * and then {@link LiveModel.retire | retires} this one.
 */
export class LiveModel {
  readonly batcher: DynamicBatcher;
  private readonly labels: { model: string; version: string };

  constructor(
    readonly servedName: string,
    readonly version: ModelVersion,
    readonly runner: ModelRunner,
    readonly memoryBytes: number,
    readonly pipeline: FittedPipeline | undefined,
    settings: BatchingSettings,
    private readonly metrics: InferenceMetrics,
  ) {
    this.labels = { model: servedName, version: String(version.version) };
    this.batcher = new DynamicBatcher({
      ...settings,
      run: (feeds) => runner.run(feeds),
      onExecution: (rows, _requests, computeMs) => {
        metrics.executionCount.inc(this.labels);
        metrics.inferenceCount.inc(this.labels, rows);
        metrics.computeDuration.observe(this.labels, computeMs / 1000);
      },
    });
  }

  /** The version number as OIP writes it. */
  get versionString(): string {
    return this.labels.version;
  }

  /** Runs one request through the batcher, recording its queue time. */
  async infer(feeds: Record<string, RunnerTensor>, rows: number, options: SubmitOptions = {}): Promise<BatchResult> {
    const result = await this.batcher.submit(feeds, rows, options);
    this.metrics.queueDuration.observe(this.labels, result.queueMs / 1000);
    return result;
  }

  /** Runs a zero batch straight through the runtime, so the first request pays no warm-up. */
  async warmUp(): Promise<void> {
    await this.runner.run(zeroFeeds(this.runner.inputs, 1));
  }

  /** Waits until every queued and running request has finished, then frees the runtime. */
  async retire(): Promise<void> {
    await this.batcher.idle();
    await this.runner.release();
  }
}

/** What {@link loadLiveModel} needs besides the version. */
export interface LoadOptions {
  servedName: string;
  runtime: 'onnx' | 'tfjs';
  settings: BatchingSettings;
  memoryBytes: number;
  metrics: InferenceMetrics;
  signal?: AbortSignal;
}

/**
 * Downloads the files of `version` the runtime needs (each file's SHA-256 checked by the SDK),
 * loads them into ONNX Runtime or TF.js, parses the fitted pipeline, and runs the warm-up batch.
 *
 * ONNX files go to a temporary directory that ONNX Runtime reads from (external data files
 * beside the model included) and that is removed once the session exists: the model's bytes
 * then live only in the session's native memory, which Undeploy frees, instead of also in
 * JavaScript buffers that stay resident until some later garbage collection.
 */
export async function loadLiveModel(
  registry: RegistryReader,
  version: ModelVersion,
  options: LoadOptions,
): Promise<LiveModel> {
  const ref = { name: version.name, version: version.version };
  const signature = version.signature
    ? { inputs: version.signature.inputs, outputs: version.signature.outputs }
    : undefined;
  const callOptions = options.signal ? { signal: options.signal } : {};
  let runner: ModelRunner;
  if (options.runtime === 'onnx') {
    const onnxFile = version.files.find((f) => f.format === 'onnx')!;
    const directory = await mkdtemp(join(tmpdir(), 'aimaas-model-'));
    try {
      const { files } = await downloadToDirectory(registry, ref, directory, { format: 'onnx', ...callOptions });
      runner = await createOnnxRunner(files.find((f) => f.path === onnxFile.path)!.localPath, signature);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  } else {
    const chunks = new Map<string, Uint8Array[]>();
    await downloadModelArtifacts(
      registry,
      { ref, format: 'tfjs-layers' },
      {
        onFile: (file) => void chunks.set(file.path, []),
        onChunk: (chunk, file) => void chunks.get(file.path)!.push(chunk),
        ...callOptions,
      },
    );
    const byBaseName = new Map(
      [...chunks].map(([path, parts]) => [path.split('/').pop()!, new Uint8Array(Buffer.concat(parts))]),
    );
    runner = await createTfjsRunner(byBaseName, signature);
  }
  try {
    const pipeline = version.pipelineJson ? parsePipeline(version.pipelineJson) : undefined;
    const live = new LiveModel(
      options.servedName,
      version,
      runner,
      options.memoryBytes,
      pipeline,
      options.settings,
      options.metrics,
    );
    await live.warmUp();
    return live;
  } catch (error) {
    await runner.release();
    throw error;
  }
}

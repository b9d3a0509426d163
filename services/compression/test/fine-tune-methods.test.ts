/**
 * The methods that train, through real gRPC and a real nats-server on a digits model trained by
 * the training service: magnitude pruning with a polynomial schedule, weight clustering,
 * distillation into a small student, and the chain prune → cluster → quantize with its lineage.
 */
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineageNodeKind, JobState, type CompressionJob, type SubmitCompressionJobRequest } from '@aimaas/proto';
import { loadModelFromFiles } from '@aimaas/ml';
import { downloadVersionFiles } from '../src/compression-runner.js';
import type { ArtifactFile } from '../src/measure.js';
import { startCompressionMesh, trainSource, waitForCompression, type CompressionMesh } from './support/harness.js';

const { onnx } = onnxProto;

let mesh: CompressionMesh;
let digits: { name: string; version: number; preparedDatasetId: string };
const tuning = {
  optimizer: { name: 'adam', learningRate: 0.002, momentum: 0, nesterov: false },
  schedule: undefined,
  batchSize: 32,
  epochs: 0,
  seed: 5,
  earlyStopping: undefined,
  validationSplit: 0,
  workers: 0,
};

beforeAll(async () => {
  mesh = await startCompressionMesh();
  digits = await trainSource(mesh, 'digits.csv', {
    name: 'digits',
    target: 'digit',
    task: 'classification',
    hidden: [64, 32],
    epochs: 15,
  });
}, 300_000);

afterAll(async () => {
  await mesh?.close();
});

async function compress(request: Partial<SubmitCompressionJobRequest>): Promise<CompressionJob> {
  const submitted = await mesh.clients.compression.submitCompressionJob({
    source: { name: digits.name, version: digits.version },
    seed: 3,
    ...request,
  });
  const job = await waitForCompression(mesh.clients, submitted.id, 240_000);
  expect(job.state, job.error).toBe(JobState.JOB_STATE_SUCCEEDED);
  return job;
}

async function files(ref: { name: string; version?: number | undefined }): Promise<ArtifactFile[]> {
  return downloadVersionFiles(
    mesh.clients.registry,
    { name: ref.name, version: ref.version },
    new AbortController().signal,
  );
}

/** The kernels (rank ≥ 2) of the version's TF.js files, as TF.js decodes them. */
async function tfjsKernels(list: ArtifactFile[]): Promise<Float32Array[]> {
  const model = await loadModelFromFiles(
    new Map(list.filter((f) => f.format === 'tfjs-layers').map((f) => [f.path, f.bytes])),
  );
  try {
    return model
      .getWeights()
      .filter((w) => w.shape.length >= 2)
      .map((w) => w.dataSync() as Float32Array);
  } finally {
    model.dispose();
  }
}

/** The float32 weight matrices of the version's ONNX graph. */
function onnxKernels(list: ArtifactFile[]): Float32Array[] {
  const graph = onnx.ModelProto.decode(list.find((f) => f.format === 'onnx')!.bytes).graph!;
  return graph
    .initializer!.filter((t) => (t.dims ?? []).length >= 2 && t.dataType === onnx.TensorProto.DataType.FLOAT)
    .map((t) => {
      const raw = Uint8Array.from(t.rawData!);
      return new Float32Array(raw.buffer);
    });
}

function zeros(values: Float32Array): number {
  let n = 0;
  for (const v of values) if (v === 0) n++;
  return n;
}

describe('pruning', () => {
  it('reaches 80% sparsity gradually while fine-tuning; the zeros survive in TF.js and ONNX; gzip shrinks as reported', async () => {
    const job = await compress({
      prune: { targetSparsity: 0.8, fineTuneEpochs: 3, pruningSteps: 60, scope: 'layer', config: tuning },
      modelName: 'digits-sparse',
    });
    // Sparsity rose along the schedule during the fine-tune (history holds every epoch end).
    const history: number[] = [];
    for await (const update of mesh.clients.compression.watchCompressionJob({ id: job.id })) {
      if (update.metrics.sparsity !== undefined) history.push(update.metrics.sparsity);
    }
    expect(history.length).toBeGreaterThanOrEqual(3);
    expect(history[0]!).toBeLessThan(0.8);
    for (let i = 1; i < history.length; i++) expect(history[i]!).toBeGreaterThanOrEqual(history[i - 1]! - 1e-9);
    expect(history.at(-1)!).toBeCloseTo(0.8, 2);

    const list = await files(job.modelVersion!);
    const kernels = await tfjsKernels(list);
    const fromOnnx = onnxKernels(list);
    expect(fromOnnx.length).toBe(kernels.length);
    for (const [i, kernel] of kernels.entries()) {
      expect(zeros(kernel) / kernel.length).toBeCloseTo(0.8, 2);
      // The same weights, the same zeros, in the ONNX export (MatMul weights are [in, out] as in TF.js).
      expect(fromOnnx[i]).toEqual(kernel);
    }
    const { before, after } = job.report!;
    const kernelZeros = kernels.reduce((sum, k) => sum + zeros(k), 0);
    expect(Number(before!.parameters) - Number(after!.nonzeroParameters)).toBeGreaterThanOrEqual(kernelZeros);
    expect(Number(after!.gzippedBytes)).toBeLessThan(Number(before!.gzippedBytes) / 2);
    expect(Number(after!.sizeBytes)).toBeGreaterThan(0.99 * Number(before!.sizeBytes)); // dense float32 bytes do not shrink
    expect(before!.metrics.accuracy! - after!.metrics.accuracy!).toBeLessThanOrEqual(0.05);
    const version = await mesh.clients.registry.getModelVersion({ ref: job.modelVersion! });
    expect(version.tags).toMatchObject({
      'compression.method': 'prune',
      'compression.target_sparsity': '0.8',
      'compression.scope': 'layer',
    });
  }, 240_000);

  it('one shot without fine-tune, global scope: one threshold across the kernels', async () => {
    const job = await compress({
      prune: { targetSparsity: 0.5, fineTuneEpochs: 0, pruningSteps: 0, scope: 'global', config: undefined },
      modelName: 'digits-global',
    });
    const kernels = await tfjsKernels(await files(job.modelVersion!));
    const total = kernels.reduce((sum, k) => sum + k.length, 0);
    const pruned = kernels.reduce((sum, k) => sum + zeros(k), 0);
    expect(pruned / total).toBeCloseTo(0.5, 2);
    // Global: the layers are pruned unevenly.
    const perLayer = kernels.map((k) => zeros(k) / k.length);
    expect(Math.max(...perLayer) - Math.min(...perLayer)).toBeGreaterThan(0.02);
  }, 120_000);
});

describe('weight clustering', () => {
  it('16 centroids per kernel with a fine-tune that keeps them shared, in both formats; gzip shrinks', async () => {
    const job = await compress({
      cluster: { clusters: 16, fineTuneEpochs: 2, init: 'kmeans++', config: tuning },
      modelName: 'digits-clustered',
    });
    const list = await files(job.modelVersion!);
    const kernels = await tfjsKernels(list);
    for (const kernel of kernels) {
      expect(new Set(kernel).size).toBeLessThanOrEqual(16);
      expect(new Set(kernel).size).toBeGreaterThan(8);
    }
    for (const kernel of onnxKernels(list)) expect(new Set(kernel).size).toBeLessThanOrEqual(16);
    const { before, after } = job.report!;
    expect(Number(after!.gzippedBytes)).toBeLessThan(Number(before!.gzippedBytes) / 2);
    expect(before!.metrics.accuracy! - after!.metrics.accuracy!).toBeLessThanOrEqual(0.05);
    const version = await mesh.clients.registry.getModelVersion({ ref: job.modelVersion! });
    expect(version.tags).toMatchObject({
      'compression.method': 'cluster',
      'compression.clusters': '16',
      'compression.init': 'kmeans++',
    });
  }, 240_000);
});

describe('distillation', () => {
  it('trains a student with a tenth of the parameters close to its teacher', async () => {
    const job = await compress({
      distill: {
        student: { mlp: { hiddenUnits: [8], activation: 'relu', dropout: 0, batchNorm: false }, inputShape: [] },
        temperature: 4,
        alpha: 0.7,
        config: { ...tuning, epochs: 30, optimizer: { ...tuning.optimizer, learningRate: 0.01 } },
      },
      modelName: 'digits-student',
    });
    const { before, after } = job.report!;
    expect(Number(after!.parameters) * 6).toBeLessThanOrEqual(Number(before!.parameters));
    expect(after!.metrics.accuracy!).toBeGreaterThan(0.85);
    expect(before!.metrics.accuracy! - after!.metrics.accuracy!).toBeLessThanOrEqual(0.08);
    const version = await mesh.clients.registry.getModelVersion({ ref: job.modelVersion! });
    const sourceVersion = await mesh.clients.registry.getModelVersion({
      ref: { name: digits.name, version: digits.version },
    });
    expect(version.signature).toEqual(sourceVersion.signature);
    expect(version.tags).toMatchObject({
      'compression.method': 'distill',
      'compression.temperature': '4',
      'compression.alpha': '0.7',
    });
    expect(version.lineage?.parent).toMatchObject({ name: 'digits', version: digits.version });
  }, 240_000);
});

describe('a chain of compressions', () => {
  it('prune → cluster → quantize: each step compresses the last, zeros survive, and GetLineage walks back to the dataset', async () => {
    const pruned = await compress({
      prune: { targetSparsity: 0.7, fineTuneEpochs: 1, pruningSteps: 0, scope: 'layer', config: tuning },
      modelName: 'digits-chain',
    });
    const clustered = await compress({
      source: pruned.modelVersion!,
      cluster: { clusters: 8, fineTuneEpochs: 1, init: 'linear', config: tuning },
    });
    const quantized = await compress({
      source: clustered.modelVersion!,
      quantize: { dtype: 'uint8', perChannel: false, activations: '' },
    });
    expect([pruned, clustered, quantized].map((j) => j.modelVersion!.version)).toEqual([1, 2, 3]);

    const kernels = await tfjsKernels(await files(quantized.modelVersion!));
    for (const kernel of kernels) {
      expect(zeros(kernel) / kernel.length).toBeGreaterThanOrEqual(0.69);
      expect(new Set(kernel).size).toBeLessThanOrEqual(9); // 8 centroids and the pruned zeros
    }
    const sourceGzip = Number(pruned.report!.before!.gzippedBytes);
    expect(Number(quantized.report!.after!.gzippedBytes) * 4).toBeLessThan(sourceGzip);

    const lineage = await mesh.clients.registry.getLineage({ ref: quantized.modelVersion! });
    const versions = lineage.nodes
      .filter((n) => n.kind === LineageNodeKind.LINEAGE_NODE_KIND_MODEL_VERSION)
      .map((n) => `${n.version!.name}@${n.version!.version}`);
    expect(versions).toEqual(['digits-chain@3', 'digits-chain@2', 'digits-chain@1', `digits@${digits.version}`]);
    const derived = lineage.edges.filter((e) => e.relation === 'derived_from');
    expect(derived.length).toBe(3);
    const kinds = new Set(lineage.nodes.map((n) => n.kind));
    for (const kind of [
      LineageNodeKind.LINEAGE_NODE_KIND_DATASET,
      LineageNodeKind.LINEAGE_NODE_KIND_PREPARED_DATASET,
      LineageNodeKind.LINEAGE_NODE_KIND_TRAINING_JOB,
      LineageNodeKind.LINEAGE_NODE_KIND_COMPRESSION_JOB,
    ]) {
      expect(kinds.has(kind), LineageNodeKind[kind]).toBe(true);
    }
    const jobs = lineage.nodes
      .filter((n) => n.kind === LineageNodeKind.LINEAGE_NODE_KIND_COMPRESSION_JOB)
      .map((n) => n.id);
    for (const job of [pruned, clustered, quantized]) expect(jobs.some((id) => id.includes(job.id))).toBe(true);
  }, 300_000);
});

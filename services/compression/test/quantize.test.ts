/**
 * Quantization through real gRPC and a real nats-server, on iris and digits models trained by the
 * training service: the TF.js manifest forms (float16, uint8, uint16) and int8 ONNX, checked
 * against the files downloaded from the registry, loaded by stock TF.js and ONNX Runtime, and
 * deployed on the inference service.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float16BitsToFloat32, initBackend } from '@aimaas/ml';
import {
  DeploymentState,
  JobState,
  ModelInferRequest,
  Runtime,
  type CompressionJob,
  type ModelMeasurement,
} from '@aimaas/proto';
import { fixturePath, waitFor } from '@aimaas/testing';
import { downloadVersionFiles } from '../src/compression-runner.js';
import type { ArtifactFile } from '../src/measure.js';
import { readSplit } from '../src/split-data.js';
import { startCompressionMesh, trainSource, waitForCompression, type CompressionMesh } from './support/harness.js';

const { onnx } = onnxProto;

let mesh: CompressionMesh;
let iris: { name: string; version: number };
let digits: { name: string; version: number; preparedDatasetId: string };

beforeAll(async () => {
  await initBackend('cpu');
  mesh = await startCompressionMesh({ inference: true });
  iris = await trainSource(mesh, 'iris.csv', { name: 'iris', target: 'species', split: [0.6, 0.2, 0.2] });
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

async function files(name: string, version: number): Promise<ArtifactFile[]> {
  return downloadVersionFiles(mesh.clients.registry, { name, version }, new AbortController().signal);
}

function bytesOf(list: ArtifactFile[], format: string): number {
  return list.filter((f) => f.format === format).reduce((sum, f) => sum + f.bytes.byteLength, 0);
}

function file(list: ArtifactFile[], path: string): Uint8Array {
  const found = list.find((f) => f.path === path);
  expect(found, path).toBeDefined();
  return found!.bytes;
}

function formatSize(m: ModelMeasurement, format: string): number {
  return Number(m.formats.find((f) => f.format === format)?.sizeBytes ?? -1);
}

async function quantize(
  source: { name: string; version: number },
  dtype: string,
  perChannel = false,
  activations = '',
): Promise<CompressionJob> {
  const submitted = await mesh.clients.compression.submitCompressionJob({
    source: { name: source.name, version: source.version },
    quantize: { dtype, perChannel, activations },
    modelName: `${source.name}-${dtype}${activations ? `-${activations}` : ''}`,
    seed: 1,
  });
  const job = await waitForCompression(mesh.clients, submitted.id);
  expect(job.state, job.error).toBe(JobState.JOB_STATE_SUCCEEDED);
  return job;
}

/** Serves `list` over real HTTP, so stock `tf.loadLayersModel('http://…/model.json')` reads it. */
async function serveFiles(list: ArtifactFile[]): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const found = list.find((f) => `/${f.path}` === req.url);
    if (!found) return void res.writeHead(404).end();
    res
      .writeHead(200, {
        'content-type': found.path.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      })
      .end(Buffer.from(found.bytes));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/model.json`, server };
}

interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

/** Every weight of a tfjs-layers weights.bin decoded by hand from its manifest (affine: q·scale + min). */
function dequantizeByHand(list: ArtifactFile[]): Map<string, Float32Array> {
  const manifest = JSON.parse(Buffer.from(file(list, 'model.json')).toString('utf8')) as {
    weightsManifest: Array<{ weights: ManifestWeight[] }>;
  };
  const bin = file(list, 'weights.bin');
  const out = new Map<string, Float32Array>();
  let offset = 0;
  for (const spec of manifest.weightsManifest.flatMap((g) => g.weights)) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const q = spec.quantization;
    const view = bin.slice(offset);
    if (!q) {
      out.set(spec.name, new Float32Array(view.buffer, view.byteOffset, n).slice());
      offset += 4 * n;
    } else if (q.dtype === 'float16') {
      const bits = new Uint16Array(view.buffer, view.byteOffset, n);
      out.set(spec.name, Float32Array.from(bits, float16BitsToFloat32));
      offset += 2 * n;
    } else {
      const values =
        q.dtype === 'uint8'
          ? new Uint8Array(view.buffer, view.byteOffset, n)
          : new Uint16Array(view.buffer, view.byteOffset, n);
      out.set(
        spec.name,
        Float32Array.from(values, (v) => v * q.scale! + q.min!),
      );
      offset += (q.dtype === 'uint8' ? 1 : 2) * n;
    }
  }
  expect(offset).toBe(bin.byteLength);
  return out;
}

describe('quantizing in the TF.js weight manifest', () => {
  it.each([
    ['uint8', 4],
    ['float16', 2],
    ['uint16', 2],
  ] as const)(
    '%s: a new version whose weights shrink %i× as the report says, with lineage, tags and the same signature',
    async (dtype, factor) => {
      for (const source of [iris, digits]) {
        const job = await quantize(source, dtype);
        const ref = job.modelVersion!;
        expect(ref).toMatchObject({ name: `${source.name}-${dtype}`, version: 1 });
        const [before, after] = [await files(source.name, source.version), await files(ref.name, ref.version!)];
        const { before: reportBefore, after: reportAfter } = job.report!;
        // The report's sizes are those of the files as downloaded.
        for (const [m, list] of [
          [reportBefore!, before],
          [reportAfter!, after],
        ] as const) {
          expect(Number(m.sizeBytes)).toBe(bytesOf(list, 'tfjs-layers'));
          expect(formatSize(m, 'tfjs-layers')).toBe(bytesOf(list, 'tfjs-layers'));
          expect(formatSize(m, 'onnx')).toBe(bytesOf(list, 'onnx'));
          expect(Number(m.gzippedBytes)).toBeGreaterThan(0);
        }
        expect(file(after, 'weights.bin').byteLength * factor).toBe(file(before, 'weights.bin').byteLength);
        expect(Number(reportAfter!.parameters)).toBe(Number(reportBefore!.parameters));
        // The ONNX file serves the decoded weights in float32: the same size as the source's.
        expect(bytesOf(after, 'onnx')).toBeGreaterThan(0);
        // Accuracy measured on the test split, before and after.
        expect(reportBefore!.metricsSplit).toBe('test');
        const drop = reportBefore!.metrics.accuracy! - reportAfter!.metrics.accuracy!;
        expect(drop).toBeLessThanOrEqual(dtype === 'uint8' ? 0.02 : 0.005);
        expect(reportAfter!.latencyMsBatch1).toBeGreaterThan(0);
        expect(reportAfter!.latencyMsBatch256).toBeGreaterThan(0);

        const [sourceVersion, version] = await Promise.all([
          mesh.clients.registry.getModelVersion({ ref: { name: source.name, version: source.version } }),
          mesh.clients.registry.getModelVersion({ ref: { name: ref.name, version: ref.version } }),
        ]);
        expect(version.lineage).toMatchObject({
          parent: { name: source.name, version: source.version },
          compressionJobId: job.id,
          preparedDatasetId: sourceVersion.lineage!.preparedDatasetId,
          dataset: sourceVersion.lineage!.dataset,
        });
        expect(version.tags).toMatchObject({
          'compression.method': 'quantize',
          'compression.dtype': dtype,
          compression_job: job.id,
        });
        expect(version.signature).toEqual(sourceVersion.signature);
        expect(version.classLabels).toEqual(sourceVersion.classLabels);
        expect(version.pipelineJson).toBe(sourceVersion.pipelineJson);
        expect(version.metrics['compression.after.size_bytes']).toBe(Number(reportAfter!.sizeBytes));
        expect(version.metrics.accuracy).toBe(reportAfter!.metrics.accuracy);
        expect(new Set(version.files.map((f) => f.format))).toEqual(new Set(['tfjs-layers', 'onnx']));
      }
    },
    120_000,
  );

  it('uint8 loads with stock tf.loadLayersModel over HTTP and holds exactly its dequantized weights', async () => {
    const job = await quantize(digits, 'uint8');
    const list = await files(job.modelVersion!.name, job.modelVersion!.version!);
    const manifest = JSON.parse(Buffer.from(file(list, 'model.json')).toString('utf8'));
    const specs = manifest.weightsManifest[0].weights as ManifestWeight[];
    expect(specs.every((w) => w.quantization?.dtype === 'uint8')).toBe(true);
    // Zero is exactly representable: (0 − min)/scale is an integer for every tensor.
    for (const w of specs) {
      const zeroPoint = -w.quantization!.min! / w.quantization!.scale!;
      expect(Math.abs(zeroPoint - Math.round(zeroPoint)), w.name).toBeLessThan(1e-4);
    }

    const expected = dequantizeByHand(list);
    const { url, server } = await serveFiles(list);
    try {
      const model = await tf.loadLayersModel(url);
      const weights = model.weights;
      expect(weights.length).toBe(expected.size);
      for (const w of weights) {
        const values = w.read().dataSync() as Float32Array;
        expect(values, w.originalName).toEqual(expected.get(w.originalName));
      }
      model.dispose();
    } finally {
      server.close();
    }
  }, 60_000);
});

describe('int8 ONNX', () => {
  /** The op types ONNX Runtime executes once its optimizer fused the graph (as inference opens it). */
  async function optimizedOps(bytes: Uint8Array): Promise<string[]> {
    const dir = await mkdtemp(join(tmpdir(), 'int8-'));
    try {
      const path = join(dir, 'optimized.onnx');
      const session = await ort.InferenceSession.create(bytes, {
        graphOptimizationLevel: 'all',
        optimizedModelFilePath: path,
      });
      await session.release();
      return onnx.ModelProto.decode(await readFile(path)).graph!.node!.map((n) => n.opType!);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Argmax of the graph's outputs on the rows, in onnxruntime-node. */
  async function answers(bytes: Uint8Array, x: Float32Array, rows: number): Promise<number[]> {
    const session = await ort.InferenceSession.create(bytes);
    try {
      const out = (await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, [rows, 64]) }))[
        session.outputNames[0]!
      ]!.data as Float32Array;
      return Array.from({ length: rows }, (_, r) => {
        const row = out.subarray(r * 10, r * 10 + 10);
        return row.indexOf(Math.max(...row));
      });
    } finally {
      await session.release();
    }
  }

  async function agreementWithSource(after: ArtifactFile[], before: ArtifactFile[]): Promise<number> {
    // The test split's rows, as the pipeline prepared them.
    const prepared = await mesh.clients.preprocessing.getPreparedDataset({ id: digits.preparedDatasetId });
    const test = await readSplit(mesh.clients.preprocessing, prepared, 'test', 64, new AbortController().signal);
    expect(test.rows).toBeGreaterThan(200);
    const [floatAnswers, intAnswers] = [
      await answers(file(before, 'model.onnx'), test.features, test.rows),
      await answers(file(after, 'model.onnx'), test.features, test.rows),
    ];
    return floatAnswers.filter((c, i) => c === intAnswers[i]).length / test.rows;
  }

  it('static, per channel: int8 weights in QDQ form that ONNX Runtime runs as QGemm, calibrated on training rows, smaller, same answers', async () => {
    const job = await quantize(digits, 'int8', true);
    const after = await files(job.modelVersion!.name, job.modelVersion!.version!);
    const before = await files(digits.name, digits.version);
    const graph = onnx.ModelProto.decode(file(after, 'model.onnx')).graph!;
    const ops = graph.node!.map((n) => n.opType);
    expect(ops).toContain('QuantizeLinear');
    expect(ops).toContain('DequantizeLinear');
    expect(ops).not.toContain('DynamicQuantizeLinear');
    const int8 = graph.initializer!.filter(
      (t) => t.dataType === onnx.TensorProto.DataType.INT8 && t.dims!.length === 2,
    );
    expect(int8.map((t) => t.dims!.map(Number))).toEqual([
      [64, 64],
      [64, 32],
      [32, 10],
    ]);
    // No float copy of a quantized weight is left behind: the only large initializers are int8.
    const large = graph.initializer!.filter((t) => (t.dims ?? []).reduce((p: number, d) => p * Number(d), 1) >= 256);
    expect(large.every((t) => t.dataType === onnx.TensorProto.DataType.INT8)).toBe(true);
    // Per channel: one weight scale per output column (64, 32, 10).
    const scaleLengths = graph
      .initializer!.filter((t) => t.dataType === onnx.TensorProto.DataType.FLOAT && t.dims!.length === 1)
      .map((t) => Number(t.dims![0]));
    expect(scaleLengths).toEqual(expect.arrayContaining([64, 32, 10]));
    // What ONNX Runtime runs: integer GEMMs.
    expect(
      (await optimizedOps(file(after, 'model.onnx'))).filter((op) => op === 'QGemm').length,
    ).toBeGreaterThanOrEqual(2);

    const { before: b, after: a } = job.report!;
    expect(a!.format).toBe('onnx');
    expect(Number(a!.sizeBytes)).toBe(bytesOf(after, 'onnx'));
    expect(Number(b!.sizeBytes)).toBe(bytesOf(before, 'onnx'));
    // On a model this small the graph itself weighs: 6,464 weights → ~2.7×, where Fashion-MNIST's MLP gets ~3.9× (bench).
    expect(Number(b!.sizeBytes) / Number(a!.sizeBytes)).toBeGreaterThanOrEqual(2.5);
    expect(b!.metrics.accuracy! - a!.metrics.accuracy!).toBeLessThanOrEqual(0.01);
    const version = await mesh.clients.registry.getModelVersion({ ref: job.modelVersion! });
    expect(version.tags).toMatchObject({
      'compression.dtype': 'int8',
      'compression.per_channel': 'true',
      'compression.activations': 'static',
      'compression.calibration_rows': '256',
    });
    expect(await agreementWithSource(after, before)).toBeGreaterThanOrEqual(0.97);
  }, 60_000);

  it('dynamic, per tensor: DynamicQuantizeLinear and MatMulInteger in the graph, same answers', async () => {
    const job = await quantize(digits, 'int8', false, 'dynamic');
    const after = await files(job.modelVersion!.name, job.modelVersion!.version!);
    const graph = onnx.ModelProto.decode(file(after, 'model.onnx')).graph!;
    const ops = graph.node!.map((n) => n.opType);
    expect(ops).toContain('DynamicQuantizeLinear');
    expect(ops.filter((op) => op === 'MatMulInteger').length).toBe(3);
    expect(ops).not.toContain('MatMul');
    const version = await mesh.clients.registry.getModelVersion({ ref: job.modelVersion! });
    expect(version.tags).toMatchObject({ 'compression.per_channel': 'false', 'compression.activations': 'dynamic' });
    expect(await agreementWithSource(after, await files(digits.name, digits.version))).toBeGreaterThanOrEqual(0.97);
  }, 60_000);

  it('falls back to dynamic, and says so, when the training split is too small to calibrate on (iris: 90 rows)', async () => {
    const job = await quantize(iris, 'int8', true);
    const version = await mesh.clients.registry.getModelVersion({ ref: job.modelVersion! });
    expect(version.tags['compression.activations']).toBe('dynamic');
    expect(version.tags['compression.activations_note']).toMatch(
      /^dynamic: the training split has \d+ rows, static needs at least 100$/,
    );
  }, 60_000);
});

describe('serving a quantized version', () => {
  async function deploy(name: string, runtime: Runtime): Promise<void> {
    await mesh.clients.inference.deploy({ model: { name }, servedName: name, runtime });
    await waitFor(
      async () =>
        (await mesh.clients.inference.getDeployment({ servedName: name })).state ===
        DeploymentState.DEPLOYMENT_STATE_READY,
      {
        timeoutMs: 30_000,
        message: `${name} to be ready`,
      },
    );
  }

  it('deploys uint8 on the TF.js runtime and int8 on ONNX Runtime; both answer records and ModelInfer like their sources', async () => {
    await deploy('digits', Runtime.RUNTIME_ONNX);
    await deploy('digits-int8', Runtime.RUNTIME_ONNX);
    await deploy('digits-uint8', Runtime.RUNTIME_TFJS);
    const deployed = await mesh.clients.inference.getDeployment({ servedName: 'digits-uint8' });
    expect(deployed.runtime).toBe(Runtime.RUNTIME_TFJS);

    const lines = readFileSync(fixturePath('digits.csv'), 'utf8').trim().split('\n');
    const header = lines[0]!.split(',');
    const records = lines.slice(1, 61).map((line) => {
      const values = line.split(',');
      return JSON.stringify(Object.fromEntries(header.slice(0, 64).map((column, i) => [column, Number(values[i])])));
    });
    const labels = async (servedName: string) =>
      (await mesh.clients.inference.predict({ servedName, records: { recordsJson: records } })).classifications.map(
        (c) => c.label,
      );
    const source = await labels('digits');
    for (const name of ['digits-int8', 'digits-uint8']) {
      const answers = await labels(name);
      expect(answers.length).toBe(60);
      expect(answers.filter((l, i) => l === source[i]).length).toBeGreaterThanOrEqual(58);
    }
    // The Open Inference Protocol: model metadata and an FP32 request on the int8 model.
    const metadata = await mesh.clients.oip.modelMetadata({ name: 'digits-int8', version: '' });
    expect(metadata.inputs[0]).toMatchObject({ datatype: 'FP32', shape: [-1, 64] });
    const x = new Float32Array(2 * 64).fill(0.25);
    const response = await mesh.clients.oip.modelInfer(
      ModelInferRequest.fromPartial({
        modelName: 'digits-int8',
        inputs: [{ name: metadata.inputs[0]!.name, datatype: 'FP32', shape: [2, 64] }],
        rawInputContents: [Buffer.from(x.buffer)],
      }),
    );
    expect(response.outputs[0]!.shape).toEqual([2, 10]);
    const probabilities = new Float32Array(new Uint8Array(response.rawOutputContents[0]!).buffer);
    expect(probabilities.slice(0, 10).reduce((s, p) => s + p, 0)).toBeCloseTo(1, 4);
  }, 90_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@aimaas/testing';
import { estimateMemoryBytes } from '../src/index.js';
import { features, irisPipeline, makeModel, onnxReference, registerModel, type TestModel } from './models.js';
import { startMesh, type InferenceNode, type Mesh } from './harness.js';

const raw = (data: Float32Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);
const floats = (buffer: Buffer) => new Float32Array(Uint8Array.from(buffer).buffer);

let mesh: Mesh;
let m1: TestModel;
let m2: TestModel;

beforeAll(async () => {
  mesh = await startMesh();
  m1 = await makeModel(21);
  m2 = await makeModel(22);
  await registerModel(mesh.clients.registry, 'fleet', m1);
  await registerModel(mesh.clients.registry, 'fleet', m2);
  await mesh.clients.registry.setAlias({ name: 'fleet', alias: 'production', version: 1 });
  await mesh.clients.inference.deploy({
    model: { name: 'fleet', alias: 'production' },
    servedName: 'prod',
    maxBatchSize: 8,
    maxQueueDelayUs: 2_000,
  });
});
afterAll(() => mesh?.close());

function infer(node: InferenceNode, model: string, x: Float32Array) {
  return node.oip.call('ModelInfer', {
    model_name: model,
    inputs: [{ name: 'input', datatype: 'FP32', shape: [x.length / 4, 4] }],
    raw_input_contents: [raw(x)],
  });
}

describe('hot swap', () => {
  it('follows the alias under load: zero failures, responses name the version that served them', async () => {
    const x = features(1, 4, 9);
    const [want1, want2] = [await onnxReference(m1, x, 1), await onnxReference(m2, x, 1)];
    let failures = 0;
    let stop = false;
    const loop = async () => {
      const versions: string[] = [];
      while (!stop) {
        try {
          const response = await infer(mesh.inference, 'prod', x);
          versions.push(response.model_version);
          expect(floats(response.raw_output_contents[0])).toEqual(response.model_version === '1' ? want1 : want2);
        } catch {
          failures += 1;
        }
      }
      return versions;
    };
    const loops = Array.from({ length: 4 }, loop);
    await waitFor(async () => (await mesh.clients.inference.getDeployment({ servedName: 'prod' })).version === 1);
    await new Promise((r) => setTimeout(r, 100));
    await mesh.clients.registry.setAlias({ name: 'fleet', alias: 'production', version: 2 });
    await waitFor(async () => (await mesh.clients.inference.getDeployment({ servedName: 'prod' })).version === 2, {
      timeoutMs: 20_000,
    });
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    const sequences = await Promise.all(loops);
    expect(failures).toBe(0);
    for (const versions of sequences) {
      expect(versions[0]).toBe('1');
      expect(versions.at(-1)).toBe('2');
      // Once a loop saw version 2 it never sees version 1 again.
      expect(versions.slice(versions.indexOf('2'))).not.toContain('1');
    }
    // The old session is drained and freed: only version 2's memory is held.
    const v2 = await mesh.clients.registry.getModelVersion({ ref: { name: 'fleet', version: 2 } });
    await waitFor(() => mesh.inference.replica.deployments.usedMemoryBytes === estimateMemoryBytes(v2, 'onnx', 2));
  });
});

describe('Predict', () => {
  it('passes records through the fitted pipeline and names the class of each row', async () => {
    const { records, pipeline, features: irisFeatures } = await irisPipeline();
    const m = await makeModel(31);
    await registerModel(mesh.clients.registry, 'iris-records', m, { pipeline, classLabels: [] });
    await mesh.clients.inference.deploy({ model: { name: 'iris-records' } });
    const picked = [0, 60, 120];
    const response = await mesh.clients.inference.predict({
      servedName: 'iris-records',
      records: { recordsJson: picked.map((i) => JSON.stringify(records[i])) },
    });
    const rows = picked.map((i) => irisFeatures.subarray(i * 4, i * 4 + 4));
    const expected = await onnxReference(m, Float32Array.from(rows.flatMap((r) => Array.from(r))), picked.length);
    expect(response).toMatchObject({ servedName: 'iris-records', version: 1, values: [] });
    expect(floats(response.outputs[0]!.raw)).toEqual(expected);
    expect(response.classifications).toHaveLength(3);
    response.classifications.forEach((c, r) => {
      const probabilities = Array.from(expected.subarray(r * 3, r * 3 + 3));
      const best = probabilities.indexOf(Math.max(...probabilities));
      expect(c.label).toBe(['setosa', 'versicolor', 'virginica'][best]);
      expect(c.score).toBeCloseTo(probabilities[best]!, 6);
      expect(Object.keys(c.probabilities).sort()).toEqual(['setosa', 'versicolor', 'virginica']);
    });
  });

  it('takes raw tensors too', async () => {
    const x = features(2, 4, 4);
    const response = await mesh.clients.inference.predict({
      servedName: 'prod',
      tensors: { tensors: [{ name: 'input', datatype: 'FP32', shape: [2, 4], raw: raw(x) }] },
    });
    expect(response.version).toBe(2);
    expect(floats(response.outputs[0]!.raw)).toEqual(await onnxReference(m2, x, 2));
    expect(response.classifications.map((c) => c.label).every((l) => /^class\d$/.test(l))).toBe(true);
  });
});

describe('deployments stored in NATS', () => {
  it('a replica started later restores every deployment and follows new ones and undeploys', async () => {
    const second = await mesh.startReplica();
    expect((await second.oip.call('ServerReady', {})).ready).toBe(true);
    const x = features(1, 4, 2);
    expect((await infer(second, 'prod', x)).model_version).toBe('2');
    expect((await second.clients.inference.listDeployments({})).deployments.map((d) => d.servedName)).toEqual([
      'iris-records',
      'prod',
    ]);

    await mesh.clients.inference.deploy({ model: { name: 'fleet', version: 1 }, servedName: 'late' });
    await waitFor(async () => (await second.oip.call('ModelReady', { name: 'late' })).ready, { timeoutMs: 10_000 });
    expect(floats((await infer(second, 'late', x)).raw_output_contents[0])).toEqual(await onnxReference(m1, x, 1));
    await mesh.clients.inference.undeploy({ servedName: 'late' });
    await waitFor(async () => !(await second.oip.call('ModelReady', { name: 'late' })).ready, { timeoutMs: 10_000 });
  });
});

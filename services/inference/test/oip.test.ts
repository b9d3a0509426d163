import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeploymentState, Runtime } from '@aimaas/proto';
import { features, makeModel, onnxReference, registerModel, tfjsReference, type TestModel } from './models.js';
import { failure, grpc, startMesh, type Mesh } from './harness.js';

let mesh: Mesh;
let m: TestModel;
const ROWS = 3;
const x = features(ROWS, 4, 7);

function raw(data: Float32Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function floats(buffer: Buffer): Float32Array {
  return new Float32Array(Uint8Array.from(buffer).buffer);
}

beforeAll(async () => {
  mesh = await startMesh();
  m = await makeModel(11);
  await registerModel(mesh.clients.registry, 'iris-mlp', m);
  await registerModel(mesh.clients.registry, 'iris-mlp', m); // version 2
});
afterAll(() => mesh?.close());

describe('Deploy, GetDeployment, ListDeployments, Undeploy', () => {
  it('deploys a version and answers READY with its signature and memory estimate', async () => {
    const deployment = await mesh.clients.inference.deploy({
      model: { name: 'iris-mlp', version: 1 },
      servedName: 'iris',
    });
    expect(deployment).toMatchObject({
      servedName: 'iris',
      version: 1,
      state: DeploymentState.DEPLOYMENT_STATE_READY,
      runtime: Runtime.RUNTIME_ONNX,
      maxQueueSize: 1024,
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 3] }],
    });
    expect(deployment.memoryBytes).toBe(2 * m.onnx.byteLength);
    expect(await mesh.clients.inference.getDeployment({ servedName: 'iris' })).toMatchObject({
      servedName: 'iris',
      version: 1,
    });
    const { deployments } = await mesh.clients.inference.listDeployments({});
    expect(deployments.map((d) => d.servedName)).toContain('iris');
  });

  it('refuses a second deployment under the same name with ALREADY_EXISTS', async () => {
    const { code } = await failure(mesh.clients.inference.deploy({ model: { name: 'iris-mlp' }, servedName: 'iris' }));
    expect(code).toBe(grpc.status.ALREADY_EXISTS);
  });

  it('answers NOT_FOUND for a model the registry does not have, and deploys nothing', async () => {
    const { code, details } = await failure(mesh.clients.inference.deploy({ model: { name: 'nope' } }));
    expect(code).toBe(grpc.status.NOT_FOUND);
    expect(details).toContain('nope');
    expect((await mesh.clients.inference.listDeployments({})).deployments.map((d) => d.servedName)).not.toContain(
      'nope',
    );
  });

  it('undeploys: the model is gone from OIP and the list', async () => {
    await mesh.clients.inference.deploy({ model: { name: 'iris-mlp' }, servedName: 'temp' });
    expect((await mesh.inference.oip.call('ModelReady', { name: 'temp' })).ready).toBe(true);
    await mesh.clients.inference.undeploy({ servedName: 'temp' });
    expect((await mesh.inference.oip.call('ModelReady', { name: 'temp' })).ready).toBe(false);
    expect((await failure(mesh.clients.inference.getDeployment({ servedName: 'temp' }))).code).toBe(
      grpc.status.NOT_FOUND,
    );
    expect(mesh.inference.replica.deployments.usedMemoryBytes).toBe(2 * m.onnx.byteLength);
  });
});

describe('GRPCInferenceService (client built from the .proto with proto-loader)', () => {
  it('answers ServerLive, ServerReady and ServerMetadata', async () => {
    const { oip } = mesh.inference;
    expect(await oip.call('ServerLive', {})).toEqual({ live: true });
    expect(await oip.call('ServerReady', {})).toEqual({ ready: true });
    expect(await oip.call('ServerMetadata', {})).toEqual({
      name: 'aimaas-inference',
      version: '0.1.0',
      extensions: [],
    });
  });

  it('answers ModelReady for the deployed version only', async () => {
    const { oip } = mesh.inference;
    expect(await oip.call('ModelReady', { name: 'iris', version: '' })).toEqual({ ready: true });
    expect(await oip.call('ModelReady', { name: 'iris', version: '1' })).toEqual({ ready: true });
    expect(await oip.call('ModelReady', { name: 'iris', version: '2' })).toEqual({ ready: false });
    expect(await oip.call('ModelReady', { name: 'unknown', version: '' })).toEqual({ ready: false });
  });

  it('answers ModelMetadata with the platform, version and tensors', async () => {
    expect(await mesh.inference.oip.call('ModelMetadata', { name: 'iris', version: '' })).toEqual({
      name: 'iris',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 3] }],
    });
  });

  it('infers typed contents, equal to in-process ONNX Runtime and to TF.js within 1e-4, echoing the id', async () => {
    const response = await mesh.inference.oip.call('ModelInfer', {
      model_name: 'iris',
      id: 'req-42',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [ROWS, 4], contents: { fp32_contents: Array.from(x) } }],
    });
    expect(response).toMatchObject({ model_name: 'iris', model_version: '1', id: 'req-42', raw_output_contents: [] });
    expect(response.outputs).toHaveLength(1);
    expect(response.outputs[0]).toMatchObject({ name: 'output', datatype: 'FP32', shape: [ROWS, 3] });
    const got = Float32Array.from(response.outputs[0].contents.fp32_contents as number[]);
    expect(got).toEqual(await onnxReference(m, x, ROWS));
    const tfjs = tfjsReference(m, x, ROWS);
    got.forEach((v, i) => expect(Math.abs(v - tfjs[i]!)).toBeLessThan(1e-4));
  });

  it('answers raw with raw, with the same values as typed', async () => {
    const response = await mesh.inference.oip.call('ModelInfer', {
      model_name: 'iris',
      model_version: '1',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [ROWS, 4] }],
      raw_input_contents: [raw(x)],
    });
    expect(response.outputs[0]).toMatchObject({ name: 'output', datatype: 'FP32', shape: [ROWS, 3], contents: null });
    expect(response.raw_output_contents).toHaveLength(1);
    expect(floats(response.raw_output_contents[0])).toEqual(await onnxReference(m, x, ROWS));
  });

  it("converts FP64, INT32, INT64 and UINT8 inputs to the model's FP32 when no value changes", async () => {
    const ints = [1, 2, 3, 4];
    const expected = await onnxReference(m, Float32Array.from(ints), 1);
    const cases = [
      { datatype: 'FP64', contents: { fp64_contents: ints } },
      { datatype: 'INT32', contents: { int_contents: ints } },
      { datatype: 'INT64', contents: { int64_contents: ints } },
      { datatype: 'UINT8', contents: { uint_contents: ints } },
    ];
    for (const input of cases) {
      const response = await mesh.inference.oip.call('ModelInfer', {
        model_name: 'iris',
        inputs: [{ name: 'input', shape: [1, 4], ...input }],
      });
      expect(Float32Array.from(response.outputs[0].contents.fp32_contents as number[])).toEqual(expected);
    }
    const rawFp64 = Buffer.from(Float64Array.from(ints).buffer);
    const response = await mesh.inference.oip.call('ModelInfer', {
      model_name: 'iris',
      inputs: [{ name: 'input', datatype: 'FP64', shape: [1, 4] }],
      raw_input_contents: [rawFp64],
    });
    expect(floats(response.raw_output_contents[0])).toEqual(expected);
  });

  it('returns only the requested outputs', async () => {
    const response = await mesh.inference.oip.call('ModelInfer', {
      model_name: 'iris',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4] }],
      raw_input_contents: [raw(x.subarray(0, 4))],
      outputs: [{ name: 'output' }],
    });
    expect(response.outputs.map((o: { name: string }) => o.name)).toEqual(['output']);
  });
});

describe('TF.js runtime', () => {
  it('serves a version without an onnx file through TF.js, matching TF.js in process within 1e-4', async () => {
    const version = await registerModel(mesh.clients.registry, 'tfjs-only', m, { onnx: false });
    const deployment = await mesh.clients.inference.deploy({ model: { name: 'tfjs-only', version: version.version } });
    expect(deployment.runtime).toBe(Runtime.RUNTIME_TFJS);
    const metadata = await mesh.inference.oip.call('ModelMetadata', { name: 'tfjs-only' });
    expect(metadata).toMatchObject({
      platform: 'tensorflowjs_layers',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
    });
    const response = await mesh.inference.oip.call('ModelInfer', {
      model_name: 'tfjs-only',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [ROWS, 4] }],
      raw_input_contents: [raw(x)],
    });
    const got = floats(response.raw_output_contents[0]);
    const tfjs = tfjsReference(m, x, ROWS);
    expect(got).toHaveLength(tfjs.length);
    got.forEach((v, i) => expect(Math.abs(v - tfjs[i]!)).toBeLessThan(1e-4));
    await mesh.clients.inference.undeploy({ servedName: 'tfjs-only' });
  });
});

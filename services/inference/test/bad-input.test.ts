import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, openObjectStore } from '@aimaas/storage';
import { tamperObjectChunk } from '@aimaas/testing';
import { features, irisPipeline, makeModel, onnxReference, registerModel, type TestModel } from './models.js';
import { failure, grpc, startMesh, type Mesh } from './harness.js';

let mesh: Mesh;
let m: TestModel;
const x = features(2, 4, 3);
const raw = (data: ArrayBufferView) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);

beforeAll(async () => {
  mesh = await startMesh({ memoryLimitMb: 1 });
  m = await makeModel(5);
  const { pipeline } = await irisPipeline();
  await registerModel(mesh.clients.registry, 'iris', m, { pipeline, classLabels: [] });
  await mesh.clients.inference.deploy({ model: { name: 'iris' } });
});
afterAll(() => mesh?.close());

/** Infers raw with the given input and resolves with the failure. */
function inferFailure(request: object) {
  return failure(mesh.inference.oip.call('ModelInfer', { model_name: 'iris', ...request }));
}

describe('bad input', () => {
  it('answers NOT_FOUND for an unknown model and for a version that is not served', async () => {
    const unknown = await failure(mesh.inference.oip.call('ModelInfer', { model_name: 'nope', inputs: [] }));
    expect(unknown.code).toBe(grpc.status.NOT_FOUND);
    expect(unknown.details).toContain('"nope"');
    const version = await inferFailure({
      model_version: '7',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4] }],
      raw_input_contents: [raw(x)],
    });
    expect(version).toEqual({
      code: grpc.status.NOT_FOUND,
      details: expect.stringContaining('version "7" is not served; version 1 is'),
    });
    expect((await failure(mesh.inference.oip.call('ModelMetadata', { name: 'nope' }))).code).toBe(
      grpc.status.NOT_FOUND,
    );
  });

  it('answers INVALID_ARGUMENT naming an unknown input', async () => {
    const { code, details } = await inferFailure({
      inputs: [{ name: 'pixels', datatype: 'FP32', shape: [2, 4] }],
      raw_input_contents: [raw(x)],
    });
    expect(code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(details).toContain('unknown input "pixels"; the model\'s inputs are input (FP32 [-1,4])');
  });

  it('answers INVALID_ARGUMENT for a datatype the model cannot take', async () => {
    const bytes = await inferFailure({
      inputs: [{ name: 'input', datatype: 'BYTES', shape: [1, 1], contents: { bytes_contents: [Buffer.from('a')] } }],
    });
    expect(bytes).toEqual({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining('input "input": shape [1,1] does not match'),
    });
    const bytes4 = await inferFailure({
      inputs: [
        {
          name: 'input',
          datatype: 'BYTES',
          shape: [1, 4],
          contents: { bytes_contents: ['a', 'b', 'c', 'd'].map((s) => Buffer.from(s)) },
        },
      ],
    });
    expect(bytes4).toEqual({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'input "input": datatype BYTES cannot be converted to FP32 (the model\'s datatype)',
    });
    const lossy = await inferFailure({
      inputs: [{ name: 'input', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: [0.5, 0.1, 1, 2] } }],
    });
    expect(lossy.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(lossy.details).toContain('FP64 value 0.1 at element 1 cannot be converted to FP32');
    const unknown = await inferFailure({
      inputs: [{ name: 'input', datatype: 'FLOAT', shape: [1, 4] }],
      raw_input_contents: [raw(x.subarray(0, 4))],
    });
    expect(unknown.details).toContain('unknown datatype "FLOAT"');
    const mismatch = await inferFailure({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], contents: { int_contents: [1, 2, 3, 4] } }],
    });
    expect(mismatch.details).toContain(
      'contents.fp32Contents has 0 values, expected 4 from shape (found 4 values in intContents',
    );
  });

  it('answers INVALID_ARGUMENT for a wrong shape, naming the dimension', async () => {
    const { code, details } = await inferFailure({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 8] }],
      raw_input_contents: [raw(x)],
    });
    expect(code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(details).toBe('input "input": shape [1,8] does not match the model\'s [-1,4]: dimension 1 is 8, expected 4');
    const rank = await inferFailure({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [8] }],
      raw_input_contents: [raw(x)],
    });
    expect(rank.details).toContain('has 1 dimensions, the model expects 2');
  });

  it('answers INVALID_ARGUMENT when the raw byte length disagrees with the shape', async () => {
    const { code, details } = await inferFailure({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [3, 4] }],
      raw_input_contents: [raw(x)],
    });
    expect(code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(details).toBe('input "input": raw content has 32 bytes, expected 48 (12 elements of FP32, 4 bytes each)');
    const both = await inferFailure({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4], contents: { fp32_contents: Array.from(x) } }],
      raw_input_contents: [raw(x)],
    });
    expect(both.details).toContain('use one form per request');
  });

  it('answers INVALID_ARGUMENT for an unknown requested output and a missing input', async () => {
    const output = await inferFailure({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4] }],
      raw_input_contents: [raw(x)],
      outputs: [{ name: 'logits' }],
    });
    expect(output.details).toContain('unknown output "logits"');
    const missing = await inferFailure({ inputs: [] });
    expect(missing.details).toContain('missing input "input"');
  });

  it("answers INVALID_ARGUMENT naming a record's missing column", async () => {
    const record = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4 };
    const { code, details } = await failure(
      mesh.clients.inference.predict({ servedName: 'iris', records: { recordsJson: [JSON.stringify(record)] } }),
    );
    expect(code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(details).toContain('records_json[0]: missing column "petal_width"');
    const notJson = await failure(
      mesh.clients.inference.predict({ servedName: 'iris', records: { recordsJson: ['{'] } }),
    );
    expect(notJson.details).toContain('records_json[0]: not valid JSON');
  });

  it('keeps serving correct answers after every bad request', async () => {
    const response = await mesh.inference.oip.call('ModelInfer', {
      model_name: 'iris',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4] }],
      raw_input_contents: [raw(x)],
    });
    expect(new Float32Array(Uint8Array.from(response.raw_output_contents[0]).buffer)).toEqual(
      await onnxReference(m, x, 2),
    );
  });
});

describe('memory budget', () => {
  it('refuses a Deploy over AIMAAS_INFERENCE_MEMORY_MB with RESOURCE_EXHAUSTED, and still serves the rest', async () => {
    const big = await makeModel(6, 4, 3, [512, 256]);
    await registerModel(mesh.clients.registry, 'big', big);
    const { code, details } = await failure(mesh.clients.inference.deploy({ model: { name: 'big' } }));
    expect(code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(details).toMatch(
      /model big@1 needs an estimated [\d.]+ MiB; [\d.]+ of 1\.0 MiB \(AIMAAS_INFERENCE_MEMORY_MB\) are in use/,
    );
    expect((await mesh.clients.inference.listDeployments({})).deployments.map((d) => d.servedName)).toEqual(['iris']);
    expect((await mesh.inference.oip.call('ModelReady', { name: 'iris' })).ready).toBe(true);
  });

  it('passes the registry\'s permanent answers on as they are: a Deploy of alias "__proto__" is INVALID_ARGUMENT, not a retryable UNAVAILABLE', async () => {
    const { code, details } = await failure(
      mesh.clients.inference.deploy({ model: { name: 'iris', alias: '__proto__' }, servedName: 'proto' }),
    );
    expect(code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(details).toMatch(/registry answered INVALID_ARGUMENT/);
    const missing = await failure(
      mesh.clients.inference.deploy({ model: { name: 'no-such-model' }, servedName: 'missing' }),
    );
    expect(missing.code).toBe(grpc.status.NOT_FOUND);
  });

  it('answers int64_contents past 2^53 with INVALID_ARGUMENT (it was INTERNAL), and random bytes too', async () => {
    const big = await inferFailure({
      inputs: [{ name: 'input', datatype: 'INT64', shape: [1, 1], contents: { int64_contents: ['9007199254740993'] } }],
    });
    expect(big.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(big.details).toMatch(
      /^\/inference\.GRPCInferenceService\/ModelInfer: the request is not a valid message of this method \(.*MAX_SAFE_INTEGER.*\)$/,
    );
    // Bytes that are no protobuf at all, sent with a raw client.
    const raw = new grpc.Client(mesh.inference.addr, grpc.credentials.createInsecure());
    const garbage = await new Promise<grpc.ServiceError>((resolve) =>
      raw.makeUnaryRequest(
        '/inference.GRPCInferenceService/ModelInfer',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]),
        (e) => resolve(e!),
      ),
    );
    raw.close();
    expect(garbage.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await mesh.inference.oip.call('ModelReady', { name: 'iris' })).ready).toBe(true);
  });

  it('answers a Deploy of a version whose stored bytes were tampered with DATA_LOSS, naming the file, not the store', async () => {
    const small = await makeModel(7);
    await registerModel(mesh.clients.registry, 'tampered', small);
    const nc = await connectNats(mesh.nats.url, { name: 'tamper' });
    try {
      const objects = await (await openObjectStore(nc, 'aimaas_artifacts')).list();
      const onnx = objects.find((o) => o.name.startsWith('tampered/') && o.name.endsWith('.onnx'))!;
      await tamperObjectChunk(nc, 'aimaas_artifacts', onnx.name);
    } finally {
      await nc.drain();
    }
    const { code, details } = await failure(mesh.clients.inference.deploy({ model: { name: 'tampered' }, runtime: 2 }));
    expect(code).toBe(grpc.status.DATA_LOSS);
    expect(details).toMatch(/model\.onnx/);
    expect(details).not.toMatch(/aimaas_artifacts|bucket/);
    expect(details.length).toBeLessThan(1024);
    expect((await mesh.clients.inference.listDeployments({})).deployments.map((d) => d.servedName)).not.toContain(
      'tampered',
    );
  });
});

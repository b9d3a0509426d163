// Inference serving beside its floors, measured in one run on one model at a time (the
// Fashion-MNIST MLP 784-256-128-10 and the TensorFlow-tutorial CNN):
// - compute floor: in-process ONNX Runtime, one request (1 row) at a time, same threading as the service;
// - transport floor: a bare grpc-js unary echo of the same ModelInferRequest bytes;
// - the service over the Open Inference Protocol at concurrency 1, 16, 64, without and with
//   dynamic batching. Throughput, p50 and p99. The load comes from the same kind of client as the
//   echo's: a grpc-js client sending the pre-encoded ModelInferRequest bytes, so the comparison
//   isolates the server (one response per model is decoded and checked first).
// Also the inference process's resident memory (VmRSS) before each Deploy, after its traffic,
// and after its Undeploy: the last should be back near the first.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import * as grpc from '@grpc/grpc-js';
import { buildModel, exportOnnx, initBackend } from '@aimaas/ml';
import { ModelInferRequest, ModelInferResponse, Task } from '@aimaas/proto';
import { createClients, uploadModelVersion } from '@aimaas/sdk';
import { freePort, startNatsServer } from '@aimaas/testing';
import { ECHO_SERVICE } from './echo-server.mjs';
import { startEchoServer, startProcess } from './processes.mjs';
import { fmt, measure, table, writeResult } from './report.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const MODELS = {
  mlp: { spec: { mlp: { hiddenUnits: [256, 128] } }, inputShape: [784] },
  cnn: {
    spec: {
      cnn: {
        convBlocks: [
          { filters: 32, kernelSize: 5, pool: 'max' },
          { filters: 64, kernelSize: 5, pool: 'max' },
        ],
        denseUnits: [1024],
        dropout: 0.4,
      },
    },
    inputShape: [28, 28, 1],
  },
};

await initBackend();
const nats = await startNatsServer();
const registryAddress = `127.0.0.1:${await freePort()}`;
const inferenceAddress = `127.0.0.1:${await freePort()}`;
const env = {
  NATS_URL: nats.url,
  AIMAAS_REGISTRY_ADDR: registryAddress,
  AIMAAS_INFERENCE_ADDR: inferenceAddress,
  LOG_LEVEL: 'info',
};
const registryProcess = await startProcess('services/registry/dist/main.js', {
  env,
  ready: (o) => o.includes('"msg":"registry serving"'),
});
// BENCH_INFERENCE_NODE_ARGS: V8/Node flags for the inference process (e.g. GC settings to compare).
const inferenceNodeArgs = (process.env.BENCH_INFERENCE_NODE_ARGS ?? '').split(' ').filter(Boolean);
const inferenceProcess = await startProcess('services/inference/dist/main.js', {
  env,
  nodeArgs: inferenceNodeArgs,
  ready: (o) => o.includes('"msg":"inference serving"'),
});
const echoServer = await startEchoServer();
const clients = createClients({ addresses: { registry: registryAddress, inference: inferenceAddress } });
const Echo = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
const echo = new Echo(echoServer.address, grpc.credentials.createInsecure());
const identity = (value) => value;
/** ModelInfer over raw bytes: the client side costs what the echo's does. */
const RawInference = grpc.makeGenericClientConstructor(
  {
    modelInfer: {
      path: '/inference.GRPCInferenceService/ModelInfer',
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  },
  'RawInference',
);
const rawInference = new RawInference(inferenceAddress, grpc.credentials.createInsecure());
const inferBytes = (bytes) =>
  new Promise((resolve, reject) =>
    rawInference.modelInfer(bytes, (error, response) => (error ? reject(error) : resolve(response))),
  );

const rows = [];
const memoryRows = [];
const data = {};
/** The inference process's resident memory now, in MiB. */
const inferenceRssMiB = () =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${inferenceProcess.child.pid}/status`, 'utf8'))[1]) / 1024;
const only = (process.env.BENCH_MODELS ?? 'mlp,cnn').split(',');
for (const [name, { spec, inputShape }] of Object.entries(MODELS).filter(([name]) => only.includes(name))) {
  const model = await buildModel(spec, { inputShape, outputSize: 10, task: 'classification', seed: 1 });
  const onnx = exportOnnx(model);
  model.dispose();
  await uploadModelVersion(
    clients.registry,
    {
      name: `fmnist-${name}`,
      createModel: true,
      task: Task.TASK_CLASSIFICATION,
      signature: {
        inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, ...inputShape] }],
        outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 10] }],
      },
    },
    [{ path: 'model.onnx', format: 'onnx', source: onnx }],
  );
  const width = inputShape.reduce((a, b) => a * b, 1);
  const input = Float32Array.from({ length: width }, (_, i) => ((i * 7919) % 255) / 255);
  const raw = Buffer.from(input.buffer);

  // Compute floor: the same ONNX bytes in this process, one thread like the service.
  const session = await ort.InferenceSession.create(onnx, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input, [1, ...inputShape]) };
  const compute = await measure(() => session.run(feeds), { seconds: SECONDS });
  await session.release();

  const request = (served) =>
    ModelInferRequest.fromPartial({
      modelName: served,
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, ...inputShape] }],
      rawInputContents: [raw],
    });
  const requestBytes = Buffer.from(ModelInferRequest.encode(request(`fmnist-${name}`)).finish());
  const transport = {};
  for (const concurrency of [1, 16, 64]) {
    transport[concurrency] = await measure(
      () => new Promise((resolve, reject) => echo.echo(requestBytes, (error) => (error ? reject(error) : resolve()))),
      { seconds: SECONDS, concurrency },
    );
  }
  data[name] = { compute, transport, service: {}, rssMiB: {} };
  rows.push([
    name,
    'ONNX Runtime in-process (compute floor)',
    1,
    fmt(compute.opsPerSecond, 0),
    fmt(compute.p50, 3),
    fmt(compute.p99, 3),
    '',
  ]);
  for (const c of [1, 16, 64]) {
    rows.push([
      name,
      'bare grpc-js echo (transport floor)',
      c,
      fmt(transport[c].opsPerSecond, 0),
      fmt(transport[c].p50, 2),
      fmt(transport[c].p99, 2),
      '',
    ]);
  }
  for (const batching of [false, true]) {
    const served = `fmnist-${name}-${batching ? 'batched' : 'unbatched'}`;
    const rssBefore = inferenceRssMiB();
    await clients.inference.deploy({
      model: { name: `fmnist-${name}` },
      servedName: served,
      maxBatchSize: batching ? 64 : 0,
      maxQueueDelayUs: batching ? 500 : 0,
      maxQueueSize: 4096,
    });
    const servedBytes = Buffer.from(ModelInferRequest.encode(request(served)).finish());
    const first = ModelInferResponse.decode(await inferBytes(servedBytes));
    if (first.modelName !== served || first.rawOutputContents[0]?.byteLength !== 40) {
      throw new Error(
        `unexpected ModelInfer response from ${served}: ${JSON.stringify(ModelInferResponse.toJSON(first)).slice(0, 300)}`,
      );
    }
    for (const concurrency of [1, 16, 64]) {
      const result = await measure(() => inferBytes(servedBytes), { seconds: SECONDS, concurrency });
      data[name].service[`${batching ? 'batched' : 'unbatched'} c${concurrency}`] = result;
      const floor = Math.min(compute.opsPerSecond, transport[concurrency].opsPerSecond);
      rows.push([
        name,
        `service, ${batching ? 'batching 64 / 500 µs' : 'no batching'}`,
        concurrency,
        fmt(result.opsPerSecond, 0),
        fmt(result.p50, 2),
        fmt(result.p99, 2),
        fmt(result.opsPerSecond / floor, 2),
      ]);
    }
    const rssDeployed = inferenceRssMiB();
    await clients.inference.undeploy({ servedName: served });
    const rssUndeployed = inferenceRssMiB();
    data[name].rssMiB[batching ? 'batched' : 'unbatched'] = {
      before: rssBefore,
      deployed: rssDeployed,
      undeployed: rssUndeployed,
    };
    memoryRows.push([
      name,
      fmt(onnx.byteLength / 2 ** 20, 1),
      batching ? 'batching' : 'no batching',
      fmt(rssBefore, 1),
      fmt(rssDeployed, 1),
      fmt(rssUndeployed, 1),
    ]);
  }
}

const markdown = [
  `One row per request, ${SECONDS} s per cell after warm-up${inferenceNodeArgs.length > 0 ? `; inference process run with \`${inferenceNodeArgs.join(' ')}\`` : ''}. "ratio" = service throughput / min(compute floor, transport floor at the same concurrency). Targets: ≥ 0.8 at concurrency 64; p99 ≤ 3 × p50 at 16; batching raises CNN throughput.`,
  '',
  table(['model', 'path', 'concurrency', 'req/s', 'p50 ms', 'p99 ms', 'ratio'], rows),
  '',
  'Inference process RSS (MiB) before Deploy, after the traffic above, and after Undeploy:',
  '',
  table(['model', 'ONNX MiB', 'deployment', 'before Deploy', 'deployed', 'after Undeploy'], memoryRows),
].join('\n');
writeResult(process.argv[2] ?? 'inference.json', {
  title: 'Inference: Open Inference Protocol serving vs its floors',
  markdown,
  data,
});
echo.close();
rawInference.close();
clients.close();
await echoServer.stop();
await inferenceProcess.stop();
await registryProcess.stop();
await nats.stop();

/**
 * Undeploy frees the model: measured as the resident memory (VmRSS) of an inference service running
 * as its own OS process (dist/main.js, as `npm start` runs it), so what is measured is the
 * service's alone. The model is an MLP whose ONNX file is about 34 MiB, big enough to stand out
 * of the process's ~130 MiB.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeploymentState } from '@aimaas/proto';
import { createClients } from '@aimaas/sdk';
import { waitFor } from '@aimaas/testing';
import { releaseFreedMemory } from '../src/index.js';
import { features, makeModel, onnxReference, registerModel, type TestModel } from './models.js';
import { startInferenceProcess, startRegistry, type InferenceProcess, type RegistryNode } from './harness.js';

const INPUT = 256;
const CLASSES = 10;
const raw = (data: Float32Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);
const floats = (buffer: Uint8Array) => new Float32Array(Uint8Array.from(buffer).buffer);

let registry: RegistryNode;
let service: InferenceProcess;
let big: TestModel;
let modelMiB: number;

beforeAll(async () => {
  registry = await startRegistry();
  const clients = createClients({ addresses: { registry: registry.registryAddr }, tracing: false });
  try {
    await registerModel(clients.registry, 'small', await makeModel(1), { tfjs: false });
    big = await makeModel(2, INPUT, CLASSES, [2048, 2048, 2048]);
    modelMiB = big.onnx.byteLength / 2 ** 20;
    await registerModel(clients.registry, 'big', big, { tfjs: false });
  } finally {
    clients.close();
  }
  service = await startInferenceProcess(registry.nats.url, registry.registryAddr);
}, 180_000);

afterAll(async () => {
  big?.model.dispose();
  await service?.stop();
  await registry?.close();
});

/** Deploys `big`, checks it READY and serving the right outputs; resolves once a few inferences ran. */
async function deployAndInfer(): Promise<void> {
  const { inference } = service.clients;
  const deployment = await inference.deploy({ model: { name: 'big' } });
  expect(deployment.state).toBe(DeploymentState.DEPLOYMENT_STATE_READY);
  for (let k = 1; k <= 3; k++) {
    const x = features(4, INPUT, k);
    const response = await inference.predict({
      servedName: 'big',
      tensors: { tensors: [{ name: 'input', datatype: 'FP32', shape: [4, INPUT], raw: raw(x) }] },
    });
    expect(floats(response.outputs[0]!.raw)).toEqual(await onnxReference(big, x, 4));
  }
}

/** RSS once it is at most `limitMiB`, else (after a few seconds of polling) the last reading. */
async function rssSettledBelow(limitMiB: number): Promise<number> {
  let last = service.rssMiB();
  await waitFor(() => (last = service.rssMiB()) <= limitMiB, { timeoutMs: 5_000, intervalMs: 100 }).catch(
    () => undefined,
  );
  return last;
}

describe('Undeploy', () => {
  it('collects garbage only when the process was started with --expose-gc, and trims malloc', () => {
    // The service process below is started with --expose-gc (as the launcher and the Dockerfile
    // start it); this test worker may not be. On glibc Linux with koffi, malloc_trim is there.
    expect(releaseFreedMemory()).toEqual({
      collected: typeof (globalThis as { gc?: unknown }).gc === 'function',
      trimmed: true,
    });
    expect(service.output()).not.toContain('setFlagsFromString');
  });

  it('gives the session memory back: RSS returns near its level before Deploy, and repeated cycles do not grow it', async () => {
    const { inference } = service.clients;
    // Warm-up: ONNX Runtime's code and the service's load path become resident before measuring.
    await inference.deploy({ model: { name: 'small' } });
    await inference.undeploy({ servedName: 'small' });
    const baseline = service.rssMiB();

    const cycles: Array<{ deployed: number; undeployed: number }> = [];
    for (let cycle = 0; cycle < 3; cycle++) {
      await deployAndInfer();
      const deployed = service.rssMiB();
      await inference.undeploy({ servedName: 'big' });
      expect((await inference.listDeployments({})).deployments).toEqual([]);
      // Back within a quarter of what the deploy added (glibc and V8 keep a little for reuse).
      const limit = baseline + 0.25 * (deployed - baseline);
      const undeployed = await rssSettledBelow(limit);
      cycles.push({ deployed, undeployed });
      const where = `cycle ${cycle + 1}: baseline ${baseline.toFixed(1)} MiB, deployed ${deployed.toFixed(1)} MiB, undeployed ${undeployed.toFixed(1)} MiB`;
      // The measurement sees the model: its session alone is the ONNX file's size.
      expect(deployed - baseline, where).toBeGreaterThan(0.75 * modelMiB);
      expect(undeployed, where).toBeLessThanOrEqual(limit);
    }
    // No leak across cycles: a session (or its bytes) kept per cycle would add ~modelMiB each time.
    const growth = cycles.at(-1)!.undeployed - cycles[0]!.undeployed;
    expect(growth, JSON.stringify({ baseline, modelMiB, cycles })).toBeLessThan(0.25 * modelMiB);
  });
});

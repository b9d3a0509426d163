import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeadlineExceededError, ResourceExhaustedError } from '@aimaas/runtime';
import { counterValue, DynamicBatcher, type RunnerTensor } from '../src/index.js';
import { features, makeModel, registerModel } from './models.js';
import { startMesh, type Mesh } from './harness.js';

const raw = (data: Float32Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);
const floats = (buffer: Buffer) => new Float32Array(Uint8Array.from(buffer).buffer);

describe('dynamic batching through the service', () => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMesh();
    await registerModel(mesh.clients.registry, 'mlp', await makeModel(3));
    await mesh.clients.inference.deploy({
      model: { name: 'mlp' },
      servedName: 'batched',
      maxBatchSize: 16,
      maxQueueDelayUs: 50_000,
    });
    await mesh.clients.inference.deploy({ model: { name: 'mlp' }, servedName: 'single' });
  });
  afterAll(() => mesh?.close());

  async function infer(model: string, x: Float32Array, rows: number): Promise<Float32Array> {
    const response = await mesh.inference.oip.call('ModelInfer', {
      model_name: model,
      inputs: [{ name: 'input', datatype: 'FP32', shape: [rows, 4] }],
      raw_input_contents: [raw(x)],
    });
    return floats(response.raw_output_contents[0]);
  }

  it('merges concurrent requests into fewer executions, with results identical to unbatched', async () => {
    const { metrics } = mesh.inference.replica;
    const inputs = Array.from({ length: 24 }, (_, i) => features(1 + (i % 3), 4, 100 + i));
    const batched = await Promise.all(inputs.map((x) => infer('batched', x, x.length / 4)));
    const single: Float32Array[] = [];
    for (const x of inputs) single.push(await infer('single', x, x.length / 4));
    expect(batched).toEqual(single);
    const labels = { model: 'batched' };
    const executions = await counterValue(metrics.executionCount, labels);
    expect(executions).toBeLessThan(inputs.length);
    expect(await counterValue(metrics.inferenceCount, labels)).toBe(inputs.reduce((n, x) => n + x.length / 4, 0));
    expect(await counterValue(metrics.requestSuccess, labels)).toBe(inputs.length);
    expect(await counterValue(metrics.executionCount, { model: 'single' })).toBe(inputs.length);
  });
});

describe('DynamicBatcher', () => {
  const feed = (rows: number, value: number): Record<string, RunnerTensor> => ({
    input: { type: 'float32', data: new Float32Array(rows * 2).fill(value), dims: [rows, 2] },
  });
  /** A runner that doubles its input and finishes only when `release()` is called. */
  function gatedRunner() {
    const batches: number[] = [];
    let open: () => void = () => undefined;
    let gate = new Promise<void>((resolve) => (open = resolve));
    let opened = false;
    return {
      batches,
      openAll() {
        opened = true;
        open();
      },
      release() {
        open();
        gate = new Promise<void>((resolve) => (open = resolve));
      },
      async run(feeds: Record<string, RunnerTensor>) {
        batches.push(feeds.input!.dims[0]!);
        if (!opened) await gate;
        const data = (feeds.input!.data as Float32Array).map((v) => v * 2);
        return { output: { type: 'float32' as const, data, dims: feeds.input!.dims } };
      },
    };
  }

  it("splits a batch's outputs back to each request in order", async () => {
    const runner = gatedRunner();
    const batcher = new DynamicBatcher({
      maxBatchSize: 8,
      maxQueueDelayUs: 1_000_000,
      maxQueueSize: 10,
      run: (f) => runner.run(f),
    });
    const results = [batcher.submit(feed(1, 1), 1), batcher.submit(feed(3, 2), 3), batcher.submit(feed(4, 3), 4)];
    runner.release();
    const outputs = await Promise.all(results);
    expect(runner.batches).toEqual([8]);
    expect(outputs.map((r) => Array.from(r.outputs.output!.data as Float32Array))).toEqual([
      [2, 2],
      [4, 4, 4, 4, 4, 4],
      [6, 6, 6, 6, 6, 6, 6, 6],
    ]);
    expect(outputs.map((r) => r.outputs.output!.dims)).toEqual([
      [1, 2],
      [3, 2],
      [4, 2],
    ]);
  });

  it('refuses a request beyond max_queue_size with RESOURCE_EXHAUSTED', async () => {
    const runner = gatedRunner();
    const batcher = new DynamicBatcher({
      maxBatchSize: 1,
      maxQueueDelayUs: 0,
      maxQueueSize: 2,
      run: (f) => runner.run(f),
    });
    const running = batcher.submit(feed(1, 1), 1);
    const queued = [batcher.submit(feed(1, 1), 1), batcher.submit(feed(1, 1), 1)];
    await expect(batcher.submit(feed(1, 1), 1)).rejects.toBeInstanceOf(ResourceExhaustedError);
    runner.openAll();
    await Promise.all([running, ...queued]);
    expect(runner.batches).toEqual([1, 1, 1]);
  });

  it('drops a request whose deadline passed while it was queued, before it runs', async () => {
    const runner = gatedRunner();
    const batcher = new DynamicBatcher({
      maxBatchSize: 1,
      maxQueueDelayUs: 0,
      maxQueueSize: 10,
      run: (f) => runner.run(f),
    });
    const first = batcher.submit(feed(1, 1), 1);
    const late = batcher.submit(feed(1, 5), 1, { deadline: new Date(Date.now() + 5) });
    await new Promise((r) => setTimeout(r, 30));
    runner.release();
    await first;
    await expect(late).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(runner.batches).toEqual([1]);
    await batcher.idle();
  });

  it('removes a cancelled request from the queue', async () => {
    const runner = gatedRunner();
    const batcher = new DynamicBatcher({
      maxBatchSize: 1,
      maxQueueDelayUs: 0,
      maxQueueSize: 10,
      run: (f) => runner.run(f),
    });
    const first = batcher.submit(feed(1, 1), 1);
    const controller = new AbortController();
    const cancelled = batcher.submit(feed(1, 1), 1, { signal: controller.signal });
    controller.abort(new Error('client went away'));
    await expect(cancelled).rejects.toThrow('client went away');
    expect(batcher.pending).toBe(1);
    runner.release();
    await first;
    await batcher.idle();
    expect(runner.batches).toEqual([1]);
  });
});

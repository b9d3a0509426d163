import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClients, downloadModelArtifacts, uploadModelVersion } from '@aimaas/sdk';
import { startReplica } from './harness.js';
import { CreateModelVersionRequest, type ModelVersion } from '@aimaas/proto';
import { ProcessSuite, waitFor } from '@aimaas/testing';

const STREAM = 'OBJ_aimaas_artifacts';
const MiB = 1024 * 1024;

let suite: ProcessSuite;

/** The registry as its own process (dist/main.js), as `npm start` runs it. */
async function startRegistryProcess(env: Record<string, string> = {}): Promise<{ child: ChildProcess; addr: string }> {
  const { child, addr } = await suite.spawn('registry', env);
  const clients = createClients({ addresses: { registry: addr }, tracing: false });
  try {
    await waitFor(
      () =>
        clients.registry.listRegisteredModels({}).then(
          () => true,
          () => false,
        ),
      { timeoutMs: 30_000, message: 'the registry to answer' },
    );
  } finally {
    clients.close();
  }
  return { child, addr };
}

const streamBytes = (): Promise<number> => suite.streamBytes(STREAM);

beforeAll(async () => {
  suite = await ProcessSuite.start();
});
afterAll(() => suite?.close());

describe('an upload whose registry is killed half-way', () => {
  it('leaves zero orphan bytes once a registry sweeps: the chunks of the file in flight and the files already complete', async () => {
    const first = await startRegistryProcess();
    const clients = createClients({ addresses: { registry: first.addr }, tracing: false });
    await uploadModelVersion(clients.registry, { name: 'kept', createModel: true }, [
      { path: 'model.bin', format: 'raw', source: Buffer.alloc(300_000, 1) },
    ]);
    const baseline = await streamBytes();

    let sent = 0;
    async function* slow(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 200; i++) {
        sent += MiB;
        yield Buffer.alloc(MiB, i);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    const upload = uploadModelVersion(clients.registry, { name: 'killed', createModel: true }, [
      { path: 'complete.bin', format: 'raw', source: Buffer.alloc(2 * MiB, 7) },
      { path: 'half.bin', format: 'raw', source: slow() },
    ]).catch((error: unknown) => error);
    await waitFor(() => sent >= 30 * MiB, { timeoutMs: 30_000, message: '30 MiB to be sent' });
    first.child.kill('SIGKILL');
    expect(await upload).toMatchObject({ code: 'UNAVAILABLE' });
    clients.close();
    const left = (await streamBytes()) - baseline;
    expect(left).toBeGreaterThan(20 * MiB);

    // A registry that starts now sweeps what is idle for 2 × 200 ms (at start and then every 400 ms).
    const second = await startRegistryProcess({ AIMAAS_REGISTRY_UPLOAD_IDLE_MS: '200' });
    await waitFor(async () => (await streamBytes()) === baseline, {
      timeoutMs: 20_000,
      message: 'the orphan bytes to be swept',
    });
    expect(await streamBytes()).toBe(baseline);

    // The committed version is untouched and still downloads intact; the killed one never existed.
    const check = createClients({ addresses: { registry: second.addr }, tracing: false });
    try {
      const { files } = await downloadModelArtifacts(check.registry, { ref: 'kept@1' });
      expect(files).toEqual([expect.objectContaining({ path: 'model.bin', size: 300_000 })]);
      await expect(check.registry.getRegisteredModel({ name: 'killed' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      check.close();
    }
  }, 90_000);

  it('ends an upload that stalls past AIMAAS_REGISTRY_UPLOAD_IDLE_MS with DEADLINE_EXCEEDED and keeps nothing', async () => {
    const replica = await startReplica(suite.nats.url, { uploadIdleMs: 300 });
    try {
      const before = await streamBytes();
      const outcome = new Promise<{ code?: number; details?: string }>((resolve) => {
        const call = replica.client.createModelVersion(
          (error: { code?: number; details?: string } | null, _reply?: ModelVersion) => resolve(error ?? {}),
        );
        call.write(CreateModelVersionRequest.fromPartial({ header: { name: 'stalled', createModel: true } }));
        call.write(CreateModelVersionRequest.fromPartial({ file: { path: 'a.bin', format: 'raw' } }));
        call.write(CreateModelVersionRequest.fromPartial({ chunk: Buffer.alloc(MiB, 3) }));
        // …and then nothing, without ending the stream.
      });
      const { code, details } = await outcome;
      expect(code).toBe(4); // DEADLINE_EXCEEDED
      expect(details).toMatch(
        /^CreateModelVersion: no message for 0\.3 s after message 3; the upload was ended and nothing was kept$/,
      );
      await waitFor(async () => (await streamBytes()) === before, {
        timeoutMs: 5_000,
        message: 'the stalled upload to be removed',
      });
      const leases = await replica.kv.list('uploads.');
      expect(leases).toEqual([]);
    } finally {
      await replica.close();
    }
  });
});

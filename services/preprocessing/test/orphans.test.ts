/**
 * An import whose preprocessing process is killed half-way (issue 10): the shards it had stored
 * are swept by the next process once idle, back to the exact byte count of the object store; an
 * import that stalls is ended with DEADLINE_EXCEEDED and keeps nothing.
 */
import type { ChildProcess } from 'node:child_process';
import { credentials, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataFormat, ImportDatasetRequest, ImportHeader, PreprocessingServiceClient } from '@aimaas/proto';
import { ProcessSuite, waitFor } from '@aimaas/testing';
import { startService } from './harness.js';

const STREAM = 'OBJ_aimaas_datasets';

let suite: ProcessSuite;

async function startProcess(
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; client: PreprocessingServiceClient }> {
  const { child, addr } = await suite.spawn('preprocessing', env);
  const client = new PreprocessingServiceClient(addr, credentials.createInsecure());
  await waitFor(
    () =>
      new Promise<boolean>((resolve) =>
        client.listDatasets({ name: '', pageSize: 0, pageToken: '' }, (error) => resolve(!error)),
      ),
    {
      timeoutMs: 30_000,
      message: 'preprocessing to answer',
    },
  );
  return { child, client };
}

const streamBytes = (): Promise<number> => suite.streamBytes(STREAM);

beforeAll(async () => {
  suite = await ProcessSuite.start();
});
afterAll(() => suite?.close());

describe('an import whose process is killed half-way', () => {
  it('leaves zero orphan bytes once a preprocessing process sweeps', async () => {
    const first = await startProcess();
    const baseline = await streamBytes();
    const call = first.client.importDataset(() => undefined);
    call.on('error', () => undefined);
    call.write(
      ImportDatasetRequest.fromPartial({
        header: ImportHeader.fromPartial({ name: 'killed', format: DataFormat.DATA_FORMAT_CSV }),
      }),
    );
    call.write({ chunk: Buffer.from('a,b,c\n') });
    // Rows until several shards (65,536 rows each) are stored, then the process dies mid-import.
    const rows = Buffer.from(Array.from({ length: 10_000 }, (_, i) => `${i},${i * 0.5},x${i % 7}`).join('\n') + '\n');
    await waitFor(
      async () => {
        if (!call.write({ chunk: rows })) await new Promise((resolve) => call.once('drain', resolve));
        return (await streamBytes()) - baseline > 3 * 1024 * 1024;
      },
      { timeoutMs: 60_000, intervalMs: 1, message: 'shards to be stored' },
    );
    first.child.kill('SIGKILL');
    first.client.close();
    expect((await streamBytes()) - baseline).toBeGreaterThan(3 * 1024 * 1024);

    // The next process sweeps what is idle for 2 × 200 ms, at start and then every 400 ms.
    const second = await startProcess({ AIMAAS_PREPROCESSING_IMPORT_IDLE_MS: '200' });
    await waitFor(async () => (await streamBytes()) === baseline, {
      timeoutMs: 20_000,
      message: 'the orphan shards to be swept',
    });
    // And the killed import took no version: the next one is version 1.
    const version = await new Promise<number>((resolve, reject) => {
      const next = second.client.importDataset((error, dataset) => (error ? reject(error) : resolve(dataset.version)));
      next.write(
        ImportDatasetRequest.fromPartial({
          header: ImportHeader.fromPartial({ name: 'killed', format: DataFormat.DATA_FORMAT_CSV }),
        }),
      );
      next.write({ chunk: Buffer.from('a,b\n1,2\n') });
      next.end();
    });
    expect(version).toBe(1);
    second.client.close();
  }, 120_000);

  it('ends an import that stalls past AIMAAS_PREPROCESSING_IMPORT_IDLE_MS with DEADLINE_EXCEEDED', async () => {
    const running = await startService(suite.nats.url, { importIdleMs: 300 });
    try {
      const error = await new Promise<{ code?: number; details?: string }>((resolve) => {
        const call = running.client.importDataset((e) => resolve(e ?? {}));
        call.write(
          ImportDatasetRequest.fromPartial({
            header: ImportHeader.fromPartial({ name: 'stalled', format: DataFormat.DATA_FORMAT_CSV }),
          }),
        );
        call.write({ chunk: Buffer.from('a,b\n1,2\n') });
        // …and then nothing, without ending the stream.
      });
      expect(error).toMatchObject({
        code: status.DEADLINE_EXCEEDED,
        details: 'ImportDataset: no message for 0.3 s; the import was ended and nothing was kept',
      });
    } finally {
      await running.close();
    }
  });
});

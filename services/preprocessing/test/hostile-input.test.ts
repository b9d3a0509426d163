/**
 * Hostile-looking but well-formed input (issue 10): column names that are Object.prototype's keys
 * (`__proto__`, `constructor`, `toString`) are ordinary columns, imported, profiled, prepared and
 * transformed, never INTERNAL; an enum value the contract does not have is INVALID_ARGUMENT.
 */
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Task } from '@aimaas/proto';
import type { TestNatsServer } from '@aimaas/testing';
import { startNats, startService, type Running } from './harness.js';

let nats: TestNatsServer;
let service: Running;

beforeAll(async () => {
  nats = await startNats();
  service = await startService(nats.url);
});

afterAll(async () => {
  await service?.close();
  await nats?.stop();
});

describe('prototype keys as column names', () => {
  it('imports, prepares and transforms a CSV whose header is __proto__,constructor,toString,label', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => `${i},${i % 5},${i % 2 ? 'a' : 'b'},${i % 2 ? 'yes' : 'no'}`);
    const dataset = await service.api.importDataset({ name: 'protos' }, `__proto__,constructor,toString,label\n${rows.join('\n')}\n`);
    expect(dataset.columns.map((c) => c.name)).toEqual(['__proto__', 'constructor', 'toString', 'label']);
    const prepared = await service.api.prepareDataset({ dataset: { name: 'protos' }, target: 'label', task: Task.TASK_CLASSIFICATION, seed: 1 });
    expect(prepared.featureNames.length).toBeGreaterThanOrEqual(3);
    const out = await service.api.transformRecords({
      preparedDatasetId: prepared.id, recordsJson: ['{"__proto__": 3, "constructor": 1, "toString": "a"}'],
    });
    expect(out.features?.shape).toEqual([1, prepared.featureNames.length]);
  });

  it('answers a JSON record keyed __proto__ with a clear error or a value, never INTERNAL', async () => {
    const error = await service.api
      .importDataset({ name: 'proto-json', format: 2 }, '{"__proto__": {"x": 1}, "y": 2}\n{"__proto__": {"x": 2}, "y": 3}\n')
      .then(() => undefined, (e: { code: number }) => e);
    if (error) expect((error as { code: number }).code).not.toBe(status.INTERNAL);
  });

  it('refuses a task number the enum does not have', async () => {
    await expect(service.api.prepareDataset({ dataset: { name: 'protos' }, target: 'label', task: 999 as Task, seed: 1 })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^task is 999; expected TASK_CLASSIFICATION/),
    });
  });
});

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, exportOnnx, initBackend } from '@aimaas/ml';
import { fitPipeline, serializePipeline, tableFromRecords } from '@aimaas/pipeline';
import { Task } from '@aimaas/proto';
import { createClients, uploadModelVersion } from '@aimaas/sdk';
import { fixturePath } from '@aimaas/testing';
import { useCliStack } from './e2e-stack.js';
import { cliRunner } from './run-cli-harness.js';

const LABELS = ['setosa', 'versicolor', 'virginica'];

const stack = useCliStack({ name: 'cli-deploy-e2e', registry: {}, inference: true });
const aimaas = cliRunner(() => ({ env: stack.env, cwd: stack.dir }));
let records: Record<string, unknown>[];

beforeAll(async () => {
  // A seeded 4 → 3 MLP on iris, its fitted pipeline, uploaded as ONNX (as services/inference/test/models.ts does).
  const [header, ...lines] = (await readFile(fixturePath('iris.csv'), 'utf8')).trim().split(/\r?\n/);
  const columns = header!.split(',');
  const all = lines.map((line) =>
    Object.fromEntries(line.split(',').map((v, i) => [columns[i]!, i < 4 ? Number(v) : v])),
  );
  const pipeline = fitPipeline(tableFromRecords(all), { target: 'species', task: 'classification' });
  records = all.map(({ species: _, ...rest }) => rest);
  await initBackend();
  const model = await buildModel(
    { mlp: { hiddenUnits: [8] } },
    { inputShape: [4], outputSize: 3, task: 'classification', seed: 7 },
  );
  await uploadModelVersion(
    stack.clients.registry,
    {
      name: 'iris-mlp',
      createModel: true,
      task: Task.TASK_CLASSIFICATION,
      classLabels: LABELS,
      signature: {
        inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
        outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 3] }],
      },
      pipelineJson: serializePipeline(pipeline),
    },
    [{ path: 'model.onnx', format: 'onnx', source: exportOnnx(model) }],
  );
  model.dispose();
}, 60_000);

/** The LABEL column of a classification table. */
function labels(table: string): string[] {
  return table
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/)[1]!);
}

describe('aimaas deploy / predict / undeploy against the real inference service', () => {
  it('deploys a registered ONNX model, predicts records, a CSV file and a tensor, and undeploys', async () => {
    const deployed = await aimaas(
      'deploy',
      'iris-mlp@1',
      '--name',
      'iris',
      '--max-batch-size',
      '8',
      '--max-queue-delay-us',
      '500',
    );
    expect(deployed.stderr).toBe('');
    expect(deployed.code).toBe(0);
    const lines = deployed.stdout.split('\n');
    expect(lines[0]).toBe('Deployed iris (version 1).');
    expect(deployed.stdout).toMatch(/^State:\s+ready$/m);
    expect(deployed.stdout).toMatch(/^Runtime:\s+onnx$/m);
    expect(deployed.stdout).toMatch(/^Batching:\s+8 rows, 500us, queue 1024$/m);
    expect(deployed.stdout).toMatch(/^Inputs:\s+input FP32 \[-1,4\]$/m);

    const listed = await aimaas('deployments');
    expect(listed.stdout.split('\n')[0]).toMatch(/^SERVED\s+MODEL\s+VERSION\s+STATE\s+RUNTIME/);
    expect(listed.stdout.split('\n')[1]).toMatch(/^iris\s+iris-mlp@1\s+1\s+ready\s+onnx\s/);
    const shown = JSON.parse((await aimaas('--json', 'deployments', 'show', 'iris')).stdout);
    expect(shown).toMatchObject({
      servedName: 'iris',
      version: 1,
      state: 'DEPLOYMENT_STATE_READY',
      runtime: 'RUNTIME_ONNX',
    });

    // Records on the command line: the table agrees with the service answering the SDK directly.
    const picked = [records[0]!, records[60]!, records[120]!];
    const sdk = createClients({ addresses: { inference: stack.env.AIMAAS_INFERENCE_ADDR! }, tracing: false });
    const direct = await sdk.inference
      .predict({ servedName: 'iris', records: { recordsJson: picked.map((r) => JSON.stringify(r)) } })
      .finally(() => sdk.close());
    const expected = direct.classifications.map((c) => c.label);
    expect(expected).toHaveLength(3);
    for (const label of expected) expect(LABELS).toContain(label);

    const predicted = await aimaas('predict', 'iris', '--records', JSON.stringify(picked));
    expect(predicted.code).toBe(0);
    expect(predicted.stdout.split('\n')[0]).toMatch(/^ROW\s+LABEL\s+SCORE\s+PROBABILITIES$/);
    expect(labels(predicted.stdout)).toEqual(expected);
    expect(predicted.stdout.split('\n')[1]).toMatch(
      /^\s*0\s+\w+\s+0\.\d+\s+setosa=[0-9.e-]+,versicolor=[0-9.e-]+,virginica=[0-9.e-]+$/,
    );

    // The same rows from a CSV file: header + rows, numbers parsed as numbers.
    const csv = [
      'sepal_length,sepal_width,petal_length,petal_width',
      ...picked.map((r) => Object.values(r).join(',')),
    ].join('\n');
    await writeFile(join(stack.dir, 'rows.csv'), `${csv}\n`);
    const fromCsv = await aimaas('predict', 'iris', '--file', 'rows.csv');
    expect(fromCsv.stderr).toBe('');
    expect(labels(fromCsv.stdout)).toEqual(expected);

    const json = JSON.parse((await aimaas('--json', 'predict', 'iris', '--file', 'rows.csv')).stdout);
    expect(json.servedName).toBe('iris');
    expect(Number(json.version)).toBe(1);
    expect(json.classifications.map((c: { label: string }) => c.label)).toEqual(expected);

    // Raw tensors skip the pipeline and print the output tensor.
    const tensor = await aimaas('predict', 'iris', '--tensor', 'input:FP32:2x4:0.1,0.2,0.3,0.4,1,1,1,1');
    expect(tensor.code).toBe(0);
    expect(tensor.stdout.split('\n')[0]).toMatch(/^(ROW\s+LABEL|OUTPUT\s+DATATYPE\s+SHAPE\s+VALUES)/);

    expect(await aimaas('undeploy', 'iris')).toEqual({ code: 0, stdout: 'Undeployed iris.\n', stderr: '' });
    const gone = await aimaas('predict', 'iris', '--records', JSON.stringify(picked));
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^error: NOT_FOUND: /);
    expect((await aimaas('deployments')).stderr).toBe('No deployments.\n');
  }, 60_000);

  it('rejects bad predict input as usage errors (exit 2)', async () => {
    const none = await aimaas('predict', 'iris');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(
      /^error: give exactly one of --records, --file and --tensor\nusage: aimaas predict <served>/,
    );
    const both = await aimaas('predict', 'iris', '--records', '[]', '--tensor', 'x:FP32:1:1');
    expect(both.code).toBe(2);
    const badTensor = await aimaas('predict', 'iris', '--tensor', 'input:FP32:1x4:1,2,3');
    expect(badTensor).toMatchObject({ code: 2 });
    expect(badTensor.stderr).toContain('--tensor input: 3 values, shape 1x4 needs 4');
    const badRuntime = await aimaas('deploy', 'iris-mlp', '--runtime', 'torch');
    expect(badRuntime.code).toBe(2);
    expect(badRuntime.stderr).toContain('--runtime torch: expected auto, onnx or tfjs');
  });
});

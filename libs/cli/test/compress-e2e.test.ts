/**
 * `aimaas compress` and `aimaas compress jobs` against the real services: iris is imported and
 * prepared by the preprocessing service and trained into `iris@1` by the training service (all
 * through the CLI), then compressed by the compression service.
 */
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '@aimaas/testing';
import { useCliStack } from './e2e-stack.js';
import { cliRunner } from './run-cli-harness.js';

const stack = useCliStack({
  name: 'cli-compress-e2e',
  registry: {},
  preprocessing: true,
  training: true,
  compression: true,
});
const aimaas = cliRunner(() => ({ env: stack.env, cwd: stack.dir }));
let preparedId: string;

/** The cells of the report row named `measure`: before, after, after/before. */
function reportRow(stdout: string, measure: string): string[] {
  const line = stdout.split('\n').find((l) => l.startsWith(`${measure}  `));
  expect(line, `report row ${measure}`).toBeDefined();
  return line!
    .slice(measure.length)
    .trim()
    .split(/\s{2,}/);
}

/** A byte count as the table prints it (`2.95 kB`), back in bytes. */
function bytes(text: string): number {
  const [value, unit] = text.split(' ');
  return Number(value) * { B: 1, kB: 1e3, MB: 1e6 }[unit as 'B' | 'kB' | 'MB'];
}

beforeAll(async () => {
  await copyFile(fixturePath('iris.csv'), join(stack.dir, 'iris.csv'));
  expect((await aimaas('datasets', 'import', 'iris.csv', '--name', 'iris')).code).toBe(0);
  const prepared = await aimaas(
    '--json',
    'datasets',
    'prepare',
    'iris',
    '--target',
    'species',
    '--task',
    'classification',
    '--split',
    '0.6,0.2,0.2',
    '--seed',
    '7',
  );
  expect(prepared.code).toBe(0);
  preparedId = JSON.parse(prepared.stdout).id;
  const trained = await aimaas(
    'train',
    '--dataset',
    preparedId,
    '--model-name',
    'iris',
    '--mlp',
    '16',
    '--epochs',
    '20',
    '--batch-size',
    '16',
    '--lr',
    '0.02',
    '--seed',
    '1',
    '--watch',
  );
  expect(trained.stderr.split('\n')[0]).toMatch(/^Submitted training job \S+\.$/);
  expect(trained.stdout.split('\n')[0]).toMatch(/^Job \S+ succeeded, registered iris@1\.$/);
}, 120_000);

describe('aimaas compress against the real compression service', () => {
  let jobId: string;

  it('quantizes iris@1 to uint8 with --watch: live progress, the before/after table, a new version', async () => {
    const result = await aimaas('compress', 'iris@1', '--quantize', 'uint8', '--watch', '--progress');
    expect(result.code, result.stderr).toBe(0);
    const submitted = /^Submitted compression job (\S+)\.\n/.exec(result.stderr);
    expect(submitted).not.toBeNull();
    jobId = submitted![1]!;
    // The live line went through the phases in order to the registration, then ended with a newline.
    const frames = result.stderr
      .split('\r')
      .slice(1)
      .map((f) => f.trimEnd());
    expect(frames.length).toBeGreaterThan(1);
    for (const frame of frames) expect(frame).toMatch(/^compress {2}\S/);
    expect(frames.some((f) => f.startsWith('compress  measuring'))).toBe(true);
    const phases = frames.map((f) => f.split(/\s{2,}/)[1]);
    const order = ['loading', 'measuring', 'quantize', 'registering'].map((phase) => phases.indexOf(phase));
    expect(
      order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1]!)),
      phases.join(' '),
    ).toBe(true);
    expect(frames.at(-1)).toBe('compress  succeeded  registered iris@2');
    expect(result.stderr.endsWith('\n')).toBe(true);

    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe(`Job ${jobId} succeeded, registered iris@2.`);
    expect(lines[1]).toMatch(/^MEASURE\s+BEFORE\s+AFTER\s+AFTER\/BEFORE$/);
    expect(result.stdout).toMatch(/^Sizes of the tfjs-layers files; metrics on the test split\.$/m);

    // 4 inputs → 16 → 3: the same 131 parameters before and after, none of them zeroed.
    expect(reportRow(result.stdout, 'parameters')).toEqual(['131', '131', '1']);
    expect(reportRow(result.stdout, 'non-zero parameters')[2]).toBe('1');
    const [rawBefore, rawAfter, rawRatio] = reportRow(result.stdout, 'size raw');
    expect(bytes(rawAfter!)).toBeLessThan(bytes(rawBefore!));
    expect(Number(rawRatio)).toBeLessThan(1);
    const [accBefore, accAfter] = reportRow(result.stdout, 'accuracy').map(Number);
    expect(accBefore).toBeGreaterThan(0.8);
    expect(Math.abs(accAfter! - accBefore!)).toBeLessThanOrEqual(0.1);
    expect(Number(reportRow(result.stdout, 'latency b1 ms')[0])).toBeGreaterThan(0);

    // The registry has iris@2, a child of iris@1 made by this job.
    const version = await stack.clients.registry.getModelVersion({ ref: { name: 'iris', version: 2 } });
    expect(version.lineage).toMatchObject({
      compressionJobId: jobId,
      parent: { name: 'iris', version: 1 },
      preparedDatasetId: preparedId,
    });
    const shown = await aimaas('models', 'show', 'iris@2');
    expect(shown.code).toBe(0);
  }, 120_000);

  it('lists the job with compress jobs list, and shows it with its report', async () => {
    const listed = await aimaas('compress', 'jobs', 'list');
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATE\s+SOURCE\s+METHOD\s+PHASE\s+RESULT\s+CREATED$/);
    expect(lines.slice(1).find((l) => l.startsWith(`${jobId} `))).toMatch(
      /\s+succeeded\s+iris@1\s+quantize uint8\s+\S+\s+iris@2\s+\d{4}-\d\d-\d\dT/,
    );
    const succeeded = JSON.parse((await aimaas('--json', 'compress', 'jobs', 'list', '--state', 'succeeded')).stdout);
    expect(succeeded.jobs.map((j: { id: string }) => j.id)).toEqual([jobId]);
    expect((await aimaas('compress', 'jobs', 'list', '--state', 'failed')).stderr).toBe('No compression jobs.\n');

    const shown = await aimaas('compress', 'jobs', 'show', jobId);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^State:\s+succeeded$/m);
    expect(shown.stdout).toMatch(/^Method:\s+quantize uint8$/m);
    expect(shown.stdout).toMatch(/^Registered:\s+iris@2$/m);
    expect(shown.stdout).toMatch(/^parameters\s+131\s+131\s+1$/m);
  });

  it('rejects a bad dtype before calling the service, and reports a missing model from it', async () => {
    const count = async () =>
      JSON.parse((await aimaas('--json', 'compress', 'jobs', 'list')).stdout).jobs.length as number;
    const before = await count();
    const bad = await aimaas('compress', 'iris@1', '--quantize', 'int4');
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.split('\n')[0]).toBe('error: --quantize int4: expected one of uint8, uint16, float16, int8');
    const missing = await aimaas('compress', 'nope@1', '--quantize', 'uint8');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: NOT_FOUND: source: .*nope/);
    expect(await count()).toBe(before);
  });

  it('prunes with fine-tuning: a bar over the fine-tune epochs, half the weights zero in the new version', async () => {
    const result = await aimaas(
      'compress',
      'iris',
      '--prune',
      '50%',
      '--fine-tune-epochs',
      '2',
      '--model-name',
      'iris-sparse',
      '--seed',
      '3',
      '--watch',
      '--progress',
    );
    expect(result.code, result.stderr).toBe(0);
    const frames = result.stderr
      .split('\r')
      .slice(1)
      .map((f) => f.trimEnd());
    expect(
      frames.some((f) =>
        /^compress {2}\[#{12}-{12}\] {2}50% {2}fine-tuning {2}epoch 1\/2 {2}step \d+\/\d+ {2}\S*loss=/.test(f),
      ),
      frames.join('\n'),
    ).toBe(true);
    expect(frames.some((f) => /^compress {2}\[#{24}\] 100% {2}fine-tuning {2}epoch 2\/2 /.test(f))).toBe(true);
    expect(result.stdout.split('\n')[0]).toMatch(/^Job \S+ succeeded, registered iris-sparse@1\.$/);
    const [nonzeroBefore, nonzeroAfter, ratio] = reportRow(result.stdout, 'non-zero parameters');
    expect(nonzeroBefore).toBe('131');
    expect(Number(nonzeroAfter)).toBeLessThan(131);
    expect(Number(ratio)).toBeLessThan(0.7);
    expect(
      (await stack.clients.registry.getModelVersion({ ref: { name: 'iris-sparse', version: 1 } })).lineage?.parent,
    ).toMatchObject({ name: 'iris', version: 2 });
  }, 120_000);
});

import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventPublisher, ensureStreams } from '@aimaas/events';
import { createPreprocessingService, openDatasetBuckets } from '@aimaas/preprocessing';
import { PreprocessingServiceService } from '@aimaas/proto';
import { createGrpcServer, type GrpcServer } from '@aimaas/runtime';
import { connectNats } from '@aimaas/storage';
import { createLogger } from '@aimaas/telemetry';
import { fixturePath, startNatsServer, type TestNatsServer } from '@aimaas/testing';
import { runCli } from '@aimaas/cli';

let nats: TestNatsServer;
let nc: Awaited<ReturnType<typeof connectNats>>;
let server: GrpcServer;
let address: string;
let dir: string;

beforeAll(async () => {
  nats = await startNatsServer();
  const logger = createLogger('cli-datasets-e2e', 'silent');
  nc = await connectNats(nats.url, { name: 'cli-datasets-e2e' });
  await ensureStreams(nc);
  const { kv, objects } = await openDatasetBuckets(nc);
  const events = createEventPublisher(nc, { source: '/aimaas/preprocessing', logger });
  server = createGrpcServer({ serviceName: 'preprocessing', logger, metricsAddr: 'off', shutdownGraceMs: 500 }).add(
    PreprocessingServiceService,
    createPreprocessingService({ kv, objects, events, logger, options: {} }),
  );
  address = `127.0.0.1:${await server.listen('127.0.0.1:0')}`;
  dir = await mkdtemp(join(tmpdir(), 'aimaas-cli-datasets-'));
  await copyFile(fixturePath('iris.csv'), join(dir, 'iris.csv'));
});

afterAll(async () => {
  await server?.shutdown({ graceMs: 500 });
  await nc?.drain();
  await nats?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function aimaas(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { AIMAAS_PREPROCESSING_ADDR: address },
    cwd: dir,
  });
  return { code, stdout, stderr };
}

describe('aimaas datasets against the real preprocessing service', () => {
  it('imports iris with an upload bar, profiles it, lists, shows and prepares it', async () => {
    const imported = await aimaas('datasets', 'import', 'iris.csv', '--name', 'iris', '--progress');
    expect(imported.code).toBe(0);
    expect(imported.stderr.startsWith('\r')).toBe(true);
    expect(imported.stderr.split('\r').at(-1)).toMatch(/^upload {4}\[#{24}\] 100% {2}3\.87 kB \/ 3\.87 kB {2}\S+ [kMG]?B\/s\n$/);
    const out = imported.stdout.split('\n');
    expect(out[0]).toMatch(/^Imported iris@1: 150 rows, 5 columns, 3\.87 kB\.$/);
    expect(imported.stdout).toMatch(/^COLUMN\s+TYPE\s+MISSING\s+DISTINCT\s+SUMMARY$/m);
    expect(imported.stdout).toMatch(/^sepal_length\s+numeric\s+0\s+35\s+mean=5\.843 min=4\.3 max=7\.9$/m);
    expect(imported.stdout).toMatch(/^species\s+categorical\s+0\s+3\s+\w+\(50\) \w+\(50\) \w+\(50\)$/m);

    const listed = await aimaas('datasets', 'list');
    expect(listed.stdout.split('\n')[0]).toMatch(/^NAME\s+VERSION\s+FORMAT\s+ROWS\s+COLUMNS\s+SIZE\s+CREATED/);
    expect(listed.stdout.split('\n')[1]).toMatch(/^iris\s+1\s+csv\s+150\s+5\s+3\.87 kB\s/);

    const shown = JSON.parse((await aimaas('--json', 'datasets', 'show', 'iris@1')).stdout);
    expect(shown).toMatchObject({ name: 'iris', version: 1, rows: 150, format: 'DATA_FORMAT_CSV' });
    expect(shown.columns.map((c: { name: string }) => c.name)).toEqual([
      'sepal_length',
      'sepal_width',
      'petal_length',
      'petal_width',
      'species',
    ]);

    const prepared = await aimaas(
      'datasets', 'prepare', 'iris', '--target', 'species', '--task', 'classification', '--split', '0.6,0.2,0.2', '--seed', '7',
    );
    expect(prepared.stderr).toBe('');
    expect(prepared.code).toBe(0);
    const lines = prepared.stdout.split('\n');
    expect(lines[0]).toMatch(/^Prepared \S+\.$/);
    expect(prepared.stdout).toMatch(/^Features:\s+4 \(shape \[4\]\)$/m);
    expect(prepared.stdout).toMatch(/^Classes:\s+setosa,versicolor,virginica$/m);
    expect(prepared.stdout).toMatch(/^train\s+90\s+setosa=30,versicolor=30,virginica=30$/m);
    expect(prepared.stdout).toMatch(/^validation\s+30\s+setosa=10,versicolor=10,virginica=10$/m);
    expect(prepared.stdout).toMatch(/^test\s+30\s/m);

    const kfold = JSON.parse(
      (await aimaas('--json', 'datasets', 'prepare', 'iris@1', '--target', 'species', '--task', 'classification', '--kfold', '5')).stdout,
    );
    expect(kfold.folds).toBe(5);
  }, 60_000);

  it('skips malformed rows on request and reports them; fails on them otherwise', async () => {
    await writeFile(join(dir, 'bad.csv'), 'a;b\n1;2\n3\n4;5\n');
    const failed = await aimaas('datasets', 'import', 'bad.csv', '--name', 'bad', '--delimiter', ';');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^error: INVALID_ARGUMENT: .*line 3/);
    const skipped = await aimaas('datasets', 'import', 'bad.csv', '--name', 'bad', '--delimiter', ';', '--skip-malformed');
    expect(skipped.code).toBe(0);
    expect(skipped.stdout.split('\n')[0]).toMatch(/^Imported bad@1: 2 rows, 2 columns, .*, 1 malformed rows skipped\.$/);
    expect(skipped.stdout).toMatch(/^Skipped rows:\s+1\n\s+line 3/m);
  });

  it('reports usage errors and NOT_FOUND the documented way', async () => {
    expect((await aimaas('datasets', 'import', 'iris.csv')).code).toBe(2);
    const split = await aimaas('datasets', 'prepare', 'iris', '--target', 'species', '--task', 'classification', '--split', '0.5,0.5,0.5');
    expect(split.code).toBe(2);
    expect(split.stderr).toContain('--split 0.5,0.5,0.5: the fractions add up to 1.5, expected 1');
    const missing = await aimaas('datasets', 'show', 'ghost');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: NOT_FOUND: .*ghost/);
  });
});

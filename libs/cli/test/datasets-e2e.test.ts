import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '@aimaas/testing';
import { useCliStack } from './e2e-stack.js';
import { cliRunner } from './run-cli-harness.js';

const stack = useCliStack({ name: 'cli-datasets-e2e', preprocessing: true });
const aimaas = cliRunner(() => ({ env: stack.env, cwd: stack.dir }));

beforeAll(async () => {
  await copyFile(fixturePath('iris.csv'), join(stack.dir, 'iris.csv'));
});

describe('aimaas datasets against the real preprocessing service', () => {
  it('imports iris with an upload bar, profiles it, lists, shows and prepares it', async () => {
    const imported = await aimaas('datasets', 'import', 'iris.csv', '--name', 'iris', '--progress');
    expect(imported.code).toBe(0);
    expect(imported.stderr.startsWith('\r')).toBe(true);
    // The final frame is padded with spaces to the width of the frame it overwrites.
    expect(imported.stderr.split('\r').at(-1)).toMatch(
      /^upload {4}\[#{24}\] 100% {2}3\.87 kB \/ 3\.87 kB {2}\S+ [kMG]?B\/s *\n$/,
    );
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
      (
        await aimaas(
          '--json',
          'datasets',
          'prepare',
          'iris@1',
          '--target',
          'species',
          '--task',
          'classification',
          '--kfold',
          '5',
        )
      ).stdout,
    );
    expect(kfold.folds).toBe(5);
  }, 60_000);

  it('prepares the split a column names with --split-column', async () => {
    await writeFile(
      join(stack.dir, 'parts.csv'),
      'x,label,part\n1,a,train\n2,b,train\n3,a,test\n4,b,train\n5,a,validation\n6,b,test\n',
    );
    expect((await aimaas('datasets', 'import', 'parts.csv', '--name', 'parts')).code).toBe(0);
    const prepared = await aimaas(
      '--json',
      'datasets',
      'prepare',
      'parts',
      '--target',
      'label',
      '--task',
      'classification',
      '--split-column',
      'part',
    );
    expect(prepared.stderr).toBe('');
    expect(JSON.parse(prepared.stdout)).toMatchObject({
      featureNames: ['x'],
      splits: [
        { name: 'train', rows: 3 },
        { name: 'validation', rows: 1 },
        { name: 'test', rows: 2 },
      ],
    });
    const both = await aimaas(
      'datasets',
      'prepare',
      'parts',
      '--target',
      'label',
      '--task',
      'classification',
      '--split',
      '1,0,0',
      '--split-column',
      'part',
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give one of --split, --split-column or --kfold, not --split and --split-column');
  });

  it('skips malformed rows on request and reports them; fails on them otherwise', async () => {
    await writeFile(join(stack.dir, 'bad.csv'), 'a;b\n1;2\n3\n4;5\n');
    const failed = await aimaas('datasets', 'import', 'bad.csv', '--name', 'bad', '--delimiter', ';');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^error: INVALID_ARGUMENT: .*line 3/);
    const skipped = await aimaas(
      'datasets',
      'import',
      'bad.csv',
      '--name',
      'bad',
      '--delimiter',
      ';',
      '--skip-malformed',
    );
    expect(skipped.code).toBe(0);
    expect(skipped.stdout.split('\n')[0]).toMatch(
      /^Imported bad@1: 2 rows, 2 columns, .*, 1 malformed rows skipped\.$/,
    );
    expect(skipped.stdout).toMatch(/^Skipped rows:\s+1\n\s+line 3/m);
  });

  it('reports usage errors and NOT_FOUND the documented way', async () => {
    expect((await aimaas('datasets', 'import', 'iris.csv')).code).toBe(2);
    const split = await aimaas(
      'datasets',
      'prepare',
      'iris',
      '--target',
      'species',
      '--task',
      'classification',
      '--split',
      '0.5,0.5,0.5',
    );
    expect(split.code).toBe(2);
    expect(split.stderr).toContain('--split 0.5,0.5,0.5: the fractions add up to 1.5, expected 1');
    const missing = await aimaas('datasets', 'show', 'ghost');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: NOT_FOUND: .*ghost/);
  });
});

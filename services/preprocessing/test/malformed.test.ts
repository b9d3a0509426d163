import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ColumnType, DataFormat, ImportDatasetRequest, MalformedRowPolicy } from '@aimaas/proto';
import { waitFor, type TestNatsServer } from '@aimaas/testing';
import { objectNames, startNats, startService, type Running } from './harness.js';

let nats: TestNatsServer;
let service: Running;

// Small shards and a short inference window, so shards are already stored when a late row fails.
beforeAll(async () => {
  nats = await startNats();
  service = await startService(nats.url, { shardRows: 100, inferRows: 50 });
});
afterAll(async () => {
  await service?.close();
  await nats?.stop();
});

const FAIL = MalformedRowPolicy.MALFORMED_ROW_POLICY_FAIL;
const SKIP = MalformedRowPolicy.MALFORMED_ROW_POLICY_SKIP;

/** `count` good rows of five columns, numbered from `from`. */
const goodRows = (count: number, from = 0): string =>
  Array.from({ length: count }, (_, i) => `${from + i},${(from + i) * 0.5},c${(from + i) % 3},x,y\n`).join('');
const HEADER = 'a,b,c,d,e\n';

/** A file, the line of its one malformed row, and what FAIL and SKIP must say about it. */
interface Case {
  title: string;
  file: string | Buffer;
  line: number;
  column: string;
  message: string;
  /** Rows kept under SKIP. */
  kept: number;
}

const cases: Case[] = [
  {
    title: 'a ragged row',
    file: HEADER + goodRows(300) + '1,2,3,4\n' + goodRows(5, 300),
    line: 302,
    column: 'e',
    message: 'expected 5 columns, got 4',
    kept: 305,
  },
  {
    title: 'an unclosed quote',
    file: HEADER + goodRows(300) + '1,2,"open,4,5\n6,7,8,9,10\n',
    line: 302,
    column: '',
    message: 'unclosed quote (opened in field 3; the rest of the file, to line 304, is inside it)',
    kept: 300,
  },
  {
    title: 'bad UTF-8',
    file: Buffer.concat([
      Buffer.from(HEADER + goodRows(300) + '1,2,'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(',4,5\n' + goodRows(2, 300)),
    ]),
    line: 302,
    column: 'c',
    message: 'invalid UTF-8; expected the file to be UTF-8 text',
    kept: 302,
  },
  {
    title: 'a numeric column with "abc"',
    file: HEADER + goodRows(300) + 'abc,1,c1,x,y\n' + goodRows(3, 300),
    line: 302,
    column: 'a',
    message: 'value "abc" is not a number; expected a number such as 3.5 or -1e3',
    kept: 303,
  },
];

describe.each(cases)('a file with $title', ({ file, line, column, message, kept }) => {
  it('fails under FAIL naming the line (and column), and stores nothing', async () => {
    const name = `fail-${line}-${column || 'row'}-${message.length}`;
    const before = await objectNames(service.objects);
    const where =
      message.startsWith('expected ') || column === '' ? `line ${line}` : `line ${line}, column "${column}"`;
    await expect(
      service.api.importDataset({ name, onMalformed: FAIL }, file, { chunkSize: 512 }),
    ).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: `${where}: ${message}`,
    });
    expect(await objectNames(service.objects)).toEqual(before);
    await expect(service.api.getDataset({ ref: { name } })).rejects.toMatchObject({ code: status.NOT_FOUND });
    // No version number was spent either.
    await expect(service.api.importDataset({ name }, 'a\n1\n')).resolves.toMatchObject({ version: 1 });
  });

  it('skips the row under SKIP, counting it and keeping it as an example', async () => {
    const dataset = await service.api.importDataset({ name: `skip-${line}`, onMalformed: SKIP }, file, {
      chunkSize: 512,
    });
    expect(dataset).toMatchObject({ rows: kept, skippedRows: 1, malformedExamples: [{ line, column, message }] });
  });
});

describe('files without rows', () => {
  it.each([
    ['an empty file', ''],
    ['only blank lines and a BOM', '\uFEFF\n\r\n\n'],
  ])('rejects %s as "dataset is empty" under both policies', async (_title, file) => {
    for (const onMalformed of [FAIL, SKIP]) {
      await expect(service.api.importDataset({ name: 'empty', onMalformed }, file)).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: 'dataset is empty',
      });
    }
  });

  it('rejects a header without rows as "no data rows" under both policies', async () => {
    for (const onMalformed of [FAIL, SKIP]) {
      await expect(service.api.importDataset({ name: 'header-only', onMalformed }, 'a,b,c\n')).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: expect.stringMatching(/^no data rows/),
      });
    }
  });

  it('rejects a file whose every row is malformed under SKIP, quoting the first', async () => {
    await expect(
      service.api.importDataset({ name: 'all-bad', onMalformed: SKIP }, 'a,b\n1\n2\n'),
    ).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: 'no data rows: all 2 rows were malformed (the first, line 2, column "b": expected 2 columns, got 1)',
    });
  });
});

describe('SKIP', () => {
  it('counts every skipped row but keeps the first 10 examples', async () => {
    const bad = Array.from({ length: 15 }, (_, i) => `${i},oops\n`).join('');
    const dataset = await service.api.importDataset(
      { name: 'many-bad', onMalformed: SKIP, columnTypes: { b: ColumnType.COLUMN_TYPE_NUMERIC } },
      `a,b\n${bad}1,2\n`,
    );
    expect(dataset.rows).toBe(1);
    expect(dataset.skippedRows).toBe(15);
    expect(dataset.malformedExamples.map((e) => e.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(dataset.malformedExamples[0]).toEqual({
      line: 2,
      column: 'b',
      message: 'value "oops" is not a number; expected a number such as 3.5 or -1e3',
    });
  });

  it('rejects a malformed header row whatever the policy', async () => {
    await expect(service.api.importDataset({ name: 'dup', onMalformed: SKIP }, 'a,b,a\n1,2,3\n')).rejects.toMatchObject(
      {
        code: status.INVALID_ARGUMENT,
        details: expect.stringContaining('column name "a" appears twice (columns 1 and 3)'),
      },
    );
  });
});

describe('a cancelled import', () => {
  it('leaves no shards and no dataset behind', async () => {
    const before = await objectNames(service.objects);
    const call = service.client.importDataset(() => undefined);
    call.write(ImportDatasetRequest.fromPartial({ header: { name: 'cancelled', format: DataFormat.DATA_FORMAT_CSV } }));
    call.write({ chunk: Buffer.from(HEADER + goodRows(450)) });
    // Shards of 100 rows are stored while the call stays open.
    await waitFor(async () => (await objectNames(service.objects)).length >= before.length + 2, {
      message: 'shards of the open import',
    });
    call.cancel();
    await waitFor(async () => (await objectNames(service.objects)).length === before.length, {
      message: 'the shards removed again',
    });
    await expect(service.api.getDataset({ ref: { name: 'cancelled' } })).rejects.toMatchObject({
      code: status.NOT_FOUND,
    });
  });
});

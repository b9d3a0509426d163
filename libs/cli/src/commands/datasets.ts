import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import {
  DataFormat,
  Dataset,
  ImportHeader,
  ListDatasetsResponse,
  MalformedRowPolicy,
  PreparedDataset,
  Task,
  type DatasetRef,
  type ImportDatasetRequest,
  type PrepareDatasetRequest,
} from '@aimaas/proto';
import { parsePositiveInt, parseKeyValues, UsageError, type CommandGroup, type CommandSpec } from '../command.js';
import { datasetDetails, datasetLabel, datasetsTable, preparedDetails } from '../output/dataset-views.js';
import { formatBytes } from '../output/format.js';
import { collectPages } from './models.js';
import { withProgress } from './models-changes.js';

/** Bytes per ImportDataset chunk message. */
const CHUNK_BYTES = 256 * 1024;

const FORMATS: Record<string, DataFormat> = {
  csv: DataFormat.DATA_FORMAT_CSV,
  jsonl: DataFormat.DATA_FORMAT_JSONL,
  ndjson: DataFormat.DATA_FORMAT_JSONL,
  json: DataFormat.DATA_FORMAT_JSON,
};

/** The format of an import: `--format`, else the file extension (`.csv`, `.jsonl`/`.ndjson`, `.json`). */
function importFormat(path: string, flag: string | undefined): DataFormat {
  const word = flag ?? extname(path).slice(1).toLowerCase();
  const format = FORMATS[word];
  if (format === undefined) {
    throw new UsageError(
      flag === undefined
        ? `cannot tell the format of ${basename(path)}: give --format csv|jsonl|json`
        : `--format ${flag}: expected csv, jsonl or json`,
    );
  }
  return format;
}

/** `name` (latest) or `name@3` as a DatasetRef (version 0 = latest). */
export function datasetRefArg(text: string): DatasetRef {
  const at = text.lastIndexOf('@');
  if (at < 0) {
    if (text === '') throw new UsageError('dataset name must not be empty');
    return { name: text, version: 0 };
  }
  const name = text.slice(0, at);
  if (name === '') throw new UsageError(`dataset ${text}: name must not be empty`);
  return { name, version: parsePositiveInt(`dataset ${name} version`, text.slice(at + 1))! };
}

/** `0.7,0.15,0.15` as train/validation/test fractions summing to 1. */
export function parseSplit(text: string): { train: number; validation: number; test: number } {
  const parts = text.split(',').map((p) => Number(p));
  if (parts.length !== 3 || parts.some((p) => p.toString() === 'NaN' || p < 0 || p > 1)) {
    throw new UsageError(`--split ${text}: expected three fractions train,validation,test such as 0.7,0.15,0.15`);
  }
  const sum = parts[0]! + parts[1]! + parts[2]!;
  if (Math.abs(sum - 1) > 1e-6) throw new UsageError(`--split ${text}: the fractions add up to ${sum}, expected 1`);
  return { train: parts[0]!, validation: parts[1]!, test: parts[2]! };
}

const importCommand: CommandSpec = {
  name: 'import',
  args: '<file>',
  summary: 'Import a CSV, JSON Lines or JSON file as a new dataset version and profile it',
  options: {
    name: { type: 'string', value: 'name', description: 'Dataset name (required)' },
    format: { type: 'string', value: 'csv|jsonl|json', description: 'File format (default from the extension)' },
    delimiter: { type: 'string', value: 'char', description: 'CSV delimiter (default ,)' },
    'skip-malformed': { type: 'boolean', description: 'Skip malformed rows (counted and reported) instead of failing' },
    description: { type: 'string', value: 'text', description: 'What the data is' },
    tags: { type: 'string', multiple: true, value: 'k=v', description: 'A tag (repeatable)' },
  },
  minArgs: 1,
  async run(ctx, [file], values) {
    const name = values.name as string | undefined;
    if (name === undefined || name === '')
      throw new UsageError('--name is required', 'aimaas datasets import <file> --name <name>');
    const format = importFormat(file!, values.format as string | undefined);
    const delimiter = values.delimiter as string | undefined;
    if (delimiter !== undefined && delimiter.length !== 1)
      throw new UsageError(`--delimiter ${delimiter}: expected one character`);
    const path = ctx.resolvePath(file!);
    const total = (await stat(path)).size;
    const header = ImportHeader.fromPartial({
      name,
      format,
      csv: { delimiter: delimiter ?? '' },
      onMalformed:
        values['skip-malformed'] === true
          ? MalformedRowPolicy.MALFORMED_ROW_POLICY_SKIP
          : MalformedRowPolicy.MALFORMED_ROW_POLICY_FAIL,
      description: (values.description as string | undefined) ?? '',
      tags: parseKeyValues('tags', values.tags),
    });
    const dataset = await withProgress(ctx, 'upload', async (onProgress) => {
      async function* requests(): AsyncGenerator<Partial<ImportDatasetRequest>> {
        yield { header };
        let sent = 0;
        onProgress?.(0, total);
        for await (const chunk of createReadStream(path, { highWaterMark: CHUNK_BYTES })) {
          yield { chunk: chunk as Buffer };
          sent += (chunk as Buffer).byteLength;
          onProgress?.(sent, total);
        }
      }
      return ctx.clients().preprocessing.importDataset(requests(), ctx.callOptions);
    });
    if (ctx.json) return ctx.printJson(Dataset.toJSON(dataset));
    const skipped = dataset.skippedRows > 0 ? `, ${dataset.skippedRows} malformed rows skipped` : '';
    ctx.print(
      `Imported ${datasetLabel(dataset)}: ${dataset.rows} rows, ${dataset.columns.length} columns, ${formatBytes(dataset.bytes)}${skipped}.`,
    );
    ctx.print(datasetDetails(dataset));
  },
};

const list: CommandSpec = {
  name: 'list',
  args: '',
  summary: 'List datasets (every version)',
  options: { name: { type: 'string', value: 'name', description: 'Only versions of this dataset' } },
  minArgs: 0,
  async run(ctx, _args, values) {
    const datasets = await collectPages(async (pageToken) => {
      const page = await ctx
        .clients()
        .preprocessing.listDatasets({ pageToken, name: (values.name as string | undefined) ?? '' }, ctx.callOptions);
      return { items: page.datasets, next: page.nextPageToken };
    });
    if (ctx.json) return ctx.printJson(ListDatasetsResponse.toJSON({ datasets, nextPageToken: '' }));
    if (datasets.length === 0) return ctx.note('No datasets.');
    ctx.print(datasetsTable(datasets));
  },
};

const show: CommandSpec = {
  name: 'show',
  args: '<name>[@version]',
  summary: 'Show a dataset version and its column profile',
  minArgs: 1,
  async run(ctx, [text]) {
    const dataset = await ctx.clients().preprocessing.getDataset({ ref: datasetRefArg(text!) }, ctx.callOptions);
    if (ctx.json) return ctx.printJson(Dataset.toJSON(dataset));
    ctx.print(datasetDetails(dataset));
  },
};

const TASKS: Record<string, Task> = { classification: Task.TASK_CLASSIFICATION, regression: Task.TASK_REGRESSION };
const PREPARE_USAGE =
  'aimaas datasets prepare <name>[@version] --target <col> --task classification|regression [--features a,b] [--split 0.7,0.15,0.15 | --split-column col | --kfold K] [--seed N]';

/** The PrepareDataset request of `datasets prepare` from its arguments. */
export function prepareRequest(text: string, values: Record<string, unknown>): Partial<PrepareDatasetRequest> {
  const target = values.target as string | undefined;
  if (target === undefined || target === '') throw new UsageError('--target is required', PREPARE_USAGE);
  const taskText = values.task as string | undefined;
  if (taskText === undefined) throw new UsageError('--task is required', PREPARE_USAGE);
  const task = TASKS[taskText];
  if (task === undefined)
    throw new UsageError(`--task ${taskText}: expected classification or regression`, PREPARE_USAGE);
  const partitions = ['split', 'split-column', 'kfold'].filter((flag) => values[flag] !== undefined);
  if (partitions.length > 1)
    throw new UsageError(
      `give one of --split, --split-column or --kfold, not ${partitions.map((f) => `--${f}`).join(' and ')}`,
      PREPARE_USAGE,
    );
  const splitColumn = values['split-column'] as string | undefined;
  if (splitColumn === '') throw new UsageError('--split-column must name a column', PREPARE_USAGE);
  const features = ((values.features as string | undefined) ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '');
  const seedText = values.seed as string | undefined;
  const seed = seedText === undefined || seedText === '0' ? 0 : parsePositiveInt('--seed', seedText)!;
  if (seed > 0xffffffff) throw new UsageError(`--seed ${seedText}: expected at most ${0xffffffff}`);
  return {
    dataset: datasetRefArg(text),
    target,
    task,
    features,
    seed,
    ...(values.kfold !== undefined ? { kfold: { folds: parsePositiveInt('--kfold', values.kfold as string)! } } : {}),
    ...(values.split !== undefined ? { split: { ...parseSplit(values.split as string), column: '' } } : {}),
    ...(splitColumn !== undefined ? { split: { train: 0, validation: 0, test: 0, column: splitColumn } } : {}),
  };
}

const prepare: CommandSpec = {
  name: 'prepare',
  args: '<name>[@version]',
  summary: 'Fit a pipeline and split a dataset into training tensors',
  options: {
    target: { type: 'string', value: 'col', description: 'Target column (required)' },
    task: { type: 'string', value: 'classification|regression', description: 'Task (required)' },
    features: { type: 'string', value: 'a,b', description: 'Feature columns (default: every column but the target)' },
    split: { type: 'string', value: 'train,val,test', description: 'Split fractions (default 0.7,0.15,0.15)' },
    'split-column': {
      type: 'string',
      value: 'col',
      description: "Column naming each row's split (train, validation or test) instead of fractions",
    },
    kfold: { type: 'string', value: 'k', description: 'K folds instead of a split' },
    seed: { type: 'string', value: 'n', description: 'Seed of the shuffle and split' },
  },
  minArgs: 1,
  async run(ctx, [text], values) {
    const prepared = await ctx.clients().preprocessing.prepareDataset(prepareRequest(text!, values), ctx.callOptions);
    if (ctx.json) return ctx.printJson(PreparedDataset.toJSON(prepared));
    ctx.print(`Prepared ${prepared.id}.`);
    ctx.print(preparedDetails(prepared));
  },
};

/** `aimaas datasets …`: the preprocessing service. */
export const datasetsGroup: CommandGroup = {
  name: 'datasets',
  summary: 'Datasets: import and profile files, prepare training splits',
  commands: [importCommand, list, show, prepare],
};

import {
  ColumnType,
  columnTypeToJSON,
  dataFormatToJSON,
  type ColumnProfile,
  type Dataset,
  type PreparedDataset,
} from '@aimaas/proto';
import {
  formatBytes,
  formatDate,
  formatFields,
  formatList,
  formatNumber,
  formatRecord,
  formatTable,
  formatTask,
  NONE,
  truncate,
} from './format.js';
import { enumWord } from './serving-views.js';

const NUMERIC = new Set([ColumnType.COLUMN_TYPE_NUMERIC, ColumnType.COLUMN_TYPE_INTEGER]);

/** `name@version`. */
export function datasetLabel(d: { name: string; version: number }): string {
  return d.version > 0 ? `${d.name}@${d.version}` : d.name;
}

/** What the SUMMARY cell of a profile shows: mean/min/max for numbers, top values for categories, lengths for text. */
function summary(c: ColumnProfile): string {
  if (NUMERIC.has(c.type)) return `mean=${formatNumber(c.mean)} min=${formatNumber(c.min)} max=${formatNumber(c.max)}`;
  if (c.type === ColumnType.COLUMN_TYPE_TEXT) {
    return `length ${formatNumber(c.minLength)}..${formatNumber(c.maxLength)} (mean ${formatNumber(c.meanLength)})`;
  }
  if (c.topValues.length > 0)
    return truncate(
      c.topValues
        .slice(0, 5)
        .map((v) => `${v.value}(${v.count})`)
        .join(' '),
      60,
    );
  return NONE;
}

/** The column profile table of `datasets import` and `datasets show`. */
function profileTable(columns: readonly ColumnProfile[]): string {
  return formatTable(
    ['column', 'type', { header: 'missing', align: 'right' }, { header: 'distinct', align: 'right' }, 'summary'],
    columns.map((c) => [
      c.name,
      enumWord(columnTypeToJSON(c.type), 'COLUMN_TYPE_'),
      String(c.missing),
      String(c.distinct),
      summary(c),
    ]),
  );
}

/** The table of `datasets list`. */
export function datasetsTable(datasets: readonly Dataset[]): string {
  return formatTable(
    [
      'name',
      { header: 'version', align: 'right' },
      'format',
      { header: 'rows', align: 'right' },
      { header: 'columns', align: 'right' },
      { header: 'size', align: 'right' },
      'created',
      'description',
    ],
    datasets.map((d) => [
      d.name,
      String(d.version),
      enumWord(dataFormatToJSON(d.format), 'DATA_FORMAT_'),
      String(d.rows),
      String(d.columns.length),
      formatBytes(d.bytes),
      formatDate(d.createdAt),
      truncate(d.description, 40),
    ]),
  );
}

/** The header fields of `datasets show` and `datasets import`, then the profile table. */
export function datasetDetails(d: Dataset): string {
  const fields: [string, string][] = [
    ['Dataset', datasetLabel(d)],
    ['Format', enumWord(dataFormatToJSON(d.format), 'DATA_FORMAT_')],
    ['Rows', String(d.rows)],
    ['Size', formatBytes(d.bytes)],
    ['SHA-256', d.sha256 || NONE],
    ['Created', formatDate(d.createdAt)],
  ];
  if (d.description !== '') fields.push(['Description', d.description]);
  if (Object.keys(d.tags).length > 0) fields.push(['Tags', formatRecord(d.tags)]);
  if (d.skippedRows > 0) {
    const examples = d.malformedExamples.map((m) => `line ${m.line}${m.column ? ` (${m.column})` : ''}: ${m.message}`);
    fields.push(['Skipped rows', [String(d.skippedRows), ...examples].join('\n')]);
  }
  return `${formatFields(fields)}\n\n${profileTable(d.columns)}`;
}

/** `datasets prepare`: the prepared dataset's id, features and splits. */
export function preparedDetails(p: PreparedDataset): string {
  const fields = formatFields([
    ['Prepared dataset', p.id],
    ['Dataset', p.dataset ? datasetLabel(p.dataset) : NONE],
    ['Task', formatTask(p.task)],
    ['Target', p.target || NONE],
    ['Features', `${p.featureNames.length} (shape [${p.featureShape.join(',')}])`],
    ['Classes', formatList(p.classLabels)],
    ['Seed', String(p.seed)],
    ...(p.folds > 0 ? ([['Folds', String(p.folds)]] as [string, string][]) : []),
    ['Created', formatDate(p.createdAt)],
  ]);
  const splits = formatTable(
    ['split', { header: 'rows', align: 'right' }, 'classes'],
    p.splits.map((s) => [s.name, String(s.rows), formatRecord(s.classCounts)]),
  );
  return `${fields}\n\n${splits}`;
}

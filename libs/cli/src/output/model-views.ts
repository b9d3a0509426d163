import {
  lineageNodeKindToJSON,
  type AliasChange,
  type GetLineageResponse,
  type Lineage,
  type ModelFile,
  type ModelVersion,
  type RegisteredModel,
  type TensorSpec,
} from '@aimaas/proto';
import { formatModelRef } from '@aimaas/sdk';
import {
  formatBytes,
  formatDate,
  formatFields,
  formatList,
  formatRecord,
  formatTable,
  formatTask,
  formatVersion,
  NONE,
  truncate,
} from './format.js';

/** `production=2,staging=3`, sorted by alias. */
function aliasMap(aliases: Record<string, number>): string {
  return formatRecord(aliases);
}

/** The table of `models list`. */
export function modelsTable(models: readonly RegisteredModel[]): string {
  return formatTable(
    [
      'name',
      { header: 'latest', align: 'right' },
      { header: 'versions', align: 'right' },
      'aliases',
      'updated',
      'description',
    ],
    models.map((m) => [
      m.name,
      formatVersion(m.latestVersion),
      String(m.versionCount),
      aliasMap(m.aliases),
      formatDate(m.updatedAt ?? m.createdAt),
      truncate(m.description, 40),
    ]),
  );
}

/** The table of `models versions` (without the name column) and `models search` (with it). */
export function versionsTable(versions: readonly ModelVersion[], withName: boolean): string {
  const sizes = versions.map((v) => v.files.reduce((sum, f) => sum + f.size, 0));
  return formatTable(
    [
      ...(withName ? ['name'] : []),
      { header: 'version', align: 'right' as const },
      'aliases',
      'task',
      'metrics',
      { header: 'files', align: 'right' as const },
      { header: 'size', align: 'right' as const },
      'created',
    ],
    versions.map((v, i) => [
      ...(withName ? [v.name] : []),
      String(v.version),
      formatList(v.aliases),
      formatTask(v.task),
      formatRecord(v.metrics),
      String(v.files.length),
      formatBytes(sizes[i]!),
      formatDate(v.createdAt),
    ]),
  );
}

/** `models show <name>`. */
export function modelDetails(model: RegisteredModel): string {
  return formatFields([
    ['Name', model.name],
    ['Description', model.description || NONE],
    ['Tags', formatRecord(model.tags)],
    ['Latest version', formatVersion(model.latestVersion)],
    ['Versions', String(model.versionCount)],
    ['Aliases', aliasMap(model.aliases)],
    ['Created', formatDate(model.createdAt)],
    ['Updated', formatDate(model.updatedAt)],
  ]);
}

/** `models show <name>@<version|alias>`: the fields, then the files. */
export function versionDetails(version: ModelVersion): string {
  const specs = (list: readonly TensorSpec[] | undefined): string =>
    list && list.length > 0 ? list.map((t) => `${t.name} ${t.datatype} [${t.shape.join(',')}]`).join('\n') : NONE;
  const fields = formatFields([
    ['Name', version.name],
    ['Version', String(version.version)],
    ['Aliases', formatList(version.aliases)],
    ['Description', version.description || NONE],
    ['Task', formatTask(version.task)],
    ['Created', `${formatDate(version.createdAt)}${version.createdBy ? ` by ${version.createdBy}` : ''}`],
    ['Tags', formatRecord(version.tags)],
    ['Params', formatRecord(version.params)],
    ['Metrics', formatRecord(version.metrics)],
    ['Class labels', formatList(version.classLabels)],
    ['Inputs', specs(version.signature?.inputs)],
    ['Outputs', specs(version.signature?.outputs)],
    ['Lineage', lineageSummary(version.lineage)],
  ]);
  return `${fields}\n\n${filesTable(version.files)}`;
}

/** A version's files: path, format, size, digest prefix. */
export function filesTable(files: readonly Pick<ModelFile, 'path' | 'format' | 'size' | 'sha256'>[]): string {
  return formatTable(
    ['path', 'format', { header: 'size', align: 'right' }, 'sha256'],
    files.map((f) => [f.path, f.format || NONE, formatBytes(f.size), f.sha256 ? f.sha256.slice(0, 12) : NONE]),
  );
}

/** One line naming where a version came from. */
function lineageSummary(lineage: Lineage | undefined): string {
  if (lineage === undefined) return NONE;
  const parts: string[] = [];
  if (lineage.dataset?.name) {
    parts.push(`dataset ${lineage.dataset.name}${lineage.dataset.version ? `@${lineage.dataset.version}` : ''}`);
  }
  if (lineage.preparedDatasetId) parts.push(`prepared ${lineage.preparedDatasetId}`);
  if (lineage.trainingJobId) parts.push(`training job ${lineage.trainingJobId}`);
  if (lineage.parent?.name) parts.push(`parent ${formatModelRef(lineage.parent)}`);
  if (lineage.compressionJobId) parts.push(`compression job ${lineage.compressionJobId}`);
  return parts.length > 0 ? parts.join(', ') : NONE;
}

/** `models history`: newest first. */
export function historyTable(changes: readonly AliasChange[]): string {
  return formatTable(
    ['time', 'alias', { header: 'from', align: 'right' }, { header: 'to', align: 'right' }, 'actor', 'reason'],
    changes.map((c) => [
      formatDate(c.changedAt),
      c.alias,
      formatVersion(c.fromVersion),
      formatVersion(c.toVersion),
      c.actor || NONE,
      truncate(c.reason, 50),
    ]),
  );
}

/** `models lineage`: the nodes (the asked version first), then the edges. */
export function lineageView(lineage: GetLineageResponse): string {
  const nodes = formatTable(
    ['node', 'kind', 'created', 'metrics'],
    lineage.nodes.map((n) => [
      n.id,
      lineageNodeKindToJSON(n.kind)
        .replace(/^LINEAGE_NODE_KIND_/, '')
        .toLowerCase()
        .replace(/_/g, '-'),
      formatDate(n.version?.createdAt),
      n.version ? formatRecord(n.version.metrics) : NONE,
    ]),
  );
  if (lineage.edges.length === 0) return nodes;
  const edges = formatTable(
    ['from', 'relation', 'to'],
    lineage.edges.map((e) => [e.from, e.relation, e.to]),
  );
  return `${nodes}\n\n${edges}`;
}

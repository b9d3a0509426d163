import { Lineage, LineageNodeKind, type GetLineageResponse, type LineageEdge, type LineageNode } from '@aimaas/proto';
import type { ModelStore } from './model-store.js';
import { aliasesOf, toModelVersion, type StoredModel, type StoredVersion } from './records.js';
import type { ResolvedVersion } from './model-store.js';

/** How far GetLineage follows parents before it stops (guards against a cycle of bad records). */
const MAX_DEPTH = 64;

/** The lineage node id of a model version: `model:fmnist@3`. */
function modelNodeId(name: string, version: number): string {
  return `model:${name}@${version}`;
}

/** The lineage node id of a dataset: `dataset:iris@1` (`@latest` for version 0). */
function datasetNodeId(name: string, version: number): string {
  return `dataset:${name}@${version === 0 ? 'latest' : version}`;
}

interface Walk {
  nodes: LineageNode[];
  edges: LineageEdge[];
  seen: Set<string>;
}

function addNode(walk: Walk, id: string, kind: LineageNodeKind): boolean {
  if (walk.seen.has(id)) return false;
  walk.seen.add(id);
  walk.nodes.push({ id, kind, version: undefined });
  return true;
}

/**
 * GetLineage: the asked version first, then its ancestors nearest first (breadth first), with
 * edges "from was made from to": `derived_from` (parent version), `produced_by` (training or
 * compression job), `trained_on` (prepared dataset, or the dataset when there is none) and
 * `prepared_from` (prepared dataset to dataset). Parents named by alias resolve to where the
 * alias points now; a parent that no longer exists is a node without `version`.
 *
 * @example
 * // compressed fmnist@3 ← trained fmnist@2 ← prepared p1 ← dataset iris@1
 * nodes: model:fmnist@3, model:fmnist@2, compression-job:c1, training-job:t1, prepared:p1, dataset:iris@1
 */
export async function walkLineage(store: ModelStore, start: ResolvedVersion): Promise<GetLineageResponse> {
  const walk: Walk = { nodes: [], edges: [], seen: new Set() };
  const models = new Map<string, StoredModel | undefined>([[start.model.name, start.model]]);
  const modelOf = async (name: string): Promise<StoredModel | undefined> => {
    if (!models.has(name)) models.set(name, (await store.findModel(name))?.value);
    return models.get(name);
  };

  const startId = modelNodeId(start.version.value.name, start.version.value.version);
  addNode(walk, startId, LineageNodeKind.LINEAGE_NODE_KIND_MODEL_VERSION);
  const queue: Array<{ id: string; version: StoredVersion; depth: number }> = [
    { id: startId, version: start.version.value, depth: 0 },
  ];
  while (queue.length > 0) {
    const { id, version, depth } = queue.shift()!;
    const node = walk.nodes.find((n) => n.id === id)!;
    node.version = toModelVersion(version, aliasesOf(await modelOf(version.name), version.version));
    if (version.lineage === undefined) continue;
    const lineage = Lineage.fromJSON(version.lineage);

    if (lineage.parent && lineage.parent.name !== '') {
      const parent = await resolveParent(store, await modelOf(lineage.parent.name), lineage.parent);
      const parentId = parent ? modelNodeId(parent.name, parent.version) : parentLabel(lineage.parent);
      walk.edges.push({ from: id, to: parentId, relation: 'derived_from' });
      if (addNode(walk, parentId, LineageNodeKind.LINEAGE_NODE_KIND_MODEL_VERSION) && parent && depth < MAX_DEPTH) {
        queue.push({ id: parentId, version: parent, depth: depth + 1 });
      }
    }
    for (const [jobId, prefix] of [
      [lineage.compressionJobId, 'compression-job'],
      [lineage.trainingJobId, 'training-job'],
    ] as const) {
      if (jobId === '') continue;
      const jobNode = `${prefix}:${jobId}`;
      const kind =
        prefix === 'compression-job'
          ? LineageNodeKind.LINEAGE_NODE_KIND_COMPRESSION_JOB
          : LineageNodeKind.LINEAGE_NODE_KIND_TRAINING_JOB;
      addNode(walk, jobNode, kind);
      walk.edges.push({ from: id, to: jobNode, relation: 'produced_by' });
    }
    let datasetFrom = id;
    if (lineage.preparedDatasetId !== '') {
      const prepared = `prepared:${lineage.preparedDatasetId}`;
      addNode(walk, prepared, LineageNodeKind.LINEAGE_NODE_KIND_PREPARED_DATASET);
      walk.edges.push({ from: id, to: prepared, relation: 'trained_on' });
      datasetFrom = prepared;
    }
    if (lineage.dataset && lineage.dataset.name !== '') {
      const dataset = datasetNodeId(lineage.dataset.name, lineage.dataset.version);
      addNode(walk, dataset, LineageNodeKind.LINEAGE_NODE_KIND_DATASET);
      const relation = datasetFrom === id ? 'trained_on' : 'prepared_from';
      if (!walk.edges.some((e) => e.from === datasetFrom && e.to === dataset))
        walk.edges.push({ from: datasetFrom, to: dataset, relation });
    }
  }
  return { nodes: walk.nodes, edges: walk.edges };
}

async function resolveParent(
  store: ModelStore,
  model: StoredModel | undefined,
  ref: { name: string; version?: number | undefined; alias?: string | undefined },
): Promise<StoredVersion | undefined> {
  if (!model) return undefined;
  let version = ref.version ?? 0;
  if (version === 0 && ref.alias) version = model.aliases[ref.alias] ?? 0;
  if (version === 0) return undefined;
  return (await store.findVersion(model.name, version))?.value;
}

function parentLabel(ref: { name: string; version?: number | undefined; alias?: string | undefined }): string {
  if (ref.version) return modelNodeId(ref.name, ref.version);
  return `model:${ref.name}@${ref.alias || 'latest'}`;
}

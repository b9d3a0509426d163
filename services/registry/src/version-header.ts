import { InvalidArgumentError, NotFoundError } from '@aimaas/runtime';
import { Task, type Lineage, type ModelVersionHeader, type Signature } from '@aimaas/proto';
import type { ModelStore } from './model-store.js';
import { lineageJson, signatureJson } from './records.js';
import type { VersionDraft } from './version-allocator.js';
import { resolveRef } from './model-store.js';
import {
  validateDescription,
  validateKeyList,
  validateMetrics,
  validateModelName,
  validateStringMap,
} from './validation.js';

const TASKS = new Set<number>([
  Task.TASK_UNSPECIFIED,
  Task.TASK_CLASSIFICATION,
  Task.TASK_REGRESSION,
  Task.TASK_RECONSTRUCTION,
]);
const MAX_PIPELINE_JSON = 512 * 1024;
/** A version record is one KV value, and NATS carries at most 1 MiB per message by default. */
const MAX_RECORD_BYTES = 900 * 1024;

function validateSignature(signature: Signature | undefined): void {
  if (!signature) return;
  for (const side of ['inputs', 'outputs'] as const) {
    signature[side].forEach((spec, i) => {
      const field = `header.signature.${side}[${i}]`;
      if (spec.shape.some((d) => !Number.isSafeInteger(d) || d < -1)) {
        throw new InvalidArgumentError(
          `${field}.shape: dimensions must be whole numbers ≥ 0, or -1 for any size; got [${spec.shape.join(', ')}]`,
        );
      }
    });
  }
}

function validatePipelineJson(text: string): void {
  if (text === '') return;
  if (text.length > MAX_PIPELINE_JSON) {
    throw new InvalidArgumentError(`header.pipeline_json: is ${text.length} characters; at most ${MAX_PIPELINE_JSON}`);
  }
  try {
    JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`header.pipeline_json: not valid JSON (${(error as Error).message})`);
  }
}

/**
 * Lineage parents are pinned to a version number at registration: a parent named by alias or as
 * "latest" is resolved now, so the lineage stays true when the alias later moves.
 */
async function pinLineage(store: ModelStore, lineage: Lineage | undefined): Promise<Lineage | undefined> {
  if (!lineage?.parent || lineage.parent.name === '') return lineage;
  try {
    const parent = await resolveRef(store, lineage.parent, 'header.lineage.parent');
    return { ...lineage, parent: { name: parent.version.value.name, version: parent.version.value.version } };
  } catch (error) {
    if (error instanceof NotFoundError) {
      throw new InvalidArgumentError(`header.lineage.parent: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/**
 * Validates a CreateModelVersion header (name, tags, params, finite metrics, task, signature,
 * pipeline JSON, lineage parent) and turns it into a version draft without files.
 */
export async function draftFromHeader(
  store: ModelStore,
  header: ModelVersionHeader,
  opts: { actor: string; at: Date },
): Promise<Omit<VersionDraft, 'files'>> {
  validateModelName(header.name, 'header.name');
  validateDescription(header.description, 'header.description');
  validateStringMap(header.tags, 'header.tags');
  validateStringMap(header.params, 'header.params');
  validateMetrics(header.metrics, 'header.metrics');
  if (!TASKS.has(header.task)) throw new InvalidArgumentError(`header.task: unknown task ${header.task}`);
  validateKeyList(header.classLabels, 'header.class_labels');
  validateSignature(header.signature);
  validatePipelineJson(header.pipelineJson);
  const lineage = await pinLineage(store, header.lineage);
  const at = opts.at.toISOString();
  const draft: Omit<VersionDraft, 'files'> = {
    name: header.name,
    createdAt: at,
    updatedAt: at,
    description: header.description,
    tags: { ...header.tags },
    params: { ...header.params },
    metrics: { ...header.metrics },
    task: header.task,
    classLabels: [...header.classLabels],
    pipelineJson: header.pipelineJson,
    createdBy: opts.actor,
  };
  if (header.signature) draft.signature = signatureJson(header.signature);
  if (lineage) draft.lineage = lineageJson(lineage);
  const bytes = Buffer.byteLength(JSON.stringify(draft));
  if (bytes > MAX_RECORD_BYTES) {
    throw new InvalidArgumentError(
      `header: the version's metadata takes ${bytes} bytes as JSON; at most ${MAX_RECORD_BYTES} (keep large data in files)`,
    );
  }
  return draft;
}

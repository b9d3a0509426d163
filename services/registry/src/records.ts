import {
  Lineage,
  Signature,
  type Task,
  taskName,
  type ModelFile,
  type ModelVersion,
  type RegisteredModel,
} from '@aimaas/proto';
import type { SearchRecord } from './filter-eval.js';

/** A registered model as stored under `models.<name>` in the registry bucket. */
export interface StoredModel {
  name: string;
  description: string;
  tags: Record<string, string>;
  /** ISO-8601 UTC. */
  createdAt: string;
  updatedAt: string;
  /** The highest version number ever committed (numbers are never reused). */
  latestVersion: number;
  /** Version numbers up to latestVersion that are not live (deleted or rolled back). */
  deletedVersions: number[];
  aliases: Record<string, number>;
  /** The last alias-history sequence number used. */
  aliasSeq: number;
  /** Tells this incarnation of the name from an earlier model of the same name. */
  uid: string;
  /** Set while DeleteRegisteredModel removes versions; the model then reads as absent. */
  deleting?: boolean;
}

/** One artifact file of a stored version: its public description plus the object holding it. */
export interface StoredFile {
  format: string;
  path: string;
  size: number;
  sha256: string;
  /** Object name in the artifact store. */
  object: string;
}

/** A model version as stored under `versions.<name>.<version>`; aliases live on the model. */
export interface StoredVersion {
  name: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  description: string;
  tags: Record<string, string>;
  params: Record<string, string>;
  metrics: Record<string, number>;
  task: number;
  classLabels: string[];
  /** protobuf-JSON of the Signature, when set. */
  signature?: unknown;
  pipelineJson: string;
  /** protobuf-JSON of the Lineage, when set. */
  lineage?: unknown;
  files: StoredFile[];
  createdBy: string;
  /** The StoredModel.uid this version belongs to. */
  modelUid: string;
}

/** Live versions of a model: every number up to latestVersion that is not deleted. */
function liveVersionCount(model: StoredModel): number {
  return model.latestVersion - model.deletedVersions.length;
}

/** The public RegisteredModel of a stored record. */
export function toRegisteredModel(model: StoredModel): RegisteredModel {
  return {
    name: model.name,
    description: model.description,
    tags: { ...model.tags },
    createdAt: new Date(model.createdAt),
    updatedAt: new Date(model.updatedAt),
    latestVersion: model.latestVersion,
    aliases: { ...model.aliases },
    versionCount: liveVersionCount(model),
  };
}

/** Alias names pointing at `version`, sorted. */
export function aliasesOf(model: StoredModel | undefined, version: number): string[] {
  if (!model) return [];
  return Object.entries(model.aliases)
    .filter(([, v]) => v === version)
    .map(([alias]) => alias)
    .sort();
}

/** The public ModelFile of a stored file. */
export function toModelFile(file: StoredFile): ModelFile {
  return { format: file.format, path: file.path, size: file.size, sha256: file.sha256 };
}

/** The public ModelVersion of a stored record, with `aliases` resolved from its model. */
export function toModelVersion(version: StoredVersion, aliases: string[]): ModelVersion {
  return {
    name: version.name,
    version: version.version,
    createdAt: new Date(version.createdAt),
    updatedAt: new Date(version.updatedAt),
    description: version.description,
    tags: { ...version.tags },
    params: { ...version.params },
    metrics: { ...version.metrics },
    task: version.task as Task,
    classLabels: [...version.classLabels],
    signature: version.signature === undefined ? undefined : Signature.fromJSON(version.signature),
    pipelineJson: version.pipelineJson,
    lineage: version.lineage === undefined ? undefined : Lineage.fromJSON(version.lineage),
    files: version.files.map(toModelFile),
    aliases,
    createdBy: version.createdBy,
  };
}

/** protobuf-JSON of an optional message, or undefined; kept verbatim in stored records. */
export function signatureJson(signature: Signature | undefined): unknown {
  return signature === undefined ? undefined : Signature.toJSON(signature);
}

/** protobuf-JSON of an optional Lineage, or undefined when absent. */
export function lineageJson(lineage: Lineage | undefined): unknown {
  return lineage === undefined ? undefined : Lineage.toJSON(lineage);
}

/** The flat record filters are evaluated against. */
export function toSearchRecord(version: StoredVersion, aliases: string[]): SearchRecord {
  return {
    name: version.name,
    version: version.version,
    task: taskName(version.task as Task) ?? 'unspecified',
    description: version.description,
    createdAt: version.createdAt,
    updatedAt: version.updatedAt,
    tags: version.tags,
    params: version.params,
    metrics: version.metrics,
    aliases,
  };
}

/** One alias move as stored under `aliashist.<name>.<seq>`. */
export interface AliasChangeRecord {
  name: string;
  alias: string;
  /** 0 when the alias was created. */
  fromVersion: number;
  /** 0 when the alias was deleted. */
  toVersion: number;
  actor: string;
  /** ISO-8601 UTC. */
  changedAt: string;
  reason: string;
}

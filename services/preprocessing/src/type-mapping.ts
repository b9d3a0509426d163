/**
 * Translations between the wire vocabulary (`aimaas.v1` enums) and the pipeline library's
 * string unions, in one place so every handler maps them the same way.
 */
import { ColumnType as ProtoColumnType, DataFormat, Task } from '@aimaas/proto';
import type { ColumnType, PipelineTask } from '@aimaas/pipeline';

const TO_PIPELINE_TYPE: Partial<Record<ProtoColumnType, ColumnType>> = {
  [ProtoColumnType.COLUMN_TYPE_NUMERIC]: 'numeric',
  [ProtoColumnType.COLUMN_TYPE_INTEGER]: 'integer',
  [ProtoColumnType.COLUMN_TYPE_BOOLEAN]: 'boolean',
  [ProtoColumnType.COLUMN_TYPE_CATEGORICAL]: 'categorical',
  [ProtoColumnType.COLUMN_TYPE_TEXT]: 'text',
  [ProtoColumnType.COLUMN_TYPE_DATETIME]: 'datetime',
};

const TO_PROTO_TYPE: Record<ColumnType, ProtoColumnType> = {
  numeric: ProtoColumnType.COLUMN_TYPE_NUMERIC,
  integer: ProtoColumnType.COLUMN_TYPE_INTEGER,
  boolean: ProtoColumnType.COLUMN_TYPE_BOOLEAN,
  categorical: ProtoColumnType.COLUMN_TYPE_CATEGORICAL,
  text: ProtoColumnType.COLUMN_TYPE_TEXT,
  datetime: ProtoColumnType.COLUMN_TYPE_DATETIME,
};

/** The pipeline type of a wire column type; undefined for UNSPECIFIED (or an unknown number). */
export function toPipelineType(type: ProtoColumnType): ColumnType | undefined {
  return TO_PIPELINE_TYPE[type];
}

/** The wire enum of a pipeline column type. */
export function toProtoType(type: ColumnType): ProtoColumnType {
  return TO_PROTO_TYPE[type];
}

/** The wire enum of a pipeline task. */
export function toProtoTask(task: PipelineTask): Task {
  switch (task) {
    case 'classification':
      return Task.TASK_CLASSIFICATION;
    case 'regression':
      return Task.TASK_REGRESSION;
    case 'reconstruction':
      return Task.TASK_RECONSTRUCTION;
  }
}

/** The file formats an import accepts. */
export type ImportFormat = 'csv' | 'jsonl' | 'json';

/** The import format of a wire format; undefined for UNSPECIFIED. */
export function toImportFormat(format: DataFormat): ImportFormat | undefined {
  switch (format) {
    case DataFormat.DATA_FORMAT_CSV:
      return 'csv';
    case DataFormat.DATA_FORMAT_JSONL:
      return 'jsonl';
    case DataFormat.DATA_FORMAT_JSON:
      return 'json';
    default:
      return undefined;
  }
}

/** The wire enum of an import format. */
export function toProtoFormat(format: ImportFormat): DataFormat {
  return format === 'csv'
    ? DataFormat.DATA_FORMAT_CSV
    : format === 'jsonl'
      ? DataFormat.DATA_FORMAT_JSONL
      : DataFormat.DATA_FORMAT_JSON;
}

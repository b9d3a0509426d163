import {
  AliasEvent,
  CompressionJobEvent,
  DatasetImported,
  DatasetPrepared,
  DeploymentEvent,
  ModelVersionEvent,
  RegisteredModelEvent,
  TrainingJobEvent,
} from '@aimaas/proto';

/**
 * How an event payload travels: ts-proto's protobuf-JSON methods of the payload message.
 * Every generated message (`AliasEvent`, `TrainingJobEvent`, …) satisfies it.
 */
export interface PayloadCodec<T> {
  /** The protobuf-JSON form of `message` (what goes in the CloudEvents body). */
  toJSON(message: T): unknown;
  /** Reads a protobuf-JSON object back; unknown fields are ignored, absent ones take defaults. */
  fromJSON(object: unknown): T;
}

/** The prefix of every event subject: an event of type `t` is published on `aimaas.events.<t>`. */
export const EVENT_SUBJECT_PREFIX = 'aimaas.events.';

/** The payload message of each event type (proto/aimaas/v1/events.proto). */
export interface EventPayloads {
  'dataset.imported': DatasetImported;
  'dataset.prepared': DatasetPrepared;
  'training.job.submitted': TrainingJobEvent;
  'training.job.started': TrainingJobEvent;
  'training.job.progress': TrainingJobEvent;
  'training.job.succeeded': TrainingJobEvent;
  'training.job.failed': TrainingJobEvent;
  'training.job.cancelled': TrainingJobEvent;
  'compression.job.submitted': CompressionJobEvent;
  'compression.job.started': CompressionJobEvent;
  'compression.job.progress': CompressionJobEvent;
  'compression.job.succeeded': CompressionJobEvent;
  'compression.job.failed': CompressionJobEvent;
  'compression.job.cancelled': CompressionJobEvent;
  'registry.model.created': RegisteredModelEvent;
  'registry.model.deleted': RegisteredModelEvent;
  'registry.version.created': ModelVersionEvent;
  'registry.version.updated': ModelVersionEvent;
  'registry.version.deleted': ModelVersionEvent;
  'registry.alias.set': AliasEvent;
  'registry.alias.deleted': AliasEvent;
  'inference.deployment.created': DeploymentEvent;
  'inference.deployment.ready': DeploymentEvent;
  'inference.deployment.updated': DeploymentEvent;
  'inference.deployment.failed': DeploymentEvent;
  'inference.deployment.deleted': DeploymentEvent;
}

/**
 * Every event type of the mesh (the `ce-type` header, exactly), mapped to the codec of its
 * payload message from `proto/aimaas/v1/events.proto`.
 *
 * @example
 * const codec = EVENT_CATALOG['registry.alias.set']; // AliasEvent
 * const body = JSON.stringify(codec.toJSON(AliasEvent.create({ change: { name: 'fmnist', alias: 'prod' } })));
 */
export const EVENT_CATALOG: { readonly [K in keyof EventPayloads]: PayloadCodec<EventPayloads[K]> } = {
  'dataset.imported': DatasetImported,
  'dataset.prepared': DatasetPrepared,
  'training.job.submitted': TrainingJobEvent,
  'training.job.started': TrainingJobEvent,
  'training.job.progress': TrainingJobEvent,
  'training.job.succeeded': TrainingJobEvent,
  'training.job.failed': TrainingJobEvent,
  'training.job.cancelled': TrainingJobEvent,
  'compression.job.submitted': CompressionJobEvent,
  'compression.job.started': CompressionJobEvent,
  'compression.job.progress': CompressionJobEvent,
  'compression.job.succeeded': CompressionJobEvent,
  'compression.job.failed': CompressionJobEvent,
  'compression.job.cancelled': CompressionJobEvent,
  'registry.model.created': RegisteredModelEvent,
  'registry.model.deleted': RegisteredModelEvent,
  'registry.version.created': ModelVersionEvent,
  'registry.version.updated': ModelVersionEvent,
  'registry.version.deleted': ModelVersionEvent,
  'registry.alias.set': AliasEvent,
  'registry.alias.deleted': AliasEvent,
  'inference.deployment.created': DeploymentEvent,
  'inference.deployment.ready': DeploymentEvent,
  'inference.deployment.updated': DeploymentEvent,
  'inference.deployment.failed': DeploymentEvent,
  'inference.deployment.deleted': DeploymentEvent,
};

/** An event type name such as `'registry.alias.set'`. */
export type EventType = keyof typeof EVENT_CATALOG;

/** The payload message of event type `T`, e.g. `EventPayload<'registry.alias.set'>` is `AliasEvent`. */
export type EventPayload<T extends EventType> = EventPayloads[T];

/**
 * A pattern over event type names with NATS wildcards: `*` matches one dot-separated token,
 * a final `>` one or more, e.g. `'registry.alias.*'`, `'training.job.>'`, `'>'`.
 */
export type EventTypePattern = '>' | `${string}.*` | `${string}.>` | `${string}.*.${string}`;

/** Every event type, in catalog order. */
export const EVENT_TYPES: readonly EventType[] = Object.freeze(Object.keys(EVENT_CATALOG) as EventType[]);

/** True when `value` is an event type of the catalog. */
export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && Object.hasOwn(EVENT_CATALOG, value);
}

/**
 * The NATS subject of an event type.
 *
 * @example
 * eventSubject('registry.alias.set'); // 'aimaas.events.registry.alias.set'
 */
export function eventSubject(type: EventType | EventTypePattern): string {
  return `${EVENT_SUBJECT_PREFIX}${type}`;
}

/** True when the NATS-style `pattern` (tokens, `*`, trailing `>`) matches the dotted `name`. */
export function matchesPattern(pattern: string, name: string): boolean {
  const want = pattern.split('.');
  const have = name.split('.');
  for (let i = 0; i < want.length; i++) {
    const token = want[i];
    if (token === '>') return i === want.length - 1 && have.length > i;
    if (i >= have.length) return false;
    if (token !== '*' && token !== have[i]) return false;
  }
  return want.length === have.length;
}

/**
 * The event types a list of types and patterns selects, validated: each entry must be a catalog
 * type or a pattern matching at least one, so a typo fails at start instead of never matching.
 *
 * @throws TypeError naming the entry that selects nothing.
 */
export function selectEventTypes(selectors: readonly string[], setting = 'types'): Set<EventType> {
  if (!Array.isArray(selectors) || selectors.length === 0) {
    throw new TypeError(`${setting} must list at least one event type or pattern such as 'registry.alias.*'`);
  }
  const selected = new Set<EventType>();
  for (const selector of selectors) {
    if (typeof selector !== 'string' || selector === '') {
      throw new TypeError(`${setting} entries must be non-empty strings, got ${JSON.stringify(selector)}`);
    }
    if (selector.startsWith(EVENT_SUBJECT_PREFIX)) {
      throw new TypeError(
        `${setting}: "${selector}" is a subject; give the event type without "${EVENT_SUBJECT_PREFIX}"`,
      );
    }
    const matched = EVENT_TYPES.filter((type) => matchesPattern(selector, type));
    if (matched.length === 0) {
      throw new TypeError(
        `${setting}: "${selector}" matches no event type; expected one of ${EVENT_TYPES.join(', ')} ` +
          `or a pattern over them such as 'registry.alias.*'`,
      );
    }
    for (const type of matched) selected.add(type);
  }
  return selected;
}

/**
 * The one JetStream filter subject that covers `selectors`: the subject of the single selector
 * when there is one, else the whole `aimaas.events.>` (nats-server 2.9 has no multi-filter
 * consumers; the subscriber then skips what it did not ask for).
 */
export function filterSubjectFor(selectors: readonly string[]): string {
  return selectors.length === 1 ? `${EVENT_SUBJECT_PREFIX}${selectors[0]}` : `${EVENT_SUBJECT_PREFIX}>`;
}

import { randomUUID } from 'node:crypto';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import {
  EVENT_CATALOG,
  EVENT_SUBJECT_PREFIX,
  isEventType,
  type EventPayload,
  type EventType,
  type PayloadCodec,
} from './event-catalog.js';

/** The CloudEvents version of every envelope. */
export const CE_SPECVERSION = '1.0';
/** The body's media type: protobuf-JSON of the payload message. */
export const EVENT_CONTENT_TYPE = 'application/json';

/** A received event: the CloudEvents attributes, the decoded payload and where it sits in the stream. */
export interface ReceivedEventOf<K extends EventType> {
  /** `ce-type`, e.g. `'registry.alias.set'`; narrows `payload` in a `switch`. */
  readonly type: K;
  /** `ce-id`: unique per event, the same across a producer's retries (and the JetStream msg id). */
  readonly id: string;
  /** `ce-source`, e.g. `'/aimaas/registry'`. */
  readonly source: string;
  /** `ce-time`: when the producer created the event. */
  readonly time: Date;
  /** `ce-subject` when the producer set one, e.g. `'fmnist@3'`. */
  readonly subject?: string;
  /** The payload message, decoded from the protobuf-JSON body. */
  readonly payload: EventPayload<K>;
  /** Stream sequence in `AIMAAS_EVENTS` (0 when not read from the stream). */
  readonly seq: number;
  /** How many times this consumer has been handed this event (1 the first time). */
  readonly deliveryCount: number;
  /** All headers as received (first value of each), `ce-*` and `traceparent` included. */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * A received event of one of the types `T`, discriminated on `type`.
 *
 * @example
 * async function handler(event: ReceivedEvent<'registry.alias.set' | 'registry.alias.deleted'>) {
 *   if (event.type === 'registry.alias.set') console.log(event.payload.change?.toVersion);
 * }
 */
export type ReceivedEvent<T extends EventType = EventType> = { [K in T]: ReceivedEventOf<K> }[T];

/** A message that is not a well-formed AIMaaS CloudEvent; it is termed, never retried. */
export class MalformedEventError extends Error {
  constructor(
    message: string,
    /** The NATS subject it came on. */
    readonly natsSubject: string,
    options?: { cause?: unknown },
  ) {
    super(`malformed event on ${natsSubject}: ${message}`, options);
    this.name = 'MalformedEventError';
  }
}

/** What the producer sets on one event, beside its type and payload. */
export interface EnvelopeAttributes {
  id: string;
  source: string;
  time: Date;
  subject?: string;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
// Header values travel in the NATS protocol line: no control characters (CR/LF) allowed.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A new `ce-id`. */
export function newEventId(): string {
  return randomUUID();
}

/** Throws a TypeError unless `value` is a usable header value (non-empty, ≤ 256 chars, no control chars). */
export function checkHeaderValue(setting: string, value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.length > 256 || CONTROL.test(value)) {
    throw new TypeError(
      `${setting} must be a non-empty string of at most 256 characters without control characters, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * The binary-mode envelope of one event: the `ce-*` and `content-type` headers (trace headers are
 * added by the publisher) and the UTF-8 protobuf-JSON body.
 */
export function encodeEvent<T extends EventType>(
  type: T,
  payload: EventPayload<T>,
  attributes: EnvelopeAttributes,
): { headers: MsgHdrs; body: Uint8Array } {
  const codec: PayloadCodec<EventPayload<T>> = EVENT_CATALOG[type];
  const headers = natsHeaders();
  headers.set('ce-specversion', CE_SPECVERSION);
  headers.set('ce-type', type);
  headers.set('ce-source', attributes.source);
  headers.set('ce-id', attributes.id);
  headers.set('ce-time', attributes.time.toISOString());
  if (attributes.subject !== undefined) headers.set('ce-subject', attributes.subject);
  headers.set('content-type', EVENT_CONTENT_TYPE);
  const body = new TextEncoder().encode(JSON.stringify(codec.toJSON(payload)));
  return { headers, body };
}

/** The parts of a NATS or JetStream message that {@link decodeEvent} reads. */
export interface EventMessage {
  subject: string;
  data: Uint8Array;
  headers?: MsgHdrs;
  /** Stream sequence, when read from JetStream. */
  seq?: number;
  info?: { deliveryCount: number };
}

/** All headers of a message, first value of each. */
export function headerRecord(headers: MsgHdrs | undefined): Record<string, string> {
  const record: Record<string, string> = {};
  if (!headers) return record;
  for (const key of headers.keys()) record[key] = headers.get(key);
  return record;
}

/**
 * Reads a binary-mode CloudEvent of the catalog from a NATS message: checks the envelope
 * (`ce-specversion` 1.0, a known `ce-type` matching the subject, `ce-id`, `ce-source`, an RFC 3339
 * `ce-time`, a JSON content type) and decodes the body with the payload's `fromJSON`.
 *
 * @throws MalformedEventError saying what is missing or wrong.
 *
 * @example
 * const sub = nc.subscribe('aimaas.events.registry.alias.*');
 * for await (const msg of sub) console.log(decodeEvent(msg).payload);
 */
export function decodeEvent(msg: EventMessage): ReceivedEvent {
  const fail = (message: string, cause?: unknown): never => {
    throw new MalformedEventError(message, msg.subject, { cause });
  };
  const headers = headerRecord(msg.headers);
  const required = (name: string): string => headers[name] || fail(`header ${name} is missing`);

  const specversion = required('ce-specversion');
  if (specversion !== CE_SPECVERSION) fail(`ce-specversion is "${specversion}", expected "${CE_SPECVERSION}"`);
  const type = required('ce-type');
  if (!isEventType(type)) fail(`ce-type "${type}" is not an AIMaaS event type`);
  const eventType = type as EventType;
  if (msg.subject !== `${EVENT_SUBJECT_PREFIX}${eventType}`) {
    fail(`ce-type "${eventType}" does not match the subject (expected ${EVENT_SUBJECT_PREFIX}${eventType})`);
  }
  const id = required('ce-id');
  const source = required('ce-source');
  const timeText = required('ce-time');
  const time = new Date(timeText);
  if (!RFC3339.test(timeText) || Number.isNaN(time.getTime()))
    fail(`ce-time "${timeText}" is not an RFC 3339 timestamp`);
  const contentType = headers['content-type'];
  if (contentType !== undefined && !contentType.toLowerCase().startsWith(EVENT_CONTENT_TYPE)) {
    fail(`content-type is "${contentType}", expected ${EVENT_CONTENT_TYPE}`);
  }

  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(msg.data));
  } catch (err) {
    fail(`body is not UTF-8 JSON (${(err as Error).message})`, err);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    fail(`body must be a JSON object (protobuf-JSON of the ${eventType} payload)`);
  }
  let payload: unknown;
  try {
    payload = (EVENT_CATALOG[eventType] as PayloadCodec<unknown>).fromJSON(json);
  } catch (err) {
    fail(`body does not decode as the ${eventType} payload (${(err as Error).message})`, err);
  }

  const event = {
    type: eventType,
    id,
    source,
    time,
    payload,
    seq: msg.seq ?? 0,
    deliveryCount: msg.info?.deliveryCount ?? 1,
    headers,
    ...(headers['ce-subject'] ? { subject: headers['ce-subject'] } : {}),
  };
  return event as ReceivedEvent;
}

import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { FailedPreconditionError } from '@aimaas/runtime';
import { checkNumber, toJetStreamManager, type NatsOrJetStream } from './nats-connection.js';

/** The stream every event is stored in (limits retention: each consumer sees every event). */
export const EVENTS_STREAM = 'AIMAAS_EVENTS';

/** The two job queues of the mesh. */
export type JobKind = 'training' | 'compression';

/** Where a job queue lives: a work-queue stream, its one subject, its one durable pull consumer. */
export interface JobQueueNames {
  readonly stream: string;
  readonly subject: string;
  readonly consumer: string;
}

/** The names of each job queue (part of the mesh contract). */
export const JOB_QUEUES: Readonly<Record<JobKind, JobQueueNames>> = Object.freeze({
  training: { stream: 'AIMAAS_JOBS_TRAINING', subject: 'aimaas.jobs.training', consumer: 'workers' },
  compression: { stream: 'AIMAAS_JOBS_COMPRESSION', subject: 'aimaas.jobs.compression', consumer: 'workers' },
});

/** Settings of a job queue's durable consumer. */
export interface JobConsumerSettings {
  /**
   * How long a delivered job may go without an ack or `working()` before it is redelivered
   * to another worker (how fast a dead worker's job comes back).
   * @default 60000
   */
  ackWaitMs?: number;
  /**
   * Deliveries of one job before it is given up (the last failed attempt is termed).
   * @default 10
   */
  maxDeliver?: number;
}

/** Options of {@link ensureStreams}. */
export interface EnsureStreamsOptions {
  /**
   * How long events are kept in `AIMAAS_EVENTS`.
   * @default 604800000 (7 days)
   */
  eventsMaxAgeMs?: number;
  /**
   * Window in which a repeated `ce-id` / job message id is recognised as a duplicate.
   * @default 120000 (2 minutes)
   */
  duplicateWindowMs?: number;
  /**
   * Stream replicas (1 for a single server, 3 in a cluster).
   * @default 1
   */
  replicas?: number;
  /** Settings of the job queues' durable consumers. */
  jobs?: JobConsumerSettings;
}

interface CompiledProvisioning {
  eventsMaxAgeMs: number;
  duplicateWindowMs: number;
  replicas: number;
  jobs: Required<JobConsumerSettings>;
}

/** Applies defaults to and validates job consumer settings. */
export function compileJobConsumerSettings(
  settings: JobConsumerSettings = {},
  prefix = 'EnsureStreamsOptions.jobs',
): Required<JobConsumerSettings> {
  return {
    ackWaitMs: checkNumber(`${prefix}.ackWaitMs`, settings.ackWaitMs ?? 60_000, 1_000),
    maxDeliver: Math.floor(checkNumber(`${prefix}.maxDeliver`, settings.maxDeliver ?? 10, 1)),
  };
}

function compileProvisioning(options: EnsureStreamsOptions): CompiledProvisioning {
  const compiled = {
    eventsMaxAgeMs: checkNumber(
      'EnsureStreamsOptions.eventsMaxAgeMs',
      options.eventsMaxAgeMs ?? 7 * 24 * 3_600_000,
      1_000,
    ),
    duplicateWindowMs: checkNumber('EnsureStreamsOptions.duplicateWindowMs', options.duplicateWindowMs ?? 120_000, 100),
    replicas: Math.floor(checkNumber('EnsureStreamsOptions.replicas', options.replicas ?? 1, 1)),
    jobs: compileJobConsumerSettings(options.jobs),
  };
  if (compiled.duplicateWindowMs > compiled.eventsMaxAgeMs) {
    throw new TypeError(
      `duplicateWindowMs (${compiled.duplicateWindowMs}) must not exceed eventsMaxAgeMs (${compiled.eventsMaxAgeMs})`,
    );
  }
  return compiled;
}

function eventsStreamConfig(c: CompiledProvisioning): Partial<StreamConfig> & { name: string } {
  return {
    name: EVENTS_STREAM,
    subjects: ['aimaas.events.>'],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(c.eventsMaxAgeMs),
    duplicate_window: nanos(c.duplicateWindowMs),
    num_replicas: c.replicas,
  };
}

/** A work-queue stream: a job stays until a worker acks or terms it; no age limit. */
export function jobStreamConfig(
  kind: JobKind,
  duplicateWindowMs = 120_000,
  replicas = 1,
): Partial<StreamConfig> & { name: string } {
  const { stream, subject } = JOB_QUEUES[kind];
  return {
    name: stream,
    subjects: [subject],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: 0,
    duplicate_window: nanos(duplicateWindowMs),
    num_replicas: replicas,
  };
}

/** The durable pull consumer all workers of a job queue share. */
export function jobConsumerConfig(kind: JobKind, settings: Required<JobConsumerSettings>): Partial<ConsumerConfig> {
  const { consumer, subject } = JOB_QUEUES[kind];
  return {
    durable_name: consumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(settings.ackWaitMs),
    max_deliver: settings.maxDeliver,
    filter_subject: subject,
  };
}

/**
 * Creates the events stream and both job queues (streams and their durable consumers) when
 * absent, and updates them where their settings differ. Safe to run at every start of every
 * replica at once: a stream or consumer another replica created first is reconciled, not an error.
 *
 * @throws FailedPreconditionError when an existing stream differs in something JetStream cannot
 *   change in place (retention, storage), naming the stream and the setting.
 *
 * @example
 * const nc = await connectNats(process.env.NATS_URL, { name: 'registry' }); // from @aimaas/storage
 * await ensureStreams(nc);
 */
export async function ensureStreams(
  source: NatsOrJetStream | JetStreamManager,
  options: EnsureStreamsOptions = {},
): Promise<void> {
  const compiled = compileProvisioning(options);
  const jsm = await toJetStreamManager(source);
  await ensureStream(jsm, eventsStreamConfig(compiled));
  for (const kind of Object.keys(JOB_QUEUES) as JobKind[]) {
    await ensureStream(jsm, jobStreamConfig(kind, compiled.duplicateWindowMs, compiled.replicas));
    await ensureConsumer(jsm, JOB_QUEUES[kind].stream, jobConsumerConfig(kind, compiled.jobs));
  }
}

const STREAM_IMMUTABLE = ['retention', 'storage'] as const;
const STREAM_MUTABLE = ['max_age', 'duplicate_window', 'num_replicas', 'discard'] as const;

function isApiError(err: unknown, code?: number): err is JetStreamApiError {
  return err instanceof JetStreamApiError && (code === undefined || err.code === code);
}

/** Creates the stream or brings its mutable settings to `want`; returns its info. */
export async function ensureStream(
  jsm: JetStreamManager,
  want: Partial<StreamConfig> & { name: string },
): Promise<StreamInfo> {
  for (let attempt = 1; ; attempt++) {
    let have: StreamInfo;
    try {
      have = await jsm.streams.info(want.name);
    } catch (err) {
      if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err;
      try {
        return await jsm.streams.add(want);
      } catch (addErr) {
        // Another replica created it between our info and add: reconcile with what it made.
        if (isApiError(addErr) && attempt < 3) continue;
        throw addErr;
      }
    }
    for (const key of STREAM_IMMUTABLE) {
      if (want[key] !== undefined && have.config[key] !== want[key]) {
        throw new FailedPreconditionError(
          `stream ${want.name} has ${key}=${have.config[key]} but ${want[key]} is required; ` +
            `JetStream cannot change ${key} in place: delete the stream (losing its messages) and restart`,
        );
      }
    }
    const subjectsDiffer = !sameSet(have.config.subjects ?? [], want.subjects ?? []);
    const changed = STREAM_MUTABLE.filter((key) => want[key] !== undefined && have.config[key] !== want[key]);
    if (!subjectsDiffer && changed.length === 0) return have;
    return jsm.streams.update(want.name, { ...have.config, ...want });
  }
}

const CONSUMER_IMMUTABLE = ['ack_policy'] as const;
const CONSUMER_MUTABLE = [
  'ack_wait',
  'max_deliver',
  'filter_subject',
  'max_ack_pending',
  'inactive_threshold',
] as const;

/**
 * Creates the durable consumer or brings its mutable settings (ack wait, max deliver, filter) to
 * `want`. The deliver policy only applies at creation: an existing durable resumes where it was.
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  want: Partial<ConsumerConfig>,
): Promise<ConsumerInfo> {
  const name = want.durable_name;
  if (!name) throw new TypeError('ensureConsumer: durable_name is required');
  for (let attempt = 1; ; attempt++) {
    let have: ConsumerInfo;
    try {
      have = await jsm.consumers.info(stream, name);
    } catch (err) {
      if (!isApiError(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
      try {
        return await jsm.consumers.add(stream, want);
      } catch (addErr) {
        if (isApiError(addErr) && attempt < 3) continue;
        throw addErr;
      }
    }
    for (const key of CONSUMER_IMMUTABLE) {
      if (want[key] !== undefined && have.config[key] !== want[key]) {
        throw new FailedPreconditionError(
          `consumer ${name} of stream ${stream} has ${key}=${have.config[key]} but ${want[key]} is required; ` +
            `delete the consumer and restart`,
        );
      }
    }
    const delta: Partial<ConsumerConfig> = {};
    for (const key of CONSUMER_MUTABLE) {
      if (want[key] !== undefined && have.config[key] !== want[key]) Object.assign(delta, { [key]: want[key] });
    }
    if (Object.keys(delta).length === 0) return have;
    return jsm.consumers.update(stream, name, delta);
  }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item) => b.includes(item));
}

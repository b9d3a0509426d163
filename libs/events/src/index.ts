/**
 * @aimaas/events: the NATS JetStream backbone of the mesh. Catalog events as CloudEvents 1.0
 * (binary mode) on stream `AIMAAS_EVENTS`, with W3C trace context; and the training and
 * compression job queues (work-queue streams with one durable pull consumer each).
 *
 * @example
 * const nc = await connectNats(process.env.NATS_URL, { name: 'registry' }); // from @aimaas/storage
 * await ensureStreams(nc);
 * const events = createEventPublisher(nc, { source: '/aimaas/registry' });
 * await events.publish('registry.alias.set', AliasEvent.create({ change }), { subject: 'fmnist@3' });
 */
export {
  EVENT_CATALOG,
  EVENT_TYPES,
  EVENT_SUBJECT_PREFIX,
  eventSubject,
  isEventType,
  matchesPattern,
} from './event-catalog.js';
export type { EventType, EventPayload, EventPayloads, EventTypePattern, PayloadCodec } from './event-catalog.js';

export { CE_SPECVERSION, EVENT_CONTENT_TYPE, MalformedEventError, decodeEvent } from './cloud-event.js';
export type { ReceivedEvent, ReceivedEventOf, EventMessage } from './cloud-event.js';

export { ensureStreams, EVENTS_STREAM, JOB_QUEUES } from './ensure-streams.js';
export type { EnsureStreamsOptions, JobConsumerSettings, JobKind, JobQueueNames } from './ensure-streams.js';

export { createEventPublisher } from './event-publisher.js';
export type { EventPublisher, EventPublisherOptions, PublishEventOptions, PublishedEvent } from './event-publisher.js';

export { subscribeEvents } from './event-subscriber.js';
export type { EventSubscription } from './event-subscriber.js';
export type {
  SubscribeEventsOptions,
  EventTypeSelector,
  SelectedEventTypes,
  DeliverFrom,
} from './subscribe-options.js';

export { createJobQueue } from './job-queue.js';
export type { JobQueue, EnqueuedJob } from './job-queue.js';
export type { JobQueueOptions, ConsumeJobsOptions } from './job-queue-options.js';
export { PoisonJobError, JOB_ID_HEADER } from './queued-job.js';
export type { QueuedJob } from './queued-job.js';

export type { NatsOrJetStream, EventsLogger } from './nats-connection.js';

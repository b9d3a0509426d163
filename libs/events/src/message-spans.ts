/**
 * The OpenTelemetry messaging spans of every publish and every delivery (events and jobs), one
 * way: a PRODUCER span around a publish whose context travels in the message headers, a CONSUMER
 * span per delivery parented on it. Attribute names follow the OTel messaging conventions.
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import type { JsMsg } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/transport-node';
import { extractHeaders, getTracer, injectHeaders } from '@aimaas/telemetry';

/** Marks `span` failed with `err` (its exception and an ERROR status). */
export function failSpan(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error | undefined)?.message ?? String(err) });
}

/**
 * Runs `publish` inside a PRODUCER span `<subject> publish`, with the trace context injected into
 * `headers` first; the span records a failure and ends either way.
 */
export function withPublishSpan<T>(
  subject: string,
  messageId: string,
  headers: MsgHdrs,
  attributes: Attributes,
  publish: (span: Span) => Promise<T>,
): Promise<T> {
  return getTracer().startActiveSpan(
    `${subject} publish`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'nats',
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'publish',
        'messaging.destination.name': subject,
        'messaging.message.id': messageId,
        ...attributes,
      },
    },
    async (span) => {
      try {
        injectHeaders((key, value) => headers.set(key, value), context.active());
        return await publish(span);
      } catch (err) {
        failSpan(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** A CONSUMER span `<subject> process` for one delivery, parented on the publisher's context. */
export function startDeliverySpan(msg: JsMsg, attributes: Attributes): { span: Span; context: Context } {
  const parent = extractHeaders((key) => msg.headers?.get(key) || undefined, ROOT_CONTEXT);
  const span = getTracer().startSpan(
    `${msg.subject} process`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'nats',
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.destination.name': msg.subject,
        'messaging.nats.stream.sequence': msg.seq,
        ...attributes,
      },
    },
    parent,
  );
  return { span, context: trace.setSpan(parent, span) };
}

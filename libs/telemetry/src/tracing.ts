import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

/** The name under which AIMaaS libraries obtain their tracer. */
export const TRACER_NAME = '@aimaas/telemetry';

/** Options of {@link initTelemetry}. */
export interface TelemetryOptions {
  /** `service.name` of every span, e.g. `'registry'`. `OTEL_SERVICE_NAME` overrides it. */
  serviceName: string;
  /** `service.version` of every span. @default undefined (not set) */
  serviceVersion?: string;
  /**
   * An exporter that receives every span as soon as it ends (a `SimpleSpanProcessor`), typically an
   * `InMemorySpanExporter` in tests. Independent of OTLP, which is on when
   * `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set.
   * @default undefined (no extra exporter)
   */
  exporter?: SpanExporter;
  /** The environment to read `OTEL_*` from. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/** What {@link initTelemetry} returns. */
export interface Telemetry {
  /** The registered provider (also reachable through `trace.getTracerProvider()`). */
  readonly tracerProvider: NodeTracerProvider;
  /** True when spans are exported over OTLP. */
  readonly otlp: boolean;
  /**
   * Flushes pending spans and shuts the provider down. If this provider is still the global one,
   * the global tracer provider is reset to the no-op one. Idempotent.
   */
  shutdown(): Promise<void>;
}

/** The propagator used both globally and by the carrier helpers: W3C `traceparent` + `baggage`. */
export const w3cPropagator = new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
});

let current: Telemetry | undefined;

/**
 * Sets up OpenTelemetry tracing for this process: a `NodeTracerProvider` with the W3C trace-context
 * and baggage propagators and the `AsyncLocalStorage` context manager, registered globally. Spans go
 * to OTLP/protobuf (batched) when `OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, and to `options.exporter` when given; with neither,
 * spans are recorded (so trace ids still reach logs and outgoing headers) but exported nowhere.
 *
 * Calling it again (tests do) replaces the global provider, propagator and context manager with
 * new ones; the previous handle is not shut down, and its `shutdown()` still flushes its own spans.
 *
 * @example
 * const telemetry = initTelemetry({ serviceName: 'registry', serviceVersion: '0.1.0' });
 * server.onShutdown(() => telemetry.shutdown());
 */
export function initTelemetry(options: TelemetryOptions): Telemetry {
  if (typeof options.serviceName !== 'string' || options.serviceName === '') {
    throw new TypeError(`initTelemetry: serviceName must be a non-empty string, got ${String(options.serviceName)}`);
  }
  const env = options.env ?? process.env;
  const spanProcessors: SpanProcessor[] = [];
  const otlp = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  if (otlp) spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  if (options.exporter) spanProcessors.push(new SimpleSpanProcessor(options.exporter));

  const attributes: Record<string, string> = { [ATTR_SERVICE_NAME]: options.serviceName };
  if (options.serviceVersion) attributes[ATTR_SERVICE_VERSION] = options.serviceVersion;
  const resource = defaultResource()
    .merge(resourceFromAttributes(attributes))
    .merge(detectResources({ detectors: [envDetector] }));

  const tracerProvider = new NodeTracerProvider({ resource, spanProcessors });
  if (current) {
    // The API refuses a second registration; clear the previous one first.
    trace.disable();
    propagation.disable();
    context.disable();
  }
  tracerProvider.register({ propagator: w3cPropagator });

  let closed: Promise<void> | undefined;
  const telemetry: Telemetry = {
    tracerProvider,
    otlp,
    shutdown() {
      closed ??= (async () => {
        try {
          await tracerProvider.forceFlush();
        } finally {
          await tracerProvider.shutdown();
          if (current === telemetry) {
            trace.disable();
            current = undefined;
          }
        }
      })();
      return closed;
    },
  };
  current = telemetry;
  return telemetry;
}

/**
 * The tracer AIMaaS code should use. Looked up on every call so that it follows
 * {@link initTelemetry} replacing the global provider.
 *
 * @example
 * await getTracer().startActiveSpan('fit pipeline', async (span) => { try { … } finally { span.end(); } });
 */
export function getTracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

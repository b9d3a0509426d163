export { initTelemetry, getTracer, w3cPropagator, TRACER_NAME } from './tracing.js';
export type { TelemetryOptions, Telemetry } from './tracing.js';

export { injectMetadata, extractMetadata, injectHeaders, extractHeaders } from './propagation.js';
export type { HeaderSetter, HeaderGetter } from './propagation.js';

export {
  tracingClientInterceptor,
  parseGrpcPath,
  grpcStatusName,
  rpcSpanAttributes,
  endRpcSpan,
} from './client-interceptor.js';
export type { GrpcMethodName } from './client-interceptor.js';

export { createMetricsRegistry, startMetricsServer, createGrpcServerMetrics } from './metrics.js';
export type {
  MetricsServer,
  MetricsServerOptions,
  GrpcServerMetrics,
  GrpcServerLabel,
  GrpcMethodType,
} from './metrics.js';
export type { Registry as MetricsRegistry } from 'prom-client';

export { createLogger, traceLogFields, LOG_LEVELS } from './logger.js';
export type { Logger, DestinationStream, TraceLogFields } from './logger.js';

/** Test support: collect finished spans in memory (`initTelemetry({ exporter })`). */
export { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
export type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

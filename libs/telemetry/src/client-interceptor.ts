import { InterceptingCall, status as grpcStatus, type Interceptor } from '@grpc/grpc-js';
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { injectMetadata } from './propagation.js';
import { getTracer } from './tracing.js';

/** The parts of a gRPC method path `/package.Service/Method`. */
export interface GrpcMethodName {
  /** Fully qualified service, e.g. `aimaas.v1.RegistryService`. */
  service: string;
  /** Method, e.g. `GetModelVersion`. */
  method: string;
}

/**
 * Splits a gRPC method path into service and method.
 *
 * @example
 * parseGrpcPath('/aimaas.v1.RegistryService/SetAlias'); // { service: 'aimaas.v1.RegistryService', method: 'SetAlias' }
 */
export function parseGrpcPath(path: string): GrpcMethodName {
  const trimmed = path.startsWith('/') ? path.slice(1) : path;
  const slash = trimmed.lastIndexOf('/');
  if (slash < 0) return { service: '', method: trimmed };
  return { service: trimmed.slice(0, slash), method: trimmed.slice(slash + 1) };
}

/** The name of a gRPC status code, e.g. `NOT_FOUND` for 5. */
export function grpcStatusName(code: number): string {
  return (grpcStatus as unknown as Record<number, string>)[code] ?? String(code);
}

/**
 * The span attributes of an RPC, after the OpenTelemetry RPC semantic conventions
 * (`rpc.system`, `rpc.service`, `rpc.method`).
 */
export function rpcSpanAttributes(name: GrpcMethodName): Record<string, string> {
  return { 'rpc.system': 'grpc', 'rpc.service': name.service, 'rpc.method': name.method };
}

/**
 * Records the final gRPC status on an RPC span (`rpc.grpc.status_code`, and span status ERROR with
 * the status details unless OK) and ends it.
 */
export function endRpcSpan(span: Span, code: number, details?: string): void {
  span.setAttribute('rpc.grpc.status_code', code);
  if (code !== grpcStatus.OK) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: `${grpcStatusName(code)}: ${details ?? ''}` });
  }
  span.end();
}

/**
 * A grpc-js client interceptor that traces every call: a CLIENT span named
 * `<package.Service>/<Method>` (child of the span active when the call is made) with `rpc.system`,
 * `rpc.service`, `rpc.method` and, at the end, `rpc.grpc.status_code`; `traceparent` goes out in
 * the call metadata so the server span joins the trace. Works for unary and streaming calls: the
 * span ends when the status arrives.
 *
 * @example
 * const client = new RegistryServiceClient(addr, credentials, { interceptors: [tracingClientInterceptor] });
 */
export const tracingClientInterceptor: Interceptor = (options, nextCall) => {
  const name = parseGrpcPath(options.method_definition.path);
  const parent = context.active();
  const span = getTracer().startSpan(
    `${name.service}/${name.method}`,
    { kind: SpanKind.CLIENT, attributes: rpcSpanAttributes(name) },
    parent,
  );
  const spanContext = trace.setSpan(parent, span);
  let ended = false;
  const finish = (code: number, details: string): void => {
    if (ended) return;
    ended = true;
    endRpcSpan(span, code, details);
  };
  return new InterceptingCall(nextCall(options), {
    start(metadata, _listener, next) {
      injectMetadata(metadata, spanContext);
      next(metadata, {
        onReceiveStatus(status, nextStatus) {
          finish(status.code, status.details);
          nextStatus(status);
        },
      });
    },
    cancel(next) {
      finish(grpcStatus.CANCELLED, 'cancelled by the client');
      next();
    },
  });
};

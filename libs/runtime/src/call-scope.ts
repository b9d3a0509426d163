import { createHash, timingSafeEqual } from 'node:crypto';
import { type Metadata, status as grpcStatus, type ServerUnaryCall } from '@grpc/grpc-js';
import { context, SpanKind, trace, type Context, type Span } from '@opentelemetry/api';
import {
  endRpcSpan,
  extractMetadata,
  getTracer,
  grpcStatusName,
  parseGrpcPath,
  rpcSpanAttributes,
  type GrpcMethodType,
  type GrpcServerMetrics,
  type Logger,
} from '@aimaas/telemetry';
import { errorStatus, status, type CallStatus } from './error-status.js';
import { CancelledError, DeadlineExceededError, isDomainError } from './errors.js';
import type { CallContext } from './handler-types.js';

/** Everything the per-call wrapper needs, with defaults applied (see `ImplementOptions`). */
export interface CallPolicy {
  authToken: string | undefined;
  logger: Logger;
  metrics: GrpcServerMetrics | undefined;
  shutdownSignal: AbortSignal | undefined;
  /** Calls are refused (RESOURCE_EXHAUSTED) while the process's RSS is over it; see `memoryBudgetMb`. */
  memoryBudget?: { bytes: number; variable: string };
}

/** What every kind of server call offers (grpc-js does not export its ServerSurfaceCall). */
type SurfaceCall = Pick<ServerUnaryCall<unknown, unknown>, 'metadata' | 'getPeer' | 'getDeadline' | 'getPath'> & {
  once(event: 'cancelled', listener: () => void): unknown;
  off(event: 'cancelled', listener: () => void): unknown;
};

export type { CallStatus } from './error-status.js';

/** One call in flight: its context for the handler, its span, and how to close both. */
export interface CallScope {
  readonly ctx: CallContext;
  readonly otelContext: Context;
  /** Auth or deadline refusal, decided before the handler runs; undefined to go ahead. */
  readonly refusal: CallStatus | undefined;
  /** Maps a handler failure to the status the client gets (logging unexpected errors). */
  statusOf(error: unknown): CallStatus;
  /** Records the outcome (span, metrics) and releases timers and listeners. Idempotent. */
  finish(outcome: CallStatus | 'OK'): void;
}

/** Opens the scope of one call: SERVER span under the caller's trace, abort signal, checks. */
export function openCall(call: SurfaceCall, type: GrpcMethodType, policy: CallPolicy): CallScope {
  const path = call.getPath();
  const name = parseGrpcPath(path);
  const started = process.hrtime.bigint();
  const labels = { grpc_service: name.service, grpc_method: name.method, grpc_type: type };
  policy.metrics?.started.inc(labels);

  const span: Span = getTracer().startSpan(
    `${name.service}/${name.method}`,
    { kind: SpanKind.SERVER, attributes: rpcSpanAttributes(name) },
    extractMetadata(call.metadata, context.active()),
  );
  const otelContext = trace.setSpan(context.active(), span);

  const rawDeadline = call.getDeadline();
  const deadlineMs = rawDeadline instanceof Date ? rawDeadline.getTime() : rawDeadline;
  const deadline = Number.isFinite(deadlineMs) ? new Date(deadlineMs) : undefined;

  const controller = new AbortController();
  // Set when the client stops listening: then its status is what grpc-js already sent.
  let clientGone: CallStatus | undefined;
  const onCancelled = (): void => {
    const expired = deadline !== undefined && Date.now() >= deadline.getTime();
    const reason = expired
      ? new DeadlineExceededError(`deadline ${deadline.toISOString()} exceeded`)
      : new CancelledError('call cancelled by the client');
    clientGone = status(expired ? grpcStatus.DEADLINE_EXCEEDED : grpcStatus.CANCELLED, reason.message);
    controller.abort(reason);
  };
  call.once('cancelled', onCancelled);
  const onShutdown = (): void => controller.abort(policy.shutdownSignal?.reason);
  if (policy.shutdownSignal?.aborted) onShutdown();
  else policy.shutdownSignal?.addEventListener('abort', onShutdown, { once: true });
  let timer: NodeJS.Timeout | undefined;
  if (deadline) {
    const remaining = deadline.getTime() - Date.now();
    if (remaining > 0 && remaining < 2 ** 31) {
      timer = setTimeout(
        () => controller.abort(new DeadlineExceededError(`deadline ${deadline.toISOString()} exceeded`)),
        remaining,
      );
      timer.unref();
    }
  }

  const ctx: CallContext = {
    signal: controller.signal,
    metadata: call.metadata,
    peer: call.getPeer(),
    method: path,
    ...(deadline && { deadline }),
  };

  let refusal: CallStatus | undefined;
  if (policy.authToken !== undefined && !hasBearer(call.metadata, policy.authToken)) {
    refusal = status(
      grpcStatus.UNAUTHENTICATED,
      `${path} requires metadata "authorization: Bearer <token>" with a valid token`,
    );
  } else if (deadline && deadline.getTime() <= Date.now()) {
    refusal = status(
      grpcStatus.DEADLINE_EXCEEDED,
      `deadline ${deadline.toISOString()} had passed before ${path} started`,
    );
  } else if (policy.memoryBudget && process.memoryUsage.rss() > policy.memoryBudget.bytes) {
    const { bytes, variable } = policy.memoryBudget;
    const mib = (n: number): string => (n / 1024 / 1024).toFixed(0);
    refusal = status(
      grpcStatus.RESOURCE_EXHAUSTED,
      `the service is using ${mib(process.memoryUsage.rss())} MiB, over its memory budget of ${mib(bytes)} MiB (${variable}); retry later`,
    );
  }

  let finished = false;
  return {
    ctx,
    otelContext,
    refusal,
    statusOf(error) {
      const known = errorStatus(error);
      if (known) {
        if (isDomainError(error) && error.publicMessage !== error.message)
          policy.logger.warn({ err: error, method: path }, `${path}: ${(error as Error).message}`);
        return known;
      }
      const aborted = controller.signal.aborted ? errorStatus(controller.signal.reason) : undefined;
      if (aborted) {
        // Work stopped because the call was aborted; the abort reason says why.
        policy.logger.debug({ err: error, method: path }, 'handler stopped after abort');
        return aborted;
      }
      span.recordException(error instanceof Error ? error : String(error));
      policy.logger.error({ err: error, method: path, peer: ctx.peer }, `unexpected error in ${path}`);
      return status(grpcStatus.INTERNAL, 'internal error');
    },
    finish(outcome) {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      call.off('cancelled', onCancelled);
      policy.shutdownSignal?.removeEventListener('abort', onShutdown);
      const final = clientGone ?? (outcome === 'OK' ? status(grpcStatus.OK, '') : outcome);
      endRpcSpan(span, final.code, final.details);
      if (policy.metrics) {
        const done = { ...labels, grpc_code: grpcStatusName(final.code) };
        policy.metrics.handled.inc(done);
        policy.metrics.handlingSeconds.observe(done, Number(process.hrtime.bigint() - started) / 1e9);
      }
    },
  };
}

/** Compares digests so the check takes the same time whatever the token. */
function hasBearer(metadata: Metadata, token: string): boolean {
  const [value] = metadata.get('authorization');
  if (typeof value !== 'string') return false;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  if (!match) return false;
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(match[1]!), digest(token));
}

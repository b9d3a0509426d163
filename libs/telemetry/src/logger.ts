import { trace, isSpanContextValid } from '@opentelemetry/api';
import { pino, type DestinationStream, type Level, type Logger } from 'pino';

/** Log levels `createLogger` accepts (pino's), plus `silent`. */
export const LOG_LEVELS: readonly (Level | 'silent')[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Fields added to every log line written while a span is active. */
export interface TraceLogFields {
  trace_id?: string;
  span_id?: string;
  trace_flags?: string;
}

/** The trace fields of the active span (empty when there is none), as the logger mixes them in. */
export function traceLogFields(): TraceLogFields {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const spanContext = span.spanContext();
  if (!isSpanContextValid(spanContext)) return {};
  return {
    trace_id: spanContext.traceId,
    span_id: spanContext.spanId,
    trace_flags: `0${spanContext.traceFlags.toString(16)}`.slice(-2),
  };
}

/**
 * A pino JSON logger named `name` (the `name` field of every line), with the `trace_id` and `span_id`
 * of the active OpenTelemetry span mixed into every line, ISO timestamps and the level as a label
 * (`"level":"info"`). Errors logged as `{ err }` keep their stack.
 *
 * @param level @default process.env.LOG_LEVEL ?? 'info'
 * @param destination where lines go. @default stdout
 *
 * @example
 * const logger = createLogger('registry');
 * logger.info({ model: 'fmnist', version: 3 }, 'version created');
 * // {"level":"info","time":"…","name":"registry","trace_id":"4bf9…","span_id":"00f0…","model":"fmnist","version":3,"msg":"version created"}
 */
export function createLogger(
  name: string,
  level: string = process.env.LOG_LEVEL ?? 'info',
  destination?: DestinationStream,
): Logger {
  const normalized = level.trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(normalized)) {
    throw new TypeError(`log level "${level}": expected one of ${LOG_LEVELS.join(', ')}`);
  }
  const options = {
    name,
    level: normalized,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    mixin: traceLogFields,
  };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger, DestinationStream };

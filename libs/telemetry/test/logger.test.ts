import { context, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLogger,
  getTracer,
  initTelemetry,
  InMemorySpanExporter,
  type DestinationStream,
  type Telemetry,
} from '../src/index.js';

function memoryDestination(): DestinationStream & { lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  return {
    write: (chunk: string) => void chunks.push(chunk),
    lines: () =>
      chunks
        .join('')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
  };
}

let telemetry: Telemetry;
beforeAll(() => {
  telemetry = initTelemetry({ serviceName: 'log-test', exporter: new InMemorySpanExporter(), env: {} });
});
afterAll(() => telemetry.shutdown());

describe('createLogger', () => {
  it('writes JSON lines with name, level label and the active trace ids', () => {
    const destination = memoryDestination();
    const logger = createLogger('registry', 'info', destination);
    const span = getTracer().startSpan('op');
    context.with(trace.setSpan(context.active(), span), () => logger.info({ model: 'fmnist' }, 'version created'));
    logger.info('outside');
    span.end();
    const [inside, outside] = destination.lines();
    expect(inside).toMatchObject({
      level: 'info',
      name: 'registry',
      model: 'fmnist',
      msg: 'version created',
      trace_id: span.spanContext().traceId,
      span_id: span.spanContext().spanId,
    });
    expect(outside).not.toHaveProperty('trace_id');
  });

  it('honours the level and keeps error stacks', () => {
    const destination = memoryDestination();
    const logger = createLogger('x', 'warn', destination);
    logger.info('dropped');
    logger.error({ err: new Error('boom') }, 'failed');
    const lines = destination.lines();
    expect(lines).toHaveLength(1);
    expect((lines[0]!.err as { stack: string }).stack).toContain('Error: boom');
  });

  it('rejects an unknown level naming the accepted ones', () => {
    expect(() => createLogger('x', 'loud')).toThrow(
      'log level "loud": expected one of fatal, error, warn, info, debug, trace, silent',
    );
  });
});

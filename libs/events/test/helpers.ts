import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { startNatsServer, type TestNatsServer } from '@aimaas/testing';
import { createLogger } from '@aimaas/telemetry';
import { AliasEvent } from '@aimaas/proto';
import type { EventsLogger } from '../src/index.js';

/** A real nats-server for one suite, with a connection and a JetStream manager on it. */
export interface NatsFixture {
  server: TestNatsServer;
  nc: NatsConnection;
  jsm: JetStreamManager;
  /** Opens one more connection (closed by `close`). */
  connect(name?: string): Promise<NatsConnection>;
  close(): Promise<void>;
}

export async function startNats(): Promise<NatsFixture> {
  const server = await startNatsServer();
  const connections: NatsConnection[] = [];
  const open = async (name = 'events-test') => {
    const nc = await connect({ servers: server.url, name });
    connections.push(nc);
    return nc;
  };
  const nc = await open();
  return {
    server,
    nc,
    jsm: await jetstreamManager(nc),
    connect: open,
    async close() {
      await Promise.all(connections.map((c) => (c.isClosed() ? undefined : c.close())));
      await server.stop();
    },
  };
}

/** One parsed pino log line. */
export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

/** A real pino logger whose lines are kept in `lines` instead of written out. */
export function captureLogs(): { logger: EventsLogger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = createLogger('events-test', 'debug', {
    write(line: string) {
      lines.push(JSON.parse(line) as LogLine);
    },
  });
  return { logger, lines };
}

/** Counts `MSG_TERMINATED` advisories of one consumer: the server's own word that a message was termed. */
export async function watchTerminations(
  nc: NatsConnection,
  stream: string,
  consumer: string,
): Promise<{ streamSeqs: number[] }> {
  const streamSeqs: number[] = [];
  nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.${stream}.${consumer}`, {
    callback: (_err, msg) => {
      streamSeqs.push((msg.json() as { stream_seq: number }).stream_seq);
    },
  });
  await nc.flush();
  return { streamSeqs };
}

/** An alias move as the registry reports it. */
export function aliasMoved(name: string, toVersion: number, fromVersion = toVersion - 1): AliasEvent {
  return AliasEvent.create({
    change: {
      name,
      alias: 'prod',
      fromVersion,
      toVersion,
      actor: 'ci',
      changedAt: new Date('2024-05-01T12:00:00.000Z'),
      reason: 'promote',
    },
  });
}

import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll } from 'vitest';
import { RegistryServiceClient, RegistryServiceService } from '@aimaas/proto';
import { createGrpcServer, type GrpcServer } from '@aimaas/runtime';
import { connectNats, type KvStore, type ObjectStore, type NatsConnection } from '@aimaas/storage';
import { createLogger } from '@aimaas/telemetry';
import { startNatsServer, type TestNatsServer } from '@aimaas/testing';
import { openRegistry, type VersionIndex } from '../src/index.js';
import { registryApi, type RegistryApi } from './client.js';

/** The NATS connection type, as the storage library returns it. */
type Nats = NatsConnection;

/** One registry replica: its own NATS connection, index and gRPC server on a free port. */
export interface Replica {
  nc: Nats;
  kv: KvStore<unknown>;
  artifacts: ObjectStore;
  index: VersionIndex;
  server: GrpcServer;
  port: number;
  client: RegistryServiceClient;
  api: RegistryApi;
  close(): Promise<void>;
}

/** Options of {@link startReplica}. */
export interface ReplicaOptions {
  /** The server's gRPC message size limit. @default 64 MiB */
  maxMessageBytes?: number;
  /** See `RegistryServiceDeps.uploadIdleMs`. @default 5 minutes */
  uploadIdleMs?: number;
}

/** Starts a nats-server for a suite. */
export function startNats(): Promise<TestNatsServer> {
  return startNatsServer();
}

/**
 * Starts a registry replica against `natsUrl` the way main.ts wires one: its own connection,
 * buckets and streams, a started version index, the service on a real gRPC server (port 0), and a
 * grpc-js client for it.
 */
export async function startReplica(natsUrl: string, options: ReplicaOptions = {}): Promise<Replica> {
  const logger = createLogger('registry-test', process.env.LOG_LEVEL ?? 'silent');
  const nc = await connectNats(natsUrl, { name: 'registry-test' });
  const registry = await openRegistry(nc, {
    logger,
    ...(options.uploadIdleMs !== undefined && { uploadIdleMs: options.uploadIdleMs }),
  });
  const { kv, artifacts, index } = registry;
  const server = createGrpcServer({
    serviceName: 'registry',
    logger,
    metricsAddr: 'off',
    shutdownGraceMs: 1_000,
    ...(options.maxMessageBytes !== undefined && { maxMessageBytes: options.maxMessageBytes }),
  }).add(RegistryServiceService, registry.handlers);
  const port = await server.listen('127.0.0.1:0');
  const client = new RegistryServiceClient(`127.0.0.1:${port}`, credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    'grpc-node.flow_control_window': 16 * 1024 * 1024,
  });
  return {
    nc,
    kv,
    artifacts,
    index,
    server,
    port,
    client,
    api: registryApi(client),
    async close() {
      client.close();
      await server.shutdown({ graceMs: 1_000 });
      await registry.close();
      await nc.drain();
    },
  };
}

/** A suite's nats-server and registry replica; read them inside tests and hooks. */
export interface RegistrySuite {
  readonly nats: TestNatsServer;
  readonly registry: Replica;
}

/**
 * Registers `beforeAll`/`afterAll` hooks that start a nats-server and one registry replica for the
 * calling test file, and stop them after its own `afterAll` hooks ran.
 */
export function useRegistrySuite(): RegistrySuite {
  let nats: TestNatsServer | undefined;
  let registry: Replica | undefined;
  beforeAll(async () => {
    nats = await startNats();
    registry = await startReplica(nats.url);
  });
  afterAll(async () => {
    await registry?.close();
    await nats?.stop();
  });
  return {
    get nats() {
      if (nats === undefined) throw new Error('useRegistrySuite: nats is read before beforeAll');
      return nats;
    },
    get registry() {
      if (registry === undefined) throw new Error('useRegistrySuite: registry is read before beforeAll');
      return registry;
    },
  };
}

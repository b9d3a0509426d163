import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { GRPCInferenceServiceService, InferenceServiceService, RegistryServiceService } from '@aimaas/proto';
import { openRegistry } from '@aimaas/registry';
import { createGrpcServer, type GrpcServer } from '@aimaas/runtime';
import { createClients, type AimaasClients } from '@aimaas/sdk';
import { connectNats } from '@aimaas/storage';
import { createLogger } from '@aimaas/telemetry';
import { repoRoot, startNatsServer, type TestNatsServer } from '@aimaas/testing';
import { openInference, type InferenceOptions, type InferenceReplica } from '../src/index.js';

type Nats = Awaited<ReturnType<typeof connectNats>>;

/** An OIP client built at run time from the public .proto with proto-loader (snake_case fields). */
export interface OipClient {
  call<T = any>(method: string, request: object, options?: { deadlineMs?: number }): Promise<T>;
  close(): void;
}

/** Loads `proto/inference/grpc_predict_v2.proto` and connects to `addr`. */
export function oipClient(addr: string): OipClient {
  const definition = protoLoader.loadSync(join(repoRoot(), 'proto/inference/grpc_predict_v2.proto'), {
    keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as any;
  const client: grpc.Client = new pkg.inference.GRPCInferenceService(addr, grpc.credentials.createInsecure());
  return {
    call(method, request, options = {}) {
      return new Promise((resolve, reject) => {
        const deadline = options.deadlineMs === undefined ? Infinity : Date.now() + options.deadlineMs;
        (client as any)[method](request, { deadline }, (error: grpc.ServiceError | null, response: any) => (error ? reject(error) : resolve(response)));
      });
    },
    close: () => client.close(),
  };
}

/** One inference replica on its own NATS connection and gRPC port. */
export interface InferenceNode {
  replica: InferenceReplica;
  server: GrpcServer;
  addr: string;
  oip: OipClient;
  clients: AimaasClients;
  close(): Promise<void>;
}

/** A nats-server, a registry and one inference replica, as the mesh runs them. */
export interface Mesh {
  nats: TestNatsServer;
  registryAddr: string;
  /** SDK clients: registry, and inference/oip of the first replica. */
  clients: AimaasClients;
  inference: InferenceNode;
  /** Starts another inference replica against the same NATS and registry. */
  startReplica(options?: Partial<InferenceOptions>): Promise<InferenceNode>;
  close(): Promise<void>;
}

const logger = createLogger('inference-test', process.env.LOG_LEVEL ?? 'silent');

async function startInference(natsUrl: string, registryAddr: string, options: Partial<InferenceOptions>): Promise<InferenceNode> {
  const nc: Nats = await connectNats(natsUrl, { name: 'inference-test' });
  const registryClients = createClients({ addresses: { registry: registryAddr }, tracing: false });
  const replica = await openInference(nc, { registry: registryClients.registry, logger, ...options });
  const server = createGrpcServer({ serviceName: 'inference', logger, metricsAddr: 'off', shutdownGraceMs: 1_000 })
    .add(InferenceServiceService, replica.handlers.inference)
    .add(GRPCInferenceServiceService, replica.handlers.oip);
  const port = await server.listen('127.0.0.1:0');
  const addr = `127.0.0.1:${port}`;
  const clients = createClients({ addresses: { registry: registryAddr, inference: addr }, tracing: false });
  const oip = oipClient(addr);
  await replica.restored;
  return {
    replica, server, addr, oip, clients,
    async close() {
      oip.close();
      clients.close();
      await server.shutdown({ graceMs: 500 });
      await replica.close();
      registryClients.close();
      await nc.drain();
    },
  };
}

/** Starts the whole mesh for a suite; `close()` stops everything. */
export async function startMesh(options: Partial<InferenceOptions> = {}): Promise<Mesh> {
  const nats = await startNatsServer();
  const registryNc: Nats = await connectNats(nats.url, { name: 'registry-test' });
  const registry = await openRegistry(registryNc, { logger });
  const registryServer = createGrpcServer({ serviceName: 'registry', logger, metricsAddr: 'off', shutdownGraceMs: 500 })
    .add(RegistryServiceService, registry.handlers);
  const registryAddr = `127.0.0.1:${await registryServer.listen('127.0.0.1:0')}`;
  const inference = await startInference(nats.url, registryAddr, options);
  const replicas: InferenceNode[] = [inference];
  return {
    nats,
    registryAddr,
    clients: inference.clients,
    inference,
    async startReplica(more = {}) {
      const node = await startInference(nats.url, registryAddr, { ...options, ...more });
      replicas.push(node);
      return node;
    },
    async close() {
      for (const node of replicas) await node.close();
      await registryServer.shutdown({ graceMs: 500 });
      await registry.close();
      await registryNc.drain();
      await nats.stop();
    },
  };
}

/** The gRPC status code and message of a failed call (throws when it succeeded). */
export async function failure(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { code?: number; grpcCode?: number; details: string };
    return { code: e.grpcCode ?? e.code!, details: e.details };
  }
  throw new Error('expected the call to fail, but it succeeded');
}

export { grpc };

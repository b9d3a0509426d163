import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { GRPCInferenceServiceService, InferenceServiceService, RegistryServiceService } from '@aimaas/proto';
import { openRegistry } from '@aimaas/registry';
import { createGrpcServer, type GrpcServer } from '@aimaas/runtime';
import { createClients, type AimaasClients } from '@aimaas/sdk';
import { connectNats, type NatsConnection } from '@aimaas/storage';
import { createLogger } from '@aimaas/telemetry';
import { freePort, repoRoot, startNatsServer, waitFor, type TestNatsServer } from '@aimaas/testing';
import { openInference, type InferenceOptions, type InferenceReplica } from '../src/index.js';

type Nats = NatsConnection;

/** An OIP client built at run time from the public .proto with proto-loader (snake_case fields). */
interface OipClient {
  call<T = any>(method: string, request: object, options?: { deadlineMs?: number }): Promise<T>;
  close(): void;
}

/** Loads `proto/inference/grpc_predict_v2.proto` and connects to `addr`. */
function oipClient(addr: string): OipClient {
  const definition = protoLoader.loadSync(join(repoRoot(), 'proto/inference/grpc_predict_v2.proto'), {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as any;
  const client: grpc.Client = new pkg.inference.GRPCInferenceService(addr, grpc.credentials.createInsecure());
  return {
    call(method, request, options = {}) {
      return new Promise((resolve, reject) => {
        const deadline = options.deadlineMs === undefined ? Infinity : Date.now() + options.deadlineMs;
        (client as any)[method](request, { deadline }, (error: grpc.ServiceError | null, response: any) =>
          error ? reject(error) : resolve(response),
        );
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

async function startInference(
  natsUrl: string,
  registryAddr: string,
  options: Partial<InferenceOptions>,
): Promise<InferenceNode> {
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
    replica,
    server,
    addr,
    oip,
    clients,
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

/** A nats-server and a registry on it, in this process. */
export interface RegistryNode {
  nats: TestNatsServer;
  registryAddr: string;
  /** Stops the registry, then the nats-server. */
  close(): Promise<void>;
}

/** Starts a nats-server and the registry service on a real gRPC server (port 0). */
export async function startRegistry(): Promise<RegistryNode> {
  const nats = await startNatsServer();
  const registryNc: Nats = await connectNats(nats.url, { name: 'registry-test' });
  const registry = await openRegistry(registryNc, { logger });
  const registryServer = createGrpcServer({
    serviceName: 'registry',
    logger,
    metricsAddr: 'off',
    shutdownGraceMs: 500,
  }).add(RegistryServiceService, registry.handlers);
  const registryAddr = `127.0.0.1:${await registryServer.listen('127.0.0.1:0')}`;
  return {
    nats,
    registryAddr,
    async close() {
      await registryServer.shutdown({ graceMs: 500 });
      await registry.close();
      await registryNc.drain();
      await nats.stop();
    },
  };
}

/** Starts the whole mesh for a suite; `close()` stops everything. */
export async function startMesh(options: Partial<InferenceOptions> = {}): Promise<Mesh> {
  const { nats, registryAddr, close: closeRegistry } = await startRegistry();
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
      await closeRegistry();
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

/** An inference service running as its own OS process (`dist/main.js`), as `npm start` runs it. */
export interface InferenceProcess {
  pid: number;
  addr: string;
  /** SDK clients of this process and of the registry it reads. */
  clients: AimaasClients;
  /** The process's resident memory now (VmRSS of /proc/<pid>/status), in MiB. */
  rssMiB(): number;
  /** Everything it printed so far. */
  output(): string;
  /** SIGTERM, then waits for it to exit. */
  stop(): Promise<void>;
}

/** Starts `services/inference/dist/main.js` against a running NATS and registry (build it first). */
export async function startInferenceProcess(
  natsUrl: string,
  registryAddr: string,
  nodeArgs: string[] = [],
): Promise<InferenceProcess> {
  const addr = `127.0.0.1:${await freePort()}`;
  const child = spawn(
    process.execPath,
    ['--expose-gc', ...nodeArgs, join(repoRoot(), 'services/inference/dist/main.js')],
    {
      env: {
        ...process.env,
        NATS_URL: natsUrl,
        AIMAAS_REGISTRY_ADDR: registryAddr,
        AIMAAS_INFERENCE_ADDR: addr,
        AIMAAS_METRICS_ADDR: 'off',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(() => output.includes('"msg":"inference serving"') || child.exitCode !== null, {
    timeoutMs: 60_000,
    message: 'the inference process to serve',
  });
  if (child.exitCode !== null) throw new Error(`the inference process exited (${child.exitCode}): ${output}`);
  const clients = createClients({ addresses: { registry: registryAddr, inference: addr }, tracing: false });
  return {
    pid: child.pid!,
    addr,
    clients,
    rssMiB: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024,
    output: () => output,
    async stop() {
      clients.close();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

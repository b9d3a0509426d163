/**
 * The real services the CLI end-to-end suites talk to: a nats-server, and the registry,
 * inference and preprocessing services each on a real gRPC server on a free loopback port,
 * started in `beforeAll` and stopped in `afterAll`, plus a temporary working directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createEventPublisher, ensureStreams } from '@aimaas/events';
import { openInference, type InferenceReplica } from '@aimaas/inference';
import { createPreprocessingService, openDatasetBuckets } from '@aimaas/preprocessing';
import { GRPCInferenceServiceService, InferenceServiceService, PreprocessingServiceService, RegistryServiceService } from '@aimaas/proto';
import { openRegistry, type RegistryReplica } from '@aimaas/registry';
import { createGrpcServer, type GrpcServer } from '@aimaas/runtime';
import { createClients, type AimaasClients } from '@aimaas/sdk';
import { connectNats } from '@aimaas/storage';
import { createLogger } from '@aimaas/telemetry';
import { startNatsServer, type TestNatsServer } from '@aimaas/testing';

type Nats = Awaited<ReturnType<typeof connectNats>>;

/** Which services {@link useCliStack} starts. */
export interface CliStackOptions {
  /** Names the logger, the NATS connections and the temporary directory. */
  name: string;
  /** Start the registry; `authToken` makes its server require that bearer token. */
  registry?: { authToken?: string };
  /** Start the inference service (needs `registry`: it reads models from there). */
  inference?: boolean;
  /** Start the preprocessing service (and the event streams it publishes to). */
  preprocessing?: boolean;
  /** Shutdown grace of every gRPC server. @default 500 */
  graceMs?: number;
}

/** The started stack; read its fields inside tests and hooks, after `beforeAll` ran. */
export interface CliStack {
  readonly nats: TestNatsServer;
  /** A fresh temporary directory, removed in `afterAll`. */
  readonly dir: string;
  /** `AIMAAS_<SERVICE>_ADDR` of every started service, as the CLI reads them. */
  readonly env: Record<string, string>;
  /** SDK clients of the stack (the registry's, when started), closed in `afterAll`. */
  readonly clients: AimaasClients;
}

/** Registers `beforeAll`/`afterAll` hooks starting and stopping the services `options` name. */
export function useCliStack(options: CliStackOptions): CliStack {
  const graceMs = options.graceMs ?? 500;
  const logger = createLogger(options.name, 'silent');
  const state: Partial<{ -readonly [K in keyof CliStack]: CliStack[K] }> = {};
  /** What afterAll undoes, the last started first. */
  const stops: Array<() => unknown> = [];

  const connect = async (suffix: string): Promise<Nats> => {
    const nc = await connectNats(state.nats!.url, { name: `${options.name}-${suffix}` });
    stops.unshift(() => nc.drain());
    return nc;
  };
  const serve = async (server: GrpcServer): Promise<string> => {
    stops.unshift(() => server.shutdown({ graceMs }));
    return `127.0.0.1:${await server.listen('127.0.0.1:0')}`;
  };
  const grpcServer = (serviceName: string, authToken?: string) =>
    createGrpcServer({ serviceName, logger, metricsAddr: 'off', shutdownGraceMs: graceMs, ...(authToken !== undefined && { authToken }) });

  beforeAll(async () => {
    state.nats = await startNatsServer();
    stops.unshift(() => state.nats!.stop());
    const env: Record<string, string> = {};
    if (options.registry !== undefined) {
      const registry: RegistryReplica = await openRegistry(await connect('registry'), { logger });
      stops.unshift(() => registry.close());
      env.AIMAAS_REGISTRY_ADDR = await serve(
        grpcServer('registry', options.registry.authToken).add(RegistryServiceService, registry.handlers),
      );
      const clients = createClients({ addresses: { registry: env.AIMAAS_REGISTRY_ADDR }, tracing: false });
      state.clients = clients;
      stops.unshift(() => clients.close());
    }
    if (options.inference === true) {
      if (state.clients === undefined) throw new Error('useCliStack: inference needs the registry');
      const inference: InferenceReplica = await openInference(await connect('inference'), { registry: state.clients.registry, logger });
      stops.unshift(() => inference.close());
      env.AIMAAS_INFERENCE_ADDR = await serve(
        grpcServer('inference')
          .add(InferenceServiceService, inference.handlers.inference)
          .add(GRPCInferenceServiceService, inference.handlers.oip),
      );
      await inference.restored;
    }
    if (options.preprocessing === true) {
      const nc = await connect('preprocessing');
      await ensureStreams(nc);
      const { kv, objects } = await openDatasetBuckets(nc);
      const events = createEventPublisher(nc, { source: '/aimaas/preprocessing', logger });
      env.AIMAAS_PREPROCESSING_ADDR = await serve(
        grpcServer('preprocessing').add(PreprocessingServiceService, createPreprocessingService({ kv, objects, events, logger, options: {} })),
      );
    }
    state.env = env;
    const dir = await mkdtemp(join(tmpdir(), `aimaas-${options.name}-`));
    state.dir = dir;
    stops.unshift(() => rm(dir, { recursive: true, force: true }));
  }, 60_000);

  afterAll(async () => {
    for (const stop of stops) await stop();
  });

  const get = <K extends keyof CliStack>(key: K): CliStack[K] => {
    const value = state[key];
    if (value === undefined) throw new Error(`useCliStack: ${key} is not there (read it after beforeAll, and start the registry for clients)`);
    return value as CliStack[K];
  };
  return {
    get nats() {
      return get('nats');
    },
    get dir() {
      return get('dir');
    },
    get env() {
      return get('env');
    },
    get clients() {
      return get('clients');
    },
  };
}

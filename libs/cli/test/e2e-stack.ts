/**
 * The real services the CLI end-to-end suites talk to: a nats-server, and the registry,
 * inference, preprocessing, training and compression services each on a real gRPC server on a
 * free loopback port (wired as their main.ts wires them), started in `beforeAll` and stopped in
 * `afterAll`, plus a temporary working directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { openCompression } from '@aimaas/compression';
import { openInference, type InferenceReplica } from '@aimaas/inference';
import { initBackend } from '@aimaas/ml';
import { openPreprocessing } from '@aimaas/preprocessing';
import {
  CompressionServiceService,
  GRPCInferenceServiceService,
  InferenceServiceService,
  PreprocessingServiceService,
  RegistryServiceService,
  TrainingServiceService,
} from '@aimaas/proto';
import { openRegistry, type RegistryReplica } from '@aimaas/registry';
import { createGrpcServer, type GrpcServer } from '@aimaas/runtime';
import { createClients, type AimaasClients } from '@aimaas/sdk';
import { connectNats, type NatsConnection } from '@aimaas/storage';
import { createLogger } from '@aimaas/telemetry';
import { startNatsServer, type TestNatsServer } from '@aimaas/testing';
import { compileTrainingOptions, openTraining } from '@aimaas/training';

type Nats = NatsConnection;

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
  /** Start the training service with one worker (needs `registry` and `preprocessing`). */
  training?: boolean;
  /** Start the compression service with one worker (needs `registry` and `preprocessing`). */
  compression?: boolean;
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
  /** SDK clients of every started service, closed in `afterAll`. */
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
    createGrpcServer({
      serviceName,
      logger,
      metricsAddr: 'off',
      shutdownGraceMs: graceMs,
      ...(authToken !== undefined && { authToken }),
    });

  /**
   * The training service and a worker in this process, wired as services/training/src/main.ts
   * wires them; stopped (the worker first) before NATS drains.
   */
  const startTraining = async (deps: AimaasClients): Promise<string> => {
    const trainingOptions = compileTrainingOptions({ workerId: `${options.name}-training`, progressIntervalMs: 50 });
    const nc = await connect('training');
    const gangNc = await connect('training-gang');
    const training = await openTraining(nc, gangNc, {
      logger,
      options: trainingOptions,
      preprocessing: deps.preprocessing,
      registry: deps.registry,
    });
    stops.unshift(() => training.close());
    const server = grpcServer('training').add(TrainingServiceService, training.handlers);
    const working = training.run(server.stopping);
    stops.unshift(() => working);
    return serve(server);
  };

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
    }
    /** Clients the services themselves call other services with (created on first need). */
    let backing: AimaasClients | undefined;
    const backingClients = (what: string): AimaasClients => {
      if (env.AIMAAS_REGISTRY_ADDR === undefined) throw new Error(`useCliStack: ${what} needs the registry`);
      if (backing === undefined) {
        const clients = createClients({
          addresses: {
            registry: env.AIMAAS_REGISTRY_ADDR,
            ...(env.AIMAAS_PREPROCESSING_ADDR && { preprocessing: env.AIMAAS_PREPROCESSING_ADDR }),
          },
          ...(options.registry?.authToken !== undefined && { authToken: options.registry.authToken }),
          tracing: false,
        });
        stops.unshift(() => clients.close());
        backing = clients;
      }
      return backing;
    };
    if (options.inference === true) {
      const inference: InferenceReplica = await openInference(await connect('inference'), {
        registry: backingClients('inference').registry,
        logger,
      });
      stops.unshift(() => inference.close());
      env.AIMAAS_INFERENCE_ADDR = await serve(
        grpcServer('inference')
          .add(InferenceServiceService, inference.handlers.inference)
          .add(GRPCInferenceServiceService, inference.handlers.oip),
      );
      await inference.restored;
    }
    if (options.preprocessing === true) {
      const preprocessing = await openPreprocessing(await connect('preprocessing'), { logger });
      stops.unshift(() => preprocessing.close());
      env.AIMAAS_PREPROCESSING_ADDR = await serve(
        grpcServer('preprocessing').add(PreprocessingServiceService, preprocessing.handlers),
      );
    }
    if (options.training === true || options.compression === true) {
      if (env.AIMAAS_PREPROCESSING_ADDR === undefined)
        throw new Error('useCliStack: training and compression need preprocessing');
      await initBackend();
    }
    if (options.training === true) env.AIMAAS_TRAINING_ADDR = await startTraining(backingClients('training'));
    if (options.compression === true) {
      const deps = backingClients('compression');
      const compression = await openCompression(await connect('compression'), {
        registry: deps.registry,
        preprocessing: deps.preprocessing,
        logger,
        worker: { workerId: `${options.name}-compression`, ackWaitMs: 10_000, progressIntervalMs: 50 },
      });
      stops.unshift(() => compression.close());
      env.AIMAAS_COMPRESSION_ADDR = await serve(
        grpcServer('compression').add(CompressionServiceService, compression.handlers),
      );
    }
    if (env.AIMAAS_REGISTRY_ADDR !== undefined) {
      const clients = createClients({
        addresses: {
          registry: env.AIMAAS_REGISTRY_ADDR,
          ...(env.AIMAAS_INFERENCE_ADDR && { inference: env.AIMAAS_INFERENCE_ADDR }),
          ...(env.AIMAAS_PREPROCESSING_ADDR && { preprocessing: env.AIMAAS_PREPROCESSING_ADDR }),
          ...(env.AIMAAS_TRAINING_ADDR && { training: env.AIMAAS_TRAINING_ADDR }),
          ...(env.AIMAAS_COMPRESSION_ADDR && { compression: env.AIMAAS_COMPRESSION_ADDR }),
        },
        ...(options.registry?.authToken !== undefined && { authToken: options.registry.authToken }),
        tracing: false,
      });
      state.clients = clients;
      stops.unshift(() => clients.close());
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
    if (value === undefined)
      throw new Error(`useCliStack: ${key} is not there (read it after beforeAll, and start the registry for clients)`);
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

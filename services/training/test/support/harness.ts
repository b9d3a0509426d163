/**
 * The mesh a training test runs against: a real nats-server, the registry (in process, real
 * gRPC on port 0), the preprocessing service (in process) and training replicas wired the way
 * main.ts wires them.
 */
import { RegistryServiceService, TrainingServiceService } from '@aimaas/proto';
import { createGrpcServer, type GrpcServer } from '@aimaas/runtime';
import { initBackend } from '@aimaas/ml';
import { openRegistry } from '@aimaas/registry';
import { createClients, type AimaasClients } from '@aimaas/sdk';
import { connectNats } from '@aimaas/storage';
import { createLogger } from '@aimaas/telemetry';
import { startNatsServer, type TestNatsServer } from '@aimaas/testing';
import { compileTrainingOptions, openTraining, type TrainingOptions } from '../../src/index.js';
import { startServicePreprocessing, type PreprocessingUnderTest } from './service-preprocessing.js';

/** One training replica: the service on a real gRPC server, with or without a worker. */
interface TrainingReplica {
  address: string;
  server: GrpcServer;
  stop(): Promise<void>;
}

/** Everything a suite needs; {@link Mesh.close} stops it all. */
export interface Mesh {
  nats: TestNatsServer;
  registryAddress: string;
  /** The preprocessing service, in process. */
  preprocessing: PreprocessingUnderTest;
  /** Typed clients of the first training replica, the registry and preprocessing. */
  clients: AimaasClients;
  training: TrainingReplica;
  startTraining(options?: TrainingOptions): Promise<TrainingReplica>;
  close(): Promise<void>;
}

const logger = createLogger('training-test', process.env.LOG_LEVEL ?? 'silent');

/** Starts the mesh, with one in-process training replica unless `training` is false. */
export async function startMesh(options: { training?: TrainingOptions | false } = {}): Promise<Mesh> {
  await initBackend();
  const nats = await startNatsServer();
  const registryNc = await connectNats(nats.url, { name: 'registry-test' });
  const registry = await openRegistry(registryNc, { logger });
  const registryServer = createGrpcServer({
    serviceName: 'registry',
    logger,
    metricsAddr: 'off',
    shutdownGraceMs: 500,
  }).add(RegistryServiceService, registry.handlers);
  const registryAddress = `127.0.0.1:${await registryServer.listen('127.0.0.1:0')}`;
  const preprocessing = await startServicePreprocessing(nats.url);
  const replicas: TrainingReplica[] = [];

  async function startTraining(trainingOptions: TrainingOptions = {}): Promise<TrainingReplica> {
    const compiled = compileTrainingOptions({ workerId: `test-${replicas.length}`, ...trainingOptions });
    const nc = await connectNats(nats.url, { name: 'training-test' });
    const gangNc = await connectNats(nats.url, { name: 'training-test-gang' });
    const clients = createClients({
      addresses: { preprocessing: preprocessing.address, registry: registryAddress },
      tls: false,
      tracing: false,
    });
    const opened = await openTraining(nc, gangNc, {
      logger,
      options: compiled,
      preprocessing: clients.preprocessing,
      registry: clients.registry,
      queueRetryBaseMs: 200,
    });
    const server = createGrpcServer({
      serviceName: 'training',
      logger,
      metricsAddr: 'off',
      shutdownGraceMs: 1_000,
    }).add(TrainingServiceService, opened.handlers);
    const port = await server.listen('127.0.0.1:0');
    const working = opened.run(server.stopping);
    const replica: TrainingReplica = {
      address: `127.0.0.1:${port}`,
      server,
      async stop() {
        await server.shutdown({ graceMs: 1_000 });
        await working;
        await opened.close();
        clients.close();
        await gangNc.drain();
        await nc.drain();
      },
    };
    replicas.push(replica);
    return replica;
  }

  const training = options.training === false ? undefined : await startTraining(options.training || {});
  const clients = createClients({
    addresses: {
      training: training?.address ?? '127.0.0.1:1',
      registry: registryAddress,
      preprocessing: preprocessing.address,
    },
    tls: false,
    tracing: false,
  });
  return {
    nats,
    registryAddress,
    preprocessing,
    clients,
    training: training!,
    startTraining,
    async close() {
      clients.close();
      for (const replica of replicas) await replica.stop().catch(() => undefined);
      await registryServer.shutdown({ graceMs: 500 });
      await registry.close();
      await registryNc.drain();
      await preprocessing.close();
      await nats.stop();
    },
  };
}

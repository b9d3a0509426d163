/**
 * The mesh a compression test runs against: the training suite's mesh (a real nats-server, the
 * registry, preprocessing and a training replica, each on real gRPC in this process), plus
 * compression replicas wired with `openCompression` as main.ts wires them, and optionally the
 * inference service.
 */
import {
  CompressionServiceService,
  GRPCInferenceServiceService,
  InferenceServiceService,
  JobState,
  type CompressionJob,
} from '@aimaas/proto';
import { openInference } from '@aimaas/inference';
import { createGrpcServer, type GrpcServer } from '@aimaas/runtime';
import { AimaasError, createClients, type AimaasClients } from '@aimaas/sdk';
import { connectNats } from '@aimaas/storage';
import { createLogger } from '@aimaas/telemetry';
import { fixturePath, waitFor } from '@aimaas/testing';
import { startMesh as startTrainingMesh, type Mesh } from '../../../training/test/support/harness.js';
import { irisJob, waitForEnd } from '../../../training/test/support/helpers.js';
import { openCompression, type CompressionWorkerOptions } from '../../src/index.js';

const logger = createLogger('compression-test', process.env.LOG_LEVEL ?? 'silent');

/** One compression replica on a real gRPC server. */
export interface CompressionUnderTest {
  address: string;
  server: GrpcServer;
  stop(): Promise<void>;
}

/** The compression mesh; {@link CompressionMesh.close} stops it all. */
export interface CompressionMesh {
  base: Mesh;
  /** Clients of the first compression replica, the registry, preprocessing, training (and inference). */
  clients: AimaasClients;
  compression: CompressionUnderTest;
  startCompression(worker?: CompressionWorkerOptions | false): Promise<CompressionUnderTest>;
  close(): Promise<void>;
}

/** Starts the mesh with one compression replica (with a worker unless `worker` is false). */
export async function startCompressionMesh(
  options: { worker?: CompressionWorkerOptions | false; inference?: boolean } = {},
): Promise<CompressionMesh> {
  const base = await startTrainingMesh();
  const stops: Array<() => Promise<void>> = [];
  async function startCompression(worker: CompressionWorkerOptions | false = {}): Promise<CompressionUnderTest> {
    const nc = await connectNats(base.nats.url, { name: 'compression-test' });
    const deps = createClients({
      addresses: { preprocessing: base.preprocessing.address, registry: base.registryAddress },
      tls: false,
      tracing: false,
    });
    const replica = await openCompression(nc, {
      registry: deps.registry,
      preprocessing: deps.preprocessing,
      logger,
      worker:
        worker === false
          ? false
          : { workerId: `compression-test-${stops.length}`, ackWaitMs: 5_000, progressIntervalMs: 50, ...worker },
      latencyRuns: { batch1: 10, batch256: 3, minMs: 0 },
    });
    const server = createGrpcServer({
      serviceName: 'compression',
      logger,
      metricsAddr: 'off',
      shutdownGraceMs: 500,
    }).add(CompressionServiceService, replica.handlers);
    const address = `127.0.0.1:${await server.listen('127.0.0.1:0')}`;
    const stop = async () => {
      await server.shutdown({ graceMs: 500 });
      await replica.close();
      deps.close();
      await nc.drain();
    };
    stops.push(stop);
    return { address, server, stop };
  }
  const compression = await startCompression(options.worker ?? {});
  let inferenceAddress = '127.0.0.1:1';
  if (options.inference) {
    const nc = await connectNats(base.nats.url, { name: 'inference-test' });
    const deps = createClients({ addresses: { registry: base.registryAddress }, tls: false, tracing: false });
    const inference = await openInference(nc, { registry: deps.registry, logger });
    const server = createGrpcServer({ serviceName: 'inference', logger, metricsAddr: 'off', shutdownGraceMs: 500 })
      .add(InferenceServiceService, inference.handlers.inference)
      .add(GRPCInferenceServiceService, inference.handlers.oip);
    inferenceAddress = `127.0.0.1:${await server.listen('127.0.0.1:0')}`;
    stops.push(async () => {
      await server.shutdown({ graceMs: 500 });
      await inference.close();
      deps.close();
      await nc.drain();
    });
  }
  const clients = createClients({
    addresses: {
      compression: compression.address,
      registry: base.registryAddress,
      preprocessing: base.preprocessing.address,
      training: base.training.address,
      inference: inferenceAddress,
      oip: inferenceAddress,
    },
    tls: false,
    tracing: false,
  });
  return {
    base,
    clients,
    compression,
    startCompression,
    async close() {
      clients.close();
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
      await base.close();
    },
  };
}

/** Imports and prepares a fixture CSV, then trains a seeded MLP on it through the training service; resolves the version. */
export async function trainSource(
  mesh: CompressionMesh,
  fixture: 'iris.csv' | 'digits.csv' | 'wine.csv',
  options: {
    name: string;
    target: string;
    hidden?: number[];
    epochs?: number;
    task?: 'classification' | 'regression';
    split?: [number, number, number];
  },
): Promise<{ name: string; version: number; preparedDatasetId: string }> {
  const prepared = await mesh.base.preprocessing.prepareCsv(fixturePath(fixture), {
    id: options.name,
    name: options.name,
    target: options.target,
    seed: 7,
    ...(options.task && { task: options.task }),
    ...(options.split && { split: options.split }),
  });
  const job = await mesh.clients.training.submitTrainingJob(
    irisJob(prepared.id, {
      modelName: options.name,
      model: {
        mlp: { hiddenUnits: options.hidden ?? [16, 16], activation: 'relu', dropout: 0, batchNorm: false },
        inputShape: [],
      },
      config: {
        optimizer: { name: 'adam', learningRate: 0.01, momentum: 0, nesterov: false },
        schedule: undefined,
        batchSize: 32,
        epochs: options.epochs ?? 40,
        seed: 1,
        earlyStopping: undefined,
        validationSplit: 0,
        workers: 0,
      },
    }),
  );
  const done = await waitForEnd(mesh.clients, job.id, 120_000);
  if (done.state !== JobState.JOB_STATE_SUCCEEDED) throw new Error(`training ${options.name} failed: ${done.error}`);
  return { name: done.modelVersion!.name, version: done.modelVersion!.version!, preparedDatasetId: prepared.id };
}

/** Waits for a compression job to end and returns it. */
export async function waitForCompression(
  clients: AimaasClients,
  id: string,
  timeoutMs = 120_000,
): Promise<CompressionJob> {
  return waitFor(
    async () => {
      const job = await clients.compression.getCompressionJob({ id });
      return (
        [JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED].includes(job.state) &&
        job
      );
    },
    { timeoutMs, intervalMs: 100, message: `compression job ${id} to end` },
  );
}

/** The AimaasError a call (or a stream read to its end) fails with; fails the test if it succeeds. */
export async function failure(call: Promise<unknown>): Promise<AimaasError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof AimaasError))
    throw new Error(`expected the call to fail with a gRPC status, got ${String(error)}`);
  return error;
}

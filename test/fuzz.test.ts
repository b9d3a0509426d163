/**
 * The fuzz suite (issue 10): every RPC of every service, each as its own OS process on a real
 * nats-server, gets a seeded set of random byte strings and generated hostile messages over real
 * gRPC. No service may crash, answer INTERNAL, or answer with a message over 1 KB; a health check
 * of each keeps answering within a second all along; and each process's RSS ends below a bound.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type TestNatsServer } from '@aimaas/testing';
import { encodeMessage, hostileMessage, randomBytes, seededRandom } from './support/hostile.js';
import {
  healthStatus,
  startFiveServices,
  ROOT,
  SERVICES,
  type Service,
  type ServiceProcess,
} from './support/services.js';

const SEED = 20_261_203;
const RANDOM_PER_METHOD = 60;
const HOSTILE_PER_METHOD = 120;
const CALL_DEADLINE_MS = 5_000;
const CONCURRENCY = 8;
const RSS_BOUND_MIB = 768;
/** No call starts after this much of the run (the suite's own bound: about a minute). */
const BUDGET_MS = 50_000;

/** The gRPC services and the process serving each. */
const SERVED: Record<string, Service> = {
  'aimaas.v1.PreprocessingService': 'preprocessing',
  'aimaas.v1.TrainingService': 'training',
  'aimaas.v1.CompressionService': 'compression',
  'aimaas.v1.RegistryService': 'registry',
  'aimaas.v1.InferenceService': 'inference',
  'inference.GRPCInferenceService': 'inference',
};
const PROTO_FILES = [
  'aimaas/v1/preprocessing.proto',
  'aimaas/v1/training.proto',
  'aimaas/v1/compression.proto',
  'aimaas/v1/registry.proto',
  'aimaas/v1/inference.proto',
  'inference/grpc_predict_v2.proto',
];

interface Outcome {
  method: string;
  kind: 'random' | 'hostile';
  code: number;
  details: string;
}

let nats: TestNatsServer;
let dataDir: string;
let processes = new Map<Service, ServiceProcess>();
let addresses = {} as Record<Service, string>;

beforeAll(async () => {
  nats = await startNatsServer();
  dataDir = await mkdtemp(join(tmpdir(), 'aimaas-fuzz-'));
  const env: Record<string, string> = {
    NATS_URL: nats.url,
    AIMAAS_DATA_DIR: dataDir,
    AIMAAS_METRICS_ADDR: 'off',
    LOG_LEVEL: 'warn',
  };
  ({ processes, addresses } = await startFiveServices(env));
}, 120_000);

afterAll(async () => {
  for (const { child } of processes.values()) if (child.exitCode === null) child.kill('SIGKILL');
  await nats?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** One raw call of any shape: the request bytes in, the final status out. */
function rawCall(
  client: grpc.Client,
  method: protobuf.Method,
  path: string,
  requests: Buffer[],
): Promise<{ code: number; details: string }> {
  const identity = (bytes: Buffer): Buffer => bytes;
  const deadline = Date.now() + CALL_DEADLINE_MS;
  return new Promise((resolve) => {
    const done = (error: grpc.ServiceError | null): void =>
      resolve({ code: error?.code ?? grpc.status.OK, details: error?.details ?? '' });
    if (!method.requestStream && !method.responseStream) {
      client.makeUnaryRequest(path, identity, identity, requests[0]!, new grpc.Metadata(), { deadline }, (error) =>
        done(error),
      );
    } else if (method.requestStream && !method.responseStream) {
      const call = client.makeClientStreamRequest(
        path,
        identity,
        identity,
        new grpc.Metadata(),
        { deadline },
        (error) => done(error),
      );
      for (const request of requests) call.write(request);
      call.end();
    } else {
      const call = method.requestStream
        ? client.makeBidiStreamRequest(path, identity, identity, new grpc.Metadata(), { deadline })
        : client.makeServerStreamRequest(path, identity, identity, requests[0]!, new grpc.Metadata(), { deadline });
      call.on('data', () => undefined);
      call.on('error', (error: grpc.ServiceError) => done(error));
      call.on('end', () => done(null));
      if (method.requestStream) {
        const duplex = call as grpc.ClientDuplexStream<Buffer, Buffer>;
        for (const request of requests) duplex.write(request);
        duplex.end();
      }
    }
  });
}

/** Health of every service every 200 ms while `running`; the slowest answer and any failure. */
function watchHealth(): { stop(): Promise<{ slowestMs: number; failures: string[] }> } {
  let running = true;
  let slowestMs = 0;
  const failures: string[] = [];
  const loop = (async () => {
    while (running) {
      await Promise.all(
        SERVICES.map(async (service) => {
          const started = performance.now();
          const status = await healthStatus(addresses[service], 1_000).catch(
            (error: Error) => `error: ${error.message}`,
          );
          const ms = performance.now() - started;
          slowestMs = Math.max(slowestMs, ms);
          if (status !== 'SERVING') failures.push(`${service}: ${status} after ${ms.toFixed(0)} ms`);
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { slowestMs, failures };
    },
  };
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

describe('fuzz', () => {
  it('survives random bytes and hostile messages on every RPC: no crash, no INTERNAL, short errors, health within 1 s', async () => {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => join(ROOT, 'proto', target);
    root.loadSync(PROTO_FILES, { keepCase: true });
    root.resolveAll();
    const random = seededRandom(SEED);
    const clients = new Map<Service, grpc.Client>();
    for (const service of SERVICES)
      clients.set(
        service,
        new grpc.Client(addresses[service], grpc.credentials.createInsecure(), {
          'grpc.max_send_message_length': 64 * 1024 * 1024,
        }),
      );

    // Every call prepared up front from the one seed, so a run is the same every time.
    const calls: Array<{ run: () => Promise<Outcome> }> = [];
    let methods = 0;
    for (const [serviceName, service] of Object.entries(SERVED)) {
      const definition = root.lookupService(serviceName);
      for (const method of definition.methodsArray) {
        methods++;
        const path = `/${serviceName}/${method.name}`;
        const requestType = method.resolvedRequestType!;
        const client = clients.get(service)!;
        const add = (kind: Outcome['kind'], requests: Buffer[]): void => {
          calls.push({ run: async () => ({ method: path, kind, ...(await rawCall(client, method, path, requests)) }) });
        };
        for (let i = 0; i < RANDOM_PER_METHOD; i++) add('random', [randomBytes(random)]);
        for (let i = 0; i < HOSTILE_PER_METHOD; i++) {
          const count = method.requestStream ? 1 + Math.floor(random() * 3) : 1;
          const requests = Array.from({ length: count }, () =>
            encodeMessage(requestType, hostileMessage(requestType, random)),
          ).filter((b): b is Buffer => b !== undefined);
          if (requests.length > 0) add('hostile', requests);
        }
      }
    }
    expect(methods).toBeGreaterThanOrEqual(46);

    // A seeded shuffle, so that a run cut short by its time budget still reaches every method.
    for (let i = calls.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [calls[i], calls[j]] = [calls[j]!, calls[i]!];
    }
    const health = watchHealth();
    const started = performance.now();
    const outcomes: Outcome[] = [];
    let next = 0;
    // Bounded work, not a timed assertion: no new call starts after the budget (a loaded machine
    // runs fewer of them); every method must still have been called.
    const over = (): boolean => performance.now() - started > BUDGET_MS;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < calls.length && !over()) outcomes.push(await calls[next++]!.run());
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const { slowestMs, failures } = await health.stop();
    for (const client of clients.values()) client.close();

    const byCode = new Map<string, number>();
    for (const outcome of outcomes)
      byCode.set(grpc.status[outcome.code]!, (byCode.get(grpc.status[outcome.code]!) ?? 0) + 1);
    const slow = new Map<string, number>();
    for (const o of outcomes)
      if (o.code === grpc.status.DEADLINE_EXCEEDED) slow.set(o.method, (slow.get(o.method) ?? 0) + 1);
    if (slow.size > 0) console.log('fuzz: deadline exceeded on', Object.fromEntries(slow));
    console.log(
      `fuzz: ${outcomes.length} calls to ${methods} methods in ${seconds.toFixed(1)} s; slowest health check ${slowestMs.toFixed(0)} ms;`,
      Object.fromEntries(byCode),
    );

    for (const [service, { child, output }] of processes) {
      expect(child.exitCode, `${service} exited; its last output:\n${output().slice(-3_000)}`).toBeNull();
    }
    expect(new Set(outcomes.map((o) => o.method)).size).toBe(methods);
    expect(outcomes.filter((o) => o.code === grpc.status.INTERNAL || o.code === grpc.status.UNKNOWN)).toEqual([]);
    expect(
      outcomes
        .filter((o) => o.details.length > 1024)
        .map((o) => ({ ...o, details: `${o.details.slice(0, 200)}… (${o.details.length})` })),
    ).toEqual([]);
    // UNAVAILABLE would be a service gone, or refusing; DEADLINE_EXCEEDED only for watches, which never end by themselves.
    expect(outcomes.filter((o) => o.code === grpc.status.UNAVAILABLE)).toEqual([]);
    expect(outcomes.filter((o) => o.code === grpc.status.DEADLINE_EXCEEDED && !/Watch|Stream/.test(o.method))).toEqual(
      [],
    );
    expect(failures).toEqual([]);
    expect(slowestMs).toBeLessThan(1_000);
    const rss = Object.fromEntries(
      [...processes].map(([service, { child }]) => [service, Math.round(rssMiB(child.pid!))]),
    );
    console.log('fuzz: RSS at the end (MiB)', rss);
    for (const [service, mib] of Object.entries(rss)) expect(mib, `${service} RSS`).toBeLessThan(RSS_BOUND_MIB);
  }, 150_000);
});

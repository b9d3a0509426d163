import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { freePort, spawnService, waitFor, type SpawnedService } from '@aimaas/testing';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SERVICES = ['preprocessing', 'training', 'compression', 'registry', 'inference'] as const;
export type Service = (typeof SERVICES)[number];

/** `grpc.health.v1.Health/Check` of the whole server at `address` (rejects with the gRPC error). */
export function healthStatus(address: string, deadlineMs = 5_000): Promise<string> {
  const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String });
  const loaded = grpc.loadPackageDefinition(definition) as any;
  const client = new loaded.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) =>
    client.check(
      { service: '' },
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (error: Error | null, reply: { status: string }) => {
        client.close();
        if (error) reject(error);
        else resolve(reply.status);
      },
    ),
  );
}

/** A built service as its own process (see `@aimaas/testing`'s `spawnService`). */
export type ServiceProcess = SpawnedService;

/**
 * The five services as processes against `env` (NATS_URL and the rest), each on a free port in
 * its `AIMAAS_<SERVICE>_ADDR`; resolves once every one reports SERVING.
 */
export async function startFiveServices(
  env: Record<string, string>,
): Promise<{ processes: Map<Service, ServiceProcess>; addresses: Record<Service, string> }> {
  const addresses = {} as Record<Service, string>;
  const withPorts = { ...env };
  for (const service of SERVICES)
    addresses[service] = withPorts[`AIMAAS_${service.toUpperCase()}_ADDR`] = `127.0.0.1:${await freePort()}`;
  const processes = new Map<Service, ServiceProcess>();
  for (const service of SERVICES) processes.set(service, spawnService(service, withPorts));
  for (const service of SERVICES) {
    const serving = () =>
      healthStatus(addresses[service], 1_000).then(
        (status) => status === 'SERVING',
        () => false,
      );
    await waitFor(serving, { timeoutMs: 60_000, message: `${service} to report SERVING` });
  }
  return { processes, addresses };
}

import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { spawnService, type SpawnedService } from '@aimaas/testing';

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
export { spawnService };

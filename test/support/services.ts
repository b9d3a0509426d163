import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SERVICES = ['preprocessing', 'training', 'compression', 'registry', 'inference'] as const;
export type Service = (typeof SERVICES)[number];

/** `grpc.health.v1.Health/Check` of the whole server at `address` (rejects with the gRPC error). */
export function healthStatus(address: string, deadlineMs = 5_000): Promise<string> {
  const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String });
  const loaded = grpc.loadPackageDefinition(definition) as any;
  const client = new loaded.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) =>
    client.check({ service: '' }, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (error: Error | null, reply: { status: string }) => {
      client.close();
      if (error) reject(error);
      else resolve(reply.status);
    }),
  );
}

/** A built service (`services/<name>/dist/main.js`) as its own process, its output collected. */
export interface ServiceProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the exit code or signal once the process has ended. */
  readonly exited: Promise<number | string | null>;
}

export function spawnService(service: Service, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, [`services/${service}/dist/main.js`], { cwd: ROOT, env: { ...process.env, ...env } });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return { child, output: () => output, exited };
}

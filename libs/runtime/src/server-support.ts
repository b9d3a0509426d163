import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { selectDescriptorFiles } from './descriptor-set.js';
import { HealthImplementation, protoPath as healthProtoPath, type ServingStatus } from 'grpc-health-check';

/** The `.proto` sources that server reflection describes. */
export interface ProtoFiles {
  /** Import roots, e.g. `['/work/main/proto']`. */
  includeDirs: string[];
  /** Files relative to an include dir, e.g. `['aimaas/v1/registry.proto']`. */
  files: string[];
  /**
   * The same files compiled into a FileDescriptorSet (`buf build -o`; `readDescriptorSet()` of
   * @aimaas/proto). When given, reflection serves each file under its real name with its real
   * imports, as `buf curl` and `grpcurl` expect; without it, proto-loader merges files per package.
   */
  descriptorSet?: Uint8Array;
}

/** The fully qualified name of the health service. */
export const HEALTH_SERVICE_NAME = 'grpc.health.v1.Health';

const loaderOptions: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/**
 * Adds server reflection (v1 and v1alpha) describing `protoFiles` plus the health and reflection
 * services themselves, so `grpcurl list` shows everything the server answers.
 */
export function addReflection(server: grpc.Server, protoFiles: ProtoFiles | undefined): void {
  const definitions: protoLoader.PackageDefinition[] = [
    protoLoader.loadSync('health/v1/health.proto', {
      ...loaderOptions,
      includeDirs: [dirname(dirname(dirname(healthProtoPath)))],
    }),
  ];
  const reflectionRoot = reflectionProtoRoot();
  if (reflectionRoot) {
    definitions.push(
      protoLoader.loadSync('grpc/reflection/v1/reflection.proto', { ...loaderOptions, includeDirs: [reflectionRoot] }),
    );
  }
  if (protoFiles?.descriptorSet && protoFiles.files.length > 0) {
    const fileDescriptorProtos = selectDescriptorFiles(protoFiles.descriptorSet, protoFiles.files);
    definitions.push({
      [`files:${protoFiles.files.join(',')}`]: { fileDescriptorProtos },
    } as unknown as protoLoader.PackageDefinition);
  } else if (protoFiles && protoFiles.files.length > 0) {
    try {
      definitions.push(
        protoLoader.loadSync(protoFiles.files, { ...loaderOptions, includeDirs: protoFiles.includeDirs }),
      );
    } catch (error) {
      throw new TypeError(
        `protoFiles: cannot load ${protoFiles.files.join(', ')} from ${protoFiles.includeDirs.join(', ')}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  const merged = Object.assign({}, ...definitions) as protoLoader.PackageDefinition;
  new ReflectionService(merged as ConstructorParameters<typeof ReflectionService>[0]).addToServer(server);
}

/** The directory holding `grpc/reflection/v1/reflection.proto` inside @grpc/reflection, if shipped. */
export function reflectionProtoRoot(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve('@grpc/reflection');
    const root = join(dirname(entry), '..', 'proto');
    return existsSync(join(root, 'grpc/reflection/v1/reflection.proto')) ? root : undefined;
  } catch {
    return undefined;
  }
}

/**
 * grpc.health.v1.Health (Check, Watch, List) whose Watch streams can be ended at shutdown: an
 * open Watch is a call in flight and would otherwise hold a graceful shutdown for its whole grace.
 */
export class HealthService {
  private readonly health: HealthImplementation;
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watches = new Set<grpc.ServerWritableStream<unknown, unknown>>();

  constructor() {
    this.statuses.set('', 'NOT_SERVING');
    this.health = new HealthImplementation({ '': 'NOT_SERVING' });
  }

  addToServer(server: grpc.Server): void {
    const watches = this.watches;
    this.health.addToServer({
      addService(service, implementation) {
        const watch = implementation.watch as grpc.handleServerStreamingCall<unknown, unknown>;
        const trackedWatch = (call: grpc.ServerWritableStream<unknown, unknown>): void => {
          watches.add(call);
          const forget = (): void => void watches.delete(call);
          call.once('cancelled', forget);
          call.once('finish', forget);
          watch(call);
        };
        server.addService(
          service as unknown as grpc.ServiceDefinition,
          { ...implementation, watch: trackedWatch } as grpc.UntypedServiceImplementation,
        );
      },
    });
  }

  /** Sets the status of `service` ('' is the server as a whole) and tells its watchers. */
  setStatus(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    this.health.setStatus(service, status);
  }

  /** Sets every known status at once. */
  setAll(status: ServingStatus): void {
    for (const service of this.statuses.keys()) this.setStatus(service, status);
  }

  /** Ends every open Watch stream with OK after its last update. */
  endWatches(): void {
    for (const call of this.watches) call.end();
    this.watches.clear();
  }
}

import { createHash } from 'node:crypto';
import {
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import {
  ModelVersion,
  type DownloadModelArtifactsRequest,
  type DownloadModelArtifactsResponse,
  type RegistryServiceServer,
} from '@aimaas/proto';

/** A real grpc-js server on a loopback port, serving whatever handlers a test puts in `handlers`. */
export interface TestServer<H> {
  /** `127.0.0.1:<port>` */
  readonly address: string;
  /** The current handlers; a test may replace entries at any time. Missing ones answer UNIMPLEMENTED. */
  readonly handlers: Partial<H>;
  /** Calls received per method name (e.g. `getRegisteredModel`). */
  readonly calls: Record<string, number>;
  stop(): Promise<void>;
}

/** Starts a grpc-js server for `definition` on 127.0.0.1:0 whose methods delegate to `handlers`. */
export async function startTestServer<H extends object>(
  definition: ServiceDefinition,
  handlers: Partial<H> = {},
): Promise<TestServer<H>> {
  const server = new Server();
  const calls: Record<string, number> = {};
  const implementation: Record<string, (call: unknown, callback?: unknown) => void> = {};
  for (const name of Object.keys(definition)) {
    implementation[name] = (call, callback) => {
      calls[name] = (calls[name] ?? 0) + 1;
      const handler = (handlers as Record<string, ((c: unknown, cb?: unknown) => void) | undefined>)[name];
      if (handler) return handler(call, callback);
      const error = { code: status.UNIMPLEMENTED, details: `${name} is not implemented by this test server` };
      if (typeof callback === 'function') (callback as sendUnaryData<unknown>)(error);
      else (call as ServerWritableStream<unknown, unknown>).emit('error', error);
    };
  }
  server.addService(definition, implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    address: `127.0.0.1:${port}`,
    handlers,
    calls,
    stop: async () => {
      server.forceShutdown();
    },
  };
}

/** A unary handler that fails with `code` and `details`. */
export function failWith(code: status, details: string) {
  return <Req, Res>(_call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void =>
    callback({ code, details });
}

/** The SHA-256 of `bytes` as lower-case hex. */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Deterministic pseudo-random bytes. */
export function bytesOf(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = x >>> 16;
  }
  return out;
}

/** One artifact a download handler serves; `announcedSha256` overrides the digest sent in its header. */
export interface ServedFile {
  path: string;
  format: string;
  bytes: Buffer;
  announcedSha256?: string;
}

/**
 * A `DownloadModelArtifacts` handler after the contract: the version first, then per file its
 * header and chunks of `chunkSize` bytes.
 */
export function serveArtifacts(
  name: string,
  version: number,
  files: ServedFile[],
  chunkSize = 64 * 1024,
): RegistryServiceServer['downloadModelArtifacts'] {
  return (call: ServerWritableStream<DownloadModelArtifactsRequest, DownloadModelArtifactsResponse>) => {
    const selected = files.filter((f) => !call.request.format || f.format === call.request.format);
    const meta = selected.map((f) => ({
      path: f.path,
      format: f.format,
      size: f.bytes.length,
      sha256: sha256(f.bytes),
    }));
    call.write({ version: ModelVersion.fromPartial({ name, version, files: meta }) });
    for (const [i, file] of selected.entries()) {
      call.write({ file: { ...meta[i]!, sha256: file.announcedSha256 ?? meta[i]!.sha256 } });
      for (let at = 0; at < file.bytes.length; at += chunkSize) {
        call.write({ chunk: file.bytes.subarray(at, at + chunkSize) });
      }
    }
    call.end();
  };
}

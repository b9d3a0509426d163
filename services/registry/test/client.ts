import { once } from 'node:events';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  CreateModelVersionRequest,
  CreateRegisteredModelRequest,
  DeleteAliasRequest,
  DeleteModelVersionRequest,
  DeleteRegisteredModelRequest,
  DownloadModelArtifactsRequest,
  type FileHeader,
  GetLineageRequest,
  GetModelVersionRequest,
  GetRegisteredModelRequest,
  ListAliasHistoryRequest,
  ListRegisteredModelsRequest,
  ModelVersionHeader,
  SearchModelVersionsRequest,
  SetAliasRequest,
  UpdateModelVersionRequest,
  UpdateRegisteredModelRequest,
  type DownloadModelArtifactsResponse,
  type ModelVersion,
  type RegistryServiceClient,
} from '@aimaas/proto';

/** Request and response types of a ts-proto unary client method (read from its last overload). */
type Signature<M> = M extends (
  request: infer Req,
  metadata: Metadata,
  options: any,
  callback: (error: ServiceError | null, response: infer Res) => void,
) => unknown
  ? { req: Req; res: Res }
  : never;
interface Fns<Req> {
  fromPartial(object: any): Req;
}

/** Metadata carrying `x-aimaas-actor`. */
export function actor(name: string): Metadata {
  const metadata = new Metadata();
  metadata.set('x-aimaas-actor', name);
  return metadata;
}

function unary<M extends (...args: any[]) => unknown>(
  client: RegistryServiceClient,
  method: M,
  fns: Fns<Signature<M>['req']>,
) {
  type Res = Signature<M>['res'];
  return (request: Partial<Signature<M>['req']> | Record<string, unknown>, metadata = new Metadata()): Promise<Res> =>
    new Promise((resolve, reject) => {
      const callback = (error: ServiceError | null, response: Res) => (error ? reject(error) : resolve(response));
      method.call(client, fns.fromPartial(request), metadata, callback);
    });
}

/** One file to upload: its bytes at once or as a stream, and what the file header announces. */
export interface UploadFile {
  path: string;
  format?: string;
  data: Uint8Array | AsyncIterable<Uint8Array>;
  size?: number;
  sha256?: string;
}

/** Promise-returning wrappers over the grpc-js client, taking partial requests. */
export function registryApi(client: RegistryServiceClient) {
  return {
    createRegisteredModel: unary(client, client.createRegisteredModel, CreateRegisteredModelRequest),
    getRegisteredModel: unary(client, client.getRegisteredModel, GetRegisteredModelRequest),
    listRegisteredModels: unary(client, client.listRegisteredModels, ListRegisteredModelsRequest),
    updateRegisteredModel: unary(client, client.updateRegisteredModel, UpdateRegisteredModelRequest),
    deleteRegisteredModel: unary(client, client.deleteRegisteredModel, DeleteRegisteredModelRequest),
    getModelVersion: unary(client, client.getModelVersion, GetModelVersionRequest),
    searchModelVersions: unary(client, client.searchModelVersions, SearchModelVersionsRequest),
    updateModelVersion: unary(client, client.updateModelVersion, UpdateModelVersionRequest),
    deleteModelVersion: unary(client, client.deleteModelVersion, DeleteModelVersionRequest),
    setAlias: unary(client, client.setAlias, SetAliasRequest),
    deleteAlias: unary(client, client.deleteAlias, DeleteAliasRequest),
    listAliasHistory: unary(client, client.listAliasHistory, ListAliasHistoryRequest),
    getLineage: unary(client, client.getLineage, GetLineageRequest),

    /** CreateModelVersion: the header, then each file header and its chunks, with backpressure. */
    createModelVersion(
      header: Partial<ModelVersionHeader> | Record<string, unknown>,
      files: UploadFile[] = [],
      metadata = new Metadata(),
    ) {
      return sendMessages(client, messagesOf(header, files), metadata);
    },

    /** CreateModelVersion with the given raw messages, for malformed streams. */
    sendRaw(messages: Array<Partial<CreateModelVersionRequest>>, metadata = new Metadata()) {
      return sendMessages(client, toAsync(messages.map((m) => CreateModelVersionRequest.fromPartial(m))), metadata);
    },

    /** DownloadModelArtifacts as a stream of response messages. */
    download(
      request: Partial<DownloadModelArtifactsRequest> | Record<string, unknown>,
    ): AsyncIterable<DownloadModelArtifactsResponse> {
      return client.downloadModelArtifacts(DownloadModelArtifactsRequest.fromPartial(request));
    },

    /** DownloadModelArtifacts collected: the version, and each file's header and bytes. */
    async downloadAll(request: Partial<DownloadModelArtifactsRequest> | Record<string, unknown>) {
      let version: ModelVersion | undefined;
      const files: Array<{ header: FileHeader; data: Buffer; chunks: number[] }> = [];
      for await (const message of this.download(request)) {
        if (message.version) version = message.version;
        else if (message.file) files.push({ header: message.file, data: Buffer.alloc(0), chunks: [] });
        else if (message.chunk) {
          const file = files[files.length - 1]!;
          file.data = Buffer.concat([file.data, message.chunk]);
          file.chunks.push(message.chunk.byteLength);
        }
      }
      return { version, files };
    },
  };
}

/** The promise wrappers of {@link registryApi}. */
export type RegistryApi = ReturnType<typeof registryApi>;

async function* toAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

async function* messagesOf(header: object, files: UploadFile[]): AsyncGenerator<CreateModelVersionRequest> {
  yield CreateModelVersionRequest.fromPartial({ header: ModelVersionHeader.fromPartial(header) });
  for (const file of files) {
    yield CreateModelVersionRequest.fromPartial({
      file: { path: file.path, format: file.format ?? '', size: file.size ?? 0, sha256: file.sha256 ?? '' },
    });
    const pieces = file.data instanceof Uint8Array ? [file.data] : file.data;
    for await (const piece of pieces) yield { chunk: Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength) };
  }
}

/** Writes messages on a client stream, waiting for 'drain' and stopping as soon as the call ends. */
function sendMessages(
  client: RegistryServiceClient,
  messages: AsyncIterable<CreateModelVersionRequest>,
  metadata: Metadata,
): Promise<ModelVersion> {
  let settled = false;
  const ended = new AbortController();
  const result = new Promise<ModelVersion>((resolve, reject) => {
    const call = client.createModelVersion(metadata, (error, response) => {
      settled = true;
      ended.abort();
      if (error) reject(error);
      else resolve(response);
    });
    (async () => {
      for await (const message of messages) {
        if (settled) return;
        if (!call.write(message)) await once(call, 'drain', { signal: ended.signal }).catch(() => undefined);
      }
      if (!settled) call.end();
    })().catch((error: unknown) => {
      call.cancel();
      reject(error);
    });
  });
  return result;
}

/** The gRPC status of a failed call: `{ code, details }`, or throws if the call succeeded. */
export async function failure(
  promise: Promise<unknown> | AsyncIterable<unknown>,
): Promise<{ code: status; details: string }> {
  try {
    if (Symbol.asyncIterator in promise) {
      for await (const _ of promise) void _;
    } else {
      await promise;
    }
  } catch (error) {
    const e = error as ServiceError;
    return { code: e.code, details: e.details };
  }
  throw new Error('expected the call to fail, but it succeeded');
}

export { status };

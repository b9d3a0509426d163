/**
 * Typed gRPC clients for every AIMaaS service: promises for unary calls, async iterables for
 * streams, retries for idempotent reads, bearer auth, tracing, and registry upload/download helpers.
 *
 * @example
 * import { createClients, downloadToDirectory } from '@aimaas/sdk';
 * const clients = createClients();
 * await downloadToDirectory(clients.registry, 'fmnist@production', './fmnist');
 * clients.close();
 */
export { createClients, metadataInterceptor } from './create-clients.js';
export type {
  AimaasClients,
  RegistryClient,
  PreprocessingClient,
  TrainingClient,
  CompressionClient,
  InferenceClient,
  OipClient,
} from './create-clients.js';

export { compileClientsOptions, addressEnvName, DEFAULT_ADDRESSES } from './client-options.js';
export type {
  CreateClientsOptions,
  CompiledClientsOptions,
  ServiceName,
  ClientName,
  TlsOptions,
} from './client-options.js';

export { wrapClient } from './typed-client.js';
export type {
  WrapOptions,
  ServiceClient,
  TypedClient,
  TypedMethod,
  UnaryMethod,
  ServerStreamMethod,
  ClientStreamMethod,
  BidiStreamMethod,
  RequestInput,
  RequestSource,
  RequestOf,
  ResponseOf,
  MethodDefinitionLike,
  ServiceDefinitionLike,
} from './typed-client.js';

export { ACTOR_METADATA_KEY } from './call-options.js';
export type { CallOptions } from './call-options.js';

export { AimaasError, DigestMismatchError, statusName } from './errors.js';
export type { StatusName, AimaasErrorInit } from './errors.js';

export { compileRetryPolicy, isIdempotentRead } from './retry.js';
export type { RetryOptions, RetryPolicy } from './retry.js';

export { parseModelRef, formatModelRef, toModelRef } from './model-ref.js';

export { uploadModelVersion, DEFAULT_CHUNK_BYTES } from './upload.js';
export type { UploadFile, UploadOptions } from './upload.js';

export { downloadModelArtifacts } from './download.js';
export type { DownloadHandlers, DownloadRequest, DownloadResult, DownloadedFile } from './download.js';

export { downloadToDirectory } from './download-to-directory.js';
export type { DownloadToDirectoryOptions, DirectoryDownloadResult } from './download-to-directory.js';

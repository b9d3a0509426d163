import {
  credentials as grpcCredentials,
  InterceptingCall,
  type ChannelCredentials,
  type Client,
  type ClientOptions,
  type Interceptor,
} from '@grpc/grpc-js';
import {
  CompressionServiceClient,
  CompressionServiceService,
  GRPCInferenceServiceClient,
  GRPCInferenceServiceService,
  InferenceServiceClient,
  InferenceServiceService,
  PreprocessingServiceClient,
  PreprocessingServiceService,
  RegistryServiceClient,
  RegistryServiceService,
  TrainingServiceClient,
  TrainingServiceService,
} from '@aimaas/proto';
import { tracingClientInterceptor } from '@aimaas/telemetry';
import { ACTOR_METADATA_KEY } from './call-options.js';
import { compileClientsOptions, type CompiledClientsOptions, type CreateClientsOptions } from './client-options.js';
import { wrapClient, type ServiceClient, type ServiceDefinitionLike } from './typed-client.js';

/** Typed client of `aimaas.v1.RegistryService`. */
export type RegistryClient = ServiceClient<typeof RegistryServiceService, RegistryServiceClient>;
/** Typed client of `aimaas.v1.PreprocessingService`. */
export type PreprocessingClient = ServiceClient<typeof PreprocessingServiceService, PreprocessingServiceClient>;
/** Typed client of `aimaas.v1.TrainingService`. */
export type TrainingClient = ServiceClient<typeof TrainingServiceService, TrainingServiceClient>;
/** Typed client of `aimaas.v1.CompressionService`. */
export type CompressionClient = ServiceClient<typeof CompressionServiceService, CompressionServiceClient>;
/** Typed client of `aimaas.v1.InferenceService`. */
export type InferenceClient = ServiceClient<typeof InferenceServiceService, InferenceServiceClient>;
/** Typed client of `inference.GRPCInferenceService` (KServe Open Inference Protocol v2). */
export type OipClient = ServiceClient<typeof GRPCInferenceServiceService, GRPCInferenceServiceClient>;

/** HTTP/2 flow-control window the clients advertise (8 MiB). */
const RECEIVE_WINDOW_BYTES = 8 * 1024 * 1024;

/** A client per AIMaaS service, from {@link createClients}. */
export interface AimaasClients {
  readonly registry: RegistryClient;
  readonly preprocessing: PreprocessingClient;
  readonly training: TrainingClient;
  readonly compression: CompressionClient;
  readonly inference: InferenceClient;
  /** The Open Inference Protocol service served beside `inference`. */
  readonly oip: OipClient;
  /** The addresses the clients call. */
  readonly addresses: CompiledClientsOptions['addresses'];
  /** Closes every channel; calls in flight are cancelled. Idempotent. */
  close(): void;
}

/**
 * Creates typed clients for every AIMaaS service. Channels connect lazily on the first call.
 * Unset options come from the environment the services also read (`AIMAAS_<SERVICE>_ADDR`,
 * `AIMAAS_AUTH_TOKEN`, `AIMAAS_TLS_CA` / `_CERT` / `_KEY`).
 *
 * @example
 * const clients = createClients({ authToken: 's3cret', actor: 'ci' });
 * const version = await clients.registry.getModelVersion({ ref: { name: 'fmnist', alias: 'production' } });
 * for await (const progress of clients.training.watchTrainingJob({ id: jobId })) console.log(progress.phase);
 * clients.close();
 */
export function createClients(options: CreateClientsOptions = {}): AimaasClients {
  const compiled = compileClientsOptions(options);
  const channelCredentials = makeCredentials(compiled);
  const clientOptions: Partial<ClientOptions> = {
    'grpc.max_receive_message_length': compiled.maxMessageBytes,
    'grpc.max_send_message_length': compiled.maxMessageBytes,
    'grpc.primary_user_agent': 'aimaas-sdk',
    // HTTP/2 receive window per stream and connection. The 64 KiB default makes a server stream
    // (artifact downloads) wait for a WINDOW_UPDATE round trip every 64 KiB; flow control still
    // bounds what one slow reader buffers to this much.
    'grpc-node.flow_control_window': RECEIVE_WINDOW_BYTES,
    // Ping idle connections that have calls in flight (long watches), as the services' own clients do.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 0,
    interceptors: defaultInterceptors(compiled),
  };
  const wrapOptions = {
    retry: compiled.retry,
    ...(compiled.defaultDeadlineMs === undefined ? {} : { defaultDeadlineMs: compiled.defaultDeadlineMs }),
  };
  const make = <D extends ServiceDefinitionLike, C extends Client>(
    definition: D,
    Ctor: new (address: string, credentials: ChannelCredentials, options?: Partial<ClientOptions>) => C,
    address: string,
  ): ServiceClient<D, C> => wrapClient(definition, new Ctor(address, channelCredentials, clientOptions), wrapOptions);

  const { addresses } = compiled;
  const clients = {
    registry: make(RegistryServiceService, RegistryServiceClient, addresses.registry),
    preprocessing: make(PreprocessingServiceService, PreprocessingServiceClient, addresses.preprocessing),
    training: make(TrainingServiceService, TrainingServiceClient, addresses.training),
    compression: make(CompressionServiceService, CompressionServiceClient, addresses.compression),
    inference: make(InferenceServiceService, InferenceServiceClient, addresses.inference),
    oip: make(GRPCInferenceServiceService, GRPCInferenceServiceClient, addresses.oip),
  };
  let closed = false;
  return {
    ...clients,
    addresses,
    close() {
      if (closed) return;
      closed = true;
      for (const client of Object.values(clients)) client.raw.close();
    },
  };
}

/** The interceptors every client gets: tracing (unless off), then auth and actor metadata, then the caller's. */
function defaultInterceptors(compiled: CompiledClientsOptions): Interceptor[] {
  const entries: Record<string, string> = {};
  if (compiled.authToken !== undefined) entries.authorization = `Bearer ${compiled.authToken}`;
  if (compiled.actor !== undefined) entries[ACTOR_METADATA_KEY] = compiled.actor;
  return [
    ...(compiled.tracing ? [tracingClientInterceptor] : []),
    ...(Object.keys(entries).length > 0 ? [metadataInterceptor(entries)] : []),
    ...compiled.interceptors,
  ];
}

/**
 * A grpc-js interceptor that adds `entries` to the request metadata of every call, leaving keys the
 * call already set alone.
 *
 * @example
 * new RegistryServiceClient(addr, creds, { interceptors: [metadataInterceptor({ authorization: 'Bearer t' })] });
 */
export function metadataInterceptor(entries: Readonly<Record<string, string>>): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        for (const [key, value] of Object.entries(entries)) {
          if (metadata.get(key).length === 0) metadata.set(key, value);
        }
        next(metadata, listener);
      },
    });
}

function makeCredentials(compiled: CompiledClientsOptions): ChannelCredentials {
  if (compiled.tls === undefined) return grpcCredentials.createInsecure();
  const { ca, key, cert } = compiled.tls;
  return grpcCredentials.createSsl(ca ?? null, key ?? null, cert ?? null);
}

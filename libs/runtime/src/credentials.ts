import * as grpc from '@grpc/grpc-js';
import { tracingClientInterceptor } from '@aimaas/telemetry';
import { DEFAULT_MAX_MESSAGE_BYTES, type TlsConfig } from './config.js';

/** The parts of the runtime configuration that shape a client connection. */
export interface ClientConfig {
  /** TLS material; without it the channel is plaintext. */
  tls?: TlsConfig;
  /** Sent as `authorization: Bearer <token>` on every call. */
  authToken?: string;
  /** Largest message sent or received. @default 64 MiB */
  maxMessageBytes?: number;
}

/**
 * Channel credentials for calling an AIMaaS service: TLS when `config.tls` is set (trusting
 * `tls.ca`, else the system roots, and presenting `tls.cert`/`tls.key` as client certificate for
 * servers that require mutual TLS), plaintext otherwise. The bearer token travels through
 * {@link clientOptions}, which works over both.
 *
 * @example
 * const client = new RegistryServiceClient(config.addresses.registry, createChannelCredentials(config), clientOptions(config));
 */
export function createChannelCredentials(config: Pick<ClientConfig, 'tls'> = {}): grpc.ChannelCredentials {
  if (!config.tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(config.tls.ca ?? null, config.tls.key, config.tls.cert);
}

/**
 * Server credentials: TLS with `tls.cert`/`tls.key` when given, requiring and verifying client
 * certificates against `tls.ca` when that is set (mutual TLS); plaintext otherwise.
 */
export function createServerCredentials(tls?: TlsConfig): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(
    tls.ca ?? null,
    [{ cert_chain: tls.cert, private_key: tls.key }],
    tls.ca !== undefined,
  );
}

/**
 * A client interceptor that adds `authorization: Bearer <token>` to every call.
 *
 * @example
 * new Client(addr, credentials, { interceptors: [bearerTokenInterceptor(token)] });
 */
export function bearerTokenInterceptor(token: string): grpc.Interceptor {
  const value = `Bearer ${token}`;
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('authorization', value);
        next(metadata, listener);
      },
    });
}

/** Keepalive settings shared by clients: ping an idle connection with calls in flight every 30 s. */
export const CLIENT_KEEPALIVE: Readonly<grpc.ChannelOptions> = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 0,
};

/**
 * Client options for calling an AIMaaS service: message size limits matching the servers',
 * keepalive, and interceptors for tracing (`traceparent` out, CLIENT span) and, when
 * `config.authToken` is set, the bearer token.
 *
 * @example
 * const options = clientOptions(loadConfig('inference'));
 * const registry = new RegistryServiceClient(config.addresses.registry, createChannelCredentials(config), options);
 */
export function clientOptions(config: ClientConfig = {}): grpc.ClientOptions {
  const maxMessageBytes = config.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const interceptors: grpc.Interceptor[] = [tracingClientInterceptor];
  if (config.authToken) interceptors.push(bearerTokenInterceptor(config.authToken));
  return {
    ...CLIENT_KEEPALIVE,
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    interceptors,
  };
}

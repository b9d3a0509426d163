import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/**
 * A Prometheus registry for one service: the prom-client default metrics (`process_*`,
 * `nodejs_*`) and a default label `service` on every series.
 *
 * @example
 * const registry = createMetricsRegistry('registry');
 * const models = new Gauge({ name: 'aimaas_registered_models', help: '…', registers: [registry] });
 */
export function createMetricsRegistry(serviceName: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: serviceName });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** A running metrics endpoint, see {@link startMetricsServer}. */
export interface MetricsServer {
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  /** @default '127.0.0.1' (use '0.0.0.0' to be scraped from outside the host) */
  host?: string;
  /**
   * Serve HTTPS with this certificate and key (PEM) instead of plain HTTP; with `ca`, scrapers
   * must present a client certificate signed by it (mutual TLS, as the gRPC port does).
   */
  tls?: { cert: Buffer | string; key: Buffer | string; ca?: Buffer | string };
  /** When set, a scrape needs `Authorization: Bearer <bearerToken>`, else 401. */
  bearerToken?: string;
}

/**
 * Serves `GET /metrics` (Prometheus text format) from `registry`, over HTTPS when `options.tls`
 * is given, behind a bearer token when `options.bearerToken` is. Any other path answers 404, any
 * other method 405.
 *
 * @param port 0 picks a free port; the bound one is in the result.
 *
 * @example
 * const metrics = await startMetricsServer(registry, 9464, { host: '0.0.0.0', tls: config.tls, bearerToken: config.authToken });
 * server.onShutdown(() => metrics.close());
 */
export async function startMetricsServer(
  registry: Registry,
  port: number,
  options: MetricsServerOptions = {},
): Promise<MetricsServer> {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`startMetricsServer: port must be an integer in 0..65535, got ${port}`);
  }
  const { host = '127.0.0.1', tls, bearerToken } = options;
  const listener: RequestListener = (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (bearerToken !== undefined && !hasBearer(request, bearerToken)) {
      response
        .writeHead(401, { 'www-authenticate': 'Bearer realm="metrics"', 'content-type': 'text/plain' })
        .end('unauthorized: GET /metrics needs "Authorization: Bearer <token>" with a valid token\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'content-type': registry.contentType });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics collection failed: ${String(error)}\n`);
      },
    );
  };
  const server: HttpServer | HttpsServer = tls
    ? createHttpsServer(
        {
          cert: tls.cert,
          key: tls.key,
          ...(tls.ca !== undefined && { ca: tls.ca, requestCert: true, rejectUnauthorized: true }),
        },
        listener,
      )
    : createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    port: bound,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/** Compares digests so the check takes the same time whatever the token. */
function hasBearer(request: IncomingMessage, token: string): boolean {
  const value = request.headers.authorization;
  if (typeof value !== 'string' || value.length > 4096) return false;
  const [scheme, credential, ...rest] = value.trim().split(/\s+/);
  if (scheme?.toLowerCase() !== 'bearer' || credential === undefined || rest.length > 0) return false;
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(credential), digest(token));
}

/** Labels of the gRPC server metrics (names as in go-grpc-prometheus). */
export type GrpcServerLabel = 'grpc_service' | 'grpc_method' | 'grpc_type' | 'grpc_code';

/** gRPC server metrics registered in one registry, see {@link createGrpcServerMetrics}. */
export interface GrpcServerMetrics {
  /** `grpc_server_started_total{grpc_service,grpc_method,grpc_type}`: calls that reached a handler. */
  readonly started: Counter<Exclude<GrpcServerLabel, 'grpc_code'>>;
  /** `grpc_server_handled_total{grpc_service,grpc_method,grpc_type,grpc_code}`: completed calls. */
  readonly handled: Counter<GrpcServerLabel>;
  /** `grpc_server_handling_seconds{…}`: histogram of call durations, by final status. */
  readonly handlingSeconds: Histogram<GrpcServerLabel>;
}

/** The `grpc_type` label: the RPC's streaming shape. */
export type GrpcMethodType = 'unary' | 'client_stream' | 'server_stream' | 'bidi_stream';

const cache = new WeakMap<Registry, GrpcServerMetrics>();

/**
 * Registers (once per registry) the gRPC server metrics `grpc_server_started_total`,
 * `grpc_server_handled_total` and `grpc_server_handling_seconds`, labelled `grpc_service`,
 * `grpc_method`, `grpc_type` and `grpc_code` (the status name, e.g. `NOT_FOUND`). The label names
 * follow go-grpc-prometheus so its dashboards work; they leave the registry's `service` label to
 * the AIMaaS service. `@aimaas/runtime` records them for every call.
 *
 * @example
 * const { handled } = createGrpcServerMetrics(registry);
 * handled.inc({ grpc_service: 'aimaas.v1.RegistryService', grpc_method: 'SetAlias', grpc_type: 'unary', grpc_code: 'OK' });
 */
export function createGrpcServerMetrics(registry: Registry): GrpcServerMetrics {
  const existing = cache.get(registry);
  if (existing) return existing;
  const labelNames: GrpcServerLabel[] = ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'];
  const metrics: GrpcServerMetrics = {
    started: new Counter({
      name: 'grpc_server_started_total',
      help: 'Total number of RPCs started on the server.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_type'],
      registers: [registry],
    }),
    handled: new Counter({
      name: 'grpc_server_handled_total',
      help: 'Total number of RPCs completed on the server, regardless of success or failure.',
      labelNames,
      registers: [registry],
    }),
    handlingSeconds: new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Duration of RPCs handled by the server, from start to final status, in seconds.',
      labelNames,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
  };
  cache.set(registry, metrics);
  return metrics;
}

import { Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createGrpcServerMetrics, createMetricsRegistry, startMetricsServer } from '../src/index.js';

describe('createMetricsRegistry', () => {
  it('collects default metrics and labels every series with the service', async () => {
    const registry = createMetricsRegistry('training');
    new Counter({ name: 'jobs_total', help: 'jobs', registers: [registry] }).inc();
    const text = await registry.metrics();
    expect(text).toContain('jobs_total{service="training"} 1');
    expect(text).toMatch(/process_cpu_user_seconds_total\{service="training"\}/);
  });
});

describe('createGrpcServerMetrics', () => {
  it('registers the gRPC server metrics once per registry', async () => {
    const registry = createMetricsRegistry('registry');
    const metrics = createGrpcServerMetrics(registry);
    expect(createGrpcServerMetrics(registry)).toBe(metrics);
    const labels = { grpc_service: 'aimaas.v1.RegistryService', grpc_method: 'SetAlias', grpc_type: 'unary' };
    metrics.handled.inc({ ...labels, grpc_code: 'NOT_FOUND' });
    metrics.handlingSeconds.observe({ ...labels, grpc_code: 'NOT_FOUND' }, 0.02);
    const text = await registry.metrics();
    expect(text).toContain(
      'grpc_server_handled_total{grpc_service="aimaas.v1.RegistryService",grpc_method="SetAlias",grpc_type="unary",grpc_code="NOT_FOUND",service="registry"} 1',
    );
    expect(text).toContain(
      'grpc_server_handling_seconds_count{service="registry",grpc_service="aimaas.v1.RegistryService",grpc_method="SetAlias",grpc_type="unary",grpc_code="NOT_FOUND"} 1',
    );
  });
});

describe('startMetricsServer', () => {
  it('serves the registry at GET /metrics on a free port and 404 elsewhere', async () => {
    const registry = createMetricsRegistry('inference');
    new Counter({ name: 'predictions_total', help: 'predictions', registers: [registry] }).inc(2);
    const server = await startMetricsServer(registry, 0, { host: '127.0.0.1' });
    try {
      expect(server.port).toBeGreaterThan(0);
      const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/plain');
      expect(await response.text()).toContain('predictions_total{service="inference"} 2');
      expect((await fetch(`http://127.0.0.1:${server.port}/`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${server.port}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      await server.close();
    }
  });

  it('rejects an invalid port', async () => {
    await expect(startMetricsServer(createMetricsRegistry('x'), 70000)).rejects.toThrow(
      /port must be an integer in 0..65535, got 70000/,
    );
  });
});

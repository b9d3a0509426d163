import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Metadata } from '@grpc/grpc-js';
import {
  GRPCInferenceServiceService,
  RegisteredModel,
  RegistryServiceService,
  type RegistryServiceServer,
} from '@aimaas/proto';
import { InMemorySpanExporter, initTelemetry } from '@aimaas/telemetry';
import { compileClientsOptions, createClients, formatModelRef, isIdempotentRead, parseModelRef } from '@aimaas/sdk';
import { startTestServer, type TestServer } from './grpc-server.js';

let server: TestServer<RegistryServiceServer>;
let seen: Metadata | undefined;

beforeAll(async () => {
  server = await startTestServer<RegistryServiceServer>(RegistryServiceService, {
    getRegisteredModel: (call, callback) => {
      seen = call.metadata;
      callback(null, RegisteredModel.fromPartial({ name: call.request.name }));
    },
  });
});
afterAll(() => server.stop());

describe('createClients', () => {
  it('sends the bearer token from AIMAAS_AUTH_TOKEN and the actor on every call', async () => {
    const clients = createClients({
      env: { AIMAAS_REGISTRY_ADDR: server.address, AIMAAS_AUTH_TOKEN: 's3cret' },
      actor: 'ci-bot',
    });
    await clients.registry.getRegisteredModel({ name: 'fmnist' });
    expect(seen?.get('authorization')).toEqual(['Bearer s3cret']);
    expect(seen?.get('x-aimaas-actor')).toEqual(['ci-bot']);
    await clients.registry.getRegisteredModel(
      { name: 'fmnist' },
      { actor: 'alice', metadata: { 'x-request-id': 'r1' } },
    );
    expect(seen?.get('x-aimaas-actor')).toEqual(['alice']);
    expect(seen?.get('x-request-id')).toEqual(['r1']);
    clients.close();
  });

  it('sends no authorization header when no token is set', async () => {
    const clients = createClients({ addresses: { registry: server.address }, env: {} });
    await clients.registry.getRegisteredModel({ name: 'fmnist' });
    expect(seen?.get('authorization')).toEqual([]);
    expect(seen?.get('x-aimaas-actor')).toEqual([]);
    clients.close();
  });

  it('traces each call with a CLIENT span whose traceparent reaches the server', async () => {
    const exporter = new InMemorySpanExporter();
    const telemetry = initTelemetry({ serviceName: 'sdk-test', exporter, env: {} });
    const clients = createClients({ addresses: { registry: server.address }, env: {} });
    await clients.registry.getRegisteredModel({ name: 'fmnist' });
    clients.close();
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('aimaas.v1.RegistryService/GetRegisteredModel');
    const traceparent = String(seen?.get('traceparent')[0]);
    expect(traceparent).toBe(`00-${span!.spanContext().traceId}-${span!.spanContext().spanId}-01`);
    await telemetry.shutdown();
  });

  it('exposes one typed method per RPC of every service, oip included', () => {
    const clients = createClients({ env: {} });
    expect(
      Object.keys(clients.oip)
        .filter((k) => k !== 'raw')
        .sort(),
    ).toEqual(Object.keys(GRPCInferenceServiceService).sort());
    expect(typeof clients.training.watchTrainingJob).toBe('function');
    expect(typeof clients.preprocessing.importDataset).toBe('function');
    clients.close();
  });
});

describe('compileClientsOptions', () => {
  it('takes addresses from options, then AIMAAS_<SERVICE>_ADDR, then the default ports', () => {
    const compiled = compileClientsOptions({
      addresses: { registry: 'registry:9000' },
      env: { AIMAAS_TRAINING_ADDR: 'training:7000', AIMAAS_INFERENCE_ADDR: 'inference:7001' },
    });
    expect(compiled.addresses).toEqual({
      preprocessing: '127.0.0.1:50051',
      training: 'training:7000',
      compression: '127.0.0.1:50053',
      registry: 'registry:9000',
      inference: 'inference:7001',
      oip: 'inference:7001',
    });
  });

  it('rejects bad settings with a TypeError naming them', () => {
    expect(() => compileClientsOptions({ env: {}, maxMessageBytes: -1 })).toThrow(
      new TypeError('maxMessageBytes must be a positive integer, got -1'),
    );
    expect(() => compileClientsOptions({ env: {}, addresses: { registry: ' ' } })).toThrow(
      /^addresses\.registry must be/,
    );
    expect(() => compileClientsOptions({ env: {}, tls: { cert: '-----BEGIN CERTIFICATE-----' } })).toThrow(
      'tls.cert and tls.key go together',
    );
    expect(() => compileClientsOptions({ env: { AIMAAS_TLS_CA: '/nonexistent/ca.pem' } })).toThrow(
      /^tls\.ca: cannot read PEM file "\/nonexistent\/ca\.pem"/,
    );
    expect(() => compileClientsOptions({ env: {}, retry: { maxAttempts: 0 } })).toThrow('retry.maxAttempts');
  });
});

describe('isIdempotentRead', () => {
  it('accepts Get/List/Search and the OIP health and metadata calls, nothing else', () => {
    const reads = [
      'GetModelVersion',
      'ListDeployments',
      'SearchModelVersions',
      'ModelReady',
      'ServerLive',
      'ModelMetadata',
    ];
    const writes = [
      'SetAlias',
      'CreateModelVersion',
      'Predict',
      'ModelInfer',
      'Getaway',
      'DeleteAlias',
      'SubmitTrainingJob',
    ];
    expect(reads.filter(isIdempotentRead)).toEqual(reads);
    expect(writes.filter(isIdempotentRead)).toEqual([]);
    expect(isIdempotentRead('/aimaas.v1.RegistryService/GetLineage')).toBe(true);
  });
});

describe('parseModelRef', () => {
  it('reads name, name@version and name@alias', () => {
    expect(parseModelRef('fmnist')).toEqual({ name: 'fmnist' });
    expect(parseModelRef('fmnist@3')).toEqual({ name: 'fmnist', version: 3 });
    expect(parseModelRef('fmnist@production')).toEqual({ name: 'fmnist', alias: 'production' });
  });

  it('round-trips through formatModelRef', () => {
    for (const text of ['iris', 'iris@12', 'iris@staging']) expect(formatModelRef(parseModelRef(text))).toBe(text);
  });

  it('rejects what is neither a version nor an alias', () => {
    expect(() => parseModelRef('fmnist@')).toThrow(/neither a version/);
    expect(() => parseModelRef('fmnist@0')).toThrow(/neither a version/);
    expect(() => parseModelRef('@3')).toThrow('expected name, name@<version> or name@<alias>');
  });
});

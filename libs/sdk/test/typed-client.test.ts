import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { status, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import {
  ListRegisteredModelsResponse,
  ModelVersion,
  RegisteredModel,
  RegistryServiceService,
  type DownloadModelArtifactsRequest,
  type DownloadModelArtifactsResponse,
  type GetRegisteredModelRequest,
  type RegistryServiceServer,
} from '@aimaas/proto';
import { AimaasError, createClients, type AimaasClients } from '@aimaas/sdk';
import { failWith, startTestServer, type TestServer } from './grpc-server.js';

let server: TestServer<RegistryServiceServer>;
let clients: AimaasClients;

beforeAll(async () => {
  server = await startTestServer<RegistryServiceServer>(RegistryServiceService);
  clients = createClients({
    env: { AIMAAS_REGISTRY_ADDR: server.address },
    retry: { initialBackoffMs: 1, maxBackoffMs: 5 },
  });
});
afterAll(async () => {
  clients.close();
  await server.stop();
});
afterEach(() => {
  for (const key of Object.keys(server.handlers)) delete server.handlers[key as keyof RegistryServiceServer];
  for (const key of Object.keys(server.calls)) delete server.calls[key];
});

const fmnist = RegisteredModel.fromPartial({
  name: 'fmnist',
  latestVersion: 3,
  versionCount: 3,
  aliases: { production: 2 },
});

describe('unary calls', () => {
  it('resolve with the decoded response, reading the address from AIMAAS_REGISTRY_ADDR', async () => {
    let received: GetRegisteredModelRequest | undefined;
    server.handlers.getRegisteredModel = (call, callback) => {
      received = call.request;
      callback(null, fmnist);
    };
    const model = await clients.registry.getRegisteredModel({ name: 'fmnist' });
    expect(model).toEqual(fmnist);
    expect(received).toEqual({ name: 'fmnist' });
  });

  it('fill in the defaults of top-level fields the request leaves out', async () => {
    let received: unknown;
    server.handlers.listRegisteredModels = (call, callback) => {
      received = call.request;
      callback(null, ListRegisteredModelsResponse.fromPartial({ models: [fmnist] }));
    };
    const response = await clients.registry.listRegisteredModels({ namePrefix: 'fm', pageToken: undefined });
    expect(received).toEqual({ pageSize: 0, pageToken: '', namePrefix: 'fm' });
    expect(response.models.map((m) => m.name)).toEqual(['fmnist']);
  });

  it('reject with an AimaasError carrying the status name, details and method', async () => {
    server.handlers.getRegisteredModel = failWith(status.NOT_FOUND, 'model "nope" not found');
    const error = await clients.registry.getRegisteredModel({ name: 'nope' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AimaasError);
    expect(error).toMatchObject({
      code: 'NOT_FOUND',
      grpcCode: status.NOT_FOUND,
      details: 'model "nope" not found',
      method: 'aimaas.v1.RegistryService/GetRegisteredModel',
      message: 'NOT_FOUND: model "nope" not found',
    });
  });

  it('fail with DEADLINE_EXCEEDED when the server does not answer within deadlineMs', async () => {
    server.handlers.getRegisteredModel = () => {};
    const error = await clients.registry
      .getRegisteredModel({ name: 'slow' }, { deadlineMs: 50 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(server.calls.getRegisteredModel).toBe(1);
  });

  it('are cancelled on the server when the signal aborts', async () => {
    let started!: () => void;
    const serverStarted = new Promise<void>((resolve) => (started = resolve));
    const serverCancelled = new Promise<void>((resolve) => {
      server.handlers.getRegisteredModel = (call: ServerUnaryCall<GetRegisteredModelRequest, RegisteredModel>) => {
        call.on('cancelled', () => resolve());
        started();
      };
    });
    const controller = new AbortController();
    const pending = clients.registry.getRegisteredModel({ name: 'fmnist' }, { signal: controller.signal });
    await serverStarted;
    controller.abort(new Error('user pressed Ctrl-C'));
    const error = await pending.catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CANCELLED', details: 'the call was aborted' });
    expect((error as Error).cause).toEqual(new Error('user pressed Ctrl-C'));
    await serverCancelled;
  });

  it('do not start when the signal has already aborted', async () => {
    const error = await clients.registry
      .getRegisteredModel({ name: 'fmnist' }, { signal: AbortSignal.abort() })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CANCELLED' });
    expect(server.calls.getRegisteredModel).toBeUndefined();
  });
});

describe('retries', () => {
  it('repeat an idempotent read that failed with UNAVAILABLE', async () => {
    let attempts = 0;
    server.handlers.getRegisteredModel = (_call, callback) => {
      attempts += 1;
      if (attempts < 3) callback({ code: status.UNAVAILABLE, details: 'replica restarting' });
      else callback(null, fmnist);
    };
    await expect(clients.registry.getRegisteredModel({ name: 'fmnist' })).resolves.toEqual(fmnist);
    expect(server.calls.getRegisteredModel).toBe(3);
  });

  it('give up after 3 attempts with the last error', async () => {
    server.handlers.searchModelVersions = failWith(status.UNAVAILABLE, 'still down');
    await expect(clients.registry.searchModelVersions({ filter: 'name = "x"' })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      details: 'still down',
    });
    expect(server.calls.searchModelVersions).toBe(3);
  });

  it('never repeat a write', async () => {
    server.handlers.createRegisteredModel = failWith(status.UNAVAILABLE, 'replica restarting');
    await expect(clients.registry.createRegisteredModel({ name: 'new' })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    expect(server.calls.createRegisteredModel).toBe(1);
  });

  it('never repeat a read refused as bad input', async () => {
    server.handlers.getRegisteredModel = failWith(status.INVALID_ARGUMENT, 'name: must not be empty');
    await expect(clients.registry.getRegisteredModel({ name: '' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(server.calls.getRegisteredModel).toBe(1);
  });

  it('are off for a call that passes retry: false', async () => {
    server.handlers.getRegisteredModel = failWith(status.UNAVAILABLE, 'down');
    await expect(clients.registry.getRegisteredModel({ name: 'fmnist' }, { retry: false })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    expect(server.calls.getRegisteredModel).toBe(1);
  });
});

describe('server streams', () => {
  const version = ModelVersion.fromPartial({ name: 'fmnist', version: 3 });

  it('yield every message in order and end', async () => {
    server.handlers.downloadModelArtifacts = (call) => {
      call.write({ version });
      call.write({ file: { path: 'model.onnx', format: 'onnx', size: 3, sha256: '' } });
      call.write({ chunk: Buffer.from([1, 2, 3]) });
      call.end();
    };
    const parts: DownloadModelArtifactsResponse[] = [];
    for await (const part of clients.registry.downloadModelArtifacts({ ref: { name: 'fmnist' } })) parts.push(part);
    expect(parts).toEqual([
      { version },
      { file: { path: 'model.onnx', format: 'onnx', size: 3, sha256: '' } },
      { chunk: Buffer.from([1, 2, 3]) },
    ]);
  });

  it('throw the status as an AimaasError after the messages before it', async () => {
    server.handlers.downloadModelArtifacts = (call) => {
      call.write({ version });
      call.emit('error', { code: status.NOT_FOUND, details: 'no file model.onnx' });
    };
    const seen: unknown[] = [];
    const error = await (async () => {
      for await (const part of clients.registry.downloadModelArtifacts({ ref: { name: 'fmnist' } })) seen.push(part);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([{ version }]);
    expect(error).toMatchObject({ code: 'NOT_FOUND', details: 'no file model.onnx' });
  });

  const endless =
    (onCancel: () => void) =>
    (call: ServerWritableStream<DownloadModelArtifactsRequest, DownloadModelArtifactsResponse>) => {
      call.on('cancelled', onCancel);
      call.write({ version });
    };

  it('cancel the call when the consumer breaks out of the loop', async () => {
    const cancelled = new Promise<void>((resolve) => (server.handlers.downloadModelArtifacts = endless(resolve)));
    for await (const part of clients.registry.downloadModelArtifacts({ ref: { name: 'fmnist' } })) {
      expect(part).toEqual({ version });
      break;
    }
    await cancelled;
  });

  it('cancel the call and throw CANCELLED when the signal aborts', async () => {
    const cancelled = new Promise<void>((resolve) => (server.handlers.downloadModelArtifacts = endless(resolve)));
    const controller = new AbortController();
    const error = await (async () => {
      for await (const _ of clients.registry.downloadModelArtifacts(
        { ref: { name: 'fmnist' } },
        { signal: controller.signal },
      )) {
        controller.abort();
      }
    })().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CANCELLED' });
    await cancelled;
  });
});

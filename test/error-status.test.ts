/**
 * One error vocabulary at the RPC edge: a library error that carries a status name (`code`)
 * reaches the client as that status with its message, through a real handler on a real server,
 * without a translation in the service; an unknown error is INTERNAL with nothing of it shown.
 */
import { credentials, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendUnavailableError, InvalidModelSpecError } from '@aimaas/ml';
import { PipelineFormatError, PipelineInputError, PipelineSpecError } from '@aimaas/pipeline';
import { RegistryServiceClient, RegistryServiceService, type RegisteredModel } from '@aimaas/proto';
import { createGrpcServer, type GrpcServer } from '@aimaas/runtime';
import { AimaasError } from '@aimaas/sdk';
import { createLogger } from '@aimaas/telemetry';

const THROWN: Record<string, () => Error> = {
  spec: () =>
    new PipelineSpecError('price', 'scale', 'unknown method "zscore"; expected one of standard, minmax, robust'),
  input: () =>
    new PipelineInputError({ record: 3, column: 'hp', problem: 'value "abc" is not a number', expected: 'a number' }),
  format: () => new PipelineFormatError('$.version', 'version 9 is not one this build reads'),
  model: () => new InvalidModelSpecError('mlp.hidden_units[0] must be positive'),
  backend: () => new BackendUnavailableError('backend "tensorflow" is not installed'),
  remote: () =>
    new AimaasError({
      code: 'NOT_FOUND',
      details: 'model "x" not found',
      method: 'aimaas.v1.RegistryService/GetRegisteredModel',
    }),
  plain: () => new Error('secret internals'),
};

let server: GrpcServer;
let client: RegistryServiceClient;

beforeAll(async () => {
  server = createGrpcServer({
    serviceName: 'registry',
    logger: createLogger('test', 'silent'),
    metricsAddr: 'off',
  }).add(RegistryServiceService, {
    async getRegisteredModel(request): Promise<RegisteredModel> {
      throw THROWN[request.name]!();
    },
  });
  client = new RegistryServiceClient(`127.0.0.1:${await server.listen('127.0.0.1:0')}`, credentials.createInsecure());
});
afterAll(async () => {
  client?.close();
  await server?.shutdown({ graceMs: 0 });
});

function failure(name: string): Promise<{ code: number; details: string }> {
  return new Promise((resolve) =>
    client.getRegisteredModel({ name }, (error) => resolve({ code: error!.code, details: error!.details })),
  );
}

describe('errors at the RPC edge', () => {
  it.each([
    [
      'spec',
      status.INVALID_ARGUMENT,
      'column "price", step "scale": unknown method "zscore"; expected one of standard, minmax, robust',
    ],
    ['input', status.INVALID_ARGUMENT, 'record 3, column "hp": value "abc" is not a number; expected a number'],
    ['format', status.INVALID_ARGUMENT, 'invalid pipeline at $.version: version 9 is not one this build reads'],
    ['model', status.INVALID_ARGUMENT, 'mlp.hidden_units[0] must be positive'],
    ['backend', status.FAILED_PRECONDITION, 'backend "tensorflow" is not installed'],
  ])('a %s error reaches the client as its own status with its message', async (name, code, details) => {
    expect(await failure(name)).toEqual({ code, details });
  });

  it('leaves a called service failure and an unknown error INTERNAL, showing nothing of them', async () => {
    expect(await failure('remote')).toEqual({ code: status.INTERNAL, details: 'internal error' });
    expect(await failure('plain')).toEqual({ code: status.INTERNAL, details: 'internal error' });
  });
});

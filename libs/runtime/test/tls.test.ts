import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createChannelCredentials, loadConfig, type TlsConfig } from '../src/index.js';
import { callUnary, type EchoResponse } from './fixtures/echo-service.js';
import { startEcho, type EchoHarness } from './fixtures/harness.js';

let dir: string;
let certPath: string;
let keyPath: string;
let tls: TlsConfig;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'aimaas-tls-'));
  certPath = join(dir, 'cert.pem');
  keyPath = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-keyout', keyPath, '-out', certPath,
    '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'ignore' });
  tls = { cert: readFileSync(certPath), key: readFileSync(keyPath) };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let harness: EchoHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const echo = async (request: { text: string }) => ({ text: request.text, index: 0 });

describe('TLS', () => {
  it('serves over TLS with the certificate from AIMAAS_TLS_CERT/KEY and refuses plaintext clients', async () => {
    const config = loadConfig('registry', { AIMAAS_TLS_CERT: certPath, AIMAAS_TLS_KEY: keyPath, AIMAAS_REGISTRY_ADDR: '127.0.0.1:0' });
    expect(config.tls?.cert.toString()).toContain('BEGIN CERTIFICATE');
    harness = await startEcho({ echo }, { config });
    const trusted = harness.client({ credentials: createChannelCredentials({ tls: { ...tls, ca: tls.cert } }) });
    await expect(callUnary<EchoResponse>(trusted, 'echo', { text: 'secure' })).resolves.toEqual({ text: 'secure', index: 0 });
    const plaintext = harness.client({ credentials: grpc.credentials.createInsecure() });
    await expect(callUnary(plaintext, 'echo', { text: 'x' }, { deadline: new Date(Date.now() + 5_000) })).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
  });

  it('requires a client certificate signed by the CA when one is configured (mutual TLS)', async () => {
    harness = await startEcho({ echo }, { tls: { ...tls, ca: tls.cert } });
    const withCert = harness.client({ credentials: createChannelCredentials({ tls: { ...tls, ca: tls.cert } }) });
    await expect(callUnary(withCert, 'echo', { text: 'mtls' })).resolves.toEqual({ text: 'mtls', index: 0 });
    const withoutCert = harness.client({ credentials: grpc.credentials.createSsl(tls.cert) });
    await expect(callUnary(withoutCert, 'echo', { text: 'x' }, { deadline: new Date(Date.now() + 5_000) })).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
  });
});

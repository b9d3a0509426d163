import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '@aimaas/telemetry';
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
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  tls = { cert: readFileSync(certPath), key: readFileSync(keyPath) };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let harness: EchoHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const echo = async (request: { text: string }) => ({ text: request.text, index: 0 });

/** GET /metrics over HTTPS trusting the test certificate (or plain HTTP): status and body, or the error. */
function scrape(
  port: number,
  options: { https: boolean; token?: string },
): Promise<{ status: number; body: string } | Error> {
  const send = options.https ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const request = send(
      {
        host: '127.0.0.1',
        port,
        path: '/metrics',
        ...(options.https && { ca: tls.cert, servername: 'localhost' }),
        headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
        timeout: 5_000,
      },
      (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    request.on('error', resolve);
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.end();
  });
}

describe('TLS', () => {
  it('serves over TLS with the certificate from AIMAAS_TLS_CERT/KEY and refuses plaintext clients', async () => {
    const config = loadConfig('registry', {
      AIMAAS_TLS_CERT: certPath,
      AIMAAS_TLS_KEY: keyPath,
      AIMAAS_REGISTRY_ADDR: '127.0.0.1:0',
    });
    expect(config.tls?.cert.toString()).toContain('BEGIN CERTIFICATE');
    harness = await startEcho({ echo }, { config });
    const trusted = harness.client({ credentials: createChannelCredentials({ tls: { ...tls, ca: tls.cert } }) });
    await expect(callUnary<EchoResponse>(trusted, 'echo', { text: 'secure' })).resolves.toEqual({
      text: 'secure',
      index: 0,
    });
    const plaintext = harness.client({ credentials: grpc.credentials.createInsecure() });
    await expect(
      callUnary(plaintext, 'echo', { text: 'x' }, { deadline: new Date(Date.now() + 5_000) }),
    ).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
  });

  it('requires a client certificate signed by the CA when one is configured (mutual TLS)', async () => {
    harness = await startEcho({ echo }, { tls: { ...tls, ca: tls.cert } });
    const withCert = harness.client({ credentials: createChannelCredentials({ tls: { ...tls, ca: tls.cert } }) });
    await expect(callUnary(withCert, 'echo', { text: 'mtls' })).resolves.toEqual({ text: 'mtls', index: 0 });
    const withoutCert = harness.client({ credentials: grpc.credentials.createSsl(tls.cert) });
    await expect(
      callUnary(withoutCert, 'echo', { text: 'x' }, { deadline: new Date(Date.now() + 5_000) }),
    ).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
  });

  it('serves /metrics over HTTPS when TLS is on, and asks for the token when AIMAAS_METRICS_AUTH=token', async () => {
    const config = loadConfig('registry', {
      AIMAAS_TLS_CERT: certPath,
      AIMAAS_TLS_KEY: keyPath,
      AIMAAS_REGISTRY_ADDR: '127.0.0.1:0',
      AIMAAS_METRICS_ADDR: '127.0.0.1:0',
      AIMAAS_AUTH_TOKEN: 's3cret',
      AIMAAS_METRICS_AUTH: 'token',
    });
    expect(config.metricsAuth).toBe('token');
    harness = await startEcho({ echo }, { config, metrics: createMetricsRegistry('registry') });
    const port = harness.server.metricsPort!;
    expect(await scrape(port, { https: true, token: 's3cret' })).toMatchObject({
      status: 200,
      body: expect.stringContaining('grpc_server_handled_total'),
    });
    expect(await scrape(port, { https: true })).toMatchObject({
      status: 401,
      body: expect.stringContaining('Authorization: Bearer'),
    });
    expect(await scrape(port, { https: true, token: 'wrong' })).toMatchObject({ status: 401 });
    // Plain HTTP to the TLS port gets no metrics.
    const plain = await scrape(port, { https: false, token: 's3cret' });
    expect(plain instanceof Error || plain.status !== 200).toBe(true);
  });

  it('refuses AIMAAS_METRICS_AUTH=token without a token, and leaves /metrics open by default', () => {
    expect(() => loadConfig('registry', { AIMAAS_METRICS_AUTH: 'token' })).toThrow(
      /AIMAAS_METRICS_AUTH="token": expected AIMAAS_AUTH_TOKEN to be set too/,
    );
    expect(() => loadConfig('registry', { AIMAAS_METRICS_AUTH: 'maybe' })).toThrow(
      /AIMAAS_METRICS_AUTH="maybe": expected one of none, token/,
    );
    expect(loadConfig('registry', {}).metricsAuth).toBe('none');
  });
});

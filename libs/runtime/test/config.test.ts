import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseHostPort, positiveIntegerSetting } from '../src/index.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const dir = mkdtempSync(join(tmpdir(), 'aimaas-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    expect(loadConfig('registry', {})).toEqual({
      service: 'registry',
      listenAddr: '127.0.0.1:50054',
      addresses: {
        preprocessing: '127.0.0.1:50051',
        training: '127.0.0.1:50052',
        compression: '127.0.0.1:50053',
        registry: '127.0.0.1:50054',
        inference: '127.0.0.1:50055',
      },
      natsUrl: 'nats://127.0.0.1:4222',
      dataDir: join(repoRoot, '.aimaas'),
      tfBackend: 'auto',
      logLevel: 'info',
      metricsAddr: '127.0.0.1:51054',
      metricsAuth: 'none',
      memoryBudgetMb: 1024,
      maxMessageBytes: 64 * 1024 * 1024,
      shutdownGraceMs: 10_000,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig('inference', {
      AIMAAS_INFERENCE_ADDR: 'inference:7000',
      AIMAAS_LISTEN_ADDR: '0.0.0.0:7000',
      AIMAAS_REGISTRY_ADDR: 'registry.svc:50054',
      NATS_URL: 'nats://nats:4222,nats://nats-2:4222',
      AIMAAS_DATA_DIR: '/var/lib/aimaas',
      AIMAAS_AUTH_TOKEN: 'tok-123',
      AIMAAS_TF_BACKEND: 'wasm',
      LOG_LEVEL: 'DEBUG',
      AIMAAS_METRICS_ADDR: '0.0.0.0:9464',
      AIMAAS_MAX_MESSAGE_BYTES: '1048576',
      AIMAAS_SHUTDOWN_GRACE_MS: '0',
    });
    expect(config).toMatchObject({
      listenAddr: '0.0.0.0:7000',
      addresses: { inference: 'inference:7000', registry: 'registry.svc:50054' },
      natsUrl: 'nats://nats:4222,nats://nats-2:4222',
      dataDir: '/var/lib/aimaas',
      authToken: 'tok-123',
      tfBackend: 'wasm',
      logLevel: 'debug',
      metricsAddr: '0.0.0.0:9464',
      maxMessageBytes: 1048576,
      shutdownGraceMs: 0,
    });
  });

  it("derives the metrics port from the gRPC port and disables metrics with 'off'", () => {
    expect(loadConfig('training', { AIMAAS_TRAINING_ADDR: '[::1]:6000' }).metricsAddr).toBe('[::1]:7000');
    expect(loadConfig('training', { AIMAAS_TRAINING_ADDR: '127.0.0.1:0' }).metricsAddr).toBe('127.0.0.1:0');
    expect(loadConfig('training', { AIMAAS_METRICS_ADDR: 'off' })).not.toHaveProperty('metricsAddr');
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig('registry', { AIMAAS_AUTH_TOKEN: '', AIMAAS_REGISTRY_ADDR: '' })).toMatchObject({
      listenAddr: '127.0.0.1:50054',
    });
    expect(loadConfig('registry', { AIMAAS_AUTH_TOKEN: '' })).not.toHaveProperty('authToken');
  });

  it.each([
    [{ AIMAAS_REGISTRY_ADDR: 'abc' }, 'AIMAAS_REGISTRY_ADDR="abc": expected host:port (e.g. 127.0.0.1:50054)'],
    [
      { AIMAAS_TRAINING_ADDR: 'host:70000' },
      'AIMAAS_TRAINING_ADDR="host:70000": expected host:port (e.g. 127.0.0.1:50054)',
    ],
    [
      { NATS_URL: 'http://nats:4222' },
      'NATS_URL="http://nats:4222": expected nats://host:port (comma-separated for several servers)',
    ],
    [{ AIMAAS_TF_BACKEND: 'gpu' }, 'AIMAAS_TF_BACKEND="gpu": expected one of auto, tensorflow, wasm, cpu'],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL="verbose": expected one of fatal, error, warn, info, debug, trace, silent'],
    [{ AIMAAS_METRICS_ADDR: '9464' }, `AIMAAS_METRICS_ADDR="9464": expected host:port or 'off'`],
    [
      { AIMAAS_MAX_MESSAGE_BYTES: '64MB' },
      'AIMAAS_MAX_MESSAGE_BYTES="64MB": expected a positive integer number of bytes (e.g. 67108864)',
    ],
    [
      { AIMAAS_MAX_MESSAGE_BYTES: '0' },
      'AIMAAS_MAX_MESSAGE_BYTES="0": expected a positive integer number of bytes (e.g. 67108864)',
    ],
    [{ AIMAAS_SHUTDOWN_GRACE_MS: '-5' }, 'AIMAAS_SHUTDOWN_GRACE_MS="-5": expected a whole number of milliseconds'],
    [{ AIMAAS_AUTH_TOKEN: 'has space' }, 'AIMAAS_AUTH_TOKEN="<redacted>": expected printable ASCII without spaces'],
  ])('rejects %o with a ConfigError naming the variable, value and expectation', (env, message) => {
    const attempt = () => loadConfig('registry', env);
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(TypeError);
    expect(attempt).toThrow(message);
  });

  it('reads the TLS files at load and names both variables when the key is missing', () => {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    writeFileSync(cert, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    writeFileSync(key, '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n');
    const config = loadConfig('registry', { AIMAAS_TLS_CERT: cert, AIMAAS_TLS_KEY: key });
    expect(config.tls?.cert.toString()).toContain('BEGIN CERTIFICATE');
    expect(config.tls?.key.toString()).toContain('BEGIN PRIVATE KEY');
    expect(config.tls).not.toHaveProperty('ca');

    expect(() => loadConfig('registry', { AIMAAS_TLS_CERT: cert })).toThrow(
      `AIMAAS_TLS_CERT="${cert}": expected AIMAAS_TLS_KEY to be set as well (TLS needs both a certificate and its key)`,
    );
    expect(() => loadConfig('registry', { AIMAAS_TLS_CERT: cert, AIMAAS_TLS_KEY: join(dir, 'nope.pem') })).toThrow(
      `AIMAAS_TLS_KEY="${join(dir, 'nope.pem')}": expected a readable PEM file (ENOENT)`,
    );
    writeFileSync(join(dir, 'junk.pem'), 'not pem');
    expect(() =>
      loadConfig('registry', { AIMAAS_TLS_CERT: cert, AIMAAS_TLS_KEY: key, AIMAAS_TLS_CA: join(dir, 'junk.pem') }),
    ).toThrow('expected a PEM file (no "-----BEGIN" line found)');
  });

  it('rejects an unknown service name', () => {
    expect(() => loadConfig('gateway' as never, {})).toThrow(
      'service="gateway": expected one of preprocessing, training, compression, registry, inference',
    );
  });
});

describe('positiveIntegerSetting', () => {
  it('reads a positive integer, falls back when unset or empty, and names a bad variable', () => {
    expect(positiveIntegerSetting('AIMAAS_X_MAX', 7, { AIMAAS_X_MAX: '42' })).toBe(42);
    expect(positiveIntegerSetting('AIMAAS_X_MAX', 7, {})).toBe(7);
    expect(positiveIntegerSetting('AIMAAS_X_MAX', 7, { AIMAAS_X_MAX: ' ' })).toBe(7);
    for (const bad of ['0', '-3', 'ten', '1.5', 'NaN']) {
      expect(() => positiveIntegerSetting('AIMAAS_X_MAX', 7, { AIMAAS_X_MAX: bad })).toThrow(ConfigError);
    }
    expect(() => positiveIntegerSetting('AIMAAS_X_MAX', 7, { AIMAAS_X_MAX: 'ten' })).toThrow(
      'AIMAAS_X_MAX="ten": expected a positive integer',
    );
  });
});

describe('parseHostPort', () => {
  it('splits IPv4, host names and bracketed IPv6', () => {
    expect(parseHostPort('127.0.0.1:50054')).toEqual({ host: '127.0.0.1', port: 50054 });
    expect(parseHostPort('registry:0')).toEqual({ host: 'registry', port: 0 });
    expect(parseHostPort('[::]:9464')).toEqual({ host: '::', port: 9464 });
  });
});

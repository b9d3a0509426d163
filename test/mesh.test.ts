import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompressionServiceClient } from '@aimaas/proto';
import { freePort, startNatsServer, waitFor, type TestNatsServer } from '@aimaas/testing';
import { healthStatus, ROOT, SERVICES } from './support/services.js';

const root = ROOT;

let nats: TestNatsServer;
let dataDir: string;
let launcher: ChildProcess;
let output = '';
const env: Record<string, string> = {};

function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  nats = await startNatsServer();
  dataDir = await mkdtemp(join(tmpdir(), 'aimaas-mesh-'));
  Object.assign(env, { NATS_URL: nats.url, AIMAAS_DATA_DIR: dataDir, AIMAAS_METRICS_ADDR: 'off', LOG_LEVEL: 'warn' });
  for (const service of SERVICES) env[`AIMAAS_${service.toUpperCase()}_ADDR`] = `127.0.0.1:${await freePort()}`;
  // Its own process group, like a command started from a terminal: Ctrl-C goes to the group.
  // With the demo: on this new data dir it trains and deploys `iris` once the services serve.
  launcher = spawn(process.execPath, ['scripts/start.mjs', '--no-build'], {
    cwd: root,
    env: { ...process.env, ...env },
    detached: true,
  });
  launcher.stdout!.on('data', (chunk) => (output += chunk));
  launcher.stderr!.on('data', (chunk) => (output += chunk));
  await waitFor(() => output.includes('all five services are SERVING') || launcher.exitCode !== null, {
    timeoutMs: 90_000,
    message: 'the launcher to report all services SERVING',
  });
  expect(output).toContain('all five services are SERVING');
}, 120_000);

afterAll(async () => {
  if (launcher && launcher.exitCode === null) process.kill(-launcher.pid!, 'SIGKILL');
  await nats?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('brings up all five services, each reporting SERVING', async () => {
    for (const service of SERVICES) {
      expect(await healthStatus(env[`AIMAAS_${service.toUpperCase()}_ADDR`]), service).toBe('SERVING');
    }
    expect(output).toContain(`using NATS at ${nats.url}`);
  });

  it('seeds the demo on a new data dir, and the predict command it prints answers with a label', async () => {
    await waitFor(() => /\[aimaas\] (try: npx aimaas predict|the demo model was NOT seeded)/.test(output), {
      timeoutMs: 120_000,
      message: 'the demo model to be seeded',
    });
    expect(output).not.toContain('NOT seeded');
    expect(existsSync(join(dataDir, 'demo-seeded'))).toBe(true);
    // The command exactly as printed (and as the README's quick start shows it).
    const printed = /npx aimaas predict iris --records '(\[.*\])'/.exec(output);
    expect(printed).not.toBeNull();
    // The bin the README's `npx aimaas` finds (linked after the build).
    const result = await run('node_modules/.bin/aimaas', ['predict', 'iris', '--records', printed![1]!, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const prediction = JSON.parse(result.stdout);
    expect(prediction).toMatchObject({ servedName: 'iris', version: 1 });
    // The printed record is the first iris row, a setosa; any trained model gets it right.
    expect(prediction.classifications).toEqual([expect.objectContaining({ label: 'setosa' })]);
  }, 150_000);

  it('answers `aimaas models list` with the demo model, alias production on version 1', async () => {
    const result = await run('node_modules/.bin/aimaas', ['models', 'list', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { models } = JSON.parse(result.stdout);
    expect(models).toEqual([expect.objectContaining({ name: 'iris', latestVersion: 1, aliases: { production: 1 } })]);
  });

  it('compresses the demo model to int8 and serves it, as the quick start says', async () => {
    const compressed = await run('node_modules/.bin/aimaas', [
      'compress',
      'iris@production',
      '--quantize',
      'int8',
      '--model-name',
      'iris-int8',
      '--watch',
    ]);
    expect(compressed.code, compressed.stderr).toBe(0);
    expect(compressed.stdout.split('\n')[0]).toMatch(/^Job \S+ succeeded, registered iris-int8@1\.$/);
    const deployed = await run('node_modules/.bin/aimaas', ['deploy', 'iris-int8@1']);
    expect(deployed.code, deployed.stderr).toBe(0);
    const client = new CompressionServiceClient(env.AIMAAS_COMPRESSION_ADDR, grpc.credentials.createInsecure());
    const error = await new Promise<grpc.ServiceError>((resolve) =>
      client.getCompressionJob({ id: 'cj-none' }, (e) => resolve(e!)),
    );
    client.close();
    expect(error.code).toBe(grpc.status.NOT_FOUND);
    // Deploy returns once the deployment exists; it answers once loaded.
    let predicted: { classifications?: unknown[] } = {};
    for (let attempt = 0; attempt < 60 && !predicted.classifications; attempt++) {
      const r = await run('node_modules/.bin/aimaas', [
        'predict',
        'iris-int8',
        '--records',
        JSON.stringify([{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }]),
        '--json',
      ]);
      if (r.code === 0) predicted = JSON.parse(r.stdout);
      else await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(predicted.classifications).toEqual([expect.objectContaining({ label: 'setosa' })]);
  }, 120_000);

  it('restarts a service killed with SIGKILL, while the other four keep serving', async () => {
    const pid = Number(/\[aimaas\] training started \(pid (\d+)\)/.exec(output)?.[1]);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    const others = SERVICES.filter((service) => service !== 'training');
    let checks = 0;
    while (!output.includes('training is SERVING again')) {
      for (const service of others) {
        expect(await healthStatus(env[`AIMAAS_${service.toUpperCase()}_ADDR`]), service).toBe('SERVING');
      }
      checks += 1;
      expect(launcher.exitCode).toBeNull();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(checks).toBeGreaterThan(0);
    expect(output).toMatch(/\[aimaas\] training died \(killed by SIGKILL\); restarting in 0\.5 s \(restart 1\)/);
    expect(await healthStatus(env.AIMAAS_TRAINING_ADDR)).toBe('SERVING');
    const restarted = [...output.matchAll(/\[aimaas\] training started \(pid (\d+)\)/g)].map((m) => Number(m[1]));
    expect(restarted).toHaveLength(2);
    expect(restarted[1]).not.toBe(pid);
  }, 90_000);

  it('describes each service by reflection under its real .proto file and imports (as buf curl needs)', async () => {
    const reflectionRoot = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '..', 'proto');
    const definition = protoLoader.loadSync('grpc/reflection/v1/reflection.proto', {
      includeDirs: [reflectionRoot],
      keepCase: true,
    });
    const loaded = grpc.loadPackageDefinition(definition) as any;
    const client = new loaded.grpc.reflection.v1.ServerReflection(
      env.AIMAAS_REGISTRY_ADDR,
      grpc.credentials.createInsecure(),
    );
    const call = client.ServerReflectionInfo();
    const reply = new Promise<{ file_descriptor_response: { file_descriptor_proto: Buffer[] } }>((resolve) =>
      call.once('data', resolve),
    );
    call.write({ file_containing_symbol: 'aimaas.v1.RegistryService' });
    const files = (await reply).file_descriptor_response.file_descriptor_proto.map((bytes) => bytes.toString('latin1'));
    call.end();
    client.close();
    const names = files.map((file) => /aimaas\/v1\/[a-z]+\.proto|google\/protobuf\/[a-z]+\.proto/.exec(file)?.[0]);
    expect(names.sort()).toEqual([
      'aimaas/v1/common.proto',
      'aimaas/v1/registry.proto',
      'google/protobuf/timestamp.proto',
    ]);
  });

  it('stops every process cleanly on Ctrl-C', async () => {
    const exited = new Promise<number | null>((resolve) => launcher.once('exit', resolve));
    process.kill(-launcher.pid!, 'SIGINT');
    expect(await exited, output.slice(-3000)).toBe(0);
    for (const service of SERVICES) expect(output).toContain(`[aimaas] ${service} stopped`);
    // Each service drained once, on the launcher's SIGTERM, instead of taking a second signal as impatience.
    expect(output).not.toContain('exiting without waiting');
    await expect(healthStatus(env.AIMAAS_REGISTRY_ADDR)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });
});

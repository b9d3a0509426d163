/**
 * A compression process (`node services/compression/dist/main.js`, as `npm start` runs it) killed
 * with SIGKILL in the middle of a fine-tune: the job is redelivered to the next process and
 * resumes from its last checkpoint, then registers exactly one version.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribeEvents } from '@aimaas/events';
import { JobState, type CompressionJob } from '@aimaas/proto';
import { connectNats, ensureBuckets } from '@aimaas/storage';
import { CheckpointStore } from '@aimaas/training';
import { freePort, repoRoot, waitFor } from '@aimaas/testing';
import { COMPRESSION_CHECKPOINTS_BUCKET } from '../src/index.js';
import { startCompressionMesh, trainSource, type CompressionMesh } from './support/harness.js';

const packageDir = () => join(repoRoot(), 'services', 'compression');

/** Builds dist when a source file is newer than dist/main.js (`npm test` builds first; a lone `vitest run` may not have). */
function ensureBuilt(): string {
  const main = join(packageDir(), 'dist', 'main.js');
  const newest = (dir: string): number =>
    Math.max(
      ...readdirSync(dir, { withFileTypes: true }).map((e) =>
        e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs,
      ),
    );
  if (!existsSync(main) || statSync(main).mtimeMs < newest(join(packageDir(), 'src'))) {
    const result = spawnSync('npx', ['tsc', '-p', join(packageDir(), 'tsconfig.build.json')], {
      cwd: repoRoot(),
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`building @aimaas/compression failed:\n${result.stdout}${result.stderr}`);
  }
  return main;
}

interface ServiceProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | string>;
}

describe('a compression process killed mid fine-tune', () => {
  let mesh: CompressionMesh;
  let env: Record<string, string>;
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    // The in-process replica serves RPCs only: the spawned processes are the workers.
    mesh = await startCompressionMesh({ worker: false });
    await trainSource(mesh, 'digits.csv', {
      name: 'digits',
      target: 'digit',
      task: 'classification',
      hidden: [32],
      epochs: 5,
    });
    env = {
      NATS_URL: mesh.base.nats.url,
      AIMAAS_COMPRESSION_ADDR: `127.0.0.1:${await freePort()}`,
      AIMAAS_PREPROCESSING_ADDR: mesh.base.preprocessing.address,
      AIMAAS_REGISTRY_ADDR: mesh.base.registryAddress,
      AIMAAS_COMPRESSION_ACK_WAIT_MS: '2000',
      AIMAAS_METRICS_ADDR: 'off',
      AIMAAS_TF_BACKEND: 'cpu',
      LOG_LEVEL: 'info',
    };
  }, 300_000);

  afterAll(async () => {
    for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await mesh?.close();
  });

  function start(): ServiceProcess {
    const child = spawn(process.execPath, [ensureBuilt()], {
      cwd: repoRoot(),
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | string>((resolve) =>
      child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
    );
    const p = { child, output: () => output, exited };
    processes.push(p);
    return p;
  }

  it('is redelivered and resumes from the last checkpoint, not from zero, and registers once', async () => {
    const first = start();
    const job = await mesh.clients.compression.submitCompressionJob({
      source: { name: 'digits' },
      distill: {
        student: { mlp: { hiddenUnits: [8], activation: 'relu', dropout: 0, batchNorm: false }, inputShape: [] },
        temperature: 3,
        alpha: 0.8,
        config: {
          optimizer: { name: 'adam', learningRate: 0.005, momentum: 0, nesterov: false },
          schedule: undefined,
          batchSize: 4,
          epochs: 40,
          seed: 2,
          earlyStopping: undefined,
          validationSplit: 0,
          workers: 0,
        },
      },
      modelName: 'digits-resumed',
    });
    await waitFor(async () => (await mesh.clients.compression.getCompressionJob({ id: job.id })).checkpointEpoch >= 2, {
      timeoutMs: 120_000,
      intervalMs: 10,
      message: `epoch 2 to be checkpointed (output: ${first.output().slice(-300)})`,
    });
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');

    const nc = await connectNats(mesh.base.nats.url, { name: 'compression-kill-test' });
    const atKill = await mesh.clients.compression.getCompressionJob({ id: job.id });
    expect(atKill.state).toBe(JobState.JOB_STATE_RUNNING);
    expect(atKill.checkpointEpoch).toBeGreaterThanOrEqual(2);
    expect(atKill.checkpointEpoch).toBeLessThan(40);

    const resumed: CompressionJob[] = [];
    const sub = await subscribeEvents({
      nc,
      types: ['compression.job.progress'],
      handler: (event) => {
        if (event.payload.job?.id === job.id) resumed.push(event.payload.job);
      },
    });
    const second = start();
    const done = await waitFor(
      async () => {
        const j = await mesh.clients.compression.getCompressionJob({ id: job.id });
        return j.state !== JobState.JOB_STATE_RUNNING && j;
      },
      { timeoutMs: 180_000, intervalMs: 100, message: 'the resumed job to end' },
    );
    await sub.stop();

    expect(done.state, done.error).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(done).toMatchObject({ attempts: 2, modelVersion: { name: 'digits-resumed', version: 1 } });
    expect(resumed.every((j) => j.attempts === 2)).toBe(true);
    const firstTuning = resumed.find((j) => j.progress?.phase === 'fine-tuning');
    expect(firstTuning?.progress?.epoch).toBeGreaterThanOrEqual(atKill.checkpointEpoch + 1);
    expect(resumed.some((j) => j.progress?.message.includes(`resuming after the checkpoint of epoch `))).toBe(true);
    expect(done.report?.after?.metrics.accuracy).toBeGreaterThan(0.8);
    // One version, and the checkpoint is gone once the job ended.
    const versions = await mesh.clients.registry.searchModelVersions({
      filter: 'name = "digits-resumed"',
      pageSize: 10,
    });
    expect(versions.versions.length).toBe(1);
    const { objects } = await ensureBuckets(nc, { objects: { [COMPRESSION_CHECKPOINTS_BUCKET]: {} } });
    expect(await new CheckpointStore(objects[COMPRESSION_CHECKPOINTS_BUCKET]!).load(job.id)).toBeUndefined();
    await nc.drain();

    // SIGTERM: an orderly shutdown that exits 0.
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 400_000);
});

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@aimaas/testing';

const packageDir = () => join(repoRoot(), 'services', 'training');

/**
 * Builds services/training/dist when a source file is newer than dist/main.js (`npm test` builds
 * everything first; a lone `vitest run` may not have).
 */
export function ensureBuilt(): string {
  const main = join(packageDir(), 'dist', 'main.js');
  const src = join(packageDir(), 'src');
  const newest = Math.max(...readdirSync(src).map((f) => statSync(join(src, f)).mtimeMs));
  if (!existsSync(main) || statSync(main).mtimeMs < newest) {
    const result = spawnSync('npx', ['tsc', '-p', join(packageDir(), 'tsconfig.build.json')], {
      cwd: repoRoot(),
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`building @aimaas/training failed:\n${result.stdout}${result.stderr}`);
  }
  return main;
}

/** A training service process (`node services/training/dist/main.js`). */
export interface ServiceProcess {
  child: ChildProcess;
  /** stdout and stderr so far (pino JSON lines). */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process ended. */
  exited: Promise<number | string>;
}

/** Spawns the built training service with `env` on top of the test's environment. */
export function spawnTrainingProcess(env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, [ensureBuilt()], {
    cwd: repoRoot(),
    env: { ...process.env, AIMAAS_METRICS_ADDR: 'off', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return { child, output: () => output, exited };
}

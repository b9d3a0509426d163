import { runCli, type CliIo } from '@aimaas/cli';

/** What one in-process CLI run printed, and its exit code. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The parts of {@link CliIo} a test chooses; stdout and stderr are always captured. */
export type CliRunOptions = Omit<CliIo, 'stdout' | 'stderr'>;

/** Runs `runCli(argv)` in-process, capturing what it writes to stdout and stderr. */
export async function runCaptured(argv: readonly string[], options: CliRunOptions = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    ...options,
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, stdout, stderr };
}

/**
 * An `aimaas(...argv)` function for a suite. `options` may be a function: it is called on every
 * run, so it can name addresses and directories that a `beforeAll` sets up later.
 *
 * @example
 * const aimaas = cliRunner(() => ({ env: { AIMAAS_REGISTRY_ADDR: registry.address }, cwd: dir }));
 * expect((await aimaas('models', 'list')).code).toBe(0);
 */
export function cliRunner(
  options: CliRunOptions | (() => CliRunOptions) = {},
): (...argv: string[]) => Promise<CliResult> {
  return (...argv) => runCaptured(argv, typeof options === 'function' ? options() : options);
}

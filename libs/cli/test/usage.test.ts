import { describe, expect, it } from 'vitest';
import { createClients } from '@aimaas/sdk';
import { formatBytes, formatDate, formatNumber, formatTable, ProgressBar } from '@aimaas/cli';
import { runCaptured, type CliResult } from './run-cli-harness.js';

async function aimaas(...argv: string[]): Promise<CliResult> {
  // Clients to an address nothing listens on: none of these runs may reach a server.
  const clients = createClients({ addresses: { registry: '127.0.0.1:9' }, env: {}, retry: { maxAttempts: 1 } });
  const result = await runCaptured(argv, { clients });
  clients.close();
  return result;
}

describe('usage errors', () => {
  it('exit 2 with the message and the usage line for an unknown command', async () => {
    expect(await aimaas('frobnicate')).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'error: unknown command "frobnicate"\n' +
        'usage: aimaas [global options] <command> [arguments] [options]\n' +
        "Run 'aimaas --help' for the list of commands.\n",
    });
  });

  it('exit 2 for an unknown sub-command, a missing argument, an extra one, or an unknown option', async () => {
    expect((await aimaas('models', 'frob')).stderr).toBe(
      'error: unknown command "models frob"\nusage: aimaas models <command> [arguments] [options]\n',
    );
    expect(await aimaas('models', 'alias', 'set', 'fmnist', 'production')).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'error: missing arguments: <model> <alias> <version>\n' +
        'usage: aimaas models alias set <model> <alias> <version> [--reason <text>]\n',
    });
    expect((await aimaas('models', 'show', 'a', 'b')).stderr.split('\n')[0]).toBe('error: unexpected argument "b"');
    expect((await aimaas('models', 'list', '--bogus')).stderr.split('\n')[0]).toBe('error: unknown option --bogus');
    expect((await aimaas('models', 'list', '--bogus')).code).toBe(2);
  });

  it('exit 2 for a malformed model reference or version', async () => {
    const ref = await aimaas('models', 'show', 'fmnist@');
    expect(ref.code).toBe(2);
    expect(ref.stderr).toMatch(/^error: model reference "fmnist@": "" after @ is neither a version/);
    const version = await aimaas('models', 'alias', 'set', 'fmnist', 'production', 'three');
    expect(version.stderr.split('\n')[0]).toBe('error: version three: expected a positive integer');
    expect((await aimaas('models', 'list', '--timeout', '-1')).code).toBe(2);
  });

  it('exit 2 and print the usage when no command is given', async () => {
    const result = await aimaas();
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe('error: no command given');
  });
});

describe('--help and --version', () => {
  it('list every command and the global flags', async () => {
    const result = await aimaas('--help');
    expect(result.code).toBe(0);
    for (const command of [
      'models list',
      'models show',
      'models versions',
      'models search',
      'models alias set',
      'models alias delete',
      'models history',
      'models download',
      'models lineage',
      'models create',
      'models upload',
    ]) {
      expect(result.stdout).toContain(`\n  ${command} `);
    }
    for (const flag of ['--registry-addr <host:port>', '--token <token>', '--json', '--version'])
      expect(result.stdout).toContain(flag);
  });

  it('show one command with its options', async () => {
    const result = await aimaas('models', 'download', '--help');
    expect(result.stdout.split('\n')[0]).toBe(
      'usage: aimaas models download <model>[@version|@alias] [--out <dir>] [--format <format>]',
    );
  });

  it('print the package version', async () => {
    expect(await aimaas('--version')).toEqual({ code: 0, stdout: '0.1.0\n', stderr: '' });
  });
});

describe('errors from calls', () => {
  it('print error: UNAVAILABLE when the service cannot be reached, and exit 1', async () => {
    const result = await aimaas('models', 'list');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: UNAVAILABLE: .*ECONNREFUSED.*\n$/);
  });
});

describe('output helpers', () => {
  it('align table columns, right-aligning numeric ones', () => {
    expect(
      formatTable(
        [{ header: 'name' }, { header: 'versions', align: 'right' }],
        [
          ['fmnist', '3'],
          ['iris', '12'],
        ],
      ),
    ).toBe('NAME    VERSIONS\nfmnist         3\niris          12');
  });

  it('write dates as ISO seconds, numbers compact, bytes in decimal units', () => {
    expect(formatDate(new Date(Date.UTC(2025, 2, 1, 12, 0, 5, 123)))).toBe('2025-03-01T12:00:05Z');
    expect([formatNumber(0.912345), formatNumber(12), formatNumber(1234.5678)]).toEqual(['0.9123', '12', '1235']);
    expect([formatBytes(999), formatBytes(1_234_567), formatBytes(3_000)]).toEqual(['999 B', '1.23 MB', '3 kB']);
  });

  it('draw a progress bar with percent, bytes and rate', () => {
    let out = '';
    let now = 0;
    const bar = new ProgressBar({ write: (s: string) => (out += s) }, 'upload', { barWidth: 10, now: () => now });
    now = 2000;
    bar.update(5_000_000, 10_000_000);
    expect(out).toBe('\rupload  [#####-----]  50%  5 MB / 10 MB  2.5 MB/s');
    bar.done();
    expect(out.endsWith('\n')).toBe(true);
  });
});

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AimaasError, createClients, type AimaasClients, type CallOptions, type ServiceName } from '@aimaas/sdk';
import {
  UsageError,
  type CliIo,
  type CommandContext,
  type CommandGroup,
  type CommandSpec,
  type OptionSpec,
  type OptionValues,
} from './command.js';
import { compressGroup } from './commands/compress.js';
import { datasetsGroup } from './commands/datasets.js';
import { deployGroup, deploymentsGroup, predictGroup, undeployGroup } from './commands/deploy.js';
import { jobsGroup, trainGroup } from './commands/train.js';
import { modelsGroup } from './commands/models.js';
import { ProgressBar } from './output/progress-bar.js';
import { commandHelp, commandUsage, GENERAL_USAGE, generalHelp, GLOBAL_OPTIONS, groupHelp } from './usage.js';

/** Every command group, in the order help lists them. */
export const COMMAND_GROUPS: readonly CommandGroup[] = [
  modelsGroup,
  datasetsGroup,
  trainGroup,
  jobsGroup,
  compressGroup,
  deployGroup,
  undeployGroup,
  deploymentsGroup,
  predictGroup,
];

const SERVICES: readonly ServiceName[] = ['preprocessing', 'training', 'compression', 'registry', 'inference'];

/** The CLI's version, from its package.json. */
export function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function toParseArgsOptions(specs: Record<string, OptionSpec>): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => [
      name,
      { type: spec.type, ...(spec.multiple ? { multiple: true } : {}), ...(spec.short ? { short: spec.short } : {}) },
    ]),
  );
}

/** Every option any command knows, so the first, lenient pass finds the command words correctly. */
function allOptions(groups: readonly CommandGroup[]): Record<string, OptionSpec> {
  const all: Record<string, OptionSpec> = { ...GLOBAL_OPTIONS };
  for (const command of groups.flatMap((g) => g.commands)) Object.assign(all, command.options);
  return all;
}

/** The words of a command's name; none for the group's own command (`aimaas train …`). */
function nameWords(command: CommandSpec): string[] {
  return command.name === '' ? [] : command.name.split(' ');
}

/** The command whose words start `words` (the longest match; a nameless one matches anything). */
function findCommand(group: CommandGroup, words: readonly string[]): CommandSpec | undefined {
  const matches = group.commands.filter((c) => nameWords(c).every((word, i) => words[i] === word));
  return matches.sort((a, b) => b.name.length - a.name.length)[0];
}

function strictParse(argv: readonly string[], options: Record<string, OptionSpec>, usage: string) {
  try {
    return parseArgs({ args: [...argv], options: toParseArgsOptions(options), allowPositionals: true, strict: true });
  } catch (error) {
    const message = (error as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(message);
    throw new UsageError(unknown ? `unknown option ${unknown[1]}` : message.split('. ')[0]!, usage);
  }
}

/**
 * Runs the `aimaas` command with `argv` (without `node` and the script) and resolves with the
 * exit status: 0 on success, 1 when a call or the work failed (`error: CODE: message` on stderr),
 * 2 for a usage error (message and usage line on stderr).
 *
 * @example
 * const code = await runCli(['models', 'list', '--json'], { stdout: process.stdout, stderr: process.stderr });
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let owned: AimaasClients | undefined;
  try {
    const first = parseArgs({
      args: [...argv],
      options: toParseArgsOptions(allOptions(COMMAND_GROUPS)),
      allowPositionals: true,
      strict: false,
    });
    const help = first.values.help === true;
    if (first.values.version === true) {
      io.stdout.write(`${cliVersion()}\n`);
      return 0;
    }
    const [groupName, ...words] = first.positionals;
    if (groupName === undefined) {
      if (help) return print(io.stdout, generalHelp(COMMAND_GROUPS), 0);
      throw new UsageError('no command given');
    }
    const group = COMMAND_GROUPS.find((g) => g.name === groupName);
    if (group === undefined) throw new UsageError(`unknown command "${groupName}"`);
    const command = findCommand(group, words);
    if (command === undefined) {
      if (help || words.length === 0) return print(help ? io.stdout : io.stderr, groupHelp(group), help ? 0 : 2);
      throw new UsageError(
        `unknown command "${group.name} ${words[0]}"`,
        `aimaas ${group.name} <command> [arguments] [options]`,
      );
    }
    const usage = commandUsage(group, command);
    if (help) return print(io.stdout, commandHelp(group, command), 0);

    const { values, positionals } = strictParse(argv, { ...GLOBAL_OPTIONS, ...command.options }, usage);
    const args = positionals.slice(1 + nameWords(command).length);
    const max = command.maxArgs ?? command.minArgs;
    if (args.length < command.minArgs) throw new UsageError(`missing arguments: ${command.args}`, usage);
    if (args.length > max) throw new UsageError(`unexpected argument "${args[max]}"`, usage);

    const context = makeContext(io, values as OptionValues, usage, (clients) => (owned = clients));
    await command.run(context, args, values as OptionValues);
    return 0;
  } catch (error) {
    return reportError(io, error);
  } finally {
    owned?.close();
  }
}

function makeContext(
  io: CliIo,
  values: OptionValues,
  usage: string,
  onCreate: (clients: AimaasClients) => void,
): CommandContext {
  const json = values.json === true;
  let clients = io.clients;
  const callOptions: CallOptions = {};
  if (values.timeout !== undefined) {
    const seconds = Number(values.timeout);
    if (!(Number.isFinite(seconds) && seconds > 0)) {
      throw new UsageError(`--timeout ${String(values.timeout)}: expected a positive number of seconds`, usage);
    }
    callOptions.deadlineMs = seconds * 1000;
  }
  if (typeof values.actor === 'string' && values.actor !== '') callOptions.actor = values.actor;
  const bars = !json && (values.progress === true || io.stderr.isTTY === true);
  return {
    io,
    json,
    callOptions,
    clients() {
      if (clients === undefined) {
        const addresses: Partial<Record<ServiceName, string>> = {};
        for (const service of SERVICES) {
          const flag = values[`${service}-addr`];
          if (typeof flag === 'string') addresses[service] = flag;
        }
        clients = createClients({
          addresses,
          ...(typeof values.token === 'string' ? { authToken: values.token } : {}),
          ...(io.env ? { env: io.env } : {}),
        });
        onCreate(clients);
      }
      return clients;
    },
    progress: (label) => (bars ? new ProgressBar(io.stderr, label.padEnd(8)) : undefined),
    showProgress: bars,
    resolvePath: (path) => resolve(io.cwd ?? process.cwd(), path),
    print: (text) => void io.stdout.write(`${text}\n`),
    note: (text) => void io.stderr.write(`${text}\n`),
    printJson: (value) => void io.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
  };
}

function print(stream: CliIo['stdout'], text: string, code: number): number {
  stream.write(`${text}\n`);
  return code;
}

function reportError(io: CliIo, error: unknown): number {
  if (error instanceof UsageError) {
    io.stderr.write(`error: ${error.message}\nusage: ${error.usage ?? GENERAL_USAGE}\n`);
    if (error.usage === undefined) io.stderr.write("Run 'aimaas --help' for the list of commands.\n");
    return 2;
  }
  if (error instanceof AimaasError) {
    io.stderr.write(`error: ${error.code}: ${error.details}\n`);
    return 1;
  }
  io.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  return 1;
}

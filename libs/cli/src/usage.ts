import { addressEnvName, DEFAULT_ADDRESSES, type ServiceName } from '@aimaas/sdk';
import type { CommandGroup, CommandSpec, OptionSpec } from './command.js';
import { formatTable } from './output/format.js';

const SERVICES = Object.keys(DEFAULT_ADDRESSES) as ServiceName[];

/** Flags every command takes. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  ...Object.fromEntries(
    SERVICES.map((service) => [
      `${service}-addr`,
      {
        type: 'string',
        value: 'host:port',
        description: `${service} address (env ${addressEnvName(service)}, default ${DEFAULT_ADDRESSES[service]})`,
      } satisfies OptionSpec,
    ]),
  ),
  token: { type: 'string', value: 'token', description: 'Bearer token (env AIMAAS_AUTH_TOKEN)' },
  actor: { type: 'string', value: 'name', description: 'Who is acting, sent as x-aimaas-actor' },
  timeout: { type: 'string', value: 'seconds', description: 'Deadline of each call' },
  json: { type: 'boolean', description: 'Print protobuf JSON instead of tables' },
  progress: { type: 'boolean', description: 'Draw progress bars even when stderr is not a terminal' },
  help: { type: 'boolean', short: 'h', description: 'Show help' },
  version: { type: 'boolean', short: 'V', description: 'Show the version' },
};

/** `--name <value>` or `--name` as usage shows an option. */
function optionSyntax(name: string, spec: OptionSpec): string {
  const short = spec.short ? `-${spec.short}, ` : '';
  return `${short}--${name}${spec.type === 'string' ? ` <${spec.value ?? 'value'}>` : ''}`;
}

/** The usage line of a command, e.g. `aimaas models alias set <model> <alias> <version> [--reason <text>]`. */
export function commandUsage(group: CommandGroup, command: CommandSpec): string {
  const options = Object.entries(command.options ?? {}).map(([name, spec]) => `[${optionSyntax(name, spec)}]`);
  return ['aimaas', group.name, command.name, command.args, ...options].filter((part) => part !== '').join(' ');
}

/** The general usage line. */
export const GENERAL_USAGE = 'aimaas [global options] <command> [arguments] [options]';

function optionsTable(options: Record<string, OptionSpec>): string {
  return indent(
    formatTable(
      ['', ''],
      Object.entries(options).map(([name, spec]) => [optionSyntax(name, spec), spec.description]),
      {
        header: false,
      },
    ),
  );
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

/** The full help: every command of every group, then the global options. */
export function generalHelp(groups: readonly CommandGroup[]): string {
  const rows = groups.flatMap((group) =>
    group.commands.map((command) => [
      [group.name, command.name, command.args].filter(Boolean).join(' '),
      command.summary,
    ]),
  );
  return [
    `usage: ${GENERAL_USAGE}`,
    '',
    'Commands:',
    indent(formatTable(['', ''], rows, { header: false })),
    '',
    'Global options:',
    optionsTable(GLOBAL_OPTIONS),
    '',
    "Models are referenced as name, name@<version> or name@<alias>. Run 'aimaas <command> --help' for details.",
  ].join('\n');
}

/** The help of one group: its commands. */
export function groupHelp(group: CommandGroup): string {
  const rows = group.commands.map((command) => [
    [group.name, command.name, command.args].filter(Boolean).join(' '),
    command.summary,
  ]);
  return [
    `usage: aimaas ${group.name} <command> [arguments] [options]`,
    '',
    `${group.summary}.`,
    '',
    'Commands:',
    indent(formatTable(['', ''], rows, { header: false })),
  ].join('\n');
}

/** The help of one command: usage, summary, its options and the global ones. */
export function commandHelp(group: CommandGroup, command: CommandSpec): string {
  const parts = [`usage: ${commandUsage(group, command)}`, '', `${command.summary}.`];
  if (command.options && Object.keys(command.options).length > 0)
    parts.push('', 'Options:', optionsTable(command.options));
  const others = command.name === '' ? group.commands.filter((c) => c !== command) : [];
  if (others.length > 0) {
    const rows = others.map((c) => [[group.name, c.name, c.args].filter(Boolean).join(' '), c.summary]);
    parts.push('', `More ${group.name} commands:`, indent(formatTable(['', ''], rows, { header: false })));
  }
  parts.push('', 'Global options:', optionsTable(GLOBAL_OPTIONS));
  return parts.join('\n');
}

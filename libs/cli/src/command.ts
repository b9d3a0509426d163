import type { ModelRef } from '@aimaas/proto';
import { parseModelRef, type AimaasClients, type CallOptions } from '@aimaas/sdk';
import type { ProgressBar } from './output/progress-bar.js';
import type { CliWritable } from './output/writable.js';

export type { CliWritable } from './output/writable.js';

/** The outside world of one CLI run; everything is injectable so tests run it in-process. */
export interface CliIo {
  stdout: CliWritable;
  stderr: CliWritable;
  /** Environment for addresses, token and TLS. @default process.env */
  env?: Record<string, string | undefined>;
  /** Clients to use instead of creating them from flags and env (they are not closed). */
  clients?: AimaasClients;
  /** Directory relative paths are resolved against. @default process.cwd() */
  cwd?: string;
}

/** A `node:util` parseArgs option, plus what the usage text shows. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** Placeholder of the value in usage text, e.g. `dir`. */
  value?: string;
  description: string;
}

/** Parsed option values of a command (global ones included). */
export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** What a command gets to do its work. */
export interface CommandContext {
  readonly io: CliIo;
  /** `--json` given: print protobuf JSON only. */
  readonly json: boolean;
  /** The clients (created on first use from flags and env, unless the caller passed some). */
  clients(): AimaasClients;
  /** Per-call options from global flags (`--timeout`). */
  readonly callOptions: CallOptions;
  /** A progress bar on stderr, or undefined when bars are off (no TTY and no `--progress`, or `--json`). */
  progress(label: string): ProgressBar | undefined;
  /** Whether progress is drawn on stderr (a terminal or `--progress`, and not `--json`). */
  readonly showProgress: boolean;
  /** Resolves a path given on the command line. */
  resolvePath(path: string): string;
  /** Writes `text` and a newline to stdout. */
  print(text: string): void;
  /** Writes `text` and a newline to stderr. */
  note(text: string): void;
  /** Writes `value` as indented JSON to stdout. */
  printJson(value: unknown): void;
}

/**
 * One command, e.g. `models alias set`. Its `name` is the words after the group name; `args` is
 * the usage of its positionals.
 */
export interface CommandSpec {
  /** Words after the group, e.g. `'alias set'`; `''` for a group that is one command (`train`). */
  name: string;
  /** Positionals as the usage shows them, e.g. `'<model> <alias> <version>'`. */
  args: string;
  summary: string;
  options?: Record<string, OptionSpec>;
  /** Fewest and most positionals. @default max = min */
  minArgs: number;
  maxArgs?: number;
  run(context: CommandContext, args: string[], values: OptionValues): Promise<void>;
}

/** A command group (`models`, `datasets`, `train`, `jobs`, `deploy`, `predict`, …). */
export interface CommandGroup {
  name: string;
  summary: string;
  commands: CommandSpec[];
}

/** Bad command-line input: printed with the usage line, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** The usage line to print after the message (without `usage: `), or undefined for the general one. */
  readonly usage: string | undefined;
  constructor(message: string, usage?: string) {
    super(message);
    this.usage = usage;
  }
}

/** Parses repeated `key=value` options into a record; throws a UsageError naming the bad one. */
export function parseKeyValues(flag: string, values: OptionValues[string]): Record<string, string> {
  const out: Record<string, string> = {};
  const list = values === undefined ? [] : Array.isArray(values) ? values : [String(values)];
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${flag} ${item}: expected key=value`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** Parses repeated numeric `key=value` options (metrics). */
export function parseKeyNumbers(flag: string, values: OptionValues[string]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, text] of Object.entries(parseKeyValues(flag, values))) {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value))
      throw new UsageError(`--${flag} ${key}=${text}: expected a number`);
    out[key] = value;
  }
  return out;
}

/** Parses a positive integer argument such as a version or a page size. */
export function parsePositiveInt(what: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[1-9][0-9]*$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${what} ${text}: expected a positive integer`);
  }
  return Number(text);
}

/** A model reference argument (`name`, `name@3`, `name@production`); a malformed one is a usage error. */
export function refArg(text: string): ModelRef {
  try {
    return parseModelRef(text);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

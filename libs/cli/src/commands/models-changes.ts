import { basename, extname } from 'node:path';
import { DeleteAliasResponse, ModelVersion, RegisteredModel, SetAliasResponse, type ModelRef } from '@aimaas/proto';
import { AimaasError, downloadToDirectory, formatModelRef, uploadModelVersion } from '@aimaas/sdk';
import {
  parseKeyNumbers,
  parseKeyValues,
  parsePositiveInt,
  refArg,
  UsageError,
  type CommandContext,
  type CommandSpec,
} from '../command.js';
import { formatBytes } from '../output/format.js';
import { filesTable } from '../output/model-views.js';

/** Runs `work` with a progress bar (when bars are on), ending the bar's line however it ends. */
export async function withProgress<T>(
  ctx: CommandContext,
  label: string,
  work: (onProgress: ((bytes: number, total: number | undefined) => void) | undefined) => Promise<T>,
): Promise<T> {
  const bar = ctx.progress(label);
  try {
    return await work(bar && ((bytes, total) => bar.update(bytes, total)));
  } finally {
    bar?.done();
  }
}

/** The artifact format of a file from its name: `.onnx` → onnx, `.json`/`.bin` → tfjs-layers, else `file`. */
function inferFormat(path: string): string {
  const ext = extname(path).toLowerCase();
  if (ext === '.onnx') return 'onnx';
  if (ext === '.json' || ext === '.bin') return 'tfjs-layers';
  return 'file';
}

/** The default `--out` of a download: `./<name>-v<version>`, `./<name>-<alias>` or `./<name>-latest`. */
function defaultDownloadDir(ref: ModelRef): string {
  if (ref.version !== undefined) return `${ref.name}-v${ref.version}`;
  return `${ref.name}-${ref.alias ?? 'latest'}`;
}

const create: CommandSpec = {
  name: 'create',
  args: '<model>',
  summary: 'Register a new model (no versions yet)',
  options: {
    description: { type: 'string', value: 'text', description: 'What the model does' },
    tags: { type: 'string', multiple: true, value: 'k=v', description: 'A tag (repeatable)' },
  },
  minArgs: 1,
  async run(ctx, [name], values) {
    const model = await ctx.clients().registry.createRegisteredModel(
      {
        name: name!,
        description: (values.description as string | undefined) ?? '',
        tags: parseKeyValues('tags', values.tags),
      },
      ctx.callOptions,
    );
    if (ctx.json) return ctx.printJson(RegisteredModel.toJSON(model));
    ctx.print(`Created model ${model.name}.`);
  },
};

const upload: CommandSpec = {
  name: 'upload',
  args: '<model> <file...>',
  summary: 'Create a version from local files (each stored under its base name)',
  options: {
    format: {
      type: 'string',
      value: 'format',
      description: 'Artifact format of every file (default from the extension)',
    },
    metrics: { type: 'string', multiple: true, value: 'k=v', description: 'A numeric metric (repeatable)' },
    tags: { type: 'string', multiple: true, value: 'k=v', description: 'A tag (repeatable)' },
    params: { type: 'string', multiple: true, value: 'k=v', description: 'A parameter (repeatable)' },
    description: { type: 'string', value: 'text', description: 'Description of the version' },
    'create-model': { type: 'boolean', description: 'Register the model first when it does not exist' },
  },
  minArgs: 2,
  maxArgs: Number.POSITIVE_INFINITY,
  async run(ctx, [name, ...paths], values) {
    const header = {
      name: name!,
      description: (values.description as string | undefined) ?? '',
      metrics: parseKeyNumbers('metrics', values.metrics),
      tags: parseKeyValues('tags', values.tags),
      params: parseKeyValues('params', values.params),
      createModel: values['create-model'] === true,
    };
    const files = paths.map((path) => ({
      path: basename(path),
      format: (values.format as string | undefined) ?? inferFormat(path),
      source: ctx.resolvePath(path),
    }));
    const version = await withProgress(ctx, 'upload', (onProgress) =>
      uploadModelVersion(ctx.clients().registry, header, files, {
        ...ctx.callOptions,
        ...(onProgress && { onProgress }),
      }),
    );
    if (ctx.json) return ctx.printJson(ModelVersion.toJSON(version));
    const size = version.files.reduce((sum, f) => sum + f.size, 0);
    const count = version.files.length;
    ctx.print(
      `Created ${version.name}@${version.version}: ${count} file${count === 1 ? '' : 's'}, ${formatBytes(size)}.`,
    );
    ctx.print(filesTable(version.files));
  },
};

const download: CommandSpec = {
  name: 'download',
  args: '<model>[@version|@alias]',
  summary: "Download a version's artifacts, checking every SHA-256",
  options: {
    out: {
      type: 'string',
      value: 'dir',
      description: 'Target directory (default ./<model>-v<version>, ./<model>-<alias>)',
    },
    format: { type: 'string', value: 'format', description: 'Only files of this format, e.g. onnx' },
  },
  minArgs: 1,
  async run(ctx, [text], values) {
    const ref = refArg(text!);
    const format = values.format as string | undefined;
    const directory = ctx.resolvePath((values.out as string | undefined) ?? defaultDownloadDir(ref));
    const result = await withProgress(ctx, 'download', (onProgress) =>
      downloadToDirectory(ctx.clients().registry, ref, directory, {
        ...ctx.callOptions,
        ...(format === undefined ? {} : { format }),
        ...(onProgress && { onProgress }),
      }),
    );
    const label = `${result.version.name}@${result.version.version}`;
    if (result.files.length === 0) {
      const what = format === undefined ? 'files' : `${format} files`;
      throw new AimaasError({ code: 'NOT_FOUND', details: `${label} has no ${what}` });
    }
    if (ctx.json) return ctx.printJson({ directory: result.directory, version: ModelVersion.toJSON(result.version) });
    const size = result.files.reduce((sum, f) => sum + f.size, 0);
    const count = result.files.length;
    ctx.print(
      `Downloaded ${label}: ${count} file${count === 1 ? '' : 's'}, ${formatBytes(size)} to ${result.directory}`,
    );
    ctx.print(filesTable(result.files));
  },
};

const aliasSet: CommandSpec = {
  name: 'alias set',
  args: '<model> <alias> <version>',
  summary: 'Point an alias (e.g. production) at a version',
  options: { reason: { type: 'string', value: 'text', description: 'Why; kept in the alias history' } },
  minArgs: 3,
  async run(ctx, [name, alias, versionText], values) {
    const version = parsePositiveInt('version', versionText)!;
    const response = await ctx
      .clients()
      .registry.setAlias(
        { name: name!, alias: alias!, version, reason: (values.reason as string | undefined) ?? '' },
        ctx.callOptions,
      );
    if (ctx.json) return ctx.printJson(SetAliasResponse.toJSON(response));
    const was = response.previousVersion > 0 ? `was version ${response.previousVersion}` : 'new alias';
    ctx.print(`${formatModelRef({ name: name!, alias: alias! })} -> version ${version} (${was}).`);
  },
};

const aliasDelete: CommandSpec = {
  name: 'alias delete',
  args: '<model> <alias>',
  summary: 'Remove an alias',
  options: { reason: { type: 'string', value: 'text', description: 'Why; kept in the alias history' } },
  minArgs: 2,
  async run(ctx, [name, alias], values) {
    if (alias === '') throw new UsageError('alias must not be empty');
    const response = await ctx
      .clients()
      .registry.deleteAlias(
        { name: name!, alias: alias!, reason: (values.reason as string | undefined) ?? '' },
        ctx.callOptions,
      );
    if (ctx.json) return ctx.printJson(DeleteAliasResponse.toJSON(response));
    ctx.print(`Deleted ${formatModelRef({ name: name!, alias: alias! })} (was version ${response.previousVersion}).`);
  },
};

/** `models alias set|delete`. */
export const aliasCommands: CommandSpec[] = [aliasSet, aliasDelete];

/** `models create|upload|download`. */
export const transferCommands: CommandSpec[] = [download, create, upload];

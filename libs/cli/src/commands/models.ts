import {
  GetLineageResponse,
  ListAliasHistoryResponse,
  ListRegisteredModelsResponse,
  ModelVersion,
  RegisteredModel,
  SearchModelVersionsResponse,
} from '@aimaas/proto';
import { parsePositiveInt, refArg, type CommandGroup, type CommandSpec } from '../command.js';
import {
  historyTable,
  lineageView,
  modelDetails,
  modelsTable,
  versionDetails,
  versionsTable,
} from '../output/model-views.js';
import { aliasCommands, transferCommands } from './models-changes.js';

/**
 * Fetches every page of a paged list. Stops on an empty token, or (defensively) a repeated one.
 */
export async function collectPages<T>(
  fetch: (pageToken: string) => Promise<{ items: T[]; next: string }>,
): Promise<T[]> {
  const items: T[] = [];
  const seen = new Set<string>();
  let token = '';
  do {
    seen.add(token);
    const page = await fetch(token);
    items.push(...page.items);
    token = page.next;
  } while (token !== '' && !seen.has(token));
  return items;
}

/** `name = "x"` with the name quoted for the registry's filter language. */
function nameFilter(name: string): string {
  return `name = "${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

const list: CommandSpec = {
  name: 'list',
  args: '',
  summary: 'List registered models',
  options: {
    prefix: { type: 'string', value: 'text', description: 'Only models whose name starts with this' },
    'page-size': { type: 'string', value: 'n', description: 'Models fetched per request (all pages are shown)' },
  },
  minArgs: 0,
  async run(ctx, _args, values) {
    const pageSize = parsePositiveInt('--page-size', values['page-size'] as string | undefined) ?? 0;
    const models = await collectPages(async (pageToken) => {
      const page = await ctx
        .clients()
        .registry.listRegisteredModels(
          { pageSize, pageToken, namePrefix: (values.prefix as string | undefined) ?? '' },
          ctx.callOptions,
        );
      return { items: page.models, next: page.nextPageToken };
    });
    if (ctx.json) return ctx.printJson(ListRegisteredModelsResponse.toJSON({ models, nextPageToken: '' }));
    if (models.length === 0) return ctx.note('No registered models.');
    ctx.print(modelsTable(models));
  },
};

const show: CommandSpec = {
  name: 'show',
  args: '<model>[@version|@alias]',
  summary: 'Show a registered model, or one version of it',
  minArgs: 1,
  async run(ctx, [text]) {
    const ref = refArg(text!);
    const { registry } = ctx.clients();
    if (ref.version === undefined && ref.alias === undefined) {
      const model = await registry.getRegisteredModel({ name: ref.name }, ctx.callOptions);
      return ctx.json ? ctx.printJson(RegisteredModel.toJSON(model)) : ctx.print(modelDetails(model));
    }
    const version = await registry.getModelVersion({ ref }, ctx.callOptions);
    return ctx.json ? ctx.printJson(ModelVersion.toJSON(version)) : ctx.print(versionDetails(version));
  },
};

const versions: CommandSpec = {
  name: 'versions',
  args: '<model>',
  summary: 'List the versions of a model, newest first',
  minArgs: 1,
  async run(ctx, [name]) {
    const { registry } = ctx.clients();
    const found = await collectPages(async (pageToken) => {
      const page = await registry.searchModelVersions(
        { filter: nameFilter(name!), orderBy: 'version DESC', pageToken },
        ctx.callOptions,
      );
      return { items: page.versions, next: page.nextPageToken };
    });
    // An empty result may mean no such model: ask, so that case reads NOT_FOUND.
    if (found.length === 0) await registry.getRegisteredModel({ name: name! }, ctx.callOptions);
    if (ctx.json) {
      return ctx.printJson(
        SearchModelVersionsResponse.toJSON({ versions: found, nextPageToken: '', totalSize: found.length }),
      );
    }
    if (found.length === 0) return ctx.note(`Model ${name} has no versions.`);
    ctx.print(versionsTable(found, false));
  },
};

const search: CommandSpec = {
  name: 'search',
  args: '<filter>',
  summary: 'Search versions, e.g. \'name = "fmnist" AND metrics.accuracy > 0.9\'',
  options: {
    'order-by': {
      type: 'string',
      value: 'keys',
      description: 'e.g. "metrics.accuracy DESC" (default "name ASC, version DESC")',
    },
    'page-size': { type: 'string', value: 'n', description: 'Versions per page (default 100)' },
    'page-token': { type: 'string', value: 'token', description: 'Continue from a previous page' },
  },
  minArgs: 1,
  async run(ctx, [filter], values) {
    const page = await ctx.clients().registry.searchModelVersions(
      {
        filter: filter!,
        orderBy: (values['order-by'] as string | undefined) ?? '',
        pageSize: parsePositiveInt('--page-size', values['page-size'] as string | undefined) ?? 0,
        pageToken: (values['page-token'] as string | undefined) ?? '',
      },
      ctx.callOptions,
    );
    if (ctx.json) return ctx.printJson(SearchModelVersionsResponse.toJSON(page));
    if (page.versions.length === 0) return ctx.note('No matching versions.');
    ctx.print(versionsTable(page.versions, true));
    if (page.nextPageToken !== '') {
      ctx.note(`${page.versions.length} of ${page.totalSize} shown; next page: --page-token ${page.nextPageToken}`);
    }
  },
};

const history: CommandSpec = {
  name: 'history',
  args: '<model>',
  summary: 'Show how the aliases of a model moved, newest first',
  options: { alias: { type: 'string', value: 'alias', description: 'Only this alias' } },
  minArgs: 1,
  async run(ctx, [name], values) {
    const changes = await collectPages(async (pageToken) => {
      const page = await ctx
        .clients()
        .registry.listAliasHistory(
          { name: name!, alias: (values.alias as string | undefined) ?? '', pageToken },
          ctx.callOptions,
        );
      return { items: page.changes, next: page.nextPageToken };
    });
    if (ctx.json) return ctx.printJson(ListAliasHistoryResponse.toJSON({ changes, nextPageToken: '' }));
    if (changes.length === 0) return ctx.note('No alias changes.');
    ctx.print(historyTable(changes));
  },
};

const lineage: CommandSpec = {
  name: 'lineage',
  args: '<model>[@version|@alias]',
  summary: 'Show where a version came from: datasets, jobs, parent versions',
  minArgs: 1,
  async run(ctx, [text]) {
    const response = await ctx.clients().registry.getLineage({ ref: refArg(text!) }, ctx.callOptions);
    if (ctx.json) return ctx.printJson(GetLineageResponse.toJSON(response));
    ctx.print(lineageView(response));
  },
};

/** `aimaas models …`: the model registry. */
export const modelsGroup: CommandGroup = {
  name: 'models',
  summary: 'Registered models, versions, aliases and artifacts',
  commands: [list, show, versions, search, ...aliasCommands, history, lineage, ...transferCommands],
};

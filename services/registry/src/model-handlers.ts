import { FailedPreconditionError, InvalidArgumentError } from '@aimaas/runtime';
import { aliasesOf, toModelVersion, toRegisteredModel, type StoredModel } from './records.js';
import type { RegistryContext, RegistryServiceHandlers } from './registry-context.js';
import { newModelRecord } from './version-allocator.js';
import { pageSize, validateDescription, validateModelName, validateStringMap, validateTagEdits } from './validation.js';

type ModelHandlers = Pick<
  RegistryServiceHandlers,
  | 'createRegisteredModel'
  | 'getRegisteredModel'
  | 'listRegisteredModels'
  | 'updateRegisteredModel'
  | 'deleteRegisteredModel'
>;

/** Versions removed at once by DeleteRegisteredModel. */
const DELETE_CONCURRENCY = 8;

/** Runs `fn` over `items` with at most `limit` calls in flight; the first failure is thrown. */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function encodeCursor(name: string): string {
  return Buffer.from(`models:${name}`).toString('base64url');
}

function decodeCursor(token: string): string {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  if (!text.startsWith('models:')) {
    throw new InvalidArgumentError(
      'page_token: not a token ListRegisteredModels issued; pass next_page_token from the previous response',
    );
  }
  return text.slice('models:'.length);
}

function aliasList(model: StoredModel): string {
  return Object.entries(model.aliases)
    .map(([alias, version]) => `"${alias}" → ${version}`)
    .join(', ');
}

/** CreateRegisteredModel, GetRegisteredModel, ListRegisteredModels, UpdateRegisteredModel, DeleteRegisteredModel. */
export function modelHandlers(ctx: RegistryContext): ModelHandlers {
  const { store, index, events } = ctx;
  return {
    async createRegisteredModel(request) {
      validateModelName(request.name);
      validateDescription(request.description);
      validateStringMap(request.tags, 'tags');
      const model = newModelRecord(request.name, ctx.now(), request.description, { ...request.tags });
      await store.createModel(model);
      const created = toRegisteredModel(model);
      await events.model('created', created, model.uid);
      return created;
    },

    async getRegisteredModel(request) {
      validateModelName(request.name);
      return toRegisteredModel((await store.getModel(request.name)).value);
    },

    /** From the version index: this replica's writes at once, other replicas' within moments. */
    async listRegisteredModels(request) {
      const size = pageSize(request.pageSize);
      const after = request.pageToken === '' ? undefined : decodeCursor(request.pageToken);
      const matching = index
        .models()
        .filter((m) => m.name.startsWith(request.namePrefix) && (after === undefined || m.name > after));
      const page = matching.slice(0, size);
      return {
        models: page.map(toRegisteredModel),
        nextPageToken: matching.length > size ? encodeCursor(page[page.length - 1]!.name) : '',
      };
    },

    async updateRegisteredModel(request) {
      validateModelName(request.name);
      if (request.description !== undefined) validateDescription(request.description);
      validateTagEdits(request.setTags, request.removeTags);
      const updated = await store.mutateModel(request.name, (model) => {
        if (request.description !== undefined) model.description = request.description;
        Object.assign(model.tags, request.setTags);
        for (const key of request.removeTags) delete model.tags[key];
        model.updatedAt = ctx.now().toISOString();
        return model;
      });
      return toRegisteredModel(updated.value);
    },

    async deleteRegisteredModel(request) {
      validateModelName(request.name);
      // Mark the model as being deleted first: from then on nothing can allocate versions or move
      // aliases, and a delete that crashed half-way can be repeated.
      const marked = await store.mutateModel(
        request.name,
        (model) => {
          if (!model.deleting && !request.force && Object.keys(model.aliases).length > 0) {
            throw new FailedPreconditionError(
              `model "${request.name}" has aliases ${aliasList(model)}; delete them first or pass force`,
            );
          }
          model.deleting = true;
          return model;
        },
        { includeDeleting: true },
      );
      const model = marked.value;
      const versions = await store.listVersions(request.name);
      await forEachLimited(versions, DELETE_CONCURRENCY, async ({ value: version, revision }) => {
        await ctx.artifacts.remove(version.files.map((f) => f.object));
        await store.deleteVersion(version.name, version.version, revision);
        await events.version(
          'deleted',
          toModelVersion(version, aliasesOf(model, version.version)),
          `${version.modelUid}:${version.version}`,
        );
      });
      const deleted = versions.length;
      await store.deleteAliasHistory(request.name);
      await store.deleteModel(request.name, marked.revision);
      // The payload is the model as it was just before the delete.
      await events.model('deleted', toRegisteredModel(model), model.uid);
      return { deletedVersions: deleted };
    },
  };
}

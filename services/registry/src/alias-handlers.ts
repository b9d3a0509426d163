import { InvalidArgumentError, NotFoundError } from '@aimaas/runtime';
import { versionNotFound } from './model-store.js';
import type { AliasChangeRecord } from './records.js';
import type { RegistryContext, RegistryServiceHandlers } from './registry-context.js';
import { validateAlias, validateModelName, validateVersion } from './validation.js';
import { actorOf, listAliasHistory, moveAlias, toAliasChange } from './alias-history.js';

type AliasHandlers = Pick<RegistryServiceHandlers, 'setAlias' | 'deleteAlias' | 'listAliasHistory'>;

const MAX_REASON = 1024;

function validateReason(reason: string): string {
  if (reason.length > MAX_REASON)
    throw new InvalidArgumentError(`reason: is ${reason.length} characters; at most ${MAX_REASON}`);
  return reason;
}

/** SetAlias, DeleteAlias, ListAliasHistory. */
export function aliasHandlers(ctx: RegistryContext): AliasHandlers {
  const { store, events } = ctx;

  /**
   * Moves the alias and takes a history sequence number in one revision-checked update of the
   * model record, then records the change and publishes the event.
   */
  async function move(
    name: string,
    alias: string,
    to: number,
    reason: string,
    actor: string,
  ): Promise<AliasChangeRecord> {
    let result: { seq: number; change: AliasChangeRecord } | undefined;
    const updated = await store.mutateModel(name, async (model) => {
      if (to === 0 && model.aliases[alias] === undefined)
        throw new NotFoundError(`model "${name}" has no alias "${alias}"`);
      if (to !== 0) {
        // Checked on every attempt: a concurrent DeleteModelVersion changes the model record too.
        const live = to <= model.latestVersion && !model.deletedVersions.includes(to);
        if (!live || !(await store.findVersion(name, to))) throw versionNotFound(name, to);
      }
      const moved = moveAlias(model, { alias, to, actor, reason, at: ctx.now() });
      result = { seq: moved.seq, change: moved.change };
      return moved.model;
    });
    const { seq, change } = result!;
    await store.putAliasChange(name, seq, change);
    await events.alias(to === 0 ? 'deleted' : 'set', toAliasChange(change), `${updated.value.uid}:${seq}`);
    return change;
  }

  return {
    async setAlias(request, call) {
      validateModelName(request.name);
      validateAlias(request.alias);
      validateVersion(request.version);
      validateReason(request.reason);
      const change = await move(request.name, request.alias, request.version, request.reason, actorOf(call.metadata));
      return { previousVersion: change.fromVersion, change: toAliasChange(change) };
    },

    async deleteAlias(request, call) {
      validateModelName(request.name);
      validateAlias(request.alias);
      validateReason(request.reason);
      const change = await move(request.name, request.alias, 0, request.reason, actorOf(call.metadata));
      return { previousVersion: change.fromVersion };
    },

    async listAliasHistory(request) {
      validateModelName(request.name);
      if (request.alias !== '') validateAlias(request.alias);
      await store.getModel(request.name);
      return listAliasHistory(store, request);
    },
  };
}

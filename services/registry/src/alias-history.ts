import { InvalidArgumentError, NotFoundError } from '@aimaas/runtime';
import type { AliasChange, ListAliasHistoryRequest, ListAliasHistoryResponse } from '@aimaas/proto';
import { versionNotFound, type ModelStore } from './model-store.js';
import type { StoredModel } from './records.js';
import type { RegistryContext, RegistryServiceHandlers } from './registry-service.js';
import { pageSize, validateAlias, validateModelName, validateVersion } from './validation.js';

/** One alias move as stored under `aliashist.<name>.<seq>`. */
export interface AliasChangeRecord {
  name: string;
  alias: string;
  /** 0 when the alias was created. */
  fromVersion: number;
  /** 0 when the alias was deleted. */
  toVersion: number;
  actor: string;
  /** ISO-8601 UTC. */
  changedAt: string;
  reason: string;
}

/** The public AliasChange of a stored record. */
export function toAliasChange(record: AliasChangeRecord): AliasChange {
  return { ...record, changedAt: new Date(record.changedAt) };
}

/**
 * Moves (or with `to` 0, removes) an alias on a model record and takes the next history sequence
 * number, all in the one revision-checked update of the model; returns the change to record.
 * Pure: meant to run inside `ModelStore.mutateModel`, which may call it more than once.
 */
export function moveAlias(
  model: StoredModel,
  move: { alias: string; to: number; actor: string; reason: string; at: Date },
): { model: StoredModel; seq: number; change: AliasChangeRecord } {
  const from = model.aliases[move.alias] ?? 0;
  if (move.to === 0) delete model.aliases[move.alias];
  else model.aliases[move.alias] = move.to;
  model.aliasSeq += 1;
  model.updatedAt = move.at.toISOString();
  const change: AliasChangeRecord = {
    name: model.name,
    alias: move.alias,
    fromVersion: from,
    toVersion: move.to,
    actor: move.actor,
    changedAt: move.at.toISOString(),
    reason: move.reason,
  };
  return { model, seq: model.aliasSeq, change };
}

/** Page tokens of ListAliasHistory: the sequence number the next page starts below. */
function encodeCursor(seq: number): string {
  return Buffer.from(`aliashist:${seq}`).toString('base64url');
}

function decodeCursor(token: string): number {
  const match = /^aliashist:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  if (!match)
    throw new InvalidArgumentError(
      'page_token: not a token ListAliasHistory issued; pass next_page_token from the previous response',
    );
  return Number(match[1]);
}

/**
 * ListAliasHistory: the model's alias changes newest first (optionally of one alias), paged by a
 * cursor on the history sequence so that new changes never shift a page.
 */
export async function listAliasHistory(
  store: ModelStore,
  request: ListAliasHistoryRequest,
): Promise<ListAliasHistoryResponse> {
  const size = pageSize(request.pageSize);
  const below = request.pageToken === '' ? Number.POSITIVE_INFINITY : decodeCursor(request.pageToken);
  const entries = (await store.listAliasChanges(request.name))
    .filter((e) => e.seq < below && (request.alias === '' || e.change.alias === request.alias))
    .sort((a, b) => b.seq - a.seq);
  const page = entries.slice(0, size);
  const more = entries.length > size;
  return {
    changes: page.map((e) => toAliasChange(e.change)),
    nextPageToken: more ? encodeCursor(page[page.length - 1]!.seq) : '',
  };
}

/** Who made a change: the caller's `x-aimaas-actor` metadata, else "anonymous". */
export function actorOf(metadata: { get(key: string): unknown[] }): string {
  const [value] = metadata.get('x-aimaas-actor');
  const actor = typeof value === 'string' ? value.trim() : Buffer.isBuffer(value) ? value.toString('utf8').trim() : '';
  return actor === '' ? 'anonymous' : actor.slice(0, 256);
}

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

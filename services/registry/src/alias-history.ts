import { InvalidArgumentError } from '@aimaas/runtime';
import type { AliasChange, ListAliasHistoryRequest, ListAliasHistoryResponse } from '@aimaas/proto';
import type { ModelStore } from './model-store.js';
import type { AliasChangeRecord, StoredModel } from './records.js';
import { pageSize } from './validation.js';

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

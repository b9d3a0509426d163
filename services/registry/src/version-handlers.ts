import { randomUUID } from 'node:crypto';
import { DataLossError, FailedPreconditionError, NotFoundError } from '@aimaas/runtime';
import { WriterLease } from '@aimaas/storage';
import { walkLineage } from './lineage.js';
import { aliasesOf, toModelFile, toModelVersion, toRegisteredModel } from './records.js';
import type { RegistryContext, RegistryServiceHandlers } from './registry-context.js';
import { ArtifactStore, downloadChunkSize } from './artifact-store.js';
import { draftFromHeader } from './version-header.js';
import { publicVersion, resolveRef, UPLOAD_LEASES, versionNotFound } from './model-store.js';
import { readHeader, receiveFiles, RequestCursor } from './version-upload.js';
import {
  validateDescription,
  validateFormat,
  validateMetrics,
  validateModelName,
  validateTagEdits,
  validateVersion,
} from './validation.js';
import { actorOf } from './alias-history.js';

type VersionHandlers = Pick<
  RegistryServiceHandlers,
  | 'createModelVersion'
  | 'getModelVersion'
  | 'searchModelVersions'
  | 'updateModelVersion'
  | 'deleteModelVersion'
  | 'downloadModelArtifacts'
  | 'getLineage'
>;

/** CreateModelVersion, GetModelVersion, SearchModelVersions, UpdateModelVersion, DeleteModelVersion, DownloadModelArtifacts, GetLineage. */
export function versionHandlers(ctx: RegistryContext): VersionHandlers {
  const { store, artifacts, events } = ctx;
  return {
    /**
     * Header first (validated, model checked) so a bad request fails before any byte is stored;
     * then the files stream into the object store; only then is a number allocated and the
     * version record written. Any failure removes the stored files again.
     */
    async createModelVersion(requests, call) {
      const cursor = new RequestCursor(requests);
      const header = await readHeader(cursor);
      const at = ctx.now();
      const draft = await draftFromHeader(store, header, { actor: actorOf(call.metadata), at });
      if (!header.createModel) await store.getModel(header.name);
      const uploadId = randomUUID();
      // Leased while it runs, so that a sweep takes its files only if this process dies.
      const lease = await WriterLease.take(
        store.kv,
        { leasePrefix: UPLOAD_LEASES, id: uploadId, prefix: ArtifactStore.objectName(header.name, uploadId, '') },
        { renewMs: Math.ceil(ctx.uploadIdleMs / 3), logger: ctx.logger },
      );
      let committed;
      try {
        cursor.idleMs = ctx.uploadIdleMs;
        const files = await receiveFiles(cursor, artifacts, { name: header.name, uploadId, signal: call.signal });
        try {
          committed = await ctx.allocator.commit(
            { ...draft, files },
            { createModel: header.createModel, at: ctx.now() },
          );
        } catch (error) {
          await artifacts.remove(files.map((f) => f.object)).catch(() => undefined);
          throw error;
        }
      } finally {
        await lease.release();
      }
      const { model, version, createdModel } = committed;
      if (createdModel) await events.model('created', toRegisteredModel(createdModel), createdModel.uid);
      const created = toModelVersion(version.value, aliasesOf(model, version.value.version));
      await events.version('created', created, `${model.uid}:${version.value.version}`);
      return created;
    },

    async getModelVersion(request) {
      return publicVersion(await resolveRef(store, request.ref));
    },

    async searchModelVersions(request) {
      return ctx.search.search(request);
    },

    async updateModelVersion(request) {
      validateModelName(request.name);
      validateVersion(request.version);
      if (request.description !== undefined) validateDescription(request.description);
      validateTagEdits(request.setTags, request.removeTags);
      validateMetrics(request.setMetrics, 'set_metrics');
      const model = (await store.getModel(request.name)).value;
      const updated = await store.mutateVersion(request.name, request.version, (version) => {
        if (request.description !== undefined) version.description = request.description;
        Object.assign(version.tags, request.setTags);
        for (const key of request.removeTags) delete version.tags[key];
        Object.assign(version.metrics, request.setMetrics);
        version.updatedAt = ctx.now().toISOString();
        return version;
      });
      const result = toModelVersion(updated.value, aliasesOf(model, request.version));
      await events.version('updated', result, `${updated.value.modelUid}:${request.version}:${updated.revision}`);
      return result;
    },

    async deleteModelVersion(request) {
      validateModelName(request.name);
      validateVersion(request.version);
      const { value: version, revision } = await store.getVersion(request.name, request.version);
      // The alias check and the removal from the live set are one revision-checked update of the
      // model record, so a concurrent SetAlias either sees the version gone or blocks the delete.
      const model = await store.mutateModel(request.name, (m) => {
        const aliases = aliasesOf(m, request.version);
        if (aliases.length > 0) {
          const names = aliases.map((a) => `"${a}"`).join(', ');
          throw new FailedPreconditionError(
            `model "${request.name}" version ${request.version} is the target of alias ${names}; move or delete the alias first`,
          );
        }
        if (m.deletedVersions.includes(request.version)) throw versionNotFound(request.name, request.version);
        m.deletedVersions.push(request.version);
        m.updatedAt = ctx.now().toISOString();
        return m;
      });
      await store.deleteVersion(request.name, request.version, revision);
      await artifacts.remove(version.files.map((f) => f.object)).catch((error: unknown) => {
        ctx.logger.warn(
          { err: error, name: request.name, version: request.version },
          'artifacts of a deleted version not removed',
        );
      });
      await events.version('deleted', toModelVersion(version, []), `${model.value.uid}:${request.version}`);
      return {};
    },

    /** The version, then per file a header and its chunks; the store verifies every byte's digest. */
    async *downloadModelArtifacts(request, call) {
      const chunkSize = downloadChunkSize(request.chunkSize);
      if (request.format !== '') validateFormat(request.format, 'format');
      const resolved = await resolveRef(store, request.ref);
      const version = resolved.version.value;
      const missing = request.paths.find((path) => !version.files.some((f) => f.path === path));
      if (missing !== undefined) {
        const have = version.files.map((f) => `"${f.path}"`).join(', ') || 'none';
        throw new NotFoundError(
          `model "${version.name}" version ${version.version} has no file "${missing}" (files: ${have})`,
        );
      }
      const files = version.files.filter(
        (f) =>
          (request.paths.length === 0 || request.paths.includes(f.path)) &&
          (request.format === '' || f.format === request.format),
      );
      yield { version: publicVersion(resolved) };
      for (const file of files) {
        yield { file: toModelFile(file) };
        try {
          for await (const chunk of artifacts.download(file, chunkSize, call.signal)) yield { chunk };
        } catch (error) {
          if (!(error instanceof DataLossError)) throw error;
          throw new DataLossError(
            `file "${file.path}" of model "${version.name}" version ${version.version}: its stored bytes do not match the SHA-256 ` +
              `recorded at upload (${file.sha256}); the artifact is damaged or was tampered with`,
            { cause: error },
          );
        }
      }
    },

    async getLineage(request) {
      return walkLineage(store, await resolveRef(store, request.ref));
    },
  };
}

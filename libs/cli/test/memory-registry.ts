import { createHash } from 'node:crypto';
import { Server, ServerCredentials, status, type ServerErrorResponse } from '@grpc/grpc-js';
import {
  AliasChange,
  ModelVersion,
  RegisteredModel,
  RegistryServiceService,
  type CreateModelVersionRequest,
  type ModelRef,
  type RegistryServiceServer,
} from '@aimaas/proto';

/** A registry kept in memory: enough of RegistryService for CLI tests, on a real grpc-js server. */
export interface MemoryRegistry {
  readonly address: string;
  readonly models: Map<string, RegisteredModel>;
  readonly versions: ModelVersion[];
  readonly history: AliasChange[];
  /** File bytes by `name@version/path`. */
  readonly blobs: Map<string, Buffer>;
  /** The last request of each method (by method name). */
  readonly requests: Record<string, unknown>;
  stop(): Promise<void>;
}

const at = (iso: string): Date => new Date(iso);
const fail = (code: status, details: string): ServerErrorResponse =>
  Object.assign(new Error(details), { code, details });

/** Starts a registry holding `fmnist` (3 versions, production → 2) and an empty `iris`. */
export async function startMemoryRegistry(): Promise<MemoryRegistry> {
  const models = new Map<string, RegisteredModel>([
    [
      'fmnist',
      RegisteredModel.fromPartial({
        name: 'fmnist',
        description: 'Fashion-MNIST classifier',
        latestVersion: 3,
        versionCount: 3,
        aliases: { production: 2 },
        createdAt: at('2025-01-10T09:00:00Z'),
        updatedAt: at('2025-03-01T12:00:00Z'),
      }),
    ],
    ['iris', RegisteredModel.fromPartial({ name: 'iris', createdAt: at('2025-02-01T08:30:00Z') })],
  ]);
  const versions = [1, 2, 3].map((v) =>
    ModelVersion.fromPartial({
      name: 'fmnist',
      version: v,
      task: 1,
      createdAt: at(`2025-0${v}-01T10:00:00Z`),
      metrics: { accuracy: 0.8 + v / 100 + 0.001234, loss: 0.5 / v },
      aliases: v === 2 ? ['production'] : [],
      files: [{ path: 'model.onnx', format: 'onnx', size: 1500 * v, sha256: 'ab'.repeat(32) }],
      lineage:
        v > 1 ? { parent: { name: 'fmnist', version: v - 1 }, trainingJobId: `job-${v}` } : { trainingJobId: 'job-1' },
    }),
  );
  const history: AliasChange[] = [];
  const blobs = new Map<string, Buffer>();
  const requests: Record<string, unknown> = {};

  const findModel = (name: string): RegisteredModel => {
    const model = models.get(name);
    if (!model) throw fail(status.NOT_FOUND, `model "${name}" not found`);
    return model;
  };
  const resolve = (ref: ModelRef | undefined): ModelVersion => {
    const model = findModel(ref?.name ?? '');
    const number = ref?.version ?? (ref?.alias !== undefined ? model.aliases[ref.alias] : model.latestVersion);
    const found = versions.find((v) => v.name === model.name && v.version === number);
    if (!found) throw fail(status.NOT_FOUND, `${model.name} has no version or alias "${ref?.alias ?? ref?.version}"`);
    return found;
  };
  /** Runs a unary handler body, turning a thrown status into the call's error. */
  const unary = <Req, Res>(name: string, body: (request: Req) => Res) =>
    ((call: { request: Req }, callback: (error: ServerErrorResponse | null, value?: Res) => void) => {
      requests[name] = call.request;
      try {
        callback(null, body(call.request));
      } catch (error) {
        callback(error as ServerErrorResponse);
      }
    }) as never;

  const implementation: Partial<RegistryServiceServer> = {
    listRegisteredModels: unary('listRegisteredModels', (req: { pageSize: number; pageToken: string }) => {
      const all = [...models.values()].sort((a, b) => a.name.localeCompare(b.name));
      const start = Number(req.pageToken || 0);
      const size = req.pageSize || 100;
      const next = start + size < all.length ? String(start + size) : '';
      return { models: all.slice(start, start + size), nextPageToken: next };
    }),
    getRegisteredModel: unary('getRegisteredModel', (req: { name: string }) => findModel(req.name)),
    createRegisteredModel: unary(
      'createRegisteredModel',
      (req: { name: string; description: string; tags: Record<string, string> }) => {
        if (models.has(req.name)) throw fail(status.ALREADY_EXISTS, `model "${req.name}" already exists`);
        const model = RegisteredModel.fromPartial({ ...req, createdAt: at('2025-04-01T00:00:00Z') });
        models.set(req.name, model);
        return model;
      },
    ),
    getModelVersion: unary('getModelVersion', (req: { ref?: ModelRef }) => resolve(req.ref)),
    searchModelVersions: unary('searchModelVersions', (req: { filter: string; pageSize: number }) => {
      const name = /name = "([^"]+)"/.exec(req.filter)?.[1];
      const found = versions.filter((v) => name === undefined || v.name === name).sort((a, b) => b.version - a.version);
      const size = req.pageSize || 100;
      return {
        versions: found.slice(0, size),
        nextPageToken: found.length > size ? 'page-2' : '',
        totalSize: found.length,
      };
    }),
    setAlias: unary('setAlias', (req: { name: string; alias: string; version: number; reason: string }) => {
      const model = findModel(req.name);
      resolve({ name: req.name, version: req.version });
      const previous = model.aliases[req.alias] ?? 0;
      model.aliases[req.alias] = req.version;
      const change = AliasChange.fromPartial({
        ...req,
        fromVersion: previous,
        toVersion: req.version,
        actor: 'alice',
        changedAt: at(`2025-05-0${history.length + 1}T00:00:00Z`),
      });
      history.unshift(change);
      return { previousVersion: previous, change };
    }),
    listAliasHistory: unary('listAliasHistory', (req: { name: string; alias: string }) => ({
      changes: history.filter((c) => c.name === req.name && (!req.alias || c.alias === req.alias)),
      nextPageToken: '',
    })),
    getLineage: unary('getLineage', (req: { ref?: ModelRef }) => {
      const version = resolve(req.ref);
      const chain = versions.filter((v) => v.name === version.name && v.version <= version.version).reverse();
      return {
        nodes: chain.map((v) => ({ id: `model:${v.name}@${v.version}`, kind: 1, version: v })),
        edges: chain.slice(1).map((v, i) => ({
          from: `model:${v.name}@${v.version + 1}`,
          to: `model:${chain[i + 1]!.name}@${chain[i + 1]!.version}`,
          relation: 'derived_from',
        })),
      };
    }),
    createModelVersion: (call, callback) => {
      const parts: CreateModelVersionRequest[] = [];
      call.on('data', (part: CreateModelVersionRequest) => parts.push(part));
      call.on('end', () => {
        const header = parts[0]?.header;
        if (!header) return callback(fail(status.INVALID_ARGUMENT, 'the first message must be the header'));
        if (!models.has(header.name) && !header.createModel)
          return callback(fail(status.NOT_FOUND, `model "${header.name}" not found`));
        const model = models.get(header.name) ?? RegisteredModel.fromPartial({ name: header.name });
        models.set(header.name, model);
        model.latestVersion += 1;
        model.versionCount += 1;
        const version = ModelVersion.fromPartial({
          ...header,
          version: model.latestVersion,
          createdAt: at('2025-06-01T00:00:00Z'),
          files: [],
        });
        for (const part of parts.slice(1)) {
          if (part.file) version.files.push({ path: part.file.path, format: part.file.format, size: 0, sha256: '' });
          if (part.chunk) {
            const key = `${header.name}@${version.version}/${version.files.at(-1)!.path}`;
            blobs.set(key, Buffer.concat([blobs.get(key) ?? Buffer.alloc(0), part.chunk]));
          }
        }
        for (const file of version.files) {
          const bytes = blobs.get(`${header.name}@${version.version}/${file.path}`) ?? Buffer.alloc(0);
          file.size = bytes.length;
          file.sha256 = createHash('sha256').update(bytes).digest('hex');
        }
        versions.push(version);
        callback(null, version);
      });
    },
    downloadModelArtifacts: (call) => {
      let version: ModelVersion;
      try {
        version = resolve(call.request.ref);
      } catch (error) {
        return call.emit('error', error);
      }
      const files = version.files.filter((f) => !call.request.format || f.format === call.request.format);
      call.write({ version });
      for (const file of files) {
        call.write({ file: { path: file.path, format: file.format, size: file.size, sha256: file.sha256 } });
        const bytes = blobs.get(`${version.name}@${version.version}/${file.path}`) ?? Buffer.alloc(0);
        for (let i = 0; i < bytes.length; i += 64 * 1024) call.write({ chunk: bytes.subarray(i, i + 64 * 1024) });
      }
      call.end();
    },
  };

  const server = new Server();
  server.addService(RegistryServiceService, implementation as RegistryServiceServer);
  const port = await new Promise<number>((ok, ko) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? ko(e) : ok(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    models,
    versions,
    history,
    blobs,
    requests,
    stop: async () => server.forceShutdown(),
  };
}

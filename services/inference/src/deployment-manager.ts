import {
  DeploymentEvent,
  DeploymentState,
  type AliasChange,
  type Deployment,
  type DeployRequest,
  type ModelVersion,
} from '@aimaas/proto';
import type { EventPublisher } from '@aimaas/events';
import { AlreadyExistsError, NotFoundError, ResourceExhaustedError, UnavailableError } from '@aimaas/runtime';
import { encodeKey, type KvStore } from '@aimaas/storage';
import type { Logger } from '@aimaas/telemetry';
import {
  formatRef,
  recordOf,
  registryFailure,
  toDeployment,
  type DeploymentEntry,
  type DeploymentRecord,
} from './deployment-record.js';
import type { InferenceMetrics } from './inference-metrics.js';
import { releaseFreedMemory } from './memory-release.js';
import {
  chooseRuntime,
  estimateMemoryBytes,
  loadLiveModel,
  type LiveModel,
  type RegistryReader,
} from './live-model.js';

/** Dependencies of a {@link DeploymentManager}. */
export interface DeploymentManagerDeps {
  registry: RegistryReader;
  /** Where deployments are stored for other and restarted replicas; absent: this process only. */
  kv?: KvStore<DeploymentRecord> | undefined;
  events?: EventPublisher | undefined;
  metrics: InferenceMetrics;
  logger: Logger;
  /** Total estimated model memory allowed. @default Infinity */
  memoryLimitBytes?: number;
  /** Estimated memory = model file size × this. @default 2 */
  memoryFactor?: number;
}

const MIB = 1024 * 1024;

/**
 * The deployments of one replica: loads versions (ONNX Runtime or TF.js), follows aliases with hot
 * swaps, enforces the memory budget, stores deployments in KV and publishes
 * `inference.deployment.*` events.
 */
export class DeploymentManager {
  private readonly entries = new Map<string, DeploymentEntry>();
  private reservedBytes = 0;
  private readonly limit: number;
  private readonly factor: number;

  constructor(private readonly deps: DeploymentManagerDeps) {
    this.limit = deps.memoryLimitBytes ?? Number.POSITIVE_INFINITY;
    this.factor = deps.memoryFactor ?? 2;
  }

  /** Estimated bytes of every loaded (or loading) model. */
  get usedMemoryBytes(): number {
    return this.reservedBytes;
  }

  /** Deploys a version, waits until it is loaded and warmed up, and returns it READY. */
  async deploy(request: DeployRequest, signal?: AbortSignal): Promise<Deployment> {
    const record = recordOf(request);
    if (this.entries.has(record.servedName)) {
      throw new AlreadyExistsError(
        `deployment "${record.servedName}" already exists; undeploy it first or choose another served_name`,
      );
    }
    const entry = await this.start(record, signal);
    if (this.deps.kv) {
      try {
        await this.deps.kv.create(encodeKey(record.servedName), record);
      } catch (error) {
        await this.remove(record.servedName, false);
        throw error;
      }
    }
    return toDeployment(entry);
  }

  /** Restores a stored deployment on this replica (at start, or when another replica deployed it). */
  async restore(record: DeploymentRecord): Promise<void> {
    if (this.entries.has(record.servedName)) return;
    try {
      await this.start(record);
    } catch (error) {
      this.deps.logger.error({ err: error, deployment: record.servedName }, 'restoring a deployment failed');
    }
  }

  /** Stops serving, frees the runtime once in-flight requests finished, removes the stored record. */
  async undeploy(servedName: string): Promise<void> {
    if (!this.entries.has(servedName)) throw new NotFoundError(`deployment "${servedName}" not found`);
    await this.remove(servedName, true);
  }

  /** Removes a deployment from this replica only (another replica undeployed it). */
  async forget(servedName: string): Promise<void> {
    if (this.entries.has(servedName)) await this.remove(servedName, false);
  }

  get(servedName: string): Deployment {
    const entry = this.entries.get(servedName);
    if (!entry) throw new NotFoundError(`deployment "${servedName}" not found`);
    return toDeployment(entry);
  }

  list(): Deployment[] {
    return [...this.entries.values()].map(toDeployment).sort((a, b) => a.servedName.localeCompare(b.servedName));
  }

  /** Whether every deployment on this replica is READY. */
  allReady(): boolean {
    return [...this.entries.values()].every((e) => e.state === DeploymentState.DEPLOYMENT_STATE_READY);
  }

  /**
   * The model serving `servedName` now. `version` empty = the deployed one.
   * @throws NotFoundError for an unknown name or a version not being served;
   *   UnavailableError while loading or after a failed load.
   */
  live(servedName: string, version = ''): LiveModel {
    const entry = this.entries.get(servedName);
    if (!entry) throw new NotFoundError(`model "${servedName}" is not deployed`);
    if (!entry.live) {
      const why =
        entry.state === DeploymentState.DEPLOYMENT_STATE_FAILED ? `failed to load: ${entry.error}` : 'is still loading';
      throw new UnavailableError(`model "${servedName}" ${why}`);
    }
    if (version !== '' && version !== entry.live.versionString) {
      throw new NotFoundError(
        `model "${servedName}" version "${version}" is not served; version ${entry.live.versionString} is (leave model_version empty for it)`,
      );
    }
    return entry.live;
  }

  /** On `registry.alias.set`: every deployment following that alias hot-swaps to the new version. */
  async onAliasSet(change: AliasChange): Promise<void> {
    const followers = [...this.entries.values()].filter(
      (e) => e.record.model.name === change.name && e.record.model.alias === change.alias,
    );
    await Promise.all(
      followers.map((entry) => {
        entry.swap = entry.swap
          .then(() => this.swap(entry, change.toVersion))
          .catch((error: unknown) => {
            entry.error = `swap to version ${change.toVersion} failed: ${(error as Error).message}`;
            entry.updatedAt = new Date();
            this.deps.logger.error(
              { err: error, deployment: entry.record.servedName },
              'hot swap failed; the previous version keeps serving',
            );
          });
        return entry.swap;
      }),
    );
  }

  /** Frees every model (shutdown). */
  async close(): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(entries.map(async (e) => e.live?.retire()));
    this.reservedBytes = 0;
  }

  private async swap(entry: DeploymentEntry, toVersion: number): Promise<void> {
    const old = entry.live;
    if (!this.entries.has(entry.record.servedName) || old?.version.version === toVersion) return;
    const version = await this.resolve({ name: entry.record.model.name, version: toVersion });
    const fresh = await this.load(entry.record, version);
    if (this.entries.get(entry.record.servedName) !== entry) {
      await this.free(fresh);
      return;
    }
    entry.live = fresh;
    entry.state = DeploymentState.DEPLOYMENT_STATE_READY;
    entry.error = '';
    entry.updatedAt = new Date();
    this.deps.logger.info(
      { deployment: entry.record.servedName, from: old?.versionString, to: fresh.versionString },
      'hot swap done',
    );
    await this.publish('inference.deployment.updated', entry, old?.version.version ?? 0);
    if (old) await this.free(old);
  }

  private async start(record: DeploymentRecord, signal?: AbortSignal): Promise<DeploymentEntry> {
    const entry: DeploymentEntry = {
      record,
      state: DeploymentState.DEPLOYMENT_STATE_LOADING,
      live: undefined,
      error: '',
      updatedAt: new Date(),
      swap: Promise.resolve(),
    };
    this.entries.set(record.servedName, entry);
    await this.publish('inference.deployment.created', entry);
    try {
      const version = await this.resolve(record.model, signal);
      entry.live = await this.load(record, version, signal);
      entry.state = DeploymentState.DEPLOYMENT_STATE_READY;
      entry.updatedAt = new Date();
      await this.publish('inference.deployment.ready', entry);
      return entry;
    } catch (error) {
      this.entries.delete(record.servedName);
      entry.state = DeploymentState.DEPLOYMENT_STATE_FAILED;
      entry.error = (error as Error).message;
      await this.publish('inference.deployment.failed', entry);
      throw error;
    }
  }

  private async resolve(ref: DeploymentRecord['model'], signal?: AbortSignal): Promise<ModelVersion> {
    try {
      return await this.deps.registry.getModelVersion({ ref }, signal ? { signal } : {});
    } catch (error) {
      throw registryFailure(error, `model ${formatRef(ref)}`);
    }
  }

  /** Reserves the estimated memory (or refuses), then loads and warms the version up. */
  private async load(record: DeploymentRecord, version: ModelVersion, signal?: AbortSignal): Promise<LiveModel> {
    const runtime = chooseRuntime(version, record.runtime);
    const bytes = estimateMemoryBytes(version, runtime, this.factor);
    if (this.reservedBytes + bytes > this.limit) {
      throw new ResourceExhaustedError(
        `model ${version.name}@${version.version} needs an estimated ${(bytes / MIB).toFixed(1)} MiB; ` +
          `${(this.reservedBytes / MIB).toFixed(1)} of ${(this.limit / MIB).toFixed(1)} MiB (AIMAAS_INFERENCE_MEMORY_MB) are in use`,
      );
    }
    this.reservedBytes += bytes;
    try {
      return await loadLiveModel(this.deps.registry, version, {
        servedName: record.servedName,
        runtime,
        memoryBytes: bytes,
        metrics: this.deps.metrics,
        settings: {
          maxBatchSize: record.maxBatchSize,
          maxQueueDelayUs: record.maxQueueDelayUs,
          maxQueueSize: record.maxQueueSize,
        },
        ...(signal && { signal }),
      });
    } catch (error) {
      this.reservedBytes -= bytes;
      throw registryFailure(error, `loading model ${version.name}@${version.version}`);
    }
  }

  /** Retires a model once its requests finished, then hands the memory it used back to the OS. */
  private async free(live: LiveModel): Promise<void> {
    try {
      await live.retire();
    } finally {
      this.reservedBytes -= live.memoryBytes;
    }
    const started = performance.now();
    const released = releaseFreedMemory();
    this.deps.logger.info(
      {
        deployment: live.servedName,
        version: live.versionString,
        ...released,
        pauseMs: Math.round(performance.now() - started),
      },
      'model freed',
    );
  }

  private async remove(servedName: string, stored: boolean): Promise<void> {
    const entry = this.entries.get(servedName)!;
    this.entries.delete(servedName);
    if (stored && this.deps.kv) await this.deps.kv.delete(encodeKey(servedName)).catch(() => undefined);
    await this.publish('inference.deployment.deleted', entry);
    await entry.swap;
    if (entry.live) await this.free(entry.live);
  }

  private async publish(
    type: `inference.deployment.${'created' | 'ready' | 'updated' | 'failed' | 'deleted'}`,
    entry: DeploymentEntry,
    previousVersion = 0,
  ): Promise<void> {
    if (!this.deps.events) return;
    try {
      await this.deps.events.publish(
        type,
        DeploymentEvent.create({ deployment: toDeployment(entry), previousVersion }),
        { subject: entry.record.servedName },
      );
    } catch (error) {
      this.deps.logger.warn({ err: error, type }, 'publishing a deployment event failed');
    }
  }
}

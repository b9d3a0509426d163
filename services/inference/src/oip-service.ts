import type { GRPCInferenceServiceService, ModelInferRequest, ModelInferResponse } from '@aimaas/proto';
import { InvalidArgumentError, isDomainError, type CallContext, type ServiceImplementation } from '@aimaas/runtime';
import type { WireTensor } from './datatypes.js';
import type { DeploymentManager } from './deployment-manager.js';
import { decodeInputs, encodeOutputs, selectOutputs } from './infer-request.js';
import type { InferenceMetrics } from './inference-metrics.js';
import type { LiveModel } from './live-model.js';

/** The handlers of `inference.GRPCInferenceService`. */
export type OipHandlers = ServiceImplementation<typeof GRPCInferenceServiceService>;

/** Dependencies of {@link createOipService}. */
export interface OipServiceDeps {
  deployments: DeploymentManager;
  metrics: InferenceMetrics;
  /** Whether the server takes inference requests (deployments restored, not shutting down). */
  isReady(): boolean;
  /** ServerMetadata's name and version. */
  serverName?: string;
  serverVersion?: string;
}

/** The platform name ModelMetadata reports, as Triton names its backends. */
function platformOf(live: LiveModel): string {
  return live.runner.runtime === 'onnx' ? 'onnxruntime_onnx' : 'tensorflowjs_layers';
}

/** True when any typed contents field of the tensor holds values. */
function hasTypedContents(tensor: ModelInferRequest['inputs'][number]): boolean {
  return Object.values(tensor.contents ?? {}).some((v) => Array.isArray(v) && v.length > 0);
}

/** The request's inputs as wire tensors, raw or typed (never both). */
function wireTensors(request: ModelInferRequest): { tensors: WireTensor[]; raw: boolean } {
  const raw = request.rawInputContents.length > 0;
  if (raw) {
    const typed = request.inputs.find(hasTypedContents);
    if (typed)
      throw new InvalidArgumentError(
        `input "${typed.name}" has typed contents while the request also carries raw_input_contents; use one form per request`,
      );
    if (request.rawInputContents.length !== request.inputs.length) {
      throw new InvalidArgumentError(
        `raw_input_contents has ${request.rawInputContents.length} entries for ${request.inputs.length} inputs; expected one per input, in order`,
      );
    }
  }
  const tensors = request.inputs.map((t, i) => ({
    name: t.name,
    datatype: t.datatype,
    shape: t.shape,
    contents: t.contents,
    raw: raw ? request.rawInputContents[i] : undefined,
  }));
  return { tensors, raw };
}

/** Runs one ModelInfer on a live model; shared by ModelInfer and the benchmarks. */
async function modelInfer(
  live: LiveModel,
  request: ModelInferRequest,
  ctx?: Pick<CallContext, 'signal' | 'deadline'>,
): Promise<ModelInferResponse> {
  const { tensors, raw } = wireTensors(request);
  const { feeds, rows } = decodeInputs(live.runner.inputs, tensors);
  const selected = selectOutputs(
    live.runner.outputs,
    request.outputs.map((o) => o.name),
  );
  const result = await live.infer(feeds, rows, {
    ...(ctx?.signal && { signal: ctx.signal }),
    ...(ctx?.deadline && { deadline: ctx.deadline }),
  });
  const encoded = encodeOutputs(selected, result.outputs, raw);
  return {
    modelName: live.servedName,
    modelVersion: live.versionString,
    id: request.id,
    parameters: {},
    outputs: encoded.map(({ name, datatype, shape, contents }) => ({
      name,
      datatype,
      shape,
      parameters: {},
      contents,
    })),
    rawOutputContents: raw ? encoded.map((e) => e.raw!) : [],
  };
}

/**
 * `inference.GRPCInferenceService` (KServe Open Inference Protocol v2) over the deployments:
 * model name = served name, model version = registry version (empty = the one deployed).
 *
 * @example
 * server.add(GRPCInferenceServiceService, createOipService({ deployments, metrics, isReady: () => true }));
 */
export function createOipService(deps: OipServiceDeps): OipHandlers {
  const { deployments, metrics } = deps;
  return {
    async serverLive() {
      return { live: true };
    },
    async serverReady() {
      return { ready: deps.isReady() };
    },
    async modelReady(request) {
      try {
        deployments.live(request.name, request.version);
        return { ready: true };
      } catch (error) {
        if (isDomainError(error)) return { ready: false };
        throw error;
      }
    },
    async serverMetadata() {
      return { name: deps.serverName ?? 'aimaas-inference', version: deps.serverVersion ?? '0.1.0', extensions: [] };
    },
    async modelMetadata(request) {
      const live = deployments.live(request.name, request.version);
      const spec = ({ name, datatype, shape }: { name: string; datatype: string; shape: readonly number[] }) => ({
        name,
        datatype,
        shape: [...shape],
      });
      return {
        name: live.servedName,
        versions: [live.versionString],
        platform: platformOf(live),
        inputs: live.runner.inputs.map(spec),
        outputs: live.runner.outputs.map(spec),
      };
    },
    async modelInfer(request, ctx) {
      // Unknown model names are not counted: they would be unbounded label values.
      const live = deployments.live(request.modelName, request.modelVersion);
      const labels = { model: live.servedName, version: live.versionString };
      try {
        const response = await modelInfer(live, request, ctx);
        metrics.requestSuccess.inc(labels);
        return response;
      } catch (error) {
        metrics.requestFailure.inc({ ...labels, reason: isDomainError(error) ? error.code : 'INTERNAL' });
        throw error;
      }
    },
  };
}

import type { InferenceServiceService } from '@aimaas/proto';
import { InvalidArgumentError, isDomainError, type ServiceImplementation } from '@aimaas/runtime';
import type { DeploymentManager } from './deployment-manager.js';
import type { InferenceMetrics } from './inference-metrics.js';
import { predict } from './predict.js';

/** The handlers of `aimaas.v1.InferenceService`. */
export type InferenceHandlers = ServiceImplementation<typeof InferenceServiceService>;

/** Dependencies of {@link createInferenceService}. */
export interface InferenceServiceDeps {
  deployments: DeploymentManager;
  metrics: InferenceMetrics;
}

function requireName(name: string): string {
  if (!name) throw new InvalidArgumentError('served_name: required');
  return name;
}

/**
 * `aimaas.v1.InferenceService`: Deploy (waits until the version is loaded and warmed up, so the
 * answer is READY), Undeploy, GetDeployment, ListDeployments, and Predict.
 *
 * @example
 * server.add(InferenceServiceService, createInferenceService({ deployments, metrics }));
 */
export function createInferenceService(deps: InferenceServiceDeps): InferenceHandlers {
  const { deployments, metrics } = deps;
  return {
    async deploy(request, ctx) {
      return deployments.deploy(request, ctx.signal);
    },
    async undeploy(request) {
      await deployments.undeploy(requireName(request.servedName));
      return {};
    },
    async getDeployment(request) {
      return deployments.get(requireName(request.servedName));
    },
    async listDeployments() {
      return { deployments: deployments.list() };
    },
    async predict(request, ctx) {
      const live = deployments.live(requireName(request.servedName));
      const labels = { model: live.servedName, version: live.versionString };
      try {
        const response = await predict(live, request, ctx);
        metrics.requestSuccess.inc(labels);
        return response;
      } catch (error) {
        metrics.requestFailure.inc({ ...labels, reason: isDomainError(error) ? error.code : 'INTERNAL' });
        throw error;
      }
    },
  };
}

import { readFile } from 'node:fs/promises';
import {
  Deployment,
  ListDeploymentsResponse,
  PredictResponse,
  Runtime,
  UndeployResponse,
  type PredictRequest,
} from '@aimaas/proto';
import { parsePositiveInt, refArg, UsageError, type CommandGroup, type CommandSpec } from '../command.js';
import { parseRecordsArg, parseRecordsFile } from '../input/records.js';
import { parseTensorArg } from '../input/tensors.js';
import { deploymentDetails, deploymentsTable, predictionView } from '../output/serving-views.js';

const RUNTIMES: Record<string, Runtime> = {
  auto: Runtime.RUNTIME_AUTO,
  onnx: Runtime.RUNTIME_ONNX,
  tfjs: Runtime.RUNTIME_TFJS,
};

/** A non-negative integer option (0 allowed: "off" / "default"). */
function nonNegativeInt(flag: string, text: string | undefined): number {
  if (text === undefined) return 0;
  if (text === '0') return 0;
  return parsePositiveInt(flag, text)!;
}

const deploy: CommandSpec = {
  name: '',
  args: '<model>[@version|@alias]',
  summary: 'Serve a model version (an alias is followed as it moves)',
  options: {
    name: { type: 'string', value: 'served', description: 'Name clients predict with (default: the model name)' },
    'max-batch-size': { type: 'string', value: 'n', description: 'Rows per dynamic batch (default 0: no batching)' },
    'max-queue-delay-us': {
      type: 'string',
      value: 'us',
      description: 'How long a request waits for others to join its batch',
    },
    'max-queue-size': { type: 'string', value: 'n', description: 'Requests waiting at most (default 1024)' },
    runtime: {
      type: 'string',
      value: 'auto|onnx|tfjs',
      description: 'Runtime (default auto: ONNX when there is an onnx file)',
    },
  },
  minArgs: 1,
  async run(ctx, [text], values) {
    const runtimeText = (values.runtime as string | undefined) ?? 'auto';
    const runtime = RUNTIMES[runtimeText];
    if (runtime === undefined) throw new UsageError(`--runtime ${runtimeText}: expected auto, onnx or tfjs`);
    const deployment = await ctx.clients().inference.deploy(
      {
        model: refArg(text!),
        servedName: (values.name as string | undefined) ?? '',
        maxBatchSize: nonNegativeInt('--max-batch-size', values['max-batch-size'] as string | undefined),
        maxQueueDelayUs: nonNegativeInt('--max-queue-delay-us', values['max-queue-delay-us'] as string | undefined),
        maxQueueSize: nonNegativeInt('--max-queue-size', values['max-queue-size'] as string | undefined),
        runtime,
      },
      ctx.callOptions,
    );
    if (ctx.json) return ctx.printJson(Deployment.toJSON(deployment));
    ctx.print(`Deployed ${deployment.servedName} (version ${deployment.version}).`);
    ctx.print(deploymentDetails(deployment));
  },
};

const undeploy: CommandSpec = {
  name: '',
  args: '<served>',
  summary: 'Stop serving a deployment',
  minArgs: 1,
  async run(ctx, [served]) {
    const response = await ctx.clients().inference.undeploy({ servedName: served! }, ctx.callOptions);
    if (ctx.json) return ctx.printJson(UndeployResponse.toJSON(response));
    ctx.print(`Undeployed ${served}.`);
  },
};

const deploymentsList: CommandSpec = {
  name: '',
  args: '',
  summary: 'List deployments',
  minArgs: 0,
  async run(ctx) {
    const response = await ctx.clients().inference.listDeployments({}, ctx.callOptions);
    if (ctx.json) return ctx.printJson(ListDeploymentsResponse.toJSON(response));
    if (response.deployments.length === 0) return ctx.note('No deployments.');
    ctx.print(deploymentsTable(response.deployments));
  },
};

const deploymentsShow: CommandSpec = {
  name: 'show',
  args: '<served>',
  summary: 'Show one deployment: version, state, signature, batching',
  minArgs: 1,
  async run(ctx, [served]) {
    const deployment = await ctx.clients().inference.getDeployment({ servedName: served! }, ctx.callOptions);
    if (ctx.json) return ctx.printJson(Deployment.toJSON(deployment));
    ctx.print(deploymentDetails(deployment));
  },
};

/** The `input` of a predict request from exactly one of --records, --file and --tensor. */
async function predictInput(
  resolvePath: (path: string) => string,
  records: string | undefined,
  file: string | undefined,
  tensors: string[],
  usage: string,
): Promise<Pick<PredictRequest, 'tensors' | 'records'>> {
  const given = [records !== undefined, file !== undefined, tensors.length > 0].filter(Boolean).length;
  if (given !== 1) throw new UsageError(`give exactly one of --records, --file and --tensor`, usage);
  if (tensors.length > 0) return { tensors: { tensors: tensors.map(parseTensorArg) } };
  const list =
    records !== undefined
      ? parseRecordsArg(records)
      : parseRecordsFile(file!, await readFile(resolvePath(file!), 'utf8'));
  if (list.length === 0) throw new UsageError('no records to predict', usage);
  return { records: { recordsJson: list.map((r) => JSON.stringify(r)) } };
}

const PREDICT_USAGE =
  "aimaas predict <served> (--records '<json array>' | --file records.json|records.jsonl|data.csv | --tensor name:FP32:1x4:1,2,3,4)";

const predict: CommandSpec = {
  name: '',
  args: '<served>',
  summary: 'Predict with a deployment: JSON records, a records file (json, jsonl, csv) or tensors',
  options: {
    records: {
      type: 'string',
      value: 'json',
      description: 'A JSON array of records (objects), run through the fitted pipeline',
    },
    file: {
      type: 'string',
      value: 'path',
      description: 'Records from a .json array, a .jsonl file or a .csv file with a header',
    },
    tensor: {
      type: 'string',
      multiple: true,
      value: 'name:TYPE:shape:values',
      description: 'An input tensor, e.g. input:FP32:1x4:1,2,3,4 (repeatable)',
    },
  },
  minArgs: 1,
  async run(ctx, [served], values) {
    const input = await predictInput(
      ctx.resolvePath,
      values.records as string | undefined,
      values.file as string | undefined,
      (values.tensor as string[] | undefined) ?? [],
      PREDICT_USAGE,
    );
    const response = await ctx.clients().inference.predict({ servedName: served!, ...input }, ctx.callOptions);
    if (ctx.json) return ctx.printJson(PredictResponse.toJSON(response));
    ctx.print(predictionView(response));
  },
};

/** `aimaas deploy <model>`. */
export const deployGroup: CommandGroup = { name: 'deploy', summary: 'Serve a model version', commands: [deploy] };
/** `aimaas undeploy <served>`. */
export const undeployGroup: CommandGroup = {
  name: 'undeploy',
  summary: 'Stop serving a deployment',
  commands: [undeploy],
};
/** `aimaas deployments [show <served>]`. */
export const deploymentsGroup: CommandGroup = {
  name: 'deployments',
  summary: 'Deployments being served',
  commands: [deploymentsList, deploymentsShow],
};
/** `aimaas predict <served> …`. */
export const predictGroup: CommandGroup = {
  name: 'predict',
  summary: 'Predict with a deployment',
  commands: [predict],
};

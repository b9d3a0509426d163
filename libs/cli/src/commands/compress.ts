import {
  CompressionJob,
  JobState,
  ListCompressionJobsResponse,
  ProgressUpdate,
  SubmitCompressionJobRequest,
  type ModelSpec,
  type TrainingConfig,
} from '@aimaas/proto';
import { AimaasError, formatModelRef } from '@aimaas/sdk';
import {
  parsePositiveInt,
  refArg,
  UsageError,
  type CommandContext,
  type CommandGroup,
  type CommandSpec,
  type OptionSpec,
  type OptionValues,
} from '../command.js';
import {
  compressionJobDetails,
  compressionJobsTable,
  CompressionProgressBar,
  reportView,
} from '../output/compression-views.js';
import { jobState } from '../output/training-views.js';
import { collectPages } from './models.js';
import { jobStateArg, modelSpecFromOptions } from './train.js';

const COMPRESS_USAGE =
  'aimaas compress <model>[@version|@alias] (--quantize uint8|uint16|float16|int8 [--per-tensor] [--activations static|dynamic] | --prune <sparsity> [--pruning-steps N] [--fine-tune-epochs N] | --distill --student-mlp 32,16 [--temperature T] [--alpha A] [--epochs N] | --cluster <k> [--fine-tune-epochs N]) [--dataset <prepared-id>] [--model-name <name>] [--seed N] [--watch]';

const JOBS_USAGE = 'aimaas compress jobs list|show|watch|cancel [arguments] [options]';

/** The compression methods, as their flags name them. */
type Method = 'quantize' | 'prune' | 'distill' | 'cluster';
const METHODS: readonly Method[] = ['quantize', 'prune', 'distill', 'cluster'];

/** The dtypes of `--quantize`. */
export const QUANTIZE_DTYPES = ['uint8', 'uint16', 'float16', 'int8'] as const;

/** Defaults the CLI sends for a distillation (the service needs them set). */
export const DISTILL_DEFAULTS = { temperature: 4, alpha: 0.9, epochs: 10 } as const;

/** Which methods each method-specific flag belongs to. */
const METHOD_FLAGS: Record<string, readonly Method[]> = {
  'per-channel': ['quantize'],
  'per-tensor': ['quantize'],
  activations: ['quantize'],
  'pruning-steps': ['prune'],
  scope: ['prune'],
  'fine-tune-epochs': ['prune', 'cluster'],
  'cluster-init': ['cluster'],
  'student-mlp': ['distill'],
  'student-cnn': ['distill'],
  'student-linear': ['distill'],
  'student-input-shape': ['distill'],
  temperature: ['distill'],
  alpha: ['distill'],
  epochs: ['distill'],
  'batch-size': ['prune', 'distill', 'cluster'],
  lr: ['prune', 'distill', 'cluster'],
  optimizer: ['prune', 'distill', 'cluster'],
};

const STUDENT_FLAGS = {
  mlp: 'student-mlp',
  cnn: 'student-cnn',
  linear: 'student-linear',
  inputShape: 'student-input-shape',
};

/** `--a`, `--a and --b`, `--a, --b and --c`. */
function flagList(names: readonly string[]): string {
  const flags = names.map((name) => `--${name}`);
  return flags.length <= 1 ? flags.join('') : `${flags.slice(0, -1).join(', ')} and ${flags.at(-1)}`;
}

function text(values: OptionValues, name: string): string | undefined {
  return values[name] as string | undefined;
}

/** A whole number of 0 or more. */
function nonNegativeInt(flag: string, value: string | undefined, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return 0;
  if (!/^(0|[1-9][0-9]*)$/.test(value) || Number(value) > max) {
    throw new UsageError(
      `${flag} ${value}: expected a whole number from 0${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}`,
      COMPRESS_USAGE,
    );
  }
  return Number(value);
}

/** A finite number within `[min, max]` (`min` excluded when `openMin`). */
function numberIn(flag: string, value: string, min: number, max: number, openMin: boolean, expected: string): number {
  const n = Number(value);
  const ok = value.trim() !== '' && Number.isFinite(n) && (openMin ? n > min : n >= min) && n <= max;
  if (!ok) throw new UsageError(`${flag} ${value}: expected ${expected}`, COMPRESS_USAGE);
  return n;
}

/**
 * A target sparsity: a fraction strictly between 0 and 1 (`0.8`) or a percentage (`80%`).
 *
 * @example
 * parseSparsity('80%'); // 0.8
 */
export function parseSparsity(value: string): number {
  const match = /^\s*([0-9]*\.?[0-9]+)(%?)\s*$/.exec(value);
  const n = match === null ? Number.NaN : Number(match[1]) / (match[2] === '%' ? 100 : 1);
  if (!(n > 0 && n < 1)) {
    throw new UsageError(
      `--prune ${value}: expected a sparsity between 0 and 1 such as 0.8, or a percentage such as 80%`,
      COMPRESS_USAGE,
    );
  }
  return n;
}

/** The optimizer, batch size and learning rate of a fine-tune (or of a distillation, with its epochs). */
function trainingConfig(values: OptionValues, epochs: number): TrainingConfig {
  const lr = text(values, 'lr');
  return {
    optimizer: {
      name: text(values, 'optimizer') ?? '',
      learningRate: lr === undefined ? 0 : numberIn('--lr', lr, 0, Number.MAX_VALUE, true, 'a positive number'),
      momentum: 0,
      nesterov: false,
    },
    schedule: undefined,
    batchSize: parsePositiveInt('--batch-size', text(values, 'batch-size')) ?? 0,
    epochs,
    seed: 0,
    earlyStopping: undefined,
    validationSplit: 0,
    workers: 0,
  };
}

/** The one method the flags name; zero or two are a usage error. */
function methodOf(values: OptionValues): Method {
  const given = METHODS.filter((m) => values[m] !== undefined && values[m] !== false);
  if (given.length !== 1) {
    const what = given.length === 0 ? 'no compression method given' : `${flagList(given)} given together`;
    throw new UsageError(`${what}: give exactly one of --quantize, --prune, --distill and --cluster`, COMPRESS_USAGE);
  }
  const method = given[0]!;
  for (const [flag, methods] of Object.entries(METHOD_FLAGS)) {
    if (values[flag] === undefined || methods.includes(method)) continue;
    const owners = flagList(methods);
    throw new UsageError(
      `--${flag} applies to ${owners}${methods.length === 1 ? ' only' : ''}, not --${method}`,
      COMPRESS_USAGE,
    );
  }
  return method;
}

/** The method part of the request. */
function methodSpec(method: Method, values: OptionValues): Partial<SubmitCompressionJobRequest> {
  switch (method) {
    case 'quantize': {
      const dtype = text(values, 'quantize')!;
      if (!(QUANTIZE_DTYPES as readonly string[]).includes(dtype)) {
        throw new UsageError(`--quantize ${dtype}: expected one of ${QUANTIZE_DTYPES.join(', ')}`, COMPRESS_USAGE);
      }
      const perChannel = values['per-channel'] === true;
      const perTensor = values['per-tensor'] === true;
      if (perChannel && perTensor)
        throw new UsageError('give one of --per-channel and --per-tensor, not both', COMPRESS_USAGE);
      if ((perChannel || perTensor) && dtype !== 'int8') {
        throw new UsageError(
          `--${perChannel ? 'per-channel' : 'per-tensor'} applies to --quantize int8 only (${dtype} has one range per tensor)`,
          COMPRESS_USAGE,
        );
      }
      const activations = text(values, 'activations') ?? '';
      if (activations && !['static', 'dynamic'].includes(activations)) {
        throw new UsageError(`--activations ${activations}: expected static or dynamic`, COMPRESS_USAGE);
      }
      if (activations && dtype !== 'int8')
        throw new UsageError(
          `--activations applies to --quantize int8 only (${dtype} quantizes weights only)`,
          COMPRESS_USAGE,
        );
      return { quantize: { dtype, perChannel: dtype === 'int8' && !perTensor, activations } };
    }
    case 'prune': {
      const fineTuneEpochs = nonNegativeInt('--fine-tune-epochs', text(values, 'fine-tune-epochs'));
      const pruningSteps = nonNegativeInt('--pruning-steps', text(values, 'pruning-steps'));
      if (pruningSteps > 0 && fineTuneEpochs === 0) {
        throw new UsageError(
          '--pruning-steps needs --fine-tune-epochs: gradual pruning happens while fine-tuning',
          COMPRESS_USAGE,
        );
      }
      const scope = text(values, 'scope') ?? '';
      if (!['', 'layer', 'global'].includes(scope))
        throw new UsageError(`--scope ${scope}: expected layer or global`, COMPRESS_USAGE);
      return {
        prune: {
          targetSparsity: parseSparsity(text(values, 'prune')!),
          fineTuneEpochs,
          pruningSteps,
          scope,
          config: trainingConfig(values, 0),
        },
      };
    }
    case 'distill': {
      const given = [STUDENT_FLAGS.mlp, STUDENT_FLAGS.cnn, STUDENT_FLAGS.linear].filter((f) => values[f] !== undefined);
      if (given.length === 0)
        throw new UsageError(
          '--distill needs a student: give one of --student-mlp, --student-cnn and --student-linear',
          COMPRESS_USAGE,
        );
      const student = modelSpecFromOptions(values, STUDENT_FLAGS, COMPRESS_USAGE) as ModelSpec;
      const temperature = text(values, 'temperature');
      const alpha = text(values, 'alpha');
      const epochs = parsePositiveInt('--epochs', text(values, 'epochs')) ?? DISTILL_DEFAULTS.epochs;
      return {
        distill: {
          student,
          temperature:
            temperature === undefined
              ? DISTILL_DEFAULTS.temperature
              : numberIn('--temperature', temperature, 0, Number.MAX_VALUE, true, 'a positive number'),
          alpha:
            alpha === undefined
              ? DISTILL_DEFAULTS.alpha
              : numberIn('--alpha', alpha, 0, 1, false, 'a weight from 0 to 1'),
          config: trainingConfig(values, epochs),
        },
      };
    }
    case 'cluster': {
      const k = text(values, 'cluster')!;
      if (!/^[1-9][0-9]*$/.test(k) || Number(k) < 2 || !Number.isSafeInteger(Number(k))) {
        throw new UsageError(`--cluster ${k}: expected a number of clusters of at least 2, e.g. 16`, COMPRESS_USAGE);
      }
      const init = text(values, 'cluster-init') ?? '';
      if (!['', 'kmeans++', 'linear'].includes(init))
        throw new UsageError(`--cluster-init ${init}: expected kmeans++ or linear`, COMPRESS_USAGE);
      return {
        cluster: {
          clusters: Number(k),
          fineTuneEpochs: nonNegativeInt('--fine-tune-epochs', text(values, 'fine-tune-epochs')),
          init,
          config: trainingConfig(values, 0),
        },
      };
    }
  }
}

/**
 * The SubmitCompressionJob request of `compress <model>`: the source reference (`name` is the
 * latest version), exactly one method and its settings, and the shared options.
 *
 * @example
 * compressRequest('iris@1', { quantize: 'int8' }); // quantize { dtype: 'int8', perChannel: true }, source { name: 'iris', version: 1 }
 */
export function compressRequest(model: string, values: OptionValues): SubmitCompressionJobRequest {
  const source = refArg(model);
  const method = methodOf(values);
  return SubmitCompressionJobRequest.fromPartial({
    source,
    ...methodSpec(method, values),
    preparedDatasetId: text(values, 'dataset') ?? '',
    modelName: text(values, 'model-name') ?? '',
    seed: nonNegativeInt('--seed', text(values, 'seed'), 0xffff_ffff),
    requestId: text(values, 'request-id') ?? '',
  });
}

/**
 * Follows a job to its end: a live line on stderr (when bars are on), NDJSON progress lines with
 * `--json` when `jsonLines`, then the job as it ended.
 */
async function followJob(ctx: CommandContext, id: string, jsonLines: boolean): Promise<CompressionJob> {
  const { compression } = ctx.clients();
  const bar = ctx.showProgress ? new CompressionProgressBar(ctx.io.stderr) : undefined;
  try {
    for await (const update of compression.watchCompressionJob({ id }, ctx.callOptions)) {
      if (jsonLines) ctx.io.stdout.write(`${JSON.stringify(ProgressUpdate.toJSON(update))}\n`);
      bar?.update(update);
    }
  } finally {
    bar?.done();
  }
  return compression.getCompressionJob({ id }, ctx.callOptions);
}

/** Prints how a watched job ended (its report on success); a failed or cancelled job is an error (exit status 1). */
function reportEnd(ctx: CommandContext, job: CompressionJob, print: 'json' | 'text' | 'none'): void {
  if (print === 'json') ctx.printJson(CompressionJob.toJSON(job));
  else if (print === 'text') {
    const registered = job.modelVersion?.name ? `, registered ${formatModelRef(job.modelVersion)}` : '';
    ctx.print(`Job ${job.id} ${jobState(job)}${registered}.`);
    const report = job.state === JobState.JOB_STATE_SUCCEEDED ? reportView(job.report) : '';
    if (report !== '') ctx.print(report);
  }
  if (job.state === JobState.JOB_STATE_FAILED) {
    throw new AimaasError({
      code: 'ABORTED',
      details: `compression job ${job.id} failed: ${job.error || 'no reason given'}`,
    });
  }
  if (job.state === JobState.JOB_STATE_CANCELLED) {
    throw new AimaasError({ code: 'CANCELLED', details: `compression job ${job.id} was cancelled` });
  }
}

const FINE_TUNE: Record<string, OptionSpec> = {
  'batch-size': { type: 'string', value: 'n', description: 'Batch size of the fine-tune or distillation' },
  lr: { type: 'string', value: 'x', description: 'Learning rate of the fine-tune or distillation' },
  optimizer: {
    type: 'string',
    value: 'name',
    description: 'Optimizer of the fine-tune or distillation: sgd, adam, rmsprop, adagrad',
  },
};

const compress: CommandSpec = {
  name: '',
  args: '<model>[@version|@alias]',
  summary: 'Compress a model version: quantize, prune, distill or cluster (--watch prints the before/after report)',
  options: {
    quantize: {
      type: 'string',
      value: 'dtype',
      description: 'Quantize the weights: uint8, uint16, float16 (TF.js, per tensor) or int8 (ONNX, per channel)',
    },
    'per-channel': { type: 'boolean', description: '--quantize int8: one scale per output channel (the default)' },
    'per-tensor': { type: 'boolean', description: '--quantize int8: one scale per tensor' },
    activations: {
      type: 'string',
      value: 'form',
      description:
        '--quantize int8: static (calibrated on 256 training rows; the default when there are 100) or dynamic (ranges per call)',
    },
    prune: {
      type: 'string',
      value: 'sparsity',
      description: 'Prune to this fraction of zero weights, e.g. 0.8 or 80%',
    },
    'pruning-steps': {
      type: 'string',
      value: 'n',
      description: '--prune: reach the sparsity gradually over n fine-tune steps (default: one shot)',
    },
    scope: {
      type: 'string',
      value: 'scope',
      description:
        '--prune: global (one threshold over all kernels, the default) or layer (each kernel to the sparsity)',
    },
    'fine-tune-epochs': {
      type: 'string',
      value: 'n',
      description: '--prune, --cluster: epochs of fine-tuning afterwards (default 0)',
    },
    distill: {
      type: 'boolean',
      description: 'Distill into a smaller student model (give --student-mlp, --student-cnn or --student-linear)',
    },
    'student-mlp': {
      type: 'string',
      value: 'units',
      description: '--distill: an MLP student, hidden units e.g. 32,16',
    },
    'student-cnn': { type: 'string', value: 'blocks', description: '--distill: a CNN student, e.g. 16x3/32' },
    'student-linear': { type: 'boolean', description: '--distill: a linear (softmax) student' },
    'student-input-shape': {
      type: 'string',
      value: 'shape',
      description: '--distill: reshape each example for the student, e.g. 28x28x1',
    },
    temperature: {
      type: 'string',
      value: 't',
      description: `--distill: softmax temperature (default ${DISTILL_DEFAULTS.temperature})`,
    },
    alpha: {
      type: 'string',
      value: 'a',
      description: `--distill: weight of the teacher's soft loss, 0..1 (default ${DISTILL_DEFAULTS.alpha})`,
    },
    epochs: { type: 'string', value: 'n', description: `--distill: epochs (default ${DISTILL_DEFAULTS.epochs})` },
    ...FINE_TUNE,
    cluster: { type: 'string', value: 'k', description: 'Cluster each kernel into k distinct weight values, e.g. 16' },
    'cluster-init': {
      type: 'string',
      value: 'init',
      description: '--cluster: centroid initialization, kmeans++ (default) or linear',
    },
    dataset: {
      type: 'string',
      value: 'prepared-id',
      description: "Prepared dataset to measure (and fine-tune) on (default: the source's lineage)",
    },
    'model-name': {
      type: 'string',
      value: 'name',
      description: "Register the result under this model (default: the source's name)",
    },
    seed: { type: 'string', value: 'n', description: 'Seed of the fine-tune and of the student' },
    'request-id': {
      type: 'string',
      value: 'id',
      description: 'Idempotency key: submitting it again returns the same job',
    },
    watch: { type: 'boolean', description: 'Follow the job: live progress, then the before/after report' },
  },
  minArgs: 1,
  // `compress jobs <unknown>` reaches this command: it is answered below.
  maxArgs: 2,
  async run(ctx, args, values) {
    if (args[0] === 'jobs') {
      throw new UsageError(
        args[1] === undefined ? 'missing command after "compress jobs"' : `unknown command "compress jobs ${args[1]}"`,
        JOBS_USAGE,
      );
    }
    if (args.length > 1) throw new UsageError(`unexpected argument "${args[1]}"`, COMPRESS_USAGE);
    const job = await ctx
      .clients()
      .compression.submitCompressionJob(compressRequest(args[0]!, values), ctx.callOptions);
    if (values.watch !== true) {
      if (ctx.json) return ctx.printJson(CompressionJob.toJSON(job));
      ctx.print(`Submitted compression job ${job.id} (${jobState(job)}).`);
      return ctx.note(`Follow it with: aimaas compress jobs watch ${job.id}`);
    }
    if (!ctx.json) ctx.note(`Submitted compression job ${job.id}.`);
    reportEnd(ctx, await followJob(ctx, job.id, false), ctx.json ? 'json' : 'text');
  },
};

const list: CommandSpec = {
  name: 'jobs list',
  args: '',
  summary: 'List compression jobs',
  options: {
    state: {
      type: 'string',
      value: 'state',
      description: 'Only jobs in this state: queued, running, succeeded, failed, cancelled',
    },
    'page-size': { type: 'string', value: 'n', description: 'Jobs fetched per request (all pages are shown)' },
  },
  minArgs: 0,
  async run(ctx, _args, values) {
    const state = jobStateArg(values.state as string | undefined);
    const pageSize = parsePositiveInt('--page-size', values['page-size'] as string | undefined) ?? 0;
    const jobs = await collectPages(async (pageToken) => {
      const page = await ctx.clients().compression.listCompressionJobs({ pageSize, pageToken, state }, ctx.callOptions);
      return { items: page.jobs, next: page.nextPageToken };
    });
    if (ctx.json) return ctx.printJson(ListCompressionJobsResponse.toJSON({ jobs, nextPageToken: '' }));
    if (jobs.length === 0) return ctx.note('No compression jobs.');
    ctx.print(compressionJobsTable(jobs));
  },
};

const show: CommandSpec = {
  name: 'jobs show',
  args: '<id>',
  summary: 'Show a compression job: source, method, progress, report, registered version',
  minArgs: 1,
  async run(ctx, [id]) {
    const job = await ctx.clients().compression.getCompressionJob({ id: id! }, ctx.callOptions);
    if (ctx.json) return ctx.printJson(CompressionJob.toJSON(job));
    ctx.print(compressionJobDetails(job));
  },
};

const watch: CommandSpec = {
  name: 'jobs watch',
  args: '<id>',
  summary: 'Follow a compression job to its end (with --json: one ProgressUpdate a line)',
  minArgs: 1,
  async run(ctx, [id]) {
    const job = await followJob(ctx, id!, ctx.json);
    reportEnd(ctx, job, ctx.json ? 'none' : 'text');
  },
};

const cancel: CommandSpec = {
  name: 'jobs cancel',
  args: '<id>',
  summary: 'Cancel a compression job (it stops within one fine-tune batch and registers nothing)',
  minArgs: 1,
  async run(ctx, [id]) {
    const job = await ctx.clients().compression.cancelCompressionJob({ id: id! }, ctx.callOptions);
    if (ctx.json) return ctx.printJson(CompressionJob.toJSON(job));
    ctx.print(`Job ${job.id}: ${jobState(job)}.`);
  },
};

/** `aimaas compress …` and `aimaas compress jobs …`. */
export const compressGroup: CommandGroup = {
  name: 'compress',
  summary: 'Compress registered models and follow compression jobs',
  commands: [compress, list, show, watch, cancel],
};

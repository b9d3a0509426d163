import {
  JobState,
  ListTrainingJobsResponse,
  ProgressUpdate,
  TrainingJob,
  type ModelSpec,
  type SubmitTrainingJobRequest,
} from '@aimaas/proto';
import { AimaasError, formatModelRef } from '@aimaas/sdk';
import {
  parseKeyValues,
  parsePositiveInt,
  UsageError,
  type CommandContext,
  type CommandGroup,
  type CommandSpec,
  type OptionValues,
} from '../command.js';
import { jobDetails, jobsTable, jobState, metricsTable, TrainingProgressBar } from '../output/training-views.js';
import { collectPages } from './models.js';

const TRAIN_USAGE =
  'aimaas train --dataset <prepared-id> --model-name <name> (--mlp 64,32 | --cnn 32x3,64x3[/128] | --linear) [--epochs N] [--batch-size N] [--lr X] [--optimizer adam] [--seed N] [--watch]';

/** `64,32` as positive integers. */
function intList(flag: string, text: string, usage = TRAIN_USAGE): number[] {
  if (text.trim() === '') throw new UsageError(`${flag}: expected numbers such as 64,32`, usage);
  return text.split(',').map((part) => parsePositiveInt(flag, part.trim())!);
}

/** The option names (without `--`) an architecture is read from. */
export interface ArchitectureFlags {
  mlp: string;
  cnn: string;
  linear: string;
  inputShape: string;
}

/** The flags of `aimaas train`. */
const TRAIN_FLAGS: ArchitectureFlags = { mlp: 'mlp', cnn: 'cnn', linear: 'linear', inputShape: 'input-shape' };

/**
 * The architecture from `--mlp 64,32`, `--cnn 32x3,64x3[/128,64]` (conv blocks filters x kernel,
 * then dense units after `/`) or `--linear`; exactly one is required. `flags` renames the options
 * (e.g. `--student-mlp` of `aimaas compress --distill`) and `usage` is printed with a usage error.
 */
export function modelSpecFromOptions(
  values: OptionValues,
  flags: ArchitectureFlags = TRAIN_FLAGS,
  usage = TRAIN_USAGE,
): Partial<ModelSpec> {
  const mlp = values[flags.mlp] as string | undefined;
  const cnn = values[flags.cnn] as string | undefined;
  const linear = values[flags.linear] === true;
  const given = [mlp !== undefined, cnn !== undefined, linear].filter(Boolean).length;
  if (given !== 1)
    throw new UsageError(`give exactly one of --${flags.mlp}, --${flags.cnn} and --${flags.linear}`, usage);
  const shapeText = values[flags.inputShape] as string | undefined;
  const inputShape =
    shapeText === undefined ? [] : shapeText.split('x').map((d) => parsePositiveInt(`--${flags.inputShape}`, d)!);
  if (mlp !== undefined)
    return {
      mlp: { hiddenUnits: intList(`--${flags.mlp}`, mlp, usage), activation: '', dropout: 0, batchNorm: false },
      inputShape,
    };
  if (linear) return { linear: {}, inputShape };
  const [blocksText, denseText] = cnn!.split('/');
  const convBlocks = blocksText!.split(',').map((block) => {
    const match = /^\s*([0-9]+)x([0-9]+)\s*$/.exec(block);
    if (match === null)
      throw new UsageError(`--${flags.cnn} ${cnn}: expected blocks filters x kernel, e.g. 32x3,64x3/128`, usage);
    return {
      filters: parsePositiveInt(`--${flags.cnn} filters`, match[1])!,
      kernelSize: parsePositiveInt(`--${flags.cnn} kernel`, match[2])!,
      strides: 0,
      pool: '',
      poolSize: 0,
      activation: '',
      padding: '',
    };
  });
  return {
    cnn: {
      convBlocks,
      denseUnits: denseText === undefined ? [] : intList(`--${flags.cnn} dense`, denseText, usage),
      dropout: 0,
    },
    inputShape,
  };
}

function positiveNumber(flag: string, text: string | undefined): number {
  if (text === undefined) return 0;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0)
    throw new UsageError(`${flag} ${text}: expected a positive number`, TRAIN_USAGE);
  return value;
}

/** The SubmitTrainingJob request of `train`. */
export function trainRequest(values: OptionValues): Partial<SubmitTrainingJobRequest> {
  const dataset = values.dataset as string | undefined;
  const modelName = values['model-name'] as string | undefined;
  if (dataset === undefined || dataset === '') throw new UsageError('--dataset is required', TRAIN_USAGE);
  if (modelName === undefined || modelName === '') throw new UsageError('--model-name is required', TRAIN_USAGE);
  const seedText = values.seed as string | undefined;
  return {
    preparedDatasetId: dataset,
    modelName,
    model: modelSpecFromOptions(values) as ModelSpec,
    config: {
      optimizer: {
        name: (values.optimizer as string | undefined) ?? '',
        learningRate: positiveNumber('--lr', values.lr as string | undefined),
        momentum: 0,
        nesterov: false,
      },
      schedule: undefined,
      batchSize: parsePositiveInt('--batch-size', values['batch-size'] as string | undefined) ?? 0,
      epochs: parsePositiveInt('--epochs', values.epochs as string | undefined) ?? 0,
      seed: seedText === undefined || seedText === '0' ? 0 : parsePositiveInt('--seed', seedText)!,
      earlyStopping: undefined,
      validationSplit: 0,
      workers: 0,
    },
    description: (values.description as string | undefined) ?? '',
    tags: parseKeyValues('tags', values.tags),
  };
}

/**
 * Follows a job to its end: a live bar on stderr (when bars are on), NDJSON progress lines with
 * `--json` when `jsonLines`, then the job as it ended.
 */
async function followJob(ctx: CommandContext, id: string, jsonLines: boolean): Promise<TrainingJob> {
  const { training } = ctx.clients();
  const bar = ctx.showProgress ? new TrainingProgressBar(ctx.io.stderr) : undefined;
  try {
    for await (const update of training.watchTrainingJob({ id }, ctx.callOptions)) {
      if (jsonLines) ctx.io.stdout.write(`${JSON.stringify(ProgressUpdate.toJSON(update))}\n`);
      bar?.update(update);
    }
  } finally {
    bar?.done();
  }
  return training.getTrainingJob({ id }, ctx.callOptions);
}

/** Prints how a watched job ended; a failed or cancelled job is an error (exit status 1). */
function reportEnd(ctx: CommandContext, job: TrainingJob, print: 'json' | 'text' | 'none'): void {
  if (print === 'json') ctx.printJson(TrainingJob.toJSON(job));
  else if (print === 'text') {
    const registered = job.modelVersion?.name ? `, registered ${formatModelRef(job.modelVersion)}` : '';
    ctx.print(`Job ${job.id} ${jobState(job)}${registered}.`);
    if (Object.keys(job.metrics).length > 0) ctx.print(metricsTable(job.metrics));
  }
  if (job.state === JobState.JOB_STATE_FAILED) {
    throw new AimaasError({
      code: 'ABORTED',
      details: `training job ${job.id} failed: ${job.error || 'no reason given'}`,
    });
  }
  if (job.state === JobState.JOB_STATE_CANCELLED) {
    throw new AimaasError({ code: 'CANCELLED', details: `training job ${job.id} was cancelled` });
  }
}

const train: CommandSpec = {
  name: '',
  args: '',
  summary: 'Submit a training job on a prepared dataset (--watch follows it to the end)',
  options: {
    dataset: { type: 'string', value: 'prepared-id', description: 'Prepared dataset id (required)' },
    'model-name': { type: 'string', value: 'name', description: 'Register the result under this model (required)' },
    mlp: { type: 'string', value: 'units', description: 'A multilayer perceptron, hidden units e.g. 64,32' },
    cnn: {
      type: 'string',
      value: 'blocks',
      description: 'A CNN: conv blocks filters x kernel, then dense units, e.g. 32x3,64x3/128',
    },
    linear: { type: 'boolean', description: 'Linear (regression) or softmax (classification) model' },
    'input-shape': { type: 'string', value: 'shape', description: 'Reshape each example, e.g. 28x28x1 for a CNN' },
    epochs: { type: 'string', value: 'n', description: 'Epochs' },
    'batch-size': { type: 'string', value: 'n', description: 'Batch size' },
    lr: { type: 'string', value: 'x', description: 'Learning rate' },
    optimizer: { type: 'string', value: 'name', description: 'sgd, adam (default), rmsprop, adagrad' },
    seed: { type: 'string', value: 'n', description: 'Seed of the weights and shuffles' },
    description: { type: 'string', value: 'text', description: 'Description of the registered version' },
    tags: { type: 'string', multiple: true, value: 'k=v', description: 'A tag (repeatable)' },
    watch: { type: 'boolean', description: 'Follow the job: live progress, then its metrics' },
  },
  minArgs: 0,
  async run(ctx, _args, values) {
    const job = await ctx.clients().training.submitTrainingJob(trainRequest(values), ctx.callOptions);
    if (values.watch !== true) {
      if (ctx.json) return ctx.printJson(TrainingJob.toJSON(job));
      ctx.print(`Submitted training job ${job.id} (${jobState(job)}).`);
      return ctx.note(`Follow it with: aimaas jobs watch ${job.id}`);
    }
    if (!ctx.json) ctx.note(`Submitted training job ${job.id}.`);
    reportEnd(ctx, await followJob(ctx, job.id, false), ctx.json ? 'json' : 'text');
  },
};

const STATES: Record<string, JobState> = {
  queued: JobState.JOB_STATE_QUEUED,
  running: JobState.JOB_STATE_RUNNING,
  succeeded: JobState.JOB_STATE_SUCCEEDED,
  failed: JobState.JOB_STATE_FAILED,
  cancelled: JobState.JOB_STATE_CANCELLED,
};

/** The `--state` filter of a jobs list: a state word, or every state when absent. */
export function jobStateArg(text: string | undefined): JobState {
  if (text === undefined) return JobState.JOB_STATE_UNSPECIFIED;
  const state = STATES[text];
  if (state === undefined) throw new UsageError(`--state ${text}: expected one of ${Object.keys(STATES).join(', ')}`);
  return state;
}

const list: CommandSpec = {
  name: 'list',
  args: '',
  summary: 'List training jobs',
  options: {
    state: {
      type: 'string',
      value: 'state',
      description: 'Only jobs in this state: queued, running, succeeded, failed, cancelled',
    },
  },
  minArgs: 0,
  async run(ctx, _args, values) {
    const state = jobStateArg(values.state as string | undefined);
    const jobs = await collectPages(async (pageToken) => {
      const page = await ctx.clients().training.listTrainingJobs({ pageToken, state }, ctx.callOptions);
      return { items: page.jobs, next: page.nextPageToken };
    });
    if (ctx.json) return ctx.printJson(ListTrainingJobsResponse.toJSON({ jobs, nextPageToken: '' }));
    if (jobs.length === 0) return ctx.note('No training jobs.');
    ctx.print(jobsTable(jobs));
  },
};

const show: CommandSpec = {
  name: 'show',
  args: '<id>',
  summary: 'Show a training job: request, progress, metrics, registered version',
  minArgs: 1,
  async run(ctx, [id]) {
    const job = await ctx.clients().training.getTrainingJob({ id: id! }, ctx.callOptions);
    if (ctx.json) return ctx.printJson(TrainingJob.toJSON(job));
    ctx.print(jobDetails(job));
  },
};

const watch: CommandSpec = {
  name: 'watch',
  args: '<id>',
  summary: 'Follow a training job to its end (with --json: one ProgressUpdate a line)',
  minArgs: 1,
  async run(ctx, [id]) {
    const job = await followJob(ctx, id!, ctx.json);
    reportEnd(ctx, job, ctx.json ? 'none' : 'text');
  },
};

const cancel: CommandSpec = {
  name: 'cancel',
  args: '<id>',
  summary: 'Cancel a training job (it stops within one batch)',
  minArgs: 1,
  async run(ctx, [id]) {
    const job = await ctx.clients().training.cancelTrainingJob({ id: id! }, ctx.callOptions);
    if (ctx.json) return ctx.printJson(TrainingJob.toJSON(job));
    ctx.print(`Job ${job.id}: ${jobState(job)}.`);
  },
};

/** `aimaas train …`. */
export const trainGroup: CommandGroup = {
  name: 'train',
  summary: 'Train a model on a prepared dataset',
  commands: [train],
};
/** `aimaas jobs …`. */
export const jobsGroup: CommandGroup = {
  name: 'jobs',
  summary: 'Training jobs',
  commands: [list, show, watch, cancel],
};

/**
 * `aimaas train` and `aimaas jobs` against a small real grpc-js TrainingService started here with
 * canned jobs and progress (the training service itself is still being finished elsewhere).
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  JobState,
  ProgressUpdate,
  TrainingJob,
  TrainingServiceService,
  type SubmitTrainingJobRequest,
} from '@aimaas/proto';
import { cliRunner } from './run-cli-harness.js';

const CREATED = new Date(Date.UTC(2025, 2, 1, 12, 0, 0));

/** Three epochs of canned progress for a job, then the end. */
function progressOf(id: string): ProgressUpdate[] {
  return [1, 2, 3].map((epoch) =>
    ProgressUpdate.fromPartial({
      jobId: id,
      epoch,
      epochs: 3,
      step: 10,
      stepsPerEpoch: 10,
      metrics: { loss: 1 / epoch, val_accuracy: 0.6 + epoch / 10 },
      samplesPerSecond: 1234.4,
      etaSeconds: (3 - epoch) * 5,
      phase: 'training',
    }),
  );
}

let server: grpc.Server;
let address: string;
const jobs = new Map<string, TrainingJob>();
const submitted: SubmitTrainingJobRequest[] = [];
const listRequests: unknown[] = [];

function unimplemented(_call: unknown, callback: grpc.sendUnaryData<never>): void {
  callback({ code: grpc.status.UNIMPLEMENTED, details: 'not in this test' } as grpc.ServiceError);
}

function notFound(id: string): grpc.ServiceError {
  return { code: grpc.status.NOT_FOUND, details: `training job "${id}" not found` } as grpc.ServiceError;
}

beforeAll(async () => {
  jobs.set(
    'job-failed',
    TrainingJob.fromPartial({
      id: 'job-failed',
      state: JobState.JOB_STATE_FAILED,
      request: { preparedDatasetId: 'prep-1', modelName: 'broken', model: { linear: {} } },
      createdAt: CREATED,
      error: 'loss became NaN at epoch 2',
    }),
  );
  server = new grpc.Server();
  server.addService(TrainingServiceService, {
    submitTrainingJob(
      call: grpc.ServerUnaryCall<SubmitTrainingJobRequest, TrainingJob>,
      callback: grpc.sendUnaryData<TrainingJob>,
    ) {
      submitted.push(call.request);
      const id = `job-${submitted.length}`;
      // Submitted jobs finish at once in this fake: a watch replays their canned progress.
      jobs.set(
        id,
        TrainingJob.fromPartial({
          id,
          state: JobState.JOB_STATE_SUCCEEDED,
          request: call.request,
          createdAt: CREATED,
          progress: progressOf(id)[2],
          metrics: { accuracy: 0.9333, loss: 0.21 },
          modelVersion: { name: call.request.modelName, version: submitted.length },
          attempts: 1,
        }),
      );
      callback(
        null,
        TrainingJob.fromPartial({ id, state: JobState.JOB_STATE_QUEUED, request: call.request, createdAt: CREATED }),
      );
    },
    getTrainingJob(call: grpc.ServerUnaryCall<{ id: string }, TrainingJob>, callback: grpc.sendUnaryData<TrainingJob>) {
      const job = jobs.get(call.request.id);
      if (job === undefined) callback(notFound(call.request.id));
      else callback(null, job);
    },
    listTrainingJobs(call: grpc.ServerUnaryCall<{ state: JobState }, unknown>, callback: grpc.sendUnaryData<unknown>) {
      listRequests.push(call.request);
      const all = [...jobs.values()].filter(
        (j) => call.request.state === JobState.JOB_STATE_UNSPECIFIED || j.state === call.request.state,
      );
      callback(null, { jobs: all, nextPageToken: '' });
    },
    cancelTrainingJob(
      call: grpc.ServerUnaryCall<{ id: string }, TrainingJob>,
      callback: grpc.sendUnaryData<TrainingJob>,
    ) {
      const job = jobs.get(call.request.id);
      if (job === undefined) return callback(notFound(call.request.id));
      const cancelled = { ...job, state: JobState.JOB_STATE_CANCELLED };
      jobs.set(job.id, cancelled);
      callback(null, cancelled);
    },
    watchTrainingJob(call: grpc.ServerWritableStream<{ id: string }, ProgressUpdate>) {
      const job = jobs.get(call.request.id);
      if (job === undefined) return call.destroy(notFound(call.request.id));
      if (job.state === JobState.JOB_STATE_SUCCEEDED) for (const update of progressOf(job.id)) call.write(update);
      call.end();
    },
    submitSearch: unimplemented,
    crossValidate: unimplemented,
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  address = `127.0.0.1:${port}`;
});

afterAll(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));

const aimaas = cliRunner(() => ({ env: { AIMAAS_TRAINING_ADDR: address } }));

describe('aimaas train', () => {
  it('submits the job the options describe and says how to follow it', async () => {
    const result = await aimaas(
      'train',
      '--dataset',
      'prep-1',
      '--model-name',
      'iris-mlp',
      '--mlp',
      '64,32',
      '--epochs',
      '3',
      '--batch-size',
      '16',
      '--lr',
      '0.01',
      '--optimizer',
      'adam',
      '--seed',
      '42',
      '--tags',
      'team=ml',
    );
    expect(result).toEqual({
      code: 0,
      stdout: 'Submitted training job job-1 (queued).\n',
      stderr: 'Follow it with: aimaas jobs watch job-1\n',
    });
    expect(submitted[0]).toMatchObject({
      preparedDatasetId: 'prep-1',
      modelName: 'iris-mlp',
      model: { mlp: { hiddenUnits: [64, 32] } },
      config: { epochs: 3, batchSize: 16, seed: 42, optimizer: { name: 'adam', learningRate: 0.01 } },
      tags: { team: 'ml' },
    });
  });

  it('builds CNN and linear specs', async () => {
    expect(
      (await aimaas('train', '--dataset', 'p', '--model-name', 'c', '--cnn', '32x3,64x5/128', '--input-shape', '8x8x1'))
        .code,
    ).toBe(0);
    expect(submitted.at(-1)!.model).toMatchObject({
      cnn: {
        convBlocks: [
          { filters: 32, kernelSize: 3 },
          { filters: 64, kernelSize: 5 },
        ],
        denseUnits: [128],
      },
      inputShape: [8, 8, 1],
    });
    expect((await aimaas('--json', 'train', '--dataset', 'p', '--model-name', 'l', '--linear')).code).toBe(0);
    expect(submitted.at(-1)!.model?.linear).toEqual({});
  });

  it('with --watch draws the live bar on stderr, then prints the final metrics', async () => {
    const result = await aimaas(
      'train',
      '--dataset',
      'prep-1',
      '--model-name',
      'iris-mlp',
      '--mlp',
      '8',
      '--watch',
      '--progress',
    );
    expect(result.code).toBe(0);
    const id = `job-${submitted.length}`;
    const frames = result.stderr.split('\r');
    expect(frames[0]).toBe(`Submitted training job ${id}.\n`);
    expect(frames[1]!.trimEnd()).toBe(
      'train  [########----------------]  33%  training  epoch 1/3  loss=1 val_accuracy=0.7  1234 samples/s  ETA 0:10',
    );
    // The last frame is padded over the longer one before it (it has no ETA), then ends the line.
    expect(frames.at(-1)!.endsWith('\n')).toBe(true);
    expect(frames.at(-1)!.trimEnd()).toBe(
      'train  [########################] 100%  training  epoch 3/3  loss=0.3333 val_accuracy=0.9  1234 samples/s',
    );
    expect(result.stdout).toBe(
      [
        `Job ${id} succeeded, registered iris-mlp@${submitted.length}.`,
        'METRIC     VALUE',
        'accuracy  0.9333',
        'loss        0.21',
        '',
      ].join('\n'),
    );
  });

  it('rejects a missing or doubled architecture, and bad numbers, as usage errors', async () => {
    const none = await aimaas('train', '--dataset', 'p', '--model-name', 'm');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^error: give exactly one of --mlp, --cnn and --linear\nusage: aimaas train --dataset/);
    expect((await aimaas('train', '--dataset', 'p', '--model-name', 'm', '--mlp', '8', '--linear')).code).toBe(2);
    expect((await aimaas('train', '--dataset', 'p', '--model-name', 'm', '--mlp', '8,x')).stderr).toContain(
      '--mlp x: expected a positive integer',
    );
    expect((await aimaas('train', '--dataset', 'p', '--model-name', 'm', '--linear', '--lr', '-1')).code).toBe(2);
    expect((await aimaas('train', '--model-name', 'm', '--linear')).stderr).toMatch(/^error: --dataset is required/);
  });
});

describe('aimaas jobs', () => {
  it('lists jobs as a table and filters by state', async () => {
    const all = await aimaas('jobs', 'list');
    expect(all.code).toBe(0);
    const lines = all.stdout.split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATE\s+MODEL\s+ARCHITECTURE\s+EPOCH\s+METRICS\s+CREATED$/);
    expect(lines.find((l) => l.startsWith('job-1 '))).toMatch(
      /^job-1\s+succeeded\s+iris-mlp@1\s+mlp 64,32\s+3\/3\s+accuracy=0\.9333,loss=0\.21\s+2025-03-01T12:00:00Z$/,
    );
    const failed = JSON.parse((await aimaas('--json', 'jobs', 'list', '--state', 'failed')).stdout);
    expect(failed.jobs.map((j: { id: string }) => j.id)).toEqual(['job-failed']);
    expect(listRequests.at(-1)).toMatchObject({ state: JobState.JOB_STATE_FAILED });
    expect((await aimaas('jobs', 'list', '--state', 'sleeping')).code).toBe(2);
  });

  it('shows one job with its metrics', async () => {
    const shown = await aimaas('jobs', 'show', 'job-1');
    expect(shown.stdout).toMatch(/^Job:\s+job-1$/m);
    expect(shown.stdout).toMatch(/^State:\s+succeeded$/m);
    expect(shown.stdout).toMatch(/^Registered:\s+iris-mlp@1$/m);
    expect(shown.stdout).toMatch(/^accuracy\s+0\.9333$/m);
    const missing = await aimaas('jobs', 'show', 'nope');
    expect(missing).toMatchObject({ code: 1, stderr: 'error: NOT_FOUND: training job "nope" not found\n' });
  });

  it('watches with --json as one ProgressUpdate a line', async () => {
    const watched = await aimaas('--json', 'jobs', 'watch', 'job-1');
    expect(watched.code).toBe(0);
    const lines = watched.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((u) => u.epoch)).toEqual([1, 2, 3]);
    expect(lines[0]).toMatchObject({ jobId: 'job-1', epochs: 3, phase: 'training', metrics: { loss: 1 } });
    expect(watched.stderr).toBe('');
  });

  it('watching a failed job exits 1 with the reason', async () => {
    const watched = await aimaas('jobs', 'watch', 'job-failed');
    expect(watched.code).toBe(1);
    expect(watched.stdout).toBe('Job job-failed failed.\n');
    expect(watched.stderr).toBe('error: ABORTED: training job job-failed failed: loss became NaN at epoch 2\n');
  });

  it('cancels a job', async () => {
    expect(await aimaas('jobs', 'cancel', 'job-2')).toEqual({ code: 0, stdout: 'Job job-2: cancelled.\n', stderr: '' });
    expect(JSON.parse((await aimaas('--json', 'jobs', 'show', 'job-2')).stdout).state).toBe('JOB_STATE_CANCELLED');
  });
});

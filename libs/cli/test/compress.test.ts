/**
 * `aimaas compress` and `aimaas compress jobs`: the requests the options build, the report
 * table, and the commands against a small real grpc-js CompressionService started here with
 * canned jobs and progress.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompressionJob,
  CompressionServiceService,
  JobState,
  ProgressUpdate,
  type CompressionReport,
  type SubmitCompressionJobRequest,
} from '@aimaas/proto';
import { compressionProgressText, compressRequest, parseSparsity, reportTable, UsageError } from '@aimaas/cli';
import { cliRunner } from './run-cli-harness.js';

const CREATED = new Date(Date.UTC(2025, 2, 1, 12, 0, 0));

const REPORT: CompressionReport = {
  before: {
    sizeBytes: 2950,
    gzippedBytes: 2600,
    parameters: 67,
    nonzeroParameters: 67,
    metrics: { accuracy: 0.9667, loss: 0.1234 },
    latencyMsBatch1: 0.5,
    latencyMsBatch256: 2,
    formats: [],
    metricsSplit: 'test',
    format: 'tfjs-layers',
  },
  after: {
    sizeBytes: 1020,
    gzippedBytes: 900,
    parameters: 67,
    nonzeroParameters: 40,
    metrics: { accuracy: 0.9333, loss: 0.15 },
    latencyMsBatch1: 0.4,
    latencyMsBatch256: 1.6,
    formats: [],
    metricsSplit: 'test',
    format: 'tfjs-layers',
  },
};

const REPORT_LINES = [
  'MEASURE               BEFORE    AFTER  AFTER/BEFORE',
  'size raw             2.95 kB  1.02 kB        0.3458',
  'size gzip             2.6 kB    900 B        0.3462',
  'parameters                67       67             1',
  'non-zero parameters       67       40         0.597',
  'accuracy              0.9667   0.9333        0.9654',
  'loss                  0.1234     0.15         1.216',
  'latency b1 ms            0.5      0.4           0.8',
  'latency b256 ms            2      1.6           0.8',
];

describe('compressRequest', () => {
  it('maps --quantize to a QuantizeSpec, int8 per channel unless --per-tensor', () => {
    expect(compressRequest('iris@1', { quantize: 'uint8' })).toEqual({
      source: { name: 'iris', version: 1 },
      quantize: { dtype: 'uint8', perChannel: false, activations: '' },
      preparedDatasetId: '',
      modelName: '',
      seed: 0,
      requestId: '',
    });
    expect(compressRequest('iris', { quantize: 'int8' }).quantize).toEqual({
      dtype: 'int8',
      perChannel: true,
      activations: '',
    });
    expect(compressRequest('iris', { quantize: 'int8', 'per-channel': true }).quantize).toEqual({
      dtype: 'int8',
      perChannel: true,
      activations: '',
    });
    expect(compressRequest('iris', { quantize: 'int8', 'per-tensor': true }).quantize).toEqual({
      dtype: 'int8',
      perChannel: false,
      activations: '',
    });
    expect(compressRequest('iris', { quantize: 'int8', activations: 'dynamic' }).quantize).toEqual({
      dtype: 'int8',
      perChannel: true,
      activations: 'dynamic',
    });
    expect(() => compressRequest('iris', { quantize: 'int8', activations: 'sometimes' })).toThrow(
      '--activations sometimes: expected static or dynamic',
    );
    expect(() => compressRequest('iris', { quantize: 'uint8', activations: 'static' })).toThrow(
      '--activations applies to --quantize int8 only',
    );
    expect(compressRequest('iris', { quantize: 'float16' }).source).toEqual({ name: 'iris' });
  });

  it('maps --prune with its fine-tune settings to a PruneSpec', () => {
    const request = compressRequest('iris@production', {
      prune: '80%',
      'pruning-steps': '40',
      'fine-tune-epochs': '3',
      scope: 'global',
      'batch-size': '16',
      lr: '0.001',
      optimizer: 'sgd',
      dataset: 'prep-7',
      'model-name': 'iris-small',
      seed: '42',
      'request-id': 'req-1',
    });
    expect(request).toEqual({
      source: { name: 'iris', alias: 'production' },
      prune: {
        targetSparsity: 0.8,
        fineTuneEpochs: 3,
        pruningSteps: 40,
        scope: 'global',
        config: {
          optimizer: { name: 'sgd', learningRate: 0.001, momentum: 0, nesterov: false },
          schedule: undefined,
          batchSize: 16,
          epochs: 0,
          seed: 0,
          earlyStopping: undefined,
          validationSplit: 0,
          workers: 0,
        },
      },
      preparedDatasetId: 'prep-7',
      modelName: 'iris-small',
      seed: 42,
      requestId: 'req-1',
    });
    expect(compressRequest('iris', { prune: '0.5' }).prune).toMatchObject({
      targetSparsity: 0.5,
      fineTuneEpochs: 0,
      pruningSteps: 0,
      scope: '',
    });
  });

  it('maps --distill to a DistillSpec with an MLP or CNN student and a training config, defaults filled', () => {
    const request = compressRequest('iris@2', {
      distill: true,
      'student-mlp': '32,16',
      temperature: '2.5',
      alpha: '0.3',
      epochs: '7',
      'batch-size': '8',
      lr: '0.01',
    });
    expect(request.distill).toEqual({
      student: { mlp: { hiddenUnits: [32, 16], activation: '', dropout: 0, batchNorm: false }, inputShape: [] },
      temperature: 2.5,
      alpha: 0.3,
      config: {
        optimizer: { name: '', learningRate: 0.01, momentum: 0, nesterov: false },
        schedule: undefined,
        batchSize: 8,
        epochs: 7,
        seed: 0,
        earlyStopping: undefined,
        validationSplit: 0,
        workers: 0,
      },
    });
    const cnn = compressRequest('fmnist', { distill: true, 'student-cnn': '8x3/16', 'student-input-shape': '28x28x1' })
      .distill!;
    expect(cnn.student).toMatchObject({
      cnn: { convBlocks: [{ filters: 8, kernelSize: 3 }], denseUnits: [16] },
      inputShape: [28, 28, 1],
    });
    expect([cnn.temperature, cnn.alpha, cnn.config?.epochs]).toEqual([4, 0.9, 10]);
    expect(compressRequest('iris', { distill: true, 'student-linear': true }).distill!.student?.linear).toEqual({});
  });

  it('maps --cluster to a ClusterSpec', () => {
    expect(
      compressRequest('iris@1', { cluster: '16', 'fine-tune-epochs': '2', 'cluster-init': 'linear' }).cluster,
    ).toMatchObject({
      clusters: 16,
      fineTuneEpochs: 2,
      init: 'linear',
      config: { epochs: 0, batchSize: 0 },
    });
  });

  it('rejects zero or two methods, naming them', () => {
    expect(() => compressRequest('iris', {})).toThrow(UsageError);
    expect(() => compressRequest('iris', {})).toThrow(
      'no compression method given: give exactly one of --quantize, --prune, --distill and --cluster',
    );
    expect(() => compressRequest('iris', { quantize: 'uint8', prune: '0.5' })).toThrow(
      '--quantize and --prune given together: give exactly one of --quantize, --prune, --distill and --cluster',
    );
    expect(() => compressRequest('iris', { quantize: 'uint8', distill: true, cluster: '8' })).toThrow(
      '--quantize, --distill and --cluster given together',
    );
  });

  it('rejects a bad dtype, sparsity, cluster count or weight, naming the flag', () => {
    expect(() => compressRequest('iris', { quantize: 'int4' })).toThrow(
      '--quantize int4: expected one of uint8, uint16, float16, int8',
    );
    for (const bad of ['0.8x', '1', '0', '120%', '-0.5', 'abc', '']) {
      expect(() => compressRequest('iris', { prune: bad })).toThrow(
        `--prune ${bad}: expected a sparsity between 0 and 1 such as 0.8, or a percentage such as 80%`,
      );
    }
    expect(() => compressRequest('iris', { cluster: '1' })).toThrow(
      '--cluster 1: expected a number of clusters of at least 2, e.g. 16',
    );
    expect(() => compressRequest('iris', { distill: true, 'student-mlp': '8', alpha: '1.5' })).toThrow(
      '--alpha 1.5: expected a weight from 0 to 1',
    );
    expect(() => compressRequest('iris', { distill: true, 'student-mlp': '8', temperature: '0' })).toThrow(
      '--temperature 0: expected a positive number',
    );
    expect(() => compressRequest('iris', { prune: '0.5', 'fine-tune-epochs': '-1' })).toThrow(
      '--fine-tune-epochs -1: expected a whole number from 0',
    );
    expect(() => compressRequest('iris', { quantize: 'uint8', seed: '5000000000' })).toThrow(
      '--seed 5000000000: expected a whole number from 0 to 4294967295',
    );
    expect(() => compressRequest('iris@', { quantize: 'uint8' })).toThrow(/^model reference "iris@"/);
  });

  it('rejects flags of another method and settings that cannot work', () => {
    expect(() => compressRequest('iris', { quantize: 'uint8', 'fine-tune-epochs': '2' })).toThrow(
      '--fine-tune-epochs applies to --prune and --cluster, not --quantize',
    );
    expect(() => compressRequest('iris', { prune: '0.5', temperature: '2' })).toThrow(
      '--temperature applies to --distill only, not --prune',
    );
    expect(() => compressRequest('iris', { quantize: 'uint8', 'per-channel': true })).toThrow(
      '--per-channel applies to --quantize int8 only (uint8 has one range per tensor)',
    );
    expect(() => compressRequest('iris', { quantize: 'int8', 'per-channel': true, 'per-tensor': true })).toThrow(
      'give one of --per-channel and --per-tensor, not both',
    );
    expect(() => compressRequest('iris', { prune: '0.5', 'pruning-steps': '10' })).toThrow(
      '--pruning-steps needs --fine-tune-epochs',
    );
    expect(() => compressRequest('iris', { distill: true })).toThrow(
      '--distill needs a student: give one of --student-mlp, --student-cnn and --student-linear',
    );
    expect(() => compressRequest('iris', { distill: true, 'student-mlp': '8', 'student-linear': true })).toThrow(
      'give exactly one of --student-mlp, --student-cnn and --student-linear',
    );
    expect(() => compressRequest('iris', { distill: true, 'student-mlp': '8,x' })).toThrow(
      '--student-mlp x: expected a positive integer',
    );
  });

  it('reads sparsities as fractions or percentages', () => {
    expect([parseSparsity('0.8'), parseSparsity('80%'), parseSparsity('.25'), parseSparsity('12.5%')]).toEqual([
      0.8, 0.8, 0.25, 0.125,
    ]);
  });
});

describe('reportTable', () => {
  it('lays out before, after and after/before for sizes, parameters, each metric and latency', () => {
    expect(reportTable(REPORT)).toBe(REPORT_LINES.join('\n'));
  });

  it('shows - for what was not measured, and for a ratio over 0', () => {
    const table = reportTable({
      before: { ...REPORT.before!, metrics: { rmse: 0.5 }, latencyMsBatch256: 0, nonzeroParameters: 0 },
      after: { ...REPORT.after!, metrics: { mae: 0.2 }, latencyMsBatch256: 0 },
    });
    expect(table).toMatch(/^non-zero parameters\s+0\s+40\s+-$/m);
    expect(table).toMatch(/^mae\s+-\s+0\.2\s+-$/m);
    expect(table).toMatch(/^rmse\s+0\.5\s+-\s+-$/m);
    expect(table).toMatch(/^latency b256 ms\s+-\s+-\s+-$/m);
  });
});

describe('compressionProgressText', () => {
  it('shows the phase message, or epochs, steps and metrics while fine-tuning', () => {
    expect(
      compressionProgressText(ProgressUpdate.fromPartial({ phase: 'measuring', message: 'measuring the source' })),
    ).toBe('measuring  measuring the source');
    expect(
      compressionProgressText(
        ProgressUpdate.fromPartial({
          phase: 'fine-tuning',
          epoch: 2,
          epochs: 4,
          step: 3,
          stepsPerEpoch: 12,
          metrics: { loss: 0.41, sparsity: 0.6 },
          message: 'x',
        }),
      ),
    ).toBe('fine-tuning  epoch 2/4  step 3/12  loss=0.41 sparsity=0.6');
  });
});

/** Canned progress of a job: two phases, two fine-tune epochs, the registration. */
function progressOf(id: string): ProgressUpdate[] {
  return [
    ProgressUpdate.fromPartial({ jobId: id, phase: 'measuring', message: 'measuring the source' }),
    ProgressUpdate.fromPartial({
      jobId: id,
      phase: 'fine-tuning',
      epoch: 1,
      epochs: 2,
      step: 5,
      stepsPerEpoch: 5,
      metrics: { loss: 0.5, sparsity: 0.4 },
    }),
    ProgressUpdate.fromPartial({
      jobId: id,
      phase: 'fine-tuning',
      epoch: 2,
      epochs: 2,
      step: 5,
      stepsPerEpoch: 5,
      metrics: { loss: 0.25, sparsity: 0.8 },
    }),
    ProgressUpdate.fromPartial({ jobId: id, phase: 'registering', message: 'registering a version of iris' }),
  ];
}

let server: grpc.Server;
let address: string;
const jobs = new Map<string, CompressionJob>();
const submitted: SubmitCompressionJobRequest[] = [];
const listRequests: { pageSize: number; state: JobState }[] = [];

function notFound(id: string): grpc.ServiceError {
  return { code: grpc.status.NOT_FOUND, details: `compression job "${id}" not found` } as grpc.ServiceError;
}

beforeAll(async () => {
  jobs.set(
    'cj-failed',
    CompressionJob.fromPartial({
      id: 'cj-failed',
      state: JobState.JOB_STATE_FAILED,
      request: { source: { name: 'iris', version: 1 }, cluster: { clusters: 4 } },
      createdAt: CREATED,
      error: 'the source has no tfjs-layers files',
    }),
  );
  server = new grpc.Server();
  server.addService(CompressionServiceService, {
    submitCompressionJob(
      call: grpc.ServerUnaryCall<SubmitCompressionJobRequest, CompressionJob>,
      callback: grpc.sendUnaryData<CompressionJob>,
    ) {
      submitted.push(call.request);
      const id = `cj-${submitted.length}`;
      // Submitted jobs finish at once in this fake: a watch replays their canned progress.
      jobs.set(
        id,
        CompressionJob.fromPartial({
          id,
          state: JobState.JOB_STATE_SUCCEEDED,
          request: call.request,
          createdAt: CREATED,
          progress: progressOf(id).at(-1),
          report: REPORT,
          modelVersion: { name: call.request.modelName || call.request.source!.name, version: 1 + submitted.length },
          attempts: 1,
          worker: 'w-1',
        }),
      );
      callback(
        null,
        CompressionJob.fromPartial({ id, state: JobState.JOB_STATE_QUEUED, request: call.request, createdAt: CREATED }),
      );
    },
    getCompressionJob(
      call: grpc.ServerUnaryCall<{ id: string }, CompressionJob>,
      callback: grpc.sendUnaryData<CompressionJob>,
    ) {
      const job = jobs.get(call.request.id);
      if (job === undefined) callback(notFound(call.request.id));
      else callback(null, job);
    },
    listCompressionJobs(
      call: grpc.ServerUnaryCall<{ pageSize: number; pageToken: string; state: JobState }, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) {
      listRequests.push(call.request);
      const all = [...jobs.values()].filter(
        (j) => call.request.state === JobState.JOB_STATE_UNSPECIFIED || j.state === call.request.state,
      );
      // One job a page: the CLI must follow the tokens.
      const start = Number(call.request.pageToken || '0');
      callback(null, {
        jobs: all.slice(start, start + 1),
        nextPageToken: start + 1 < all.length ? String(start + 1) : '',
      });
    },
    cancelCompressionJob(
      call: grpc.ServerUnaryCall<{ id: string }, CompressionJob>,
      callback: grpc.sendUnaryData<CompressionJob>,
    ) {
      const job = jobs.get(call.request.id);
      if (job === undefined) return callback(notFound(call.request.id));
      const cancelled = { ...job, state: JobState.JOB_STATE_CANCELLED };
      jobs.set(job.id, cancelled);
      callback(null, cancelled);
    },
    watchCompressionJob(call: grpc.ServerWritableStream<{ id: string }, ProgressUpdate>) {
      const job = jobs.get(call.request.id);
      if (job === undefined) return call.destroy(notFound(call.request.id));
      if (job.state === JobState.JOB_STATE_SUCCEEDED) for (const update of progressOf(job.id)) call.write(update);
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  address = `127.0.0.1:${port}`;
});

afterAll(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));

const aimaas = cliRunner(() => ({ env: { AIMAAS_COMPRESSION_ADDR: address } }));

describe('aimaas compress', () => {
  it('submits the job the options describe and says how to follow it', async () => {
    const result = await aimaas('compress', 'iris@1', '--quantize', 'int8', '--dataset', 'prep-1', '--seed', '3');
    expect(result).toEqual({
      code: 0,
      stdout: 'Submitted compression job cj-1 (queued).\n',
      stderr: 'Follow it with: aimaas compress jobs watch cj-1\n',
    });
    expect(submitted[0]).toMatchObject({
      source: { name: 'iris', version: 1 },
      quantize: { dtype: 'int8', perChannel: true, activations: '' },
      preparedDatasetId: 'prep-1',
      seed: 3,
    });
    const json = JSON.parse((await aimaas('--json', 'compress', 'iris', '--cluster', '8')).stdout);
    expect(json).toMatchObject({
      id: 'cj-2',
      state: 'JOB_STATE_QUEUED',
      request: { source: { name: 'iris' }, cluster: { clusters: 8 } },
    });
  });

  it('with --watch draws the live line on stderr, then prints the before/after report', async () => {
    const result = await aimaas(
      'compress',
      'iris@1',
      '--prune',
      '0.8',
      '--fine-tune-epochs',
      '2',
      '--model-name',
      'iris-sparse',
      '--watch',
      '--progress',
    );
    expect(result.code).toBe(0);
    const id = `cj-${submitted.length}`;
    const frames = result.stderr.split('\r');
    expect(frames[0]).toBe(`Submitted compression job ${id}.\n`);
    expect(frames.slice(1).map((f) => f.trimEnd())).toEqual([
      'compress  measuring  measuring the source',
      'compress  [############------------]  50%  fine-tuning  epoch 1/2  step 5/5  loss=0.5 sparsity=0.4',
      'compress  [########################] 100%  fine-tuning  epoch 2/2  step 5/5  loss=0.25 sparsity=0.8',
      'compress  registering  registering a version of iris',
    ]);
    expect(frames.at(-1)!.endsWith('\n')).toBe(true);
    expect(result.stdout).toBe(
      [
        `Job ${id} succeeded, registered iris-sparse@${1 + submitted.length}.`,
        ...REPORT_LINES,
        'Sizes of the tfjs-layers files; metrics on the test split.',
        '',
      ].join('\n'),
    );
  });

  it('with --watch --json prints the finished job only', async () => {
    const result = await aimaas('--json', 'compress', 'iris@1', '--quantize', 'float16', '--watch');
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toMatchObject({
      state: 'JOB_STATE_SUCCEEDED',
      report: { after: { sizeBytes: 1020 } },
    });
  });

  it('gives usage errors naming the flag, with the compress usage line', async () => {
    const none = await aimaas('compress', 'iris@1');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(
      /^error: no compression method given: give exactly one of --quantize, --prune, --distill and --cluster\nusage: aimaas compress <model>\[@version\|@alias\] \(--quantize/,
    );
    const dtype = await aimaas('compress', 'iris@1', '--quantize', 'int4');
    expect(dtype.code).toBe(2);
    expect(dtype.stderr.split('\n')[0]).toBe('error: --quantize int4: expected one of uint8, uint16, float16, int8');
    expect((await aimaas('compress', 'iris', '--prune', '0.5', '--quantize', 'uint8')).code).toBe(2);
    expect((await aimaas('compress')).stderr.split('\n')[0]).toBe('error: missing arguments: <model>[@version|@alias]');
    expect((await aimaas('compress', 'jobs')).stderr).toBe(
      'error: missing command after "compress jobs"\nusage: aimaas compress jobs list|show|watch|cancel [arguments] [options]\n',
    );
    expect((await aimaas('compress', 'jobs', 'frob')).stderr.split('\n')[0]).toBe(
      'error: unknown command "compress jobs frob"',
    );
    expect(submitted.length).toBe(4);
  });

  it('lists the jobs commands in its help, and compress in the general help', async () => {
    const help = await aimaas('compress', '--help');
    expect(help.stdout.split('\n')[0]).toMatch(
      /^usage: aimaas compress <model>\[@version\|@alias\] \[--quantize <dtype>\]/,
    );
    expect(help.stdout).toMatch(/^More compress commands:\n\s+compress jobs list\s+List compression jobs$/m);
    const general = await aimaas('--help');
    for (const command of [
      'compress <model>[@version|@alias]',
      'compress jobs list',
      'compress jobs show <id>',
      'compress jobs cancel <id>',
    ]) {
      expect(general.stdout).toContain(`\n  ${command} `);
    }
  });
});

describe('aimaas compress jobs', () => {
  it('lists jobs as a table across pages and filters by state', async () => {
    const all = await aimaas('compress', 'jobs', 'list', '--page-size', '1');
    expect(all.code).toBe(0);
    const lines = all.stdout.split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATE\s+SOURCE\s+METHOD\s+PHASE\s+RESULT\s+CREATED$/);
    expect(lines).toHaveLength(2 + jobs.size);
    expect(lines.find((l) => l.startsWith('cj-1 '))).toMatch(
      /^cj-1\s+succeeded\s+iris@1\s+quantize int8 per-channel\s+registering\s+iris@2\s+2025-03-01T12:00:00Z$/,
    );
    expect(lines.find((l) => l.startsWith('cj-failed '))).toMatch(
      /^cj-failed\s+failed\s+iris@1\s+cluster 4\s+-\s+-\s+2025-03-01T12:00:00Z$/,
    );
    expect(listRequests.at(-1)).toMatchObject({ pageSize: 1 });
    const failed = JSON.parse((await aimaas('--json', 'compress', 'jobs', 'list', '--state', 'failed')).stdout);
    expect(failed.jobs.map((j: { id: string }) => j.id)).toEqual(['cj-failed']);
    expect(listRequests.at(-1)).toMatchObject({ state: JobState.JOB_STATE_FAILED });
    expect((await aimaas('compress', 'jobs', 'list', '--state', 'sleeping')).stderr.split('\n')[0]).toBe(
      'error: --state sleeping: expected one of queued, running, succeeded, failed, cancelled',
    );
  });

  it('shows one job with its method, registered version and report', async () => {
    const shown = await aimaas('compress', 'jobs', 'show', 'cj-3');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^Job:\s+cj-3$/m);
    expect(shown.stdout).toMatch(/^Source:\s+iris@1$/m);
    expect(shown.stdout).toMatch(/^Method:\s+prune 0\.8$/m);
    expect(shown.stdout).toMatch(/^Fine-tune epochs:\s+2$/m);
    expect(shown.stdout).toMatch(/^Registered:\s+iris-sparse@4$/m);
    expect(shown.stdout).toMatch(/^Worker:\s+w-1$/m);
    expect(shown.stdout).toContain(`\n\n${REPORT_LINES.join('\n')}\n`);
    const missing = await aimaas('compress', 'jobs', 'show', 'nope');
    expect(missing).toMatchObject({ code: 1, stderr: 'error: NOT_FOUND: compression job "nope" not found\n' });
  });

  it('watches with --json as one ProgressUpdate a line', async () => {
    const watched = await aimaas('--json', 'compress', 'jobs', 'watch', 'cj-1');
    expect(watched.code).toBe(0);
    const lines = watched.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((u) => u.phase)).toEqual(['measuring', 'fine-tuning', 'fine-tuning', 'registering']);
    expect(lines[1]).toMatchObject({ jobId: 'cj-1', epoch: 1, epochs: 2, metrics: { sparsity: 0.4 } });
  });

  it('watching a failed job exits 1 with its error', async () => {
    const watched = await aimaas('compress', 'jobs', 'watch', 'cj-failed');
    expect(watched).toEqual({
      code: 1,
      stdout: 'Job cj-failed failed.\n',
      stderr: 'error: ABORTED: compression job cj-failed failed: the source has no tfjs-layers files\n',
    });
  });

  it('cancels a job', async () => {
    expect(await aimaas('compress', 'jobs', 'cancel', 'cj-2')).toEqual({
      code: 0,
      stdout: 'Job cj-2: cancelled.\n',
      stderr: '',
    });
    expect(JSON.parse((await aimaas('--json', 'compress', 'jobs', 'show', 'cj-2')).stdout).state).toBe(
      'JOB_STATE_CANCELLED',
    );
  });
});

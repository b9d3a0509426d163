#!/usr/bin/env node
// Seeds the demo model on a running mesh, through the public gRPC API (the typed SDK), as a user
// would: import iris, prepare it, train a small seeded MLP, point alias `production` at the
// registered version, deploy it as `iris` following that alias, and check one prediction.
// `npm start` runs it once on a new data dir; it writes the marker file (argv[2]) only when every
// step worked, so a failed seed is tried again on the next start.
// Usage: node scripts/seed-demo.mjs [marker-path]   (addresses from AIMAAS_<SERVICE>_ADDR)
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DataFormat,
  DeployRequest,
  DeploymentState,
  ImportHeader,
  JobState,
  PrepareDatasetRequest,
  SubmitTrainingJobRequest,
  Task,
} from '@aimaas/proto';
import { createClients } from '@aimaas/sdk';

const root = fileURLToPath(new URL('..', import.meta.url));
const markerPath = process.argv[2];
const IRIS_CSV = path.join(root, 'test', 'fixtures', 'iris.csv');
const NAME = 'iris';
const ALIAS = 'production';
const RECORD = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const FINAL_STATES = new Set([JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED]);

const say = (message) => console.log(`[demo] ${message}`);

/** Runs one step; a failure names the step it happened in. */
async function step(what, fn) {
  try {
    return await fn();
  } catch (error) {
    throw new Error(`${what} failed: ${error?.message ?? String(error)}`, { cause: error });
  }
}

async function importIris(preprocessing) {
  async function* requests() {
    yield {
      header: ImportHeader.fromPartial({
        name: NAME,
        format: DataFormat.DATA_FORMAT_CSV,
        description: 'Fisher’s iris (demo)',
      }),
    };
    for await (const chunk of createReadStream(IRIS_CSV, { highWaterMark: 64 * 1024 })) yield { chunk };
  }
  return preprocessing.importDataset(requests(), { deadlineMs: 60_000 });
}

/** Follows the job to its end (printing every 20th epoch), then returns it as it ended. */
async function trainToEnd(training, id) {
  let lastPrinted = 0;
  for await (const update of training.watchTrainingJob({ id }, { deadlineMs: 600_000 })) {
    if (
      update.epoch > 0 &&
      update.epoch % 20 === 0 &&
      update.epoch !== lastPrinted &&
      update.message.endsWith('done')
    ) {
      lastPrinted = update.epoch;
      const accuracy = update.metrics.val_accuracy ?? update.metrics.accuracy;
      say(
        `  epoch ${update.epoch}/${update.epochs}${accuracy === undefined ? '' : `, validation accuracy ${accuracy.toFixed(3)}`}`,
      );
    }
  }
  // The watch ends with the job; read the final state (retrying briefly while it is recorded).
  for (let attempt = 0; ; attempt++) {
    const job = await training.getTrainingJob({ id });
    if (FINAL_STATES.has(job.state) || attempt >= 50) return job;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Deploys `iris` following the alias, or reuses such a deployment (it hot-swaps to `version` itself). */
async function deployIris(inference, version) {
  try {
    return await inference.deploy(
      DeployRequest.fromPartial({ model: { name: NAME, alias: ALIAS }, servedName: NAME }),
      { deadlineMs: 120_000 },
    );
  } catch (error) {
    if (error?.code !== 'ALREADY_EXISTS') throw error;
  }
  const existing = await inference.getDeployment({ servedName: NAME });
  if (existing.model?.name !== NAME || existing.model?.alias !== ALIAS) {
    throw new Error(
      `a deployment named "${NAME}" already serves something else; undeploy it (npx aimaas undeploy ${NAME}) or start with --no-demo`,
    );
  }
  const end = Date.now() + 60_000;
  for (;;) {
    const deployment = await inference.getDeployment({ servedName: NAME });
    if (deployment.state === DeploymentState.DEPLOYMENT_STATE_READY && Number(deployment.version) === version)
      return deployment;
    if (Date.now() > end)
      throw new Error(
        `deployment "${NAME}" did not move to version ${version} within 60 s (${deployment.error || 'no error reported'})`,
      );
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * The registry may be shared (NATS_URL pointing at a team's server): never move the alias of an
 * `iris` model that the demo did not register.
 */
async function checkNotSomeoneElses(registry) {
  const { versions } = await registry.searchModelVersions({ filter: `name = "${NAME}"`, pageSize: 100 });
  const foreign = versions.find((v) => v.tags.demo !== 'true');
  if (foreign) {
    throw new Error(
      `a model "${NAME}" (version ${foreign.version}) that the demo did not register is in this registry; leaving it alone`,
    );
  }
}

async function main() {
  const clients = createClients({ actor: 'demo-seed' });
  try {
    say(`seeding the demo model "${NAME}" (skip with: npm start -- --no-demo)`);
    await step(`checking that any model "${NAME}" is the demo's`, () => checkNotSomeoneElses(clients.registry));
    const dataset = await step('importing the iris dataset', () => importIris(clients.preprocessing));
    say(`imported dataset ${dataset.name}@${dataset.version}: ${dataset.rows} rows`);
    const prepared = await step('preparing the dataset', () =>
      clients.preprocessing.prepareDataset(
        PrepareDatasetRequest.fromPartial({
          dataset: { name: dataset.name, version: dataset.version },
          target: 'species',
          task: Task.TASK_CLASSIFICATION,
          split: { train: 0.7, validation: 0.15, test: 0.15 },
          seed: 5,
        }),
        { deadlineMs: 60_000 },
      ),
    );
    say(`prepared ${prepared.id} (target species, classification)`);
    const submitted = await step('submitting the training job', () =>
      clients.training.submitTrainingJob(
        SubmitTrainingJobRequest.fromPartial({
          preparedDatasetId: prepared.id,
          modelName: NAME,
          model: { mlp: { hiddenUnits: [16, 16], activation: 'relu' } },
          config: { optimizer: { name: 'adam', learningRate: 0.01 }, batchSize: 16, epochs: 60, seed: 1 },
          description: 'Demo: an MLP 4-16-16-3 on iris, seeded by npm start',
          tags: { demo: 'true' },
        }),
        { deadlineMs: 30_000 },
      ),
    );
    say(`training job ${submitted.id}: an MLP 4-16-16-3, 60 epochs`);
    const job = await step(`training job ${submitted.id}`, () => trainToEnd(clients.training, submitted.id));
    if (job.state !== JobState.JOB_STATE_SUCCEEDED || !job.modelVersion) {
      throw new Error(
        `training job ${job.id} ended ${JobState[job.state] ?? job.state}: ${job.error || 'no model was registered'}`,
      );
    }
    const version = job.modelVersion.version;
    say(`registered ${NAME}@${version}, test accuracy ${(job.metrics.accuracy ?? Number.NaN).toFixed(3)}`);
    await step(`setting alias ${ALIAS}`, () => clients.registry.setAlias({ name: NAME, alias: ALIAS, version }));
    const deployment = await step(`deploying ${NAME}@${ALIAS}`, () => deployIris(clients.inference, version));
    if (deployment.state !== DeploymentState.DEPLOYMENT_STATE_READY) {
      throw new Error(`deployment "${NAME}" is ${DeploymentState[deployment.state]}: ${deployment.error}`);
    }
    say(`deployed ${NAME}@${ALIAS} (version ${deployment.version}) as "${NAME}"`);
    const prediction = await step('the first prediction', () =>
      clients.inference.predict(
        { servedName: NAME, records: { recordsJson: [JSON.stringify(RECORD)] } },
        { deadlineMs: 30_000 },
      ),
    );
    const label = prediction.classifications[0]?.label;
    if (!label) throw new Error('the first prediction returned no label');
    if (markerPath) {
      await mkdir(path.dirname(markerPath), { recursive: true });
      await writeFile(
        markerPath,
        `${JSON.stringify({ model: `${NAME}@${version}`, servedName: NAME, at: new Date().toISOString() })}\n`,
      );
    }
    say(`ready: ${JSON.stringify(RECORD)} → ${label}. Try it:`);
    console.log(`\n  npx aimaas predict ${NAME} --records '${JSON.stringify([RECORD])}'\n`);
  } finally {
    clients.close();
  }
}

main().catch((error) => {
  say(`seeding the demo model failed: ${error.message}`);
  process.exitCode = 1;
});

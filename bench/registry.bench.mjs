// Registry throughput beside its floors, measured in one run on this machine:
// - artifact upload/download MB/s through the registry vs a bare grpc-js stream of the same bytes;
// - metadata operations/s (GetModelVersion; SearchModelVersions over 10,000 versions) vs a bare
//   grpc-js unary echo.
import * as grpc from '@grpc/grpc-js';
import { createClients, uploadModelVersion, downloadModelArtifacts } from '@aimaas/sdk';
import { ModelVersionHeader } from '@aimaas/proto';
import { ECHO_SERVICE } from './echo-server.mjs';
import { startEchoServer, startService } from './processes.mjs';
import { fmt, measure, table, writeResult } from './report.mjs';

const MB = 1024 * 1024;
const TOTAL = Number(process.env.BENCH_ARTIFACT_MB ?? 256) * MB;
const CHUNK = 256 * 1024;
const VERSIONS = Number(process.env.BENCH_VERSIONS ?? 10_000);

const registryProcess = await startService('registry');
const echoServer = await startEchoServer();
const clients = createClients({ addresses: { registry: registryProcess.address } });
const registry = clients.registry;
const Echo = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
// The floor's channel gets the SDK clients' HTTP/2 window (8 MiB), so both carry the bytes under the
// same flow control.
const echo = new Echo(echoServer.address, grpc.credentials.createInsecure(), {
  'grpc.max_receive_message_length': 64 << 20,
  'grpc-node.flow_control_window': 8 << 20,
});
const chunk = Buffer.alloc(CHUNK, 7);

async function* chunks() {
  for (let sent = 0; sent < TOTAL; sent += CHUNK) yield chunk;
}

async function timed(fn) {
  const start = performance.now();
  await fn();
  return TOTAL / MB / ((performance.now() - start) / 1000);
}

const floorUpload = () =>
  timed(
    () =>
      new Promise((resolve, reject) => {
        const call = echo.upload((error) => (error ? reject(error) : resolve()));
        (async () => {
          for await (const piece of chunks()) if (!call.write(piece)) await new Promise((r) => call.once('drain', r));
          call.end();
        })();
      }),
  );
const floorDownload = () =>
  timed(async () => {
    const call = echo.download(Buffer.from(JSON.stringify({ total: TOTAL, chunk: CHUNK })));
    for await (const piece of call) void piece;
  });
let uploads = 0;
const registryUpload = () =>
  timed(() =>
    uploadModelVersion(registry, { name: 'bench-artifacts', createModel: true, tags: { run: String(uploads++) } }, [
      { path: 'blob.bin', format: 'other', source: chunks(), size: TOTAL },
    ]),
  );
const registryDownload = () =>
  timed(() => downloadModelArtifacts(registry, { ref: 'bench-artifacts', chunkSize: CHUNK }, { onChunk: () => {} }));

// Warm both paths once, then alternate runs so neither gets a quieter machine.
await floorUpload();
await registryUpload();
const runs = { floorUpload: [], registryUpload: [], floorDownload: [], registryDownload: [] };
for (let i = 0; i < 3; i += 1) {
  runs.floorUpload.push(await floorUpload());
  runs.registryUpload.push(await registryUpload());
  runs.floorDownload.push(await floorDownload());
  runs.registryDownload.push(await registryDownload());
}
const best = (values) => Math.max(...values);
const transfer = {
  upload: { floor: best(runs.floorUpload), registry: best(runs.registryUpload) },
  download: { floor: best(runs.floorDownload), registry: best(runs.registryDownload) },
};

// Metadata: seed VERSIONS versions across 20 models (no files), then measure.
const seedStart = performance.now();
let next = 0;
await registry.createRegisteredModel({ name: 'bench-meta-0' }).catch(() => {});
await Promise.all(
  Array.from({ length: 32 }, async () => {
    while (next < VERSIONS) {
      const i = next++;
      await registry.createModelVersion([
        {
          header: ModelVersionHeader.fromPartial({
            name: `bench-meta-${i % 20}`,
            createModel: true,
            metrics: { accuracy: (i % 1000) / 1000 },
            tags: { team: i % 3 === 0 ? 'vision' : 'nlp' },
            params: { lr: String(10 ** -(i % 4)) },
          }),
        },
      ]);
    }
  }),
);
const seedSeconds = (performance.now() - seedStart) / 1000;
const echoUnary = () =>
  new Promise((resolve, reject) => echo.echo(Buffer.alloc(64), (e) => (e ? reject(e) : resolve())));
const get = () =>
  registry.getModelVersion({ ref: { name: 'bench-meta-7', version: Math.max(1, Math.floor(VERSIONS / 40)) } });
const search = () =>
  registry.searchModelVersions({
    filter: 'metrics.accuracy > 0.9 AND tags.team = "vision"',
    orderBy: 'metrics.accuracy DESC',
    pageSize: 100,
  });
const metadata = {};
for (const concurrency of [1, 16]) {
  metadata[`echo c${concurrency}`] = await measure(echoUnary, { concurrency });
  metadata[`GetModelVersion c${concurrency}`] = await measure(get, { concurrency });
  metadata[`SearchModelVersions c${concurrency}`] = await measure(search, { concurrency });
}
const found = await search();

const transferRows = ['upload', 'download'].map((direction) => [
  direction,
  fmt(transfer[direction].floor),
  fmt(transfer[direction].registry),
  fmt(transfer[direction].registry / transfer[direction].floor, 2),
]);
const metaRows = [1, 16].flatMap((c) =>
  ['GetModelVersion', 'SearchModelVersions'].map((op) => {
    const m = metadata[`${op} c${c}`];
    const floor = metadata[`echo c${c}`];
    return [
      op,
      c,
      fmt(m.opsPerSecond, 0),
      fmt(m.p50, 2),
      fmt(m.p99, 2),
      fmt(floor.opsPerSecond, 0),
      fmt(m.opsPerSecond / floor.opsPerSecond, 2),
    ];
  }),
);
const markdown = [
  `Artifact transfer of ${TOTAL / MB} MiB in ${CHUNK / 1024} KiB chunks (best of 3), client → registry process → NATS object store, vs a bare grpc-js stream of the same bytes to an echo process. Target ≥ 0.7 of the floor.`,
  '',
  table(['direction', 'bare grpc-js MB/s', 'registry MB/s', 'ratio'], transferRows),
  '',
  `Metadata over ${fmt(VERSIONS, 0)} versions in 20 models (seeded at ${fmt(VERSIONS / seedSeconds, 0)} versions/s, 32 concurrent creates); the search matches ${found.totalSize} versions and returns a page of ${found.versions.length}. Floor: bare grpc-js unary echo at the same concurrency.`,
  '',
  table(['operation', 'concurrency', 'ops/s', 'p50 ms', 'p99 ms', 'echo ops/s', 'ratio'], metaRows),
].join('\n');
writeResult(process.argv[2] ?? 'registry.json', {
  title: 'Registry: artifact throughput and metadata operations',
  markdown,
  data: {
    transfer,
    runs,
    metadata,
    seedSeconds,
    versions: VERSIONS,
    totalBytes: TOTAL,
    registryPeakRssMb: registryProcess.service.peakRssMb(),
  },
});
echo.close();
clients.close();
await echoServer.stop();
await registryProcess.stop();

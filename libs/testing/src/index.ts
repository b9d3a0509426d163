export { startNatsServer, resolveNatsServerBin } from './nats-server.js';
export type { NatsServerOptions, TestNatsServer } from './nats-server.js';
export { freePort, fixturePath, repoRoot, waitFor, collect } from './test-helpers.js';
export type { WaitForOptions } from './test-helpers.js';
export { tamperObjectChunk } from './tamper.js';
export { streamBytes } from './tamper.js';
export { ProcessSuite, spawnService } from './service-process.js';
export type { SpawnedService } from './service-process.js';

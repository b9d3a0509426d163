export { startNatsServer, resolveNatsServerBin } from './nats-server.js';
export type { NatsServerOptions, TestNatsServer } from './nats-server.js';
export { freePort } from './free-port.js';
export { fixturePath, repoRoot } from './fixtures.js';
export { waitFor, collect } from './wait-for.js';
export type { WaitForOptions } from './wait-for.js';

#!/usr/bin/env node
/**
 * The `aimaas` executable: runs the CLI on this process's arguments and streams. When an OTLP
 * endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT), the command's client spans are exported,
 * so a CLI call and the services it reaches form one trace.
 */
import { initTelemetry } from '@aimaas/telemetry';
import { runCli } from './index.js';

const otlp = Boolean(process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
const telemetry = otlp ? initTelemetry({ serviceName: 'aimaas-cli' }) : undefined;

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
await telemetry?.shutdown();

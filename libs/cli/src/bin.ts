#!/usr/bin/env node
/** The `aimaas` executable: runs the CLI on this process's arguments and streams. */
import { runCli } from './index.js';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});

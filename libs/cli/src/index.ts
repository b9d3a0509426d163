/**
 * The `aimaas` command-line tool, runnable in-process for tests and scripts.
 *
 * @example
 * import { runCli } from '@aimaas/cli';
 * const exitCode = await runCli(['models', 'list'], { stdout: process.stdout, stderr: process.stderr });
 */
export { runCli, cliVersion, COMMAND_GROUPS } from './run-cli.js';
export { UsageError, parseKeyValues, parseKeyNumbers, parsePositiveInt, refArg } from './command.js';
export type {
  CliIo,
  CliWritable,
  CommandContext,
  CommandGroup,
  CommandSpec,
  OptionSpec,
  OptionValues,
} from './command.js';
export { formatTable, formatFields, formatBytes, formatDate, formatNumber, formatRecord } from './output/format.js';
export type { Column } from './output/format.js';
export { ProgressBar } from './output/progress-bar.js';
export { JobProgressBar, TrainingProgressBar, progressText, formatDuration } from './output/training-views.js';
export type { ProgressFrame } from './output/training-views.js';
export {
  CompressionProgressBar,
  compressionJobDetails,
  compressionJobsTable,
  compressionProgressText,
  methodText,
  reportTable,
  reportView,
} from './output/compression-views.js';
export { parseCsvRows, csvToRecords, csvValue, parseRecordsArg, parseRecordsFile } from './input/records.js';
export type { JsonRecord } from './input/records.js';
export { parseTensorArg, tensorValues } from './input/tensors.js';
export { datasetRefArg, parseSplit, prepareRequest } from './commands/datasets.js';
export { jobStateArg, modelSpecFromOptions, trainRequest } from './commands/train.js';
export type { ArchitectureFlags } from './commands/train.js';
export { compressRequest, parseSparsity, DISTILL_DEFAULTS, QUANTIZE_DTYPES } from './commands/compress.js';
export type { ProgressBarOptions } from './output/progress-bar.js';

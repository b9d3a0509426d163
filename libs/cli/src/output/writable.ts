/** Where the CLI writes: `process.stdout`/`process.stderr`, or anything with `write` in tests. */
export interface CliWritable {
  write(chunk: string): unknown;
  /** True when the stream is a terminal (progress bars are drawn only then, unless `--progress`). */
  isTTY?: boolean;
}

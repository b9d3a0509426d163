import type { CliWritable } from './writable.js';
import { formatBytes } from './format.js';

/** Options of {@link ProgressBar}. */
export interface ProgressBarOptions {
  /** Width of the bar itself in characters. @default 24 */
  barWidth?: number;
  /** Least time between two redraws, in ms (the last one is always drawn). @default 100 */
  redrawMs?: number;
  /** The clock, injectable for tests. @default Date.now */
  now?: () => number;
}

/**
 * A one-line byte progress bar on a stream (stderr), redrawn in place with `\r`:
 * `upload   [##########--------------]  42%  10.5 MB / 25 MB  8.1 MB/s`.
 *
 * @example
 * const bar = new ProgressBar(process.stderr, 'download');
 * bar.update(received, total);
 * bar.done();
 */
export class ProgressBar {
  private readonly barWidth: number;
  private readonly redrawMs: number;
  private readonly now: () => number;
  private readonly started: number;
  private lastDraw = -Infinity;
  private lastBytes = 0;
  private lastTotal: number | undefined;
  private lastLength = 0;
  private finished = false;

  constructor(
    private readonly stream: CliWritable,
    private readonly label: string,
    options: ProgressBarOptions = {},
  ) {
    this.barWidth = options.barWidth ?? 24;
    this.redrawMs = options.redrawMs ?? 100;
    this.now = options.now ?? Date.now;
    this.started = this.now();
  }

  /** Records progress; redraws when enough time passed or the total is reached. */
  update(bytes: number, total: number | undefined): void {
    if (this.finished) return;
    this.lastBytes = bytes;
    this.lastTotal = total;
    const time = this.now();
    if (time - this.lastDraw < this.redrawMs && bytes !== total) return;
    this.lastDraw = time;
    this.draw(time);
  }

  /** Draws the final state and ends the line. Idempotent. */
  done(): void {
    if (this.finished) return;
    this.draw(this.now());
    this.finished = true;
    this.stream.write('\n');
  }

  /** The line as it would be drawn now (without `\r`). */
  render(time = this.now()): string {
    const seconds = Math.max((time - this.started) / 1000, 0.001);
    const rate = `${formatBytes(this.lastBytes / seconds)}/s`;
    const total = this.lastTotal;
    if (total === undefined || total <= 0) {
      return `${this.label}  ${formatBytes(this.lastBytes)}  ${rate}`;
    }
    const fraction = Math.min(1, this.lastBytes / total);
    const filled = Math.round(fraction * this.barWidth);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(this.barWidth - filled)}]`;
    const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
    return `${this.label}  ${bar} ${percent}  ${formatBytes(this.lastBytes)} / ${formatBytes(total)}  ${rate}`;
  }

  private draw(time: number): void {
    const line = this.render(time);
    // Pad over the previous line's tail when the new one is shorter.
    const pad = ' '.repeat(Math.max(0, this.lastLength - line.length));
    this.lastLength = line.length;
    this.stream.write(`\r${line}${pad}`);
  }
}

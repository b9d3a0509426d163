import type { Logger } from '@aimaas/telemetry';

/** Options of {@link installSignalHandlers}. */
export interface SignalHandlerOptions {
  /** Logs the signal and any shutdown failure. @default undefined (silent) */
  logger?: Logger;
  /** The signals to handle. @default ['SIGTERM', 'SIGINT'] */
  signals?: readonly NodeJS.Signals[];
  /** How the process ends (tests replace it). @default process.exit */
  exit?: (code: number) => void;
  /**
   * The longest a shutdown may take: when it has not finished this long after the signal, the
   * process logs it and exits 1 all the same. @default undefined (waits for `shutdown`)
   */
  deadlineMs?: number;
}

/**
 * On the first SIGTERM or SIGINT runs `shutdown` once and exits 0 (1 if it throws). A second
 * signal while shutting down exits 1 at once: a second Ctrl-C is an impatient operator.
 * Returns a function that removes the handlers.
 *
 * @example
 * await server.listen();
 * installSignalHandlers(() => server.shutdown(), { logger });
 */
export function installSignalHandlers(
  shutdown: () => Promise<unknown> | unknown,
  options: SignalHandlerOptions = {},
): () => void {
  const signals = options.signals ?? (['SIGTERM', 'SIGINT'] as const);
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const { logger } = options;
  let shuttingDown = false;

  const onSignal = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      logger?.warn({ signal }, `${signal} received again: exiting without waiting`);
      exit(1);
      return;
    }
    shuttingDown = true;
    logger?.info({ signal }, `${signal} received: shutting down`);
    if (options.deadlineMs !== undefined) {
      const { deadlineMs } = options;
      setTimeout(() => {
        logger?.error({ deadlineMs }, `shutdown still running ${deadlineMs} ms after ${signal}: exiting without it`);
        exit(1);
      }, deadlineMs).unref();
    }
    Promise.resolve()
      .then(() => shutdown())
      .then(
        () => exit(0),
        (error: unknown) => {
          logger?.error({ err: error }, 'shutdown failed');
          exit(1);
        },
      );
  };

  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}

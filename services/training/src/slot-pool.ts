/** Gives a held slot back; calling it again does nothing. */
export type ReleaseSlot = () => void;

/**
 * The training slots of one worker (`workerConcurrency` of them), shared by the jobs it pulls and
 * the data-parallel gangs it follows, so a process never trains more at once than it was sized for.
 * Jobs wait for a slot in arrival order and go before gangs: a gang only gets a slot that is free
 * with no job waiting for it.
 */
export class SlotPool {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(readonly size: number) {
    this.#free = size;
  }

  /** Slots free right now. */
  get free(): number {
    return this.#free;
  }

  /** A slot if one is free and no job waits for one (a gang's offer), else undefined. */
  tryAcquire(): ReleaseSlot | undefined {
    if (this.#free === 0 || this.#waiting.length > 0) return undefined;
    this.#free--;
    return this.#releaser();
  }

  /**
   * A slot for a job, waiting while every slot is taken (by gangs this worker follows).
   *
   * @throws `signal.reason` when it aborts first.
   */
  async acquire(signal: AbortSignal): Promise<ReleaseSlot> {
    signal.throwIfAborted();
    if (this.#free > 0 && this.#waiting.length === 0) {
      this.#free--;
      return this.#releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const wake = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const at = this.#waiting.indexOf(wake);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(signal.reason);
      };
      this.#waiting.push(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    return this.#releaser();
  }

  #releaser(): ReleaseSlot {
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      // A waiting job takes the slot over directly, so no gang offer slips in between.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
  }
}

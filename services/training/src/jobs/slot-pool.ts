/** Gives a held slot back; calling it again does nothing. */
export type ReleaseSlot = () => void;

/** A slot offered to a data-parallel gang: reserved until it follows the gang or is released. */
export interface GangSlot {
  /** The gang took the offer: the slot now follows it until released (nothing once released). */
  follow(): void;
  release: ReleaseSlot;
}

/**
 * The training slots of one worker (`workerConcurrency` of them), shared by the jobs it pulls and
 * the data-parallel gangs it follows, so a process never trains more at once than it was sized for.
 * Jobs wait for a slot in arrival order and go before gangs: a gang only gets a slot that is free
 * with no job waiting for it.
 */
export class SlotPool {
  #free: number;
  #following = 0;
  readonly #waiting: Array<() => void> = [];
  readonly #listeners = new Set<() => void>();

  constructor(readonly size: number) {
    this.#free = size;
  }

  /** Slots free right now. */
  get free(): number {
    return this.#free;
  }

  /** True while gangs hold every slot: the worker should not pull jobs then. */
  get allFollowing(): boolean {
    return this.size > 0 && this.#following === this.size;
  }

  /** Calls `listener` after every change of {@link allFollowing}'s inputs; returns its remover. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A slot for a gang if one is free and no job waits for one, else undefined. */
  tryAcquire(): GangSlot | undefined {
    if (this.#free === 0 || this.#waiting.length > 0) return undefined;
    this.#free--;
    let following = false;
    let released = false;
    const release = this.#releaser(() => {
      released = true;
      if (following) this.#following--;
    });
    return {
      follow: () => {
        // A slot already given back (its reservation expired) must not count as following.
        if (following || released) return;
        following = true;
        this.#following++;
        this.#changed();
      },
      release,
    };
  }

  /**
   * A slot for a job, waiting while every slot is taken.
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

  /** Resolves once some slot is not following a gang (at once when one is not). */
  async untilNotAllFollowing(signal: AbortSignal): Promise<void> {
    if (!this.allFollowing || signal.aborted) return;
    await new Promise<void>((resolve) => {
      const check = () => {
        if (this.allFollowing && !signal.aborted) return;
        off();
        signal.removeEventListener('abort', check);
        resolve();
      };
      const off = this.onChange(check);
      signal.addEventListener('abort', check, { once: true });
    });
  }

  #releaser(onRelease?: () => void): ReleaseSlot {
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      onRelease?.();
      // A waiting job takes the slot over directly, so no gang offer slips in between.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
      this.#changed();
    };
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}

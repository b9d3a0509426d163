/**
 * Bytes that an object store's reads may have buffered at once. Each read asks the server for up
 * to `readAheadBytes` ahead of its reader; the server queues those bytes for the connection, and a
 * connection with more than its `max_pending` queued (64 MiB by default) is cut as a slow
 * consumer. Eight concurrent 8 MiB reads did exactly that and stalled for minutes, so reads take
 * their read-ahead from this budget first and wait, in arrival order, while it is spent.
 */
export class ReadBudget {
  #free: number;
  readonly #waiters: Array<{ bytes: number; grant: () => void }> = [];

  constructor(readonly totalBytes: number) {
    this.#free = totalBytes;
  }

  /** Bytes not taken by a read now. */
  get freeBytes(): number {
    return this.#free;
  }

  /**
   * Takes `bytes` (at most the whole budget) once they are free; resolves to the function that
   * gives them back (calling it twice gives back once). Rejects with the signal's reason if it
   * aborts first.
   */
  async take(bytes: number, signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    const wanted = Math.min(bytes, this.totalBytes);
    if (this.#waiters.length === 0 && this.#free >= wanted) {
      this.#free -= wanted;
      return this.#giveBack(wanted);
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        bytes: wanted,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        this.#grantWaiting();
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
    return this.#giveBack(wanted);
  }

  #giveBack(bytes: number): () => void {
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.#free += bytes;
      this.#grantWaiting();
    };
  }

  #grantWaiting(): void {
    while (this.#waiters.length > 0 && this.#free >= this.#waiters[0]!.bytes) {
      const next = this.#waiters.shift()!;
      this.#free -= next.bytes;
      next.grant();
    }
  }
}

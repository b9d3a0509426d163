import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** What {@link releaseFreedMemory} could do in this process. */
export interface MemoryRelease {
  /** A full garbage collection ran. */
  collected: boolean;
  /** glibc's `malloc_trim(0)` ran. */
  trimmed: boolean;
}

interface Releasers {
  gc: (() => void) | undefined;
  mallocTrim: ((pad: number) => number) | undefined;
}

let releasers: Releasers | undefined;

/** A full-GC function without `--expose-gc` on the command line (the way Jest gets one). */
function findGc(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  } finally {
    // The function stays usable; new contexts (and this process's globals) do not get `gc`.
    setFlagsFromString('--no-expose-gc');
  }
}

/** glibc's malloc_trim through koffi (an optional dependency); undefined elsewhere (musl, macOS, Windows). */
function findMallocTrim(): ((pad: number) => number) | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as {
      load(path: string): { func(signature: string): (pad: number) => number };
    };
    return koffi.load('libc.so.6').func('int malloc_trim(size_t pad)');
  } catch {
    return undefined;
  }
}

/**
 * Hands the memory an unloaded model used back to the operating system, so the process's resident
 * memory goes back down after Undeploy or a hot swap instead of staying at its peak:
 * 1. a full garbage collection, so JavaScript buffers the load used are freed now rather than at
 *    some later collection of an idle process;
 * 2. `malloc_trim(0)`, so what ONNX Runtime and the collection freed leaves the process: glibc keeps
 *    freed blocks in its free lists (its mmap threshold grows after the first large free, so later
 *    model-sized blocks come from its heaps), and only a trim returns those pages.
 *
 * Each step is skipped where it is unavailable. It pauses the event loop for one full collection,
 * so call it after rare events (unloading a model), never per request.
 */
export function releaseFreedMemory(): MemoryRelease {
  const { gc, mallocTrim } = (releasers ??= { gc: findGc(), mallocTrim: findMallocTrim() });
  gc?.();
  mallocTrim?.(0);
  // Native buffers behind collected ArrayBuffers are freed by finalizers V8 runs after the
  // collection, as later tasks: on a busy process some ran after the trim above and their memory
  // stayed resident. One more trim shortly after returns it.
  if (mallocTrim) setTimeout(() => mallocTrim(0), TRIM_AGAIN_MS).unref();
  return { collected: gc !== undefined, trimmed: mallocTrim !== undefined };
}

/** When the second trim runs after a release. */
const TRIM_AGAIN_MS = 500;

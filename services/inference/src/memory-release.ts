import { createRequire } from 'node:module';

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

/**
 * The full-GC function `node --expose-gc` gives (the launcher, the Dockerfile and the tests start
 * inference with it); undefined without the flag. Flipping V8 flags at run time is documented as
 * unsafe, so this never does.
 */
function findGc(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  return typeof exposed === 'function' ? exposed : undefined;
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

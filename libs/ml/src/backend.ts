import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { BackendUnavailableError } from './errors.js';
import { registerWasmTrainingKernels } from './wasm-kernels.js';

/** What `AIMAAS_TF_BACKEND` may say. `auto` takes the fastest backend that loads. */
export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

/** The TF.js backend in use, for logging and for the service's ServerMetadata. */
export interface BackendInfo {
  /** The TF.js backend name now active: `tensorflow`, `wasm` or `cpu`. */
  readonly backend: 'tensorflow' | 'wasm' | 'cpu';
  /** What was asked for. */
  readonly requested: BackendChoice;
  /** The npm package providing the backend. */
  readonly packageName: string;
  /** Version of `@tensorflow/tfjs-core` in use. */
  readonly tfjsVersion: string;
  /** wasm only: whether the SIMD build was loaded. */
  readonly simd?: boolean;
  /** wasm only: whether the multi-threaded build was loaded (never, in Node). */
  readonly multiThreaded?: boolean;
  /** Backends that `auto` tried before this one, and why each was skipped. */
  readonly skipped: ReadonlyArray<{ readonly packageName: string; readonly reason: string }>;
}

const CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu'];
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;
const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';

const infoCache = new Map<BackendChoice, BackendInfo>();
let inFlight: Promise<BackendInfo> | undefined;
let wasmPrepared = false;

/**
 * Selects and initializes the TF.js backend, then returns what is in use.
 *
 * - `auto`: `@tensorflow/tfjs-node-gpu`, then `@tensorflow/tfjs-node` (optional packages, absent
 *   in most installs), else the wasm backend (SIMD, one thread, `.wasm` files resolved from the
 *   installed package so any working directory works), else the pure-JS `cpu` backend.
 * - `tensorflow`: one of the native packages or a `BackendUnavailableError`.
 * - `wasm` / `cpu`: exactly that backend.
 *
 * Idempotent: calling again with the same choice returns the cached info without re-initializing;
 * a different choice switches the active backend (variables are not migrated, so switch before
 * building models). On wasm it also registers the training kernels the wasm backend lacks.
 *
 * @param choice defaults to `process.env.AIMAAS_TF_BACKEND`, then `auto`.
 * @throws TypeError when `choice` is not one of `auto|tensorflow|wasm|cpu`.
 * @throws BackendUnavailableError when an explicitly requested backend cannot be loaded.
 * @example
 * const info = await initBackend();        // e.g. { backend: 'wasm', simd: true, … }
 * logger.info(info, 'tfjs backend ready');
 */
export async function initBackend(choice: string = process.env.AIMAAS_TF_BACKEND ?? 'auto'): Promise<BackendInfo> {
  const requested = parseChoice(choice);
  // Serialize: two concurrent callers must not both switch backends half-way.
  while (inFlight) await inFlight.catch(() => undefined);
  const cached = infoCache.get(requested);
  if (cached && tf.getBackend() === cached.backend) return cached;
  inFlight = select(requested);
  try {
    const info = await inFlight;
    infoCache.set(requested, info);
    return info;
  } finally {
    inFlight = undefined;
  }
}

function parseChoice(choice: string): BackendChoice {
  const normalized = choice.trim().toLowerCase();
  if (normalized === '') return 'auto';
  if (!(CHOICES as readonly string[]).includes(normalized)) {
    throw new TypeError(`AIMAAS_TF_BACKEND must be one of ${CHOICES.join('|')}, got ${JSON.stringify(choice)}`);
  }
  return normalized as BackendChoice;
}

async function select(requested: BackendChoice): Promise<BackendInfo> {
  const skipped: Array<{ packageName: string; reason: string }> = [];
  if (requested === 'auto' || requested === 'tensorflow') {
    for (const packageName of NATIVE_PACKAGES) {
      try {
        await activateNative(packageName);
        return describe('tensorflow', requested, packageName, skipped);
      } catch (error) {
        skipped.push({ packageName, reason: reasonOf(error) });
      }
    }
    if (requested === 'tensorflow') {
      throw new BackendUnavailableError(
        `AIMAAS_TF_BACKEND=tensorflow needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu: ` +
          skipped.map((s) => `${s.packageName}: ${s.reason}`).join('; '),
      );
    }
  }
  if (requested === 'auto' || requested === 'wasm') {
    try {
      await activateWasm();
      return describe('wasm', requested, WASM_PACKAGE, skipped);
    } catch (error) {
      if (requested === 'wasm') {
        throw new BackendUnavailableError(`the wasm backend failed to start: ${reasonOf(error)}`, {
          cause: error,
        });
      }
      skipped.push({ packageName: WASM_PACKAGE, reason: reasonOf(error) });
    }
  }
  if (!(await tf.setBackend('cpu'))) {
    throw new BackendUnavailableError('the cpu backend failed to initialize');
  }
  await tf.ready();
  return describe('cpu', requested, '@tensorflow/tfjs-backend-cpu', skipped);
}

async function activateNative(packageName: string): Promise<void> {
  // A variable specifier keeps TypeScript from requiring the optional package's types.
  const specifier: string = packageName;
  await import(specifier);
  if (tf.findBackendFactory('tensorflow') == null) {
    throw new Error(
      'loaded, but registered its backend with another copy of @tensorflow/tfjs-core ' +
        '(install the same version as @tensorflow/tfjs)',
    );
  }
  if (!(await tf.setBackend('tensorflow'))) throw new Error('backend failed to initialize');
  await tf.ready();
}

async function activateWasm(): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (!wasmPrepared) {
    // Node runs the single-threaded build; the threaded one needs browser workers.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    try {
      wasm.setWasmPaths(wasmDistDir());
    } catch {
      // Someone started the wasm backend before us; it found its binaries, so keep it.
    }
    wasmPrepared = true;
  }
  if (!(await tf.setBackend('wasm'))) throw new Error('backend failed to initialize');
  await tf.ready();
  registerWasmTrainingKernels();
}

/** The folder holding `tfjs-backend-wasm*.wasm`, wherever the package is installed. */
function wasmDistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve(WASM_PACKAGE)), '/');
}

async function describe(
  backend: BackendInfo['backend'],
  requested: BackendChoice,
  packageName: string,
  skipped: BackendInfo['skipped'],
): Promise<BackendInfo> {
  const base = { backend, requested, packageName, tfjsVersion: tf.version_core, skipped };
  if (backend !== 'wasm') return base;
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  const multiThreaded = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
  return { ...base, simd, multiThreaded };
}

function reasonOf(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return 'not installed';
  }
  return error instanceof Error ? error.message : String(error);
}

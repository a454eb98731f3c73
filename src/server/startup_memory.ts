// Idle footprint. Two things dominate what a freshly started node holds that it does not need:
//
// - Type stripping. Every isolate that compiles a `.ts` module instantiates Node's TypeScript
//   stripper (a WebAssembly module, ~17 MB resident per isolate: main thread, each routing worker,
//   the JetStream worker). Node's compile cache keeps the stripped output and V8's code cache on
//   disk, so from the second start on no isolate instantiates the stripper at all, and modules
//   compile faster. Workers read NODE_COMPILE_CACHE from their environment when they start, so
//   setting it in the main thread before the workers start covers them; bin/nats-server sets it
//   before Node starts, which covers the main thread too.
// - Start-up garbage. Loading modules and recovering streams grows each isolate's young
//   generation (several MB each) and leaves old-space pages fragmented; V8 keeps them until a
//   memory-reducing collection, which Node never asks for on its own. One such collection shortly
//   after start gives them back. Under load the heap grows again as it needs to.

import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';

/** Where the compile cache lives unless NODE_COMPILE_CACHE says otherwise. */
export const COMPILE_CACHE_DIR = path.join(os.tmpdir(), 'petrel-compile-cache');
/** Long enough for start-up work (recovery, first connections) to settle, short enough to be idle soon. */
const RELEASE_DELAY_MS = 1_000;

/** Makes worker threads started after this call use the compile cache. */
export function useCompileCache(): void {
  if (process.env['NODE_DISABLE_COMPILE_CACHE'] === undefined) process.env['NODE_COMPILE_CACHE'] ??= COMPILE_CACHE_DIR;
}

type GcFunction = (opts: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;
let gcFunction: GcFunction | null | undefined;

function memoryReducingGc(): GcFunction | null {
  if (gcFunction !== undefined) return gcFunction;
  try {
    // The flag only exposes `gc` to contexts created after it is set: a fresh context picks it up.
    v8.setFlagsFromString('--expose-gc');
    gcFunction = vm.runInNewContext('gc') as GcFunction;
  } catch {
    gcFunction = null;
  }
  return gcFunction;
}

/**
 * Asks this isolate (main thread or worker) for one memory-reducing collection once start-up has
 * settled. The timer does not keep the process alive.
 */
export function releaseStartupMemory(delayMs = RELEASE_DELAY_MS): void {
  setTimeout(() => memoryReducingGc()?.({ type: 'major', execution: 'sync', flavor: 'last-resort' }), delayMs).unref();
}

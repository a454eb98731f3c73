// Idle footprint. Three things dominate what a freshly started node holds that it does not need:
//
// - Isolates. Each thread costs ~10 MB idle: V8's heap with its own copy of every module it loads,
//   a malloc arena, a stack. So there is one per routing worker and the main thread, which also
//   hosts JetStream (server.ts); modules a node does not use are not loaded: the JetStream
//   cluster on a single node, route/gateway/leaf code in workers of a node without links
//   (cluster/worker_links.ts), node:tls without TLS (tls_module.ts), node:http until the first
//   monitoring request, piscina until the first bcrypt hash, undici behind node:http's ESM facade.
// - Type stripping. Every isolate that compiles a `.ts` module instantiates Node's TypeScript
//   stripper (a WebAssembly module, ~17 MB resident per isolate: the main thread and each routing
//   worker). Node's compile cache keeps the stripped output and V8's code cache on
//   disk, so from the second start on no isolate instantiates the stripper at all, and modules
//   compile faster. Workers read NODE_COMPILE_CACHE from their environment when they start, so
//   setting it in the main thread before the workers start covers them; bin/nats-server sets it
//   before Node starts, which covers the main thread too.
// - Garbage left by bursts. Loading modules and recovering streams at start, and any burst of
//   traffic later, grow each isolate's young generation (up to tens of MB) and leave old-space
//   pages fragmented; V8 keeps them until a memory-reducing collection, which Node never asks for
//   on its own (browsers do, when idle). So each isolate asks for one shortly after start, and
//   again whenever its event loop has gone quiet after its heap grew. Under load the heap grows
//   again as it needs to; a quiet loop is measured, not guessed (event-loop utilisation).

import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';

/** Where the compile cache lives unless NODE_COMPILE_CACHE says otherwise. */
export const COMPILE_CACHE_DIR = path.join(os.tmpdir(), 'petrel-compile-cache');
/** Long enough for start-up work (recovery, first connections) to settle, short enough to be idle soon. */
const RELEASE_DELAY_MS = 1_000;
/** How often an isolate looks at whether it went quiet. */
const IDLE_CHECK_MS = 2_000;
/** Quiet: the event loop was busy less than this fraction of the last check interval. */
const IDLE_UTILISATION = 0.02;
/** Worth a collection: the heap holds this much more than after the previous one. */
const REGROWTH_BYTES = 8 * 1024 * 1024;

/**
 * Calls before V8 optimises a function with TurboFan, its top tier (V8's default is 3,000). Start-up
 * runs Node's module resolution a few thousand times (path normalisation, URL parsing: one
 * resolution per import of ~180 modules); at the default that pulls TurboFan in during start-up,
 * and its code, several MB of the node binary, then stays resident in an idle node. Code that
 * serves traffic is called far more often than this, so it is optimised all the same, a fraction
 * of a second later under load.
 */
const TURBOFAN_INVOCATIONS = 30_000;

/**
 * Keeps V8's optimising tier out of start-up (see TURBOFAN_INVOCATIONS). Set before anything but
 * the entry's own imports is loaded, so every start sets it at the same point and the compile
 * cache (which checks V8's flags) stays valid from one start to the next.
 */
export function deferTopTierCompiler(): void {
  v8.setFlagsFromString(`--invocation-count-for-turbofan=${TURBOFAN_INVOCATIONS}`);
}

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
 * Asks this isolate (main thread or worker) for a memory-reducing collection once start-up has
 * settled, and again each time it is quiet after its heap grew. The timers do not keep the
 * process alive.
 */
export function releaseIdleMemory(delayMs = RELEASE_DELAY_MS): void {
  let trimmedAt = 0;
  const trim = (): void => {
    const gc = memoryReducingGc();
    if (gc === null) return;
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    trimmedAt = v8.getHeapStatistics().total_physical_size;
  };
  setTimeout(() => {
    trim();
    let last = performance.eventLoopUtilization();
    setInterval(() => {
      const now = performance.eventLoopUtilization();
      const quiet = performance.eventLoopUtilization(now, last).utilization < IDLE_UTILISATION;
      last = now;
      if (quiet && v8.getHeapStatistics().total_physical_size > trimmedAt + REGROWTH_BYTES) trim();
    }, IDLE_CHECK_MS).unref();
  }, delayMs).unref();
}

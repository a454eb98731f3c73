// Routing worker threads start here. The command line starts the first one before it loads the
// rest of the server (prewarmRoutingWorker), so that thread loads its modules on another core
// while the main thread loads config, logging and JetStream; the server then hands it its
// start-up state in a message instead of as workerData.

import { Worker } from 'node:worker_threads';
import type { WorkerInit } from './worker_host.ts';

const WORKER_ENTRY = new URL('../../workers/router.ts', import.meta.url);

/** The message that gives a prewarmed worker its start-up state. */
export interface WorkerInitMessage {
  t: 'init';
  init: WorkerInit;
}

let prewarmed: { worker: Worker; failed: boolean } | null = null;

/** Starts routing worker 0 ahead of its start-up state; it waits for it (startRoutingWorker). */
export function prewarmRoutingWorker(): void {
  if (prewarmed) return;
  const worker = new Worker(WORKER_ENTRY, { workerData: null, name: 'petrel-router-0' });
  const entry = { worker, failed: false };
  // Until the server takes it, nothing else listens: a thread that cannot even load is replaced
  // by a fresh one at take-over, whose failure the server then reports as any worker's.
  worker.once('error', () => (entry.failed = true));
  // A process that never starts a server (--help, a bad flag) must not wait for it.
  worker.unref();
  prewarmed = entry;
}

/** A routing worker running `init`: the prewarmed one for worker 0 when there is one. */
export function startRoutingWorker(init: WorkerInit): Worker {
  const warm = init.index === 0 ? prewarmed : null;
  if (warm) {
    prewarmed = null;
    if (!warm.failed) {
      warm.worker.ref();
      warm.worker.postMessage({ t: 'init', init } satisfies WorkerInitMessage);
      return warm.worker;
    }
    void warm.worker.terminate();
  }
  return new Worker(WORKER_ENTRY, { workerData: init, name: `petrel-router-${init.index}` });
}

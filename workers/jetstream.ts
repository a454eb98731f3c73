// Entry point of the JetStream worker thread: everything it does lives in JetStreamHost.
import { parentPort, workerData } from 'node:worker_threads';
import { JetStreamHost } from '../src/server/jetstream_host.ts';
import type { WorkerInit } from '../src/server/worker_host.ts';
import { releaseIdleMemory } from '../src/server/idle_memory.ts';

if (!parentPort) throw new Error('workers/jetstream.ts must run as a worker thread');
const host = new JetStreamHost(parentPort, workerData as WorkerInit);
host
  .start()
  .then(() => {
    parentPort!.postMessage({ t: 'ready' });
    releaseIdleMemory();
  })
  .catch((err: unknown) => {
    // The main thread turns a failed start into a fatal error with this message.
    throw err;
  });

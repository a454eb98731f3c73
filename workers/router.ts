// Entry point of a routing worker thread: everything it does lives in WorkerHost.
import { parentPort, workerData } from 'node:worker_threads';
import { WorkerHost } from '../src/server/worker_host.ts';
import type { WorkerInit } from '../src/server/worker_host.ts';
import { releaseIdleMemory } from '../src/server/idle_memory.ts';

if (!parentPort) throw new Error('workers/router.ts must run as a worker thread');
new WorkerHost(parentPort, workerData as WorkerInit);
parentPort.postMessage({ t: 'ready' });
releaseIdleMemory();

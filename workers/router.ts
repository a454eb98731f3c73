// Entry point of a routing worker thread: everything it does lives in WorkerHost. A worker
// started ahead of the server (worker_spawn.ts) gets its start-up state in its first message.
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { hasLinks, WorkerHost } from '../src/server/worker_host.ts';
import type { WorkerInit } from '../src/server/worker_host.ts';
import type { WorkerInitMessage } from '../src/server/worker_spawn.ts';
import { releaseIdleMemory } from '../src/server/idle_memory.ts';

function initMessage(port: MessagePort): Promise<WorkerInit> {
  return new Promise((resolve) => {
    const on = (m: WorkerInitMessage) => {
      if (m?.t !== 'init') return;
      port.off('message', on);
      resolve(m.init);
    };
    port.on('message', on);
  });
}

if (!parentPort) throw new Error('workers/router.ts must run as a worker thread');
const init = (workerData as WorkerInit | null) ?? (await initMessage(parentPort));
// The link modules only when the node has links: a single node's workers load none of them.
const links = hasLinks(init) ? await import('../src/cluster/worker_links.ts') : null;
new WorkerHost(parentPort, init, links);
parentPort.postMessage({ t: 'ready' });
releaseIdleMemory();

// The cross-node scenarios: three nodes of one server kind — Petrel, or the Go nats-server —
// started by the `npm run cluster` launcher in the same shape (every node routes to the other two,
// JetStream off), the publisher or requester always on n1 and the subscribers where each scenario
// puts them, so every measured message crosses a route.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeBasePort, launchCluster } from '../../src/tools/cluster_launcher.ts';
import type { Placement, ThroughputScenario } from './scenarios.ts';
import { serverCommand } from './servers.ts';
import type { ServerSpec } from './servers.ts';

export const CLUSTER_NODES = 3;
/** Three nodes start (and mesh) in a couple of seconds; a loaded machine may take longer. */
const CLUSTER_START_MS = 60_000;
/** A subscription reaches the other nodes within milliseconds; past this the scenario fails. */
const INTEREST_BOUND_MS = 10_000;
const INTEREST_POLL_MS = 20;

/** Scenario ids of the cross-node group, in run order (`--only cluster` selects them all). */
export const CLUSTER_IDS = ['xpubsub16', 'xpubsub1k', 'xfanout', 'xqueue', 'xreqrep'] as const;

export const CROSS_NODE: ThroughputScenario[] = [
  { id: 'xpubsub16', title: 'n1 → n2 pub/sub 16 B', subject: 'bench.x16', size: 16, subscribers: 1, subServer: () => 1 },
  { id: 'xpubsub1k', title: 'n1 → n2 pub/sub 1 KiB', subject: 'bench.x1k', size: 1024, subscribers: 1, subServer: () => 1 },
  // Three subscribers on each node: n1's get the message locally, n2's and n3's over their route.
  { id: 'xfanout', title: 'fan-out n1 → 3 per node', subject: 'bench.xfan', size: 16, subscribers: 9, subServer: (i) => i % CLUSTER_NODES },
  // No member on n1: both servers give a queue message to a member on the publishing node when
  // there is one, so a member there would take everything and nothing would cross a route.
  {
    id: 'xqueue',
    title: 'queue of 4 on n2+n3, 16 B',
    subject: 'bench.xq',
    size: 16,
    subscribers: 4,
    queue: 'workers',
    exactlyOnce: true,
    subServer: (i) => 1 + (i % 2),
  },
];

/** Request/reply across nodes: the responder on n2, the requester on n1. */
export const CROSS_NODE_RESPONDER = 1;

export interface RunningCluster extends Placement {
  stop(): Promise<void>;
  /** The last lines of every node's log, node by node. */
  logTail(lines?: number): string;
}

interface RoutezRoute {
  remote_id: string;
  subscriptions_list?: string[];
}

/** Three nodes of the spec's server kind on free 127.0.0.1 ports, meshed, in a temp dir removed on stop. */
export async function startCluster(spec: ServerSpec): Promise<RunningCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-bench-cluster-'));
  let cluster;
  try {
    cluster = await launchCluster({
      nodes: CLUSTER_NODES,
      dir,
      basePort: await freeBasePort(CLUSTER_NODES),
      command: serverCommand(spec),
      jetstream: false,
      readyTimeoutMs: CLUSTER_START_MS,
    });
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const nodes = cluster.nodes;
  const monitor = async <T>(node: number, p: string): Promise<T> => (await (await fetch(`${nodes[node]!.monitorUrl}${p}`)).json()) as T;
  let ids: string[];
  try {
    ids = await Promise.all(nodes.map(async (_, i) => (await monitor<{ server_id: string }>(i, '/varz')).server_id));
  } catch (e) {
    await cluster.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    servers: nodes.map((n) => ({ host: '127.0.0.1', port: n.ports.client })),
    pids: nodes.map((n) => n.pid),
    async interest(subject, at, from) {
      if (at === from) return;
      const deadline = Date.now() + INTEREST_BOUND_MS;
      for (;;) {
        const { routes } = await monitor<{ routes?: RoutezRoute[] }>(at, '/routez?subs=1');
        if ((routes ?? []).some((r) => r.remote_id === ids[from] && r.subscriptions_list?.includes(subject))) return;
        if (Date.now() > deadline) throw new Error(`${nodes[at]!.name} did not learn of ${nodes[from]!.name}'s interest in ${subject} within ${INTEREST_BOUND_MS} ms`);
        await new Promise((r) => setTimeout(r, INTEREST_POLL_MS));
      }
    },
    logTail(lines = 20) {
      return nodes
        .map((n) => {
          let text = '';
          try {
            text = fs.readFileSync(n.logFile, 'utf8').split('\n').slice(-lines).join('\n');
          } catch {
            // No log yet.
          }
          return `--- ${n.name}\n${text}`;
        })
        .join('\n');
    },
    async stop() {
      await cluster.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

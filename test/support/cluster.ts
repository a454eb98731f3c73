// Clusters for tests: Petrel nodes (and Go nats-server nodes, when installed) as processes on
// free ports in temp dirs, joined by routes, always stopped by pid. A node's config is generated
// from its spec; the cluster port is `-1` and learned from the ports file.

import fs from 'node:fs';
import { startServer, monitor } from './server.ts';
import type { RunningServer } from './server.ts';

/** The Go reference server (Debian's nats-server 2.9.10). */
export const GO_SERVER = '/usr/sbin/nats-server';
export const HAS_GO = fs.existsSync(GO_SERVER);

/** How long a cluster may take to form before a test fails (bounds a failure, not a race). */
const FORM_BOUND_MS = 15_000;
const POLL_MS = 50;

export interface NodeSpec {
  name: string;
  go?: boolean;
  workers?: number;
  /** Routes to dial (nats-route://...). */
  routes?: string[];
  /** Default 'c1'; '' configures none (a dynamic name). */
  clusterName?: string;
  /** Extra lines inside cluster { }. */
  clusterExtra?: string;
  /** Extra top-level config lines. */
  config?: string;
  /** Reuse a directory (a restart). */
  dir?: string;
  /** A fixed cluster port (a restart on the same address). */
  clusterPort?: number;
}

export interface ClusterNode extends RunningServer {
  readonly name: string;
  readonly go: boolean;
  /** nats-route://127.0.0.1:<cluster port> */
  readonly routeUrl: string;
}

/** The accounts every test cluster has: a system-account user and an application account. */
export const TEST_ACCOUNTS = 'accounts { "$SYS": { users: [ { user: sys, password: sys } ] }, APP: { users: [ { user: app, password: app } ] } }';

export async function startNode(spec: NodeSpec): Promise<ClusterNode> {
  const routes = spec.routes?.length ? `routes: [${spec.routes.map((r) => JSON.stringify(r)).join(', ')}]` : '';
  const config = [
    `server_name: ${spec.name}`,
    `cluster {\n  ${spec.clusterName === '' ? '' : `name: ${spec.clusterName ?? 'c1'}`}\n  listen: "127.0.0.1:${spec.clusterPort ?? -1}"\n  ${routes}\n  ${spec.clusterExtra ?? ''}\n}`,
    spec.config ?? '',
  ].join('\n');
  const srv = await startServer({ config, workers: spec.workers ?? 2, dir: spec.dir, binary: spec.go ? GO_SERVER : undefined });
  return Object.assign(srv, { name: spec.name, go: spec.go ?? false, routeUrl: `nats-route://127.0.0.1:${srv.clusterPort}` });
}

/** Route count and the remote server names a node reports on /routez. */
export async function routesOf(node: RunningServer): Promise<{ num: number; names: string[]; ids: string[] }> {
  const r = await monitor(node, '/routez');
  const routes = (r.routes ?? []) as { remote_id: string; remote_name?: string }[];
  return { num: r.num_routes as number, names: routes.map((x) => x.remote_name ?? ''), ids: routes.map((x) => x.remote_id) };
}

/** Resolves once `check` passes, polling; fails the test with `label` after the bound. */
export async function eventually<T>(label: string, check: () => Promise<T | undefined | false>, boundMs = FORM_BOUND_MS): Promise<T> {
  const deadline = Date.now() + boundMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out: ${label}${last ? ` (${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Waits until every node has a route to every other one (a full mesh). */
export async function fullMesh(nodes: ClusterNode[]): Promise<void> {
  const ids = await Promise.all(nodes.map(async (n) => (await monitor(n, '/varz')).server_id as string));
  await Promise.all(
    nodes.map((n, i) =>
      eventually(`${n.name} routes to all of ${nodes.map((x) => x.name).join(',')}`, async () => {
        const r = await routesOf(n);
        const others = ids.filter((_, j) => j !== i);
        return r.num === nodes.length - 1 && others.every((id) => r.ids.includes(id));
      }),
    ),
  );
}

export async function stopAll(nodes: (RunningServer | undefined)[]): Promise<void> {
  await Promise.all(nodes.map((n) => n?.stop()));
}

/**
 * Every node a test file starts, so all are stopped even when a beforeAll fails halfway
 * (stop them in afterAll with stopAll()).
 */
export class StartedNodes {
  private readonly nodes: ClusterNode[] = [];

  async start(spec: NodeSpec): Promise<ClusterNode> {
    const n = await startNode(spec);
    this.nodes.push(n);
    return n;
  }

  stopAll(): Promise<void> {
    return stopAll(this.nodes.splice(0));
  }
}

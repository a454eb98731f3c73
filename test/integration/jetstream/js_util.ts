// Helpers shared by the JetStream integration tests: a JetStream-enabled server, servers
// shared per worker count within a file, connection bookkeeping and failure bounds. Timeouts
// here only bound a failing test; a passing test never waits on time unless time is the feature.

import { startServer, tempDir } from '../../support/server.ts';
import type { RunningServer, StartOptions } from '../../support/server.ts';
import { ConnectionPool, EVENT_BOUND_MS, onSharedServer } from '../util.ts';
import type { SharedServers } from '../util.ts';
import type { JsConnectOpts, JsGeneration } from './js_clients.ts';
import { JsCluster } from '../../support/js_cluster.ts';

// The failure bound, rejection and the per-file server sharing are the core integration tests' own.
export { EVENT_BOUND_MS, rejection, SharedServers, within } from '../util.ts';

/**
 * Starts a server with JetStream storing under `<dir>/js`; pass `dir` to restart on one store.
 * With PETREL_JS_CLUSTER=<n> (n >= 3) it starts an n-node JetStream cluster instead and hands
 * back its first node (stopping it stops them all), so the single-node suites run unchanged
 * against a cluster: `PETREL_JS_CLUSTER=3 npx vitest run ... test/integration/jetstream/kv.test.ts`.
 */
export async function startJsServer(opts: StartOptions & { dir?: string } = {}): Promise<RunningServer> {
  const size = Number(process.env['PETREL_JS_CLUSTER'] ?? 0);
  if (size >= 3 && opts.dir === undefined) {
    const c = await JsCluster.start({ size, links: 'direct', workers: opts.workers, config: opts.config });
    await c.metaLeader();
    const first = c.node(0);
    return { ...first, stop: async () => (await c.stop(), 0) };
  }
  const dir = opts.dir ?? tempDir('petrel-js-');
  const config = `jetstream { store_dir: "${dir}/js" }\n${opts.config ?? ''}`;
  return startServer({ ...opts, dir, config });
}

/** The core tests' pool, typed for the JetStream adapters' connect options. */
export class JsConnectionPool extends ConnectionPool<JsConnectOpts> {}

/** onSharedServer with a JetStream-enabled server: the describe block's hooks and its pool. */
export function onSharedJsServer(
  servers: SharedServers,
  gen: JsGeneration,
  workers: number,
  onServer: (srv: RunningServer) => void,
): JsConnectionPool {
  return onSharedServer(servers, gen, workers, onServer, () => startJsServer({ workers }));
}

/** Unique names per test, so tests sharing one server never collide. */
let nameCounter = 0;
export function uniqueName(prefix: string): string {
  nameCounter += 1;
  return `${prefix}_${process.pid}_${nameCounter}`;
}

/** Polls `check` until it returns true; only for features where time is the point (ttl, ack_wait). */
export async function pollUntil(check: () => Promise<boolean>, label: string, boundMs = EVENT_BOUND_MS, stepMs = 50): Promise<void> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${boundMs} ms: ${label}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Nanoseconds from milliseconds, for JetStream config durations. */
export const nanos = (ms: number): number => ms * 1_000_000;

// JetStream clusters for tests: Petrel nodes as processes, each with its own store directory,
// every route dialled through a TCP proxy per direction so a test can cut links (partitions),
// and nodes killed with SIGKILL and restarted on the same directory. Helpers wait for what a
// test launcher waits for: every node agreeing on one meta leader.

import { afterAll, afterEach, beforeAll } from 'vitest';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamManager } from '@nats-io/jetstream';
import { startNode, eventually, stopAll, type ClusterNode } from './cluster.ts';
import { monitor, tempDir } from './server.ts';
import { TcpProxy } from './tcp_proxy.ts';
import { restartablePorts } from '../../chaos/cluster/ports.ts';

export interface JsClusterOptions {
  size: number;
  /** Extra config lines for every node. */
  config?: string;
  /** Per node extra lines (tags). */
  nodeConfig?: (i: number) => string;
  workers?: number;
  /**
   * 'proxied' (default): every route through a TCP proxy in the test process, so links can be
   * cut. 'direct': routes to the first node (the mesh completes by gossip), no proxy in the
   * way of bulk traffic.
   */
  links?: 'proxied' | 'direct';
}

export class JsCluster {
  readonly size: number;
  readonly names: string[];
  nodes: (ClusterNode | null)[];
  readonly dirs: string[];
  /** proxies[i][j]: the link node i dials to reach node j. */
  private readonly proxies: TcpProxy[][];
  private readonly opts: JsClusterOptions;
  private readonly stores: string[];
  /** Each node's cluster port, kept across restarts for direct links. */
  private readonly clusterPorts: number[] = [];
  private readonly paused = new Set<number>();

  private constructor(opts: JsClusterOptions, proxies: TcpProxy[][]) {
    this.opts = opts;
    this.size = opts.size;
    this.names = Array.from({ length: opts.size }, (_, i) => `n${i + 1}`);
    this.nodes = this.names.map(() => null);
    this.dirs = this.names.map(() => tempDir('petrel-jsc-'));
    this.stores = this.names.map(() => tempDir('petrel-jsc-store-'));
    this.proxies = proxies;
  }

  static async start(opts: JsClusterOptions): Promise<JsCluster> {
    const proxies: TcpProxy[][] = [];
    let c: JsCluster | null = null;
    for (let i = 0; i < (opts.links === 'direct' ? 0 : opts.size); i++) {
      const row: TcpProxy[] = [];
      for (let j = 0; j < opts.size; j++) {
        row.push(await TcpProxy.start(() => ({ host: '127.0.0.1', port: c?.nodes[j]?.clusterPort ?? 1 })));
      }
      proxies.push(row);
    }
    c = new JsCluster(opts, proxies);
    try {
      if (opts.links === 'direct') {
        // Picked up front outside the kernel's ephemeral range: a restarted node finds its port free.
        c.clusterPorts.push(...(await restartablePorts(opts.size)));
        await c.boot(0);
        await Promise.all(c.names.slice(1).map((_, i) => c!.boot(i + 1)));
      } else {
        await Promise.all(c.names.map((_, i) => c!.boot(i)));
      }
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  private async boot(i: number): Promise<ClusterNode> {
    const direct = this.opts.links === 'direct';
    const routes = direct
      ? i === 0
        ? []
        : [`nats-route://127.0.0.1:${this.clusterPorts[0]}`]
      : this.names.flatMap((_, j) => (j === i ? [] : [`nats-route://127.0.0.1:${this.proxies[i]![j]!.port}`]));
    const node = await startNode({
      name: this.names[i]!,
      routes,
      ...(direct && this.clusterPorts[i] ? { clusterPort: this.clusterPorts[i] } : {}),
      workers: this.opts.workers ?? 1,
      // Routes learned by gossip would be dialled at the real cluster ports, around the proxies,
      // and survive a cut: peers are told of an address nobody listens on instead.
      ...(direct ? {} : { clusterExtra: 'advertise: "127.0.0.1:1"' }),
      dir: this.dirs[i],
      config: [`jetstream { store_dir: "${this.stores[i]}" }`, this.opts.config ?? '', this.opts.nodeConfig?.(i) ?? ''].join('\n'),
    });
    this.nodes[i] = node;
    this.clusterPorts[i] = node.clusterPort;
    return node;
  }

  node(i: number): ClusterNode {
    const n = this.nodes[i];
    if (!n) throw new Error(`node ${this.names[i]} is down`);
    return n;
  }

  /** Client URLs of the nodes that are up. */
  urls(): string[] {
    return this.nodes.flatMap((n) => (n ? [`127.0.0.1:${n.port}`] : []));
  }

  async kill(i: number): Promise<void> {
    this.resume(i);
    await this.nodes[i]?.kill();
    this.nodes[i] = null;
  }

  /** Freezes node i (SIGSTOP): it keeps its sockets but answers nothing until resume(). */
  pause(i: number): void {
    this.node(i).signal('SIGSTOP');
    this.paused.add(i);
  }

  resume(i: number): void {
    if (!this.paused.delete(i)) return;
    this.nodes[i]?.signal('SIGCONT');
  }

  async restart(i: number): Promise<ClusterNode> {
    await this.kill(i);
    return this.boot(i);
  }

  /** Cuts node i off from every other node (both directions) until heal(). */
  isolate(i: number): void {
    for (let j = 0; j < this.size; j++) {
      if (j === i) continue;
      this.proxies[i]![j]!.block();
      this.proxies[j]![i]!.block();
    }
  }

  /** Resolves once node i, cut off by isolate(), reports no route left. */
  async isolated(i: number): Promise<void> {
    await eventually(`${this.names[i]} has no route left`, async () => ((await monitor(this.node(i), '/routez')).num_routes === 0 ? true : undefined));
  }

  heal(): void {
    for (const row of this.proxies) for (const p of row) p.unblock();
  }

  /** Waits until every node that is up reports the same meta leader, itself up, and the full size (`size` once a server was removed). */
  async metaLeader(boundMs = 20_000, size = this.size): Promise<string> {
    return eventually(
      'every node agrees on the meta leader',
      async () => {
        const up = this.nodes.filter((n): n is ClusterNode => n !== null);
        const infos = await Promise.all(up.map((n) => monitor(n, '/jsz')));
        const leaders = new Set(infos.map((j) => (j.meta_cluster?.leader as string | undefined) ?? ''));
        const sizes = infos.map((j) => j.meta_cluster?.cluster_size as number);
        if (leaders.size !== 1 || leaders.has('') || sizes.some((s) => s !== size)) return undefined;
        // Nodes agree on a leader that was killed until their election timeout: not one yet.
        const leader = [...leaders][0]!;
        return this.nodes[this.names.indexOf(leader)] ? leader : undefined;
      },
      boundMs,
    );
  }

  /** The stream's leader as a node index, once one is known and current. */
  async streamLeader(stream: string, account = '$G', boundMs = 20_000): Promise<number> {
    return eventually(
      `a leader for ${stream}`,
      async () => {
        for (let i = 0; i < this.size; i++) {
          const n = this.nodes[i];
          if (!n) continue;
          const r = await monitor(n, `/replicaz?stream=${encodeURIComponent(stream)}&account=${encodeURIComponent(account)}&limit=1`).catch(() => null);
          if (r?.leader === true && r.current === true) return i;
        }
        return undefined;
      },
      boundMs,
    );
  }

  /** Node i's own copy of a stream (its store, read without Raft), every message. */
  async replica(i: number, stream: string, account = '$G'): Promise<{ seq: number; subject: string; data: string }[]> {
    const out: { seq: number; subject: string; data: string }[] = [];
    let seq = 1;
    for (;;) {
      const r = await monitor(this.node(i), `/replicaz?stream=${encodeURIComponent(stream)}&account=${encodeURIComponent(account)}&seq=${seq}&limit=10000`);
      if (r.error) throw new Error(`${this.names[i]}: ${r.error}`);
      for (const m of r.messages as { seq: number; subject: string; data: string }[]) out.push({ seq: m.seq, subject: m.subject, data: Buffer.from(m.data, 'base64').toString() });
      if (!r.next_seq) return out;
      seq = r.next_seq as number;
    }
  }

  /**
   * Every up node's copy of the stream once they all agree and hold each acked message at its
   * acked sequence (`on`: only these nodes).
   */
  async converged(stream: string, acked: Map<string, number>, on?: number[], boundMs = 30_000): Promise<StoredCopy> {
    return eventually(
      `every replica of ${stream} holds the same messages`,
      async () => {
        const which = on ?? this.nodes.flatMap((n, i) => (n ? [i] : []));
        const up = await Promise.all(which.map((i) => this.replica(i, stream).catch(() => null)));
        if (up.some((x) => x === null)) return undefined;
        const first = JSON.stringify(up[0]);
        if (!up.every((x) => JSON.stringify(x) === first)) return undefined;
        const copy = up[0]!;
        const bySeq = new Map(copy.map((m) => [m.seq, m.data]));
        for (const [id, seq] of acked) if (bySeq.get(seq) !== id) return undefined;
        return copy;
      },
      boundMs,
    );
  }

  /** The last lines each node logged (for a failing test's report). */
  logs(lines = 40): string {
    return this.nodes
      .map((n, i) => `--- ${this.names[i]} ---\n${n ? n.output().split('\n').slice(-lines).join('\n') : '(down)'}`)
      .join('\n');
  }

  async stop(): Promise<void> {
    for (const i of [...this.paused]) this.resume(i);
    await stopAll(this.nodes.map((n) => n ?? undefined));
    this.nodes = this.nodes.map(() => null);
    await Promise.all(this.proxies.flat().map((p) => p.close()));
  }
}

export type StoredCopy = { seq: number; subject: string; data: string }[];

/**
 * Publishes `<prefix>-0..n-1` in order, each retried with its Nats-Msg-Id until acked (as a
 * careful application does); returns the acknowledged sequence of each.
 */
export async function publishAll(nc: NatsConnection, subject: string, prefix: string, n: number, stop: () => boolean = () => false): Promise<Map<string, number>> {
  const js = jetstream(nc, { timeout: 1500 });
  const acked = new Map<string, number>();
  for (let i = 0; i < n && !stop(); i++) {
    const id = `${prefix}-${i}`;
    for (;;) {
      try {
        const ack = await js.publish(subject, id, { msgID: id });
        acked.set(id, ack.seq);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
  return acked;
}

/**
 * One cluster for a test file: started before its tests (once the meta leader is agreed), its
 * logs printed for a failing test when PETREL_TEST_LOGS is set, stopped with every client after.
 */
export function onJsCluster(opts: JsClusterOptions, started: (c: JsCluster) => void, startMs = 90_000): { client(servers?: string[]): Promise<NatsConnection> } {
  let c: JsCluster | undefined;
  const conns: NatsConnection[] = [];
  beforeAll(async () => {
    c = await JsCluster.start(opts);
    await c.metaLeader(30_000);
    started(c);
  }, startMs);
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail' && process.env['PETREL_TEST_LOGS'] && c) console.log(c.logs(60));
  });
  afterAll(async () => {
    await Promise.all(conns.map((nc) => nc.close().catch(() => undefined)));
    await c?.stop();
  });
  return {
    async client(servers = c!.urls()) {
      const nc = await connect({ servers, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
      conns.push(nc);
      return nc;
    },
  };
}

/**
 * How long a cluster test waits for a JetStream API answer. Generous: right after a test killed
 * or restarted nodes, and with other test files running beside it on a 2-core machine, the meta
 * group may still be settling; these tests are about outcomes, never about latency.
 */
export const API_TIMEOUT_MS = 15_000;

/**
 * A JetStream manager once the API answers. Its first request is retried: in full-suite runs on
 * 2 cores, the first API request of a test that follows node restarts has gone unanswered a few
 * times (never when the file runs alone; not root-caused, noted in issue 8), and these tests are
 * about what the cluster keeps, not about that window.
 */
export function jsmOf(nc: NatsConnection): Promise<JetStreamManager> {
  return eventually('the JetStream API answers', () => jetstreamManager(nc, { timeout: API_TIMEOUT_MS }), 3 * API_TIMEOUT_MS);
}

/** A raw JetStream API request and its JSON answer. */
export async function jsApi(nc: NatsConnection, subject: string, body: unknown = ''): Promise<Record<string, unknown>> {
  const m = await nc.request(subject, typeof body === 'string' ? body : JSON.stringify(body), { timeout: API_TIMEOUT_MS });
  return m.json<Record<string, unknown>>();
}

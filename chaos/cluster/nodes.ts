// The cluster under test: N server processes (Petrel's bin/nats-server, or any nats-server given
// with --server) whose every route link and client link runs through a Toxiproxy proxy, and the
// process control the nemesis needs: kill -9, restart on the same data, SIGSTOP/SIGCONT, flipping
// a bit in a stopped node's stream segment.
//
// Ports are picked once and kept across restarts, so the proxies (whose upstreams are fixed) reach
// a restarted node again. Routes are explicit, one per peer, each dialling its own proxy
// (route_n<i>_n<j>, see faults/network.ts). Two settings keep traffic on the proxies:
// `no_advertise` (clients are not told the nodes' real addresses) and a cluster `advertise`
// address that leads nowhere: a server that learns of a peer by gossip (implicit routes) dials
// the peer's advertised address, which would otherwise be its real route port, past the proxy.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Toxiproxy } from 'toxiproxy-node-client';
import { flipSegmentBit } from '../faults/bitflip.ts';
import type { ProcessControl, SegmentChoice } from '../faults/nemesis.ts';
import { clientProxy, routeProxy, topologyProxies } from '../faults/network.ts';
import { restartablePorts } from './ports.ts';

export const PETREL_BIN = fileURLToPath(new URL('../../bin/nats-server', import.meta.url));

/** A dropped route is noticed after ping_interval × ping_max: within a fault window, not 4 minutes. */
const PING_INTERVAL = '1s';
const PING_MAX = 3;
/** A node is up once its monitoring answers; a cold start of every node on a busy 2-core box is slow. */
const READY_TIMEOUT_MS = 90_000;
const READY_POLL_MS = 100;
/** SIGTERM first when the run is over; SIGKILL after this. */
const STOP_GRACE_MS = 5_000;

export interface NodePorts {
  client: number;
  cluster: number;
  monitor: number;
}

export interface ClusterSpec {
  nodes: number;
  /** The server binary. */
  server: string;
  /** Petrel gets its own keys (workers) and is read back through /replicaz. */
  petrel: boolean;
  /** Run directory: n<i>/ holds each node's config, log and store. */
  dir: string;
  toxiproxy: Toxiproxy;
  /** Where nodes and clients reach the proxies (Toxiproxy's host). */
  proxyHost: string;
  /** Where Toxiproxy reaches the nodes. */
  nodeHost: string;
  /** Routing worker threads per Petrel node: few cores serve N nodes, the proxy and the clients. */
  workers?: number;
  /** Extra config lines for every node. */
  extraConfig?: string;
}

export interface ChaosNode {
  readonly index: number;
  readonly name: string;
  readonly ports: NodePorts;
  readonly dir: string;
  readonly storeDir: string;
  readonly configFile: string;
  readonly logFile: string;
  proc: ChildProcess | null;
  exited: Promise<void>;
  /** Set while SIGSTOPped. */
  paused: boolean;
}

const isLoopback = (host: string): boolean => host === 'localhost' || host.startsWith('127.') || host === '::1';

export function nodeConfig(spec: ClusterSpec, node: ChaosNode, routeUrls: readonly string[], sink: string): string {
  const listenHost = isLoopback(spec.nodeHost) ? '127.0.0.1' : '0.0.0.0';
  const lines = [
    `# Written by the chaos runner: every route dials its own proxy; clients come through one too.`,
    `server_name: ${node.name}`,
    `listen: "${listenHost}:${node.ports.client}"`,
    `http: "127.0.0.1:${node.ports.monitor}"`,
    `ping_interval: "${PING_INTERVAL}"`,
    `ping_max: ${PING_MAX}`,
    `jetstream {`,
    `  store_dir: ${JSON.stringify(node.storeDir)}`,
    `  max_memory_store: 256MB`,
    `  max_file_store: 4GB`,
    `}`,
    `cluster {`,
    `  name: chaos`,
    `  listen: "${listenHost}:${node.ports.cluster}"`,
    `  no_advertise: true`,
    `  # Gossiped (implicit) routes would dial this, not the node's real route port: nothing answers.`,
    `  advertise: "${sink}"`,
    `  routes: [`,
    ...routeUrls.map((u) => `    ${u}`),
    `  ]`,
    `}`,
  ];
  if (spec.petrel) lines.push(`workers: ${spec.workers ?? 1}`);
  if (spec.extraConfig) lines.push(spec.extraConfig);
  return lines.join('\n') + '\n';
}

export class ChaosCluster implements ProcessControl {
  readonly spec: ClusterSpec;
  readonly nodes: number;
  readonly members: ChaosNode[];
  /** Client URL of each node through its proxy. */
  readonly clientUrls: string[] = [];
  /** The stream leader's server name, asked by the runner's admin client; null when none. */
  leaderName: () => Promise<string | null> = async () => null;
  /** The stream whose segments a bit flip aims at (any stream's when it has none on the node). */
  segmentStream: string | null = null;
  private sink: net.Server | null = null;
  /** Dials of the advertised address: gossiped routes that would have gone around the proxies. */
  sinkHits = 0;
  private stopping = false;
  /** Unexpected exits, for the report. */
  readonly crashes: string[] = [];

  private constructor(spec: ClusterSpec, members: ChaosNode[]) {
    this.spec = spec;
    this.nodes = spec.nodes;
    this.members = members;
  }

  /** Picks ports, creates the proxies, writes the configs and starts every node. */
  static async start(spec: ClusterSpec): Promise<ChaosCluster> {
    const ports = await restartablePorts(spec.nodes * 3);
    const members: ChaosNode[] = Array.from({ length: spec.nodes }, (_, i) => {
      const name = `n${i}`;
      const dir = path.join(spec.dir, name);
      return {
        index: i,
        name,
        ports: { client: ports[3 * i]!, cluster: ports[3 * i + 1]!, monitor: ports[3 * i + 2]! },
        dir,
        storeDir: path.join(dir, 'store'),
        configFile: path.join(dir, `${name}.conf`),
        logFile: path.join(dir, `${name}.log`),
        proc: null,
        exited: Promise.resolve(),
        paused: false,
      };
    });
    const c = new ChaosCluster(spec, members);
    try {
      await c.boot();
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  private async boot(): Promise<void> {
    this.sink = net.createServer((s) => {
      this.sinkHits++;
      s.destroy();
    });
    await new Promise<void>((resolve) => this.sink!.listen(0, '127.0.0.1', resolve));
    const sink = `127.0.0.1:${(this.sink.address() as net.AddressInfo).port}`;

    const tp = this.spec.toxiproxy;
    const proxies = topologyProxies(
      this.members.map((m) => ({ client: `${this.spec.nodeHost}:${m.ports.client}`, route: `${this.spec.nodeHost}:${m.ports.cluster}` })),
      isLoopback(this.spec.proxyHost) ? this.spec.proxyHost : '0.0.0.0',
    );
    // A previous run against the same Toxiproxy may have left proxies of these names.
    const existing = await tp.getAll();
    for (const p of proxies) await existing[p.name]?.remove();
    const created = await tp.populate(proxies);
    const portOf = (name: string): number => {
      const p = created[name];
      if (!p) throw new Error(`Toxiproxy did not create proxy ${name}`);
      return Number(p.listen.slice(p.listen.lastIndexOf(':') + 1));
    };
    for (const m of this.members) this.clientUrls.push(`nats://${this.spec.proxyHost}:${portOf(clientProxy(m.index))}`);

    for (const m of this.members) {
      fs.mkdirSync(m.storeDir, { recursive: true });
      const routes = this.members.filter((o) => o !== m).map((o) => `nats-route://${this.spec.proxyHost}:${portOf(routeProxy(m.index, o.index))}`);
      fs.writeFileSync(m.configFile, nodeConfig(this.spec, m, routes, sink));
    }
    for (const m of this.members) this.spawn(m);
    await Promise.all(this.members.map((m) => this.waitReady(m)));
  }

  private spawn(m: ChaosNode): void {
    fs.appendFileSync(m.logFile, `--- chaos runner: starting ${m.name} at ${new Date().toISOString()}\n`);
    const log = fs.openSync(m.logFile, 'a');
    // Its own process group: a Ctrl-C reaches the runner, which heals and stops the nodes itself.
    const proc = spawn(this.spec.server, ['-c', m.configFile], { stdio: ['ignore', log, log], detached: true });
    fs.closeSync(log);
    m.proc = proc;
    m.paused = false;
    m.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        if (m.proc === proc) m.proc = null;
        if (!this.stopping && signal !== 'SIGKILL') this.crashes.push(`${m.name} exited ${signal ?? `with code ${code}`} (see ${m.logFile})`);
        resolve();
      });
      proc.once('error', (err) => {
        if (m.proc === proc) m.proc = null;
        this.crashes.push(`${m.name} could not start: ${err.message}`);
        resolve();
      });
    });
  }

  monitorUrl(i: number): string {
    return `http://127.0.0.1:${this.members[i]!.ports.monitor}`;
  }

  /** Each node's own client port, bypassing the proxies: for the runner's control and read-back. */
  directUrl(i: number): string {
    return `nats://127.0.0.1:${this.members[i]!.ports.client}`;
  }

  directUrls(): string[] {
    return this.members.map((_, i) => this.directUrl(i));
  }

  indexOf(name: string): number | null {
    const i = this.members.findIndex((m) => m.name === name);
    return i >= 0 ? i : null;
  }

  isUp(i: number): boolean {
    return this.members[i]!.proc !== null;
  }

  private async waitReady(m: ChaosNode): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (m.proc === null) throw new Error(`${m.name} exited while starting:\n${tail(m.logFile)}`);
      try {
        const res = await fetch(`${this.monitorUrl(m.index)}/varz`, { signal: AbortSignal.timeout(1_000) });
        if (res.ok) return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) throw new Error(`${m.name} did not answer /varz within ${READY_TIMEOUT_MS / 1000}s:\n${tail(m.logFile)}`);
      await sleep(READY_POLL_MS);
    }
  }

  // --- ProcessControl ---------------------------------------------------------------

  async leader(): Promise<number | null> {
    const name = await this.leaderName();
    return name === null ? null : this.indexOf(name);
  }

  async kill(i: number): Promise<void> {
    const m = this.members[i]!;
    const proc = m.proc;
    if (proc === null) return;
    proc.kill('SIGKILL');
    await m.exited;
    m.paused = false;
  }

  async start(i: number): Promise<void> {
    const m = this.members[i]!;
    if (m.proc !== null) return;
    this.spawn(m);
    await this.waitReady(m);
  }

  async pause(i: number): Promise<void> {
    const m = this.members[i]!;
    if (m.proc === null) return;
    m.proc.kill('SIGSTOP');
    m.paused = true;
  }

  async resume(i: number): Promise<void> {
    const m = this.members[i]!;
    if (m.proc === null) return;
    m.proc.kill('SIGCONT');
    m.paused = false;
  }

  async corruptSegment(i: number, choice: SegmentChoice): Promise<string | null> {
    const m = this.members[i]!;
    if (m.proc !== null) throw new Error(`${m.name} is running; segments are flipped only while it is down`);
    // nats-server and Petrel both keep a stream's messages in jetstream/<account>/streams/<name>/msgs/.
    const streams = path.join(m.storeDir, 'jetstream', '$G', 'streams');
    const dirs = [...(this.segmentStream !== null ? [path.join(streams, this.segmentStream)] : []), streams];
    for (const dir of dirs) {
      const flipped = flipSegmentBit(dir, choice);
      if (flipped) return `${path.relative(m.storeDir, path.join(dir, flipped.file))} byte ${flipped.position} bit ${flipped.bit}`;
    }
    return null;
  }

  // --- teardown ---------------------------------------------------------------------

  /** Stops every node (SIGCONT first if paused; SIGTERM, then SIGKILL) and the sink. */
  async stop(): Promise<void> {
    this.stopping = true;
    const live = this.members.filter((m) => m.proc !== null);
    for (const m of live) {
      if (m.paused) m.proc?.kill('SIGCONT');
      m.proc?.kill('SIGTERM');
    }
    const all = Promise.all(live.map((m) => m.exited));
    const timer = new Promise<'late'>((r) => setTimeout(() => r('late'), STOP_GRACE_MS).unref());
    if ((await Promise.race([all, timer])) === 'late') for (const m of live) m.proc?.kill('SIGKILL');
    await all;
    await new Promise<void>((resolve) => (this.sink ? this.sink.close(() => resolve()) : resolve()));
    this.sink = null;
  }

  /** Last resort on process exit: SIGKILL whatever is left, synchronously. */
  killAllNow(): void {
    for (const m of this.members) {
      try {
        if (m.paused) m.proc?.kill('SIGCONT');
        m.proc?.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}

export function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// `npm run cluster`: the docker-compose topologies as local processes, for people without Docker,
// for tests and for the cross-node bench. Writes one config per node into a data directory,
// starts `bin/nats-server -c <config>` for each, waits until every node's monitoring answers and
// shows a route to every other node of its cluster, prints the URLs, and on Ctrl-C/SIGTERM stops
// every node by pid: SIGTERM, then SIGKILL after a grace period.
//
//   npm run cluster                      3 nodes: clients 4222-4224, cluster 6222-6224, monitoring 8222-8224
//   npm run cluster -- --nodes 5         5 nodes
//   npm run cluster -- --base-port 5222  clients from 5222, cluster from 7222, monitoring from 9222
//   npm run cluster -- --dir ./my-data   configs, logs and JetStream stores under ./my-data/n1 ...
//   npm run cluster -- --topology supercluster   regions east (e1, e2) and west (w1, w2) joined by
//                                                gateways (ports from P+3000); --nodes is per region
//   npm run cluster -- --topology leaf           a hub (leaf nodes on P+3000) and an edge leaf node

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const BIN = fileURLToPath(new URL('../../bin/nats-server', import.meta.url));

/** Node k's ports are base + (k-1), shifted by these offsets: 4222 / 6222 / 8222 for the first node. */
const CLUSTER_PORT_OFFSET = 2000;
/** Gateway and leafnode ports (7222 for the first node). */
const LINK_PORT_OFFSET = 3000;
const MONITOR_PORT_OFFSET = 4000;
const DEFAULT_REGION_NODES = 2;
const REGIONS = ['east', 'west'] as const;

export const TOPOLOGIES = ['cluster', 'supercluster', 'leaf'] as const;
export type Topology = (typeof TOPOLOGIES)[number];
const DEFAULT_BASE_PORT = 4222;
const DEFAULT_NODES = 3;
const MAX_NODES = 64;
const CLUSTER_NAME = 'petrel';
/** Starting Node, the workers and JetStream takes a second or two; a busy CI machine, more. */
const READY_TIMEOUT_MS = 60_000;
const READY_POLL_MS = 100;
/** Long enough for a graceful shutdown that flushes JetStream; after it, SIGKILL. */
const STOP_GRACE_MS = 10_000;

export interface LaunchOptions {
  /** Default 'cluster'. */
  topology?: Topology;
  /** Nodes of the cluster, or of each region of a super-cluster (ignored for leaf). */
  nodes: number;
  /** Holds n1/, n2/ ...: each the node's config, log, pid file and JetStream store. */
  dir: string;
  basePort: number;
  readyTimeoutMs?: number;
  stopGraceMs?: number;
  /** Aborting while the nodes start stops the ones already started; launchCluster then rejects. */
  signal?: AbortSignal;
  /** The server's command line before `-c <config>` (default bin/nats-server; the bench runs the Go server the same way). */
  command?: readonly string[];
  /** JetStream on every node (default true). */
  jetstream?: boolean;
}

export interface NodePorts {
  client: number;
  cluster: number;
  monitor: number;
  /** The gateway port (super-cluster) or the leafnode port (the leaf topology's hub); 0 = none. */
  link?: number;
}

export interface LaunchedNode {
  name: string;
  pid: number;
  ports: NodePorts;
  clientUrl: string;
  monitorUrl: string;
  configFile: string;
  logFile: string;
}

export interface LaunchedCluster {
  nodes: LaunchedNode[];
  /** SIGTERM every node still running, SIGKILL the ones that outlive the grace period. */
  stop(): Promise<void>;
  /** Called when a node exits without being asked to. */
  onUnexpectedExit(listener: (node: LaunchedNode, code: number | null, signal: string | null) => void): void;
}

export function nodePorts(basePort: number, index: number): NodePorts {
  const client = basePort + index;
  return { client, cluster: client + CLUSTER_PORT_OFFSET, monitor: client + MONITOR_PORT_OFFSET };
}

/** One node to start: its name, ports and config text. */
export interface NodePlan {
  name: string;
  ports: NodePorts;
  config(nodeDir: string): string;
}

/** The nodes of a topology (the same shapes as conf/cluster-3, conf/supercluster, conf/leaf). */
export function planTopology(topology: Topology, nodes: number, basePort: number, jetstream = true): NodePlan[] {
  if (topology === 'supercluster') {
    const plans: NodePlan[] = [];
    REGIONS.forEach((region, r) => {
      const names = Array.from({ length: nodes }, (_, i) => `${region[0]}${i + 1}`);
      const ports = names.map((_, i) => ({ ...nodePorts(basePort, r * nodes + i), link: basePort + r * nodes + i + LINK_PORT_OFFSET }));
      const other = Array.from({ length: nodes }, (_, i) => basePort + (1 - r) * nodes + i + LINK_PORT_OFFSET);
      names.forEach((name, i) => {
        plans.push({ name, ports: ports[i]!, config: (dir) => regionNodeConfig(name, region, REGIONS[1 - r]!, ports[i]!, ports.filter((_, j) => j !== i), other, dir) });
      });
    });
    return plans;
  }
  if (topology === 'leaf') {
    const hub = { ...nodePorts(basePort, 0), link: basePort + LINK_PORT_OFFSET };
    const edge = nodePorts(basePort, 1);
    return [
      { name: 'hub', ports: hub, config: (dir) => leafTopologyConfig('hub', hub, dir) },
      { name: 'edge', ports: edge, config: (dir) => leafTopologyConfig('edge', edge, dir, hub.link) },
    ];
  }
  const all = Array.from({ length: nodes }, (_, i) => nodePorts(basePort, i));
  return all.map((ports, i) => ({ name: `n${i + 1}`, ports, config: (dir) => nodeConfig(`n${i + 1}`, ports, all.filter((_, j) => j !== i), dir, jetstream) }));
}

/** A node of a super-cluster region (conf/supercluster/e1.conf's shape). */
export function regionNodeConfig(name: string, region: string, other: string, ports: NodePorts, peers: NodePorts[], otherGateways: number[], nodeDir: string): string {
  const routes = peers.map((p) => `    nats-route://127.0.0.1:${p.cluster}`).join('\n');
  const urls = otherGateways.map((p) => `"nats://127.0.0.1:${p}"`).join(', ');
  return `# Written by \`npm run cluster -- --topology supercluster\`; see conf/supercluster/ for the commented example.
server_name: ${name}
listen: 127.0.0.1:${ports.client}
http: 127.0.0.1:${ports.monitor}
pid_file: ${JSON.stringify(path.join(nodeDir, `${name}.pid`))}
cluster {
  name: ${region}
  listen: 127.0.0.1:${ports.cluster}
  routes: [
${routes}
  ]
}
gateway {
  name: ${region}
  listen: 127.0.0.1:${ports.link}
  gateways: [ { name: ${other}, urls: [ ${urls} ] } ]
}
`;
}

/** The hub or the edge of the leaf topology (conf/leaf/*.conf's shape). */
export function leafTopologyConfig(name: 'hub' | 'edge', ports: NodePorts, nodeDir: string, hubLeafPort?: number): string {
  const leaf =
    name === 'hub'
      ? `leafnodes {\n  listen: 127.0.0.1:${ports.link}\n  authorization { users: [ { user: edge, password: s3cret, account: APP } ] }\n}`
      : `leafnodes {\n  remotes: [ { urls: [ "nats-leaf://edge:s3cret@127.0.0.1:${hubLeafPort}" ], account: APP } ]\n}`;
  return `# Written by \`npm run cluster -- --topology leaf\`; see conf/leaf/ for the commented example.
server_name: ${name}
listen: 127.0.0.1:${ports.client}
http: 127.0.0.1:${ports.monitor}
pid_file: ${JSON.stringify(path.join(nodeDir, `${name}.pid`))}
accounts { APP: { jetstream: enabled, users: [ { user: app, password: app } ] } }
jetstream {
  domain: ${name}
  store_dir: ${JSON.stringify(nodeDir)}
}
${leaf}
`;
}

export function defaultDataDir(basePort: number): string {
  // Outside the repository, so it never mixes with `npm start`'s ./data; per base port, so two
  // launched clusters never share a JetStream store.
  return path.join(os.tmpdir(), `petrel-cluster-${basePort}`);
}

/** The same shape as conf/cluster-3/n1.conf, with this launch's ports and directories. */
export function nodeConfig(name: string, ports: NodePorts, peers: NodePorts[], nodeDir: string, jetstream = true): string {
  const routes = peers.map((p) => `    nats-route://127.0.0.1:${p.cluster}`).join('\n');
  const js = jetstream ? `jetstream {\n  store_dir: ${JSON.stringify(nodeDir)}\n}\n` : '';
  return `# Written by \`npm run cluster\`; see conf/cluster-3/ for the commented example.
server_name: ${name}
listen: 127.0.0.1:${ports.client}
http: 127.0.0.1:${ports.monitor}
pid_file: ${JSON.stringify(path.join(nodeDir, `${name}.pid`))}
${js}cluster {
  name: ${CLUSTER_NAME}
  listen: 127.0.0.1:${ports.cluster}
  routes: [
${routes}
  ]
}
`;
}

/** The ports of the list that something already listens on (checked on 127.0.0.1). */
export async function portsInUse(ports: readonly number[]): Promise<number[]> {
  const busy: number[] = [];
  for (const port of ports) if (!(await canListen(port))) busy.push(port);
  return busy;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Every port a topology listens on. */
export function allPorts(basePort: number, nodes: number, topology: Topology = 'cluster'): number[] {
  return planTopology(topology, nodes, basePort).flatMap(({ ports: p }) => {
    const list = [p.client, p.monitor];
    if (topology !== 'leaf') list.push(p.cluster);
    if (p.link) list.push(p.link);
    return list;
  });
}

/** A base port in 10000-20000 whose client, cluster and monitoring ranges are all free right now (tests, bench). */
export async function freeBasePort(nodes: number, topology: Topology = 'cluster'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Every derived port (up to base + 4000 + nodes) stays below Linux's ephemeral range.
    const base = 10_000 + Math.floor(Math.random() * 10_000);
    if ((await portsInUse(allPorts(base, nodes, topology))).length === 0) return base;
  }
  throw new Error('no free port range found');
}

interface Running {
  node: LaunchedNode;
  proc: ChildProcess;
  exited: Promise<void>;
  done: boolean;
}

export async function launchCluster(opts: LaunchOptions): Promise<LaunchedCluster> {
  const topology = opts.topology ?? 'cluster';
  const plans = planTopology(topology, opts.nodes, opts.basePort, opts.jetstream ?? true);
  const ports = allPorts(opts.basePort, opts.nodes, topology);
  const highest = Math.max(...ports);
  if (opts.basePort < 1 || highest > 65535) {
    throw new Error(`ports ${opts.basePort}..${highest} do not fit in 1..65535; choose another --base-port`);
  }
  const busy = await portsInUse(ports);
  if (busy.length > 0) {
    throw new Error(`port${busy.length > 1 ? 's' : ''} ${busy.join(', ')} already in use (npm start, or another cluster?); choose other ports with --base-port`);
  }
  const running: Running[] = [];
  let stopping = false;
  const listeners: ((node: LaunchedNode, code: number | null, signal: string | null) => void)[] = [];
  const stop = async (): Promise<void> => {
    stopping = true;
    await stopAll(running, opts.stopGraceMs ?? STOP_GRACE_MS);
  };
  try {
    for (const plan of plans) {
      const { name, ports } = plan;
      const nodeDir = path.resolve(opts.dir, name);
      fs.mkdirSync(nodeDir, { recursive: true });
      const configFile = path.join(nodeDir, `${name}.conf`);
      fs.writeFileSync(configFile, plan.config(nodeDir));
      const logFile = path.join(nodeDir, `${name}.log`);
      const log = fs.openSync(logFile, 'a');
      // Its own process group: a Ctrl-C in the terminal reaches the launcher, which stops the
      // nodes itself, instead of every node receiving the SIGINT at once.
      const [file, ...lead] = opts.command ?? [BIN];
      const proc = spawn(file!, [...lead, '-c', configFile], { stdio: ['ignore', log, log], detached: true });
      fs.closeSync(log);
      const node: LaunchedNode = {
        name,
        pid: proc.pid ?? -1,
        ports,
        clientUrl: `nats://127.0.0.1:${ports.client}`,
        monitorUrl: `http://127.0.0.1:${ports.monitor}`,
        configFile,
        logFile,
      };
      const r: Running = { node, proc, done: false, exited: Promise.resolve() };
      r.exited = new Promise((resolve) => {
        proc.once('exit', (code, signal) => {
          r.done = true;
          if (!stopping) for (const l of listeners) l(node, code, signal);
          resolve();
        });
        proc.once('error', () => {
          r.done = true;
          resolve();
        });
      });
      running.push(r);
    }
    const deadline = Date.now() + (opts.readyTimeoutMs ?? READY_TIMEOUT_MS);
    await Promise.all(running.map((r) => waitReady(r, deadline, opts.signal)));
    // Up means clustered: every node has a route to each of the others of its cluster (a leaf
    // topology's hub and edge are single-node clusters).
    const peers = topology === 'leaf' ? 0 : opts.nodes - 1;
    await Promise.all(running.map((r) => waitRoutes(r, peers, deadline, opts.signal)));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    nodes: running.map((r) => r.node),
    stop,
    onUnexpectedExit: (l) => listeners.push(l),
  };
}

/** Polls the node's monitoring until `ready` says yes; fails if the node exits or the deadline passes. */
async function waitFor(
  r: Running,
  deadline: number,
  signal: AbortSignal | undefined,
  doing: string,
  ready: (monitorUrl: string) => Promise<boolean>,
  late: () => string,
): Promise<void> {
  for (;;) {
    signal?.throwIfAborted();
    if (r.done) throw new Error(`${r.node.name} exited while ${doing}:\n${tail(r.node.logFile)}`);
    try {
      if (await ready(r.node.monitorUrl)) return;
    } catch {
      // Not listening yet, or busy: try again.
    }
    if (Date.now() > deadline) throw new Error(`${r.node.name} ${late()}:\n${tail(r.node.logFile)}`);
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
}

const MONITOR_REQUEST_MS = 1000;

function waitReady(r: Running, deadline: number, signal: AbortSignal | undefined): Promise<void> {
  return waitFor(
    r,
    deadline,
    signal,
    'starting',
    async (url) => (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(MONITOR_REQUEST_MS) })).ok,
    () => `did not answer ${r.node.monitorUrl}/healthz in time`,
  );
}

function waitRoutes(r: Running, routes: number, deadline: number, signal: AbortSignal | undefined): Promise<void> {
  let seen = 0;
  return waitFor(
    r,
    deadline,
    signal,
    'joining the cluster',
    async (url) => {
      const res = await fetch(`${url}/routez`, { signal: AbortSignal.timeout(MONITOR_REQUEST_MS) });
      seen = ((await res.json()) as { num_routes?: number }).num_routes ?? 0;
      return seen === routes;
    },
    () => `has ${seen} of ${routes} routes after the start-up timeout`,
  );
}

async function stopAll(running: Running[], graceMs: number): Promise<void> {
  const live = running.filter((r) => !r.done);
  for (const r of live) signal(r, 'SIGTERM');
  const all = Promise.all(live.map((r) => r.exited));
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<'grace-over'>((resolve) => (timer = setTimeout(() => resolve('grace-over'), graceMs)));
  if ((await Promise.race([all, graceOver])) === 'grace-over') {
    for (const r of live) if (!r.done) signal(r, 'SIGKILL');
    await all;
  }
  clearTimeout(timer);
}

function signal(r: Running, sig: NodeJS.Signals): void {
  try {
    process.kill(r.node.pid, sig);
  } catch {
    // Already gone.
  }
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const USAGE = `Usage: npm run cluster -- [--topology cluster|supercluster|leaf] [--nodes N] [--base-port P] [--dir DIR]

cluster (default): N Petrel nodes (default ${DEFAULT_NODES}) as one cluster on this machine, each with
  JetStream. Node k listens for clients on P+k-1, for routes on P+${CLUSTER_PORT_OFFSET}+k-1 and for monitoring
  on P+${MONITOR_PORT_OFFSET}+k-1 (default P = ${DEFAULT_BASE_PORT}: 4222/6222/8222 for n1).
supercluster: two regions, east (e1..) and west (w1..), of N nodes each (default ${DEFAULT_REGION_NODES}), joined by
  gateways; the same ports, and gateways on P+${LINK_PORT_OFFSET}+k-1 (nodes numbered east then west).
leaf: a hub (clients P, leaf nodes P+${LINK_PORT_OFFSET}) and an edge leaf node (clients P+1) in account APP
  (user app, password app), each with JetStream in its own domain (hub, edge).
Configs, logs and data go to DIR/<node> (default ${defaultDataDir(DEFAULT_BASE_PORT).replace(String(DEFAULT_BASE_PORT), '<P>')}). Ctrl-C stops every node.
`;

function parseCli(argv: string[]): LaunchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      topology: { type: 'string' },
      nodes: { type: 'string' },
      'base-port': { type: 'string' },
      dir: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return 'help';
  const topology = (values.topology ?? 'cluster') as Topology;
  if (!TOPOLOGIES.includes(topology)) throw new Error(`--topology must be one of ${TOPOLOGIES.join(', ')}, got "${values.topology}"`);
  const nodes = intArg('--nodes', values.nodes, topology === 'supercluster' ? DEFAULT_REGION_NODES : DEFAULT_NODES, 1, MAX_NODES);
  const basePort = intArg('--base-port', values['base-port'], DEFAULT_BASE_PORT, 1, 65535);
  return { topology, nodes, basePort, dir: values.dir ?? defaultDataDir(basePort) };
}

function intArg(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new Error(`${flag} must be an integer between ${min} and ${max}, got "${text}"`);
  return n;
}

function printCluster(topology: Topology, nodes: LaunchedNode[], dir: string): void {
  const title =
    topology === 'supercluster'
      ? `Petrel super-cluster: regions ${REGIONS.join(' and ')}, ${nodes.length} nodes up`
      : topology === 'leaf'
        ? 'Petrel hub and edge leaf node up'
        : `Petrel cluster "${CLUSTER_NAME}": ${nodes.length} nodes up`;
  const out = [`${title}, data in ${path.resolve(dir)}`];
  for (const n of nodes) {
    const link = n.ports.link ? `  ${topology === 'leaf' ? 'leafnode' : 'gateway'} port ${n.ports.link}` : '';
    const route = topology === 'leaf' ? '' : `  route port ${n.ports.cluster}`;
    out.push(`  ${n.name}  pid ${n.pid}  ${n.clientUrl}  ${n.monitorUrl}${route}${link}  log ${n.logFile}`);
  }
  const first = nodes[0];
  out.push('');
  if (topology === 'cluster') {
    out.push(`Connect:  ${nodes.map((n) => n.clientUrl).join(',')}`);
  } else if (topology === 'supercluster') {
    for (const region of REGIONS) out.push(`Connect ${region}:  ${nodes.filter((n) => n.name.startsWith(region[0]!)).map((n) => n.clientUrl).join(',')}`);
  } else {
    out.push(`Connect:  ${nodes.map((n) => n.clientUrl.replace('nats://', 'nats://app:app@')).join('  ')}`);
  }
  out.push(`Monitor:  ${nodes.map((n) => n.monitorUrl).join('  ')}`);
  if (first !== undefined) {
    if (topology === 'supercluster') out.push(`Gateways: curl ${first.monitorUrl}/gatewayz`);
    else if (topology === 'leaf') out.push(`Leafs:    curl ${first.monitorUrl}/leafz`);
    else out.push(`Routes:   curl ${first.monitorUrl}/routez`);
  }
  out.push('Press Ctrl-C to stop all nodes.');
  process.stdout.write(`${out.join('\n')}\n`);
}

async function main(argv: string[]): Promise<number> {
  let opts: LaunchOptions | 'help';
  try {
    opts = parseCli(argv);
  } catch (err) {
    process.stderr.write(`cluster: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  // Handlers first: a signal while the nodes start must still stop them.
  const abort = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => abort.abort());
  let c: LaunchedCluster;
  try {
    c = await launchCluster({ ...opts, signal: abort.signal });
  } catch (err) {
    if (abort.signal.aborted) return 0;
    process.stderr.write(`cluster: ${(err as Error).message}\n`);
    return 1;
  }
  let alive = c.nodes.length;
  let allGone: (() => void) | undefined;
  const allExited = new Promise<void>((resolve) => (allGone = resolve));
  c.onUnexpectedExit((node, code, sig) => {
    process.stderr.write(`cluster: ${node.name} (pid ${node.pid}) exited ${sig ?? `with code ${code}`}; see ${node.logFile}\n`);
    if (--alive === 0) allGone?.();
  });
  const stopRequested = new Promise<void>((resolve) => {
    if (abort.signal.aborted) resolve();
    abort.signal.addEventListener('abort', () => resolve());
  });
  printCluster(opts.topology ?? 'cluster', c.nodes, opts.dir);
  const why = await Promise.race([stopRequested.then(() => 'stop' as const), allExited.then(() => 'all-exited' as const)]);
  if (why === 'all-exited') {
    process.stderr.write('cluster: every node has exited\n');
    return 1;
  }
  process.stdout.write('Stopping all nodes...\n');
  await c.stop();
  process.stdout.write('All nodes stopped.\n');
  return 0;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}

// The main thread of a node: it starts the routing workers, accepts client connections and
// hands each socket to the least-loaded worker (route sockets, accepted or dialled by the cluster
// membership, take the same path), serves monitoring, writes the ports and pid files, and
// carries out reload, lame duck and shutdown.

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { startRoutingWorker } from './worker_spawn.ts';
import { createRing, Doorbell } from '../routing/ring.ts';
import { Router } from '../routing/router.ts';
import type { ServerOptions } from '../config/options.ts';
import type { Logger } from '../log.ts';
import type { QueryKind, MainToWorker, WorkerToMain, WorkerVarz, WorkerConnz, WorkerSubsz, ConnzQuery } from './worker_protocol.ts';
import type { WorkerInit } from './worker_host.ts';
import { MonitorServer } from '../monitor/http.ts';
import { buildStatsz } from '../monitor/statsz.ts';
import { Authenticator } from '../auth/authenticator.ts';
import { PETREL_VERSION, NATS_COMPAT_VERSION, PROTO_VERSION } from '../version.ts';
import { ClusterMembership, interfaceAddresses } from '../cluster/membership.ts';
import type { MembershipHost } from '../cluster/membership.ts';
import type { RouteLink } from '../cluster/route.ts';
import type { RouteInfo } from '../cluster/route_info.ts';
import type { ClusterState, WorkerRoutez } from '../cluster/worker_routes.ts';
import { GatewayMembership } from '../cluster/gateway_membership.ts';
import type { GatewayMembershipHost } from '../cluster/gateway_membership.ts';
import type { GatewayLink } from '../cluster/gateway.ts';
import type { GatewayInfo } from '../cluster/gateway_info.ts';
import type { GatewayState, WorkerGatewayz } from '../cluster/worker_gateways.ts';
import { LeafMembership } from '../cluster/leaf_membership.ts';
import type { LeafMembershipHost } from '../cluster/leaf_membership.ts';
import type { LeafLink } from '../cluster/leafnode.ts';
import type { LeafState, WorkerLeafz } from '../cluster/worker_leafs.ts';
import { accountNumbers } from './accounts.ts';
import type { ConnectionKind } from './connection.ts';
import type { LinkInfo } from './worker_protocol.ts';

/** Each worker-to-worker ring; big enough to absorb a burst of 1 MiB messages. */
const RING_BYTES = 4 * 1024 * 1024;

/** What the main thread uses of a worker; the JetStream host on this thread offers the same. */
export interface WorkerEnd {
  postMessage(m: MainToWorker, transfer?: never): void;
  on(event: 'message', fn: (m: WorkerToMain) => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
  once(event: 'error', fn: (err: Error) => void): unknown;
  off(event: 'message', fn: (m: WorkerToMain) => void): unknown;
  off(event: 'error', fn: (err: Error) => void): unknown;
  terminate(): Promise<number>;
}

interface WorkerSlot {
  worker: WorkerEnd;
  connections: number;
}

/** A 56-character id shaped like nats-server's server nkey (`N` + base32). */
function makeServerId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = crypto.randomBytes(55);
  let id = 'N';
  for (const b of bytes) id += alphabet[b & 31];
  return id;
}

export class PetrelServer implements MembershipHost, GatewayMembershipHost, LeafMembershipHost {
  options: ServerOptions;
  readonly logger: Logger;
  readonly serverId = makeServerId();
  readonly startTime = new Date();
  private readonly slots: WorkerSlot[] = [];
  /**
   * The JetStream host: a peer on the lanes that takes no sockets. It runs on this thread, whose
   * own work (accepting, monitoring, membership) is light: a thread of its own cost ~10 MB idle
   * (an isolate, its heap and malloc arena, a second copy of the shared modules) and no speed.
   */
  private jsSlot: WorkerSlot | null = null;
  private listener: net.Server | null = null;
  private monitor: MonitorServer | null = null;
  /** Membership of the cluster (null when the node is not clustered). */
  readonly cluster: ClusterMembership | null;
  /** This cluster's gateway to others (null without a gateway block). */
  readonly gateway: GatewayMembership | null;
  /** Leaf node connections (null without a leafnodes block). */
  readonly leaf: LeafMembership | null;
  /** Which worker owns each route, gateway and leaf connection. */
  private readonly linkSlots = new Map<number, WorkerSlot>();
  /** nats-server numbers the messages its system client sends. */
  private statszSeq = 1;
  private nextCid = 1;
  private connections = 0;
  totalConnections = 0;
  private queryId = 1;
  private readonly pending = new Map<number, { left: number; results: unknown[]; resolve: (r: unknown[]) => void }>();
  private portsFile: string | null = null;
  private stopping = false;
  private lameDuckMode = false;
  clientPort = 0;
  httpPort = 0;
  private stopped: Promise<void> | null = null;
  private resolveStopped: (() => void) | null = null;
  configLoadTime = new Date();

  constructor(options: ServerOptions, logger: Logger) {
    this.options = options;
    this.logger = logger;
    this.cluster = options.cluster ? new ClusterMembership(this, options.cluster) : null;
    this.gateway = options.gateway ? new GatewayMembership(this, options.gateway) : null;
    this.leaf = options.leafnodes ? new LeafMembership(this, options.leafnodes) : null;
    if (this.cluster) this.cluster.observers = [this.gateway, this.leaf].filter((o) => o !== null);
  }

  get workerCount(): number {
    return this.slots.length;
  }

  get connectionCount(): number {
    return this.connections;
  }

  get isLameDuck(): boolean {
    return this.lameDuckMode;
  }

  /** The INFO fields common to every client of this node. */
  baseInfo(): Record<string, unknown> {
    const o = this.options;
    const info: Record<string, unknown> = {
      server_id: this.serverId,
      server_name: o.serverName || this.serverId,
      version: NATS_COMPAT_VERSION,
      proto: PROTO_VERSION,
      go: `node${process.version}`,
      host: o.host,
      port: this.clientPort,
      headers: true,
      max_payload: o.maxPayload,
      petrel_version: PETREL_VERSION,
    };
    if (new Authenticator(o.auth).infoAuthRequired) info.auth_required = true;
    if (o.tls) {
      info.tls_required = true;
      info.tls_available = true;
      if (o.tls.verify) info.tls_verify = true;
    }
    if (o.jetstream.enabled) info.jetstream = true;
    if (o.clientAdvertise) info.connect_urls = [o.clientAdvertise];
    return info;
  }

  async start(): Promise<void> {
    const o = this.options;
    this.logger.info(`Starting nats-server (Petrel ${PETREL_VERSION})`);
    this.logger.info(`  Version:  ${NATS_COMPAT_VERSION} compatible, ${o.workers} routing worker(s)`);
    this.logger.info(`  Name:     ${o.serverName || this.serverId}`);
    this.logger.info(`  ID:       ${this.serverId}`);
    if (o.configFile) this.logger.info(`Using configuration file: ${o.configFile}`);
    this.stopped = new Promise((r) => (this.resolveStopped = r));
    await this.startWorkers();
    await this.listen();
    if (o.httpPort !== 0) {
      this.monitor = new MonitorServer(this);
      this.httpPort = await this.monitor.listen(o.httpHost, o.httpPort);
      this.logger.info(`Starting http monitor on ${o.httpHost}:${this.httpPort}`);
    }
    // Gateway and leafnode URLs first: the cluster's route INFO carries them.
    if (this.gateway) {
      await this.gateway.listen();
      this.broadcastGateway(this.gateway.state(), false);
    }
    if (this.leaf) {
      await this.leaf.listen();
      this.broadcastLeaf(this.leaf.state(), false);
    }
    if (this.cluster) {
      await this.cluster.listen();
      this.broadcastCluster(this.cluster.state(), false);
      this.cluster.solicit();
    }
    this.gateway?.solicit();
    this.leaf?.solicit();
    for (const key of ['websocket', 'mqtt'] as const) {
      if (o[key]) this.logger.warn(`The '${key}' block is parsed and validated, but not served by this version of Petrel yet`);
    }
    if (o.pidFile) fs.writeFileSync(o.pidFile, String(process.pid));
    this.writePortsFile();
    this.logger.info('Server is ready');
  }

  private async startWorkers(): Promise<void> {
    const n = Math.max(1, this.options.workers);
    const withJs = this.options.jetstream.enabled;
    const total = n + (withJs ? 1 : 0);
    const lanes = Router.createLanes(total, RING_BYTES, createRing);
    const bells = Array.from({ length: total }, () => Doorbell.create());
    const info = this.baseInfo();
    const ready: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const isJs = withJs && i === n;
      const init: WorkerInit = { index: i, workers: total, lanes, bells, options: this.options, info };
      if (this.cluster) init.cluster = this.cluster.state();
      if (this.gateway) init.gateway = this.gateway.state();
      if (this.leaf) init.leaf = this.leaf.state();
      // The JetStream host comes last: the routing workers boot on their threads while this one
      // loads and opens JetStream.
      const worker: WorkerEnd = isJs
        ? new (await import('./jetstream_host.ts')).InThreadJetStream(init)
        : startRoutingWorker(init);
      const slot: WorkerSlot = { worker, connections: 0 };
      if (isJs) this.jsSlot = slot;
      else this.slots.push(slot);
      const up = this.watch(slot, isJs ? 'jetstream' : i);
      up.catch(() => undefined); // awaited below, after the loop's own awaits
      ready.push(up);
    }
    await Promise.all(ready);
    if (withJs) this.logger.info(`Starting JetStream, store directory: ${this.options.jetstream.storeDir}`);
  }

  /** Listens to a worker from its creation on (a message nobody listens to is lost); resolves once it is ready. */
  private watch(slot: WorkerSlot, which: number | 'jetstream'): Promise<void> {
    const worker = slot.worker;
    const ready = new Promise<void>((resolve, reject) => {
      worker.once('error', reject);
      const onReady = (m: WorkerToMain) => {
        if (m.t === 'ready') {
          worker.off('message', onReady);
          worker.off('error', reject);
          resolve();
        }
      };
      worker.on('message', onReady);
    });
    worker.on('message', (m: WorkerToMain) => this.onWorker(slot, m));
    worker.on('error', (err) => {
      const what = which === 'jetstream' ? 'JetStream' : 'routing worker';
      this.logger.fatal({ err, worker: which }, `${what} failed: ${err.message}`);
      void this.shutdown(1);
    });
    return ready;
  }

  private onWorker(slot: WorkerSlot, m: WorkerToMain): void {
    switch (m.t) {
      case 'closed':
        slot.connections--;
        if (m.kind === 'client') {
          this.connections--;
          return;
        }
        this.linkSlots.delete(m.cid);
        if (m.kind === 'route') this.cluster?.onRouteClosed(m.cid);
        else if (m.kind === 'gateway') this.gateway?.onGatewayClosed(m.cid);
        else if (m.kind === 'leaf') this.leaf?.onLeafClosed(m.cid);
        return;
      case 'route-info':
        this.cluster?.onRouteInfo(m.cid, m.info, m.first, m.ip);
        return;
      case 'gateway-info':
        this.gateway?.onGatewayInfo(m.cid, m.info, m.first);
        return;
      case 'leaf-event':
        this.leaf?.onLeafEvent(m.cid, m.event);
        return;
      case 'statsz':
        void buildStatsz(this, this.statszSeq++).then((data) => this.post(slot, { t: 'statsz', id: m.id, data }));
        return;
      case 'reply': {
        const p = this.pending.get(m.id);
        if (!p) return;
        p.results.push(m.data);
        if (--p.left === 0) {
          this.pending.delete(m.id);
          p.resolve(p.results);
        }
        return;
      }
      default:
        return;
    }
  }

  private post(slot: WorkerSlot, m: MainToWorker, transfer?: unknown[]): void {
    slot.worker.postMessage(m, transfer as never);
  }

  private listen(): Promise<void> {
    const o = this.options;
    const srv = net.createServer({ pauseOnConnect: true, noDelay: true }, (sock) => this.accept(sock));
    this.listener = srv;
    return new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ host: o.host, port: o.port < 0 ? 0 : o.port, backlog: 4096 }, () => {
        srv.off('error', reject);
        srv.on('error', (err) => this.logger.error({ err }, 'client listener error'));
        this.clientPort = (srv.address() as net.AddressInfo).port;
        this.logger.info(`Listening for client connections on ${o.host}:${this.clientPort}`);
        // Workers were given INFO before the port was known.
        this.broadcast({ t: 'reload', options: this.options, info: this.baseInfo() });
        resolve();
      });
    });
  }

  private broadcast(m: MainToWorker): void {
    for (const s of this.slots) this.post(s, m);
  }

  private accept(sock: net.Socket): void {
    if (this.stopping || this.lameDuckMode) {
      sock.destroy();
      return;
    }
    const cid = this.nextCid++;
    if (this.connections >= this.options.maxConnections) {
      // As nats-server: the client still gets INFO, then the error.
      const info = { ...this.baseInfo(), client_id: cid };
      sock.end(`INFO ${JSON.stringify(info)}\r\n-ERR 'maximum connections exceeded'\r\n`);
      sock.resume();
      this.logger.warn(`Maximum connections (${this.options.maxConnections}) exceeded`);
      return;
    }
    this.connections++;
    this.totalConnections++;
    this.give('client', sock, cid);
  }

  /**
   * Gives a socket to the least-loaded routing worker, which owns it from then on. Routes are
   * placed like clients: measured against pinning every route to one worker (3 nodes, 2 workers
   * each, 16 B and 1 KiB, 1:1, fan-out to two nodes, two nodes into one), spreading them carried
   * 1.2x to 3.8x more messages — a pinned worker does every route's parsing and writing alone, and
   * its clients' messages take a lane hop more.
   */
  private give(kind: ConnectionKind, sock: net.Socket, cid: number, link?: LinkInfo): WorkerSlot {
    let best = this.slots[0]!;
    for (const s of this.slots) if (s.connections < best.connections) best = s;
    best.connections++;
    const ip = sock.remoteAddress ?? '';
    const port = sock.remotePort ?? 0;
    this.post(best, { t: 'conn', kind, sock, cid, ip, port, link }, [sock]);
    return best;
  }

  // --- MembershipHost ----------------------------------------------------------------------

  handOver(sock: net.Socket, link: RouteLink): number {
    return this.handOverLink('route', sock, link);
  }

  /** Dialled and accepted links take the same path to a worker as client sockets. */
  private handOverLink(kind: ConnectionKind, sock: net.Socket, link: LinkInfo): number {
    const cid = this.nextCid++;
    this.linkSlots.set(cid, this.give(kind, sock, cid, link));
    return cid;
  }

  broadcastCluster(state: ClusterState, announce: boolean): void {
    this.broadcast({ t: 'cluster', state, announce });
  }

  toRouteWorker(cid: number, m: MainToWorker): void {
    this.toLinkWorker(cid, m);
  }

  /** Sends a message about link `cid` to the worker that owns it. */
  private toLinkWorker(cid: number, m: MainToWorker): void {
    const slot = this.linkSlots.get(cid);
    if (slot) this.post(slot, m);
  }

  /** The route INFO's gateway and leafnode URLs of this server. */
  routeInfoExtras(): Partial<RouteInfo> {
    const extra: Partial<RouteInfo> = {};
    if (this.gateway?.url) extra.gateway_url = this.gateway.url;
    if (this.leaf?.url && !this.options.leafnodes?.noAdvertise) extra.leafnode_urls = [this.leaf.url];
    return extra;
  }

  // --- GatewayMembershipHost, LeafMembershipHost ------------------------------------------

  handOverGateway(sock: net.Socket, link: GatewayLink): number {
    return this.handOverLink('gateway', sock, link);
  }

  broadcastGateway(state: GatewayState, announce: boolean): void {
    this.broadcast({ t: 'gateway', state, announce });
  }

  toGatewayWorker(cid: number, m: { t: 'gateway-verdict'; cid: number; ok: boolean; reason?: string } | { t: 'gateway-send-info'; cid: number; info: GatewayInfo }): void {
    this.toLinkWorker(cid, m);
  }

  toRoute(cid: number, info: RouteInfo): void {
    this.toLinkWorker(cid, { t: 'route-send-info', cid, info });
  }

  routeCids(): number[] {
    return this.cluster?.registeredRoutes() ?? [];
  }

  routeServerNames(): string[] {
    return this.cluster?.registeredServerNames() ?? [];
  }

  handOverLeaf(sock: net.Socket, link: LeafLink): number {
    return this.handOverLink('leaf', sock, link);
  }

  broadcastLeaf(state: LeafState, announce: boolean): void {
    this.broadcast({ t: 'leaf', state, announce });
  }

  closeLeaf(cid: number, reason: string): void {
    this.toLinkWorker(cid, { t: 'leaf-close', cid, reason });
  }

  accountNames(): string[] {
    return [...accountNumbers(this.options).keys()];
  }

  /**
   * The cluster name a leaf node connection carries: the cluster's, else the gateway's, else (a
   * leaf node of no cluster) the server name, as nats-server keeps it stable.
   */
  clusterName(): string {
    const o = this.options;
    if (this.cluster) return this.cluster.clusterName;
    if (o.gateway) return o.gateway.name;
    return o.leafnodes && o.leafnodes.remotes.length > 0 ? o.serverName : '';
  }

  get gatewayEnabled(): boolean {
    return this.gateway !== null;
  }

  async gatewayz(accounts: boolean, account?: string, gwName?: string): Promise<Record<string, unknown>> {
    const base = { server_id: this.serverId, now: new Date().toISOString() };
    if (!this.gateway) return { ...base, outbound_gateways: {}, inbound_gateways: {} };
    const parts = await this.query<WorkerGatewayz[]>('gatewayz', { accounts, account });
    return { ...base, ...this.gateway.gatewayz(parts.flat(), gwName) };
  }

  async leafz(subs: boolean, account?: string): Promise<Record<string, unknown>> {
    const parts = this.leaf ? (await this.query<WorkerLeafz[]>('leafz', { subs, account })).flat() : [];
    return { server_id: this.serverId, now: new Date().toISOString(), leafnodes: parts.length, leafs: parts };
  }

  /** This server's client URLs (host:port), as nats-server advertises them to the cluster. */
  ownClientUrls(): string[] {
    const o = this.options;
    if (o.clientAdvertise) return [o.clientAdvertise.replace(/^[a-z]+:\/\//i, '')];
    if (o.host === '0.0.0.0' || o.host === '::' || o.host === '') {
      const ips = interfaceAddresses();
      return (ips.length > 0 ? ips : ['127.0.0.1']).map((ip) => `${ip}:${this.clientPort}`);
    }
    return [`${o.host.includes(':') ? `[${o.host}]` : o.host}:${this.clientPort}`];
  }

  async routez(subs: boolean): Promise<Record<string, unknown>[]> {
    if (!this.cluster) return [];
    const parts = await this.query<WorkerRoutez[]>('routez', { subs });
    return this.cluster.routez(parts.flat());
  }

  /** Asks workers (the routing workers, or the given ones) and collects their answers. */
  query<T>(what: QueryKind, args: unknown = {}, slots: WorkerSlot[] = this.slots): Promise<T[]> {
    const id = this.queryId++;
    if (slots.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      this.pending.set(id, { left: slots.length, results: [], resolve: resolve as (r: unknown[]) => void });
      for (const s of slots) this.post(s, { t: 'query', id, what, args });
    });
  }

  /** JetStream's /jsz answer, or null when JetStream is off. */
  async jsz(args: Record<string, unknown>): Promise<Record<string, unknown> | null> {
    return this.askJetStream<Record<string, unknown>>('jsz', args);
  }

  /** A question only the JetStream host answers; null when JetStream is off. */
  async askJetStream<T>(what: 'jsz' | 'jshealth' | 'jsmetrics' | 'replicaz', args: unknown = {}): Promise<T | null> {
    if (!this.jsSlot) return null;
    const [r] = await this.query<T>(what, args, [this.jsSlot]);
    return r ?? null;
  }

  varz(): Promise<WorkerVarz[]> {
    return this.query<WorkerVarz>('varz');
  }

  connz(q: ConnzQuery): Promise<WorkerConnz[]> {
    return this.query<WorkerConnz>('connz', q);
  }

  subsz(q: { subs: boolean; test?: string }): Promise<WorkerSubsz[]> {
    return this.query<WorkerSubsz>('subsz', q);
  }

  /** nats-server names the file after its executable: `nats-server_<pid>.ports`. */
  private writePortsFile(): void {
    const dir = this.options.portsFileDir;
    if (!dir) return;
    const hosts = this.advertisedHosts(this.options.host);
    const ports: Record<string, string[]> = { nats: hosts.map((h) => `nats://${h}:${this.clientPort}`) };
    if (this.monitor) ports.monitoring = this.advertisedHosts(this.options.httpHost).map((h) => `http://${h}:${this.httpPort}`);
    if (this.cluster) ports.cluster = this.advertisedHosts(this.options.cluster!.host).map((h) => `nats://${h}:${this.cluster!.port}`);
    // Not in nats-server 2.9's ports file: Petrel adds them so launchers find `port: -1` listeners.
    if (this.gateway) ports.gateway = this.advertisedHosts(this.options.gateway!.host).map((h) => `nats://${h}:${this.gateway!.port}`);
    if (this.leaf?.listening) ports.leafnode = this.advertisedHosts(this.options.leafnodes!.host).map((h) => `nats://${h}:${this.leaf!.port}`);
    this.portsFile = path.join(dir, `nats-server_${process.pid}.ports`);
    const tmp = `${this.portsFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(ports));
    fs.renameSync(tmp, this.portsFile);
  }

  private advertisedHosts(host: string): string[] {
    if (host !== '0.0.0.0' && host !== '::' && host !== '') return [host.includes(':') ? `[${host}]` : host];
    const out: string[] = [];
    for (const list of Object.values(os.networkInterfaces())) {
      for (const a of list ?? []) if (a.family === 'IPv4') out.push(a.address);
    }
    return out.length ? out : ['127.0.0.1'];
  }

  /** Applies a reloaded configuration: auth, permissions, limits and logging. */
  reload(next: ServerOptions): void {
    const o = this.options;
    const fixed: [string, unknown, unknown][] = [
      ['host', o.host, next.host],
      ['port', o.port, next.port],
      ['workers', o.workers, next.workers],
      ['jetstream', JSON.stringify(o.jetstream), JSON.stringify(next.jetstream)],
      ['http', `${o.httpHost}:${o.httpPort}`, `${next.httpHost}:${next.httpPort}`],
      // Account numbers are positions in the config; a changed list would renumber live subjects.
      ['accounts', Object.keys(o.accounts ?? {}).join(','), Object.keys(next.accounts ?? {}).join(',')],
      ['system_account', o.systemAccount, next.systemAccount],
      ['cluster', JSON.stringify(o.cluster), JSON.stringify(next.cluster)],
      ['gateway', JSON.stringify(o.gateway), JSON.stringify(next.gateway)],
      ['leafnodes', JSON.stringify(o.leafnodes), JSON.stringify(next.leafnodes)],
    ];
    const refused = fixed.filter(([, a, b]) => a !== b).map(([k]) => k);
    if (refused.length > 0) {
      throw new Error(`config reload not supported for: ${refused.join(', ')} (restart the server to change them)`);
    }
    this.options = next;
    this.configLoadTime = new Date();
    this.broadcast({ t: 'reload', options: next, info: this.baseInfo() });
    this.logger.info('Reloaded server configuration');
  }

  reopenLogs(): void {
    this.broadcast({ t: 'reopen-log' });
    if (this.jsSlot) this.post(this.jsSlot, { t: 'reopen-log' });
  }

  /** Stops accepting, tells clients to go elsewhere, closes them over the lame-duck duration, then stops. */
  async lameDuck(): Promise<void> {
    if (this.lameDuckMode || this.stopping) return;
    this.lameDuckMode = true;
    this.logger.info('Entering lame duck mode, stop accepting new clients');
    this.listener?.close();
    this.cluster?.enterLameDuck();
    const o = this.options;
    const done = this.slots.map(
      (s) =>
        new Promise<void>((resolve) => {
          const on = (m: WorkerToMain) => {
            if (m.t === 'lameduck-done') {
              s.worker.off('message', on);
              resolve();
            }
          };
          s.worker.on('message', on);
        }),
    );
    this.broadcast({ t: 'lameduck', graceMs: o.lameDuckGracePeriodMs, durationMs: o.lameDuckDurationMs });
    await Promise.all(done);
    await this.shutdown(0);
  }

  /** Graceful stop: close listeners and connections, stop workers, remove ports/pid files. */
  async shutdown(_code = 0): Promise<void> {
    if (this.stopping) return this.stopped ?? undefined;
    this.stopping = true;
    this.logger.info('Initiating Shutdown...');
    this.listener?.close();
    this.cluster?.stop();
    this.gateway?.stop();
    this.leaf?.stop();
    await this.monitor?.close();
    await this.stopSlots(this.slots);
    if (this.jsSlot) await this.stopSlots([this.jsSlot]);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    if (this.jsSlot) await this.jsSlot.worker.terminate();
    if (this.portsFile) fs.rmSync(this.portsFile, { force: true });
    if (this.options.pidFile) fs.rmSync(this.options.pidFile, { force: true });
    this.logger.info('Server Exiting..');
    this.resolveStopped?.();
  }

  /** Asks workers to stop (closing their connections, flushing stores) and waits a bounded time. */
  private stopSlots(slots: WorkerSlot[]): Promise<unknown> {
    return Promise.all(
      slots.map(
        (s) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 5000);
            s.worker.on('message', (m: WorkerToMain) => {
              if (m.t === 'stopped') {
                clearTimeout(timer);
                resolve();
              }
            });
            this.post(s, { t: 'shutdown' });
          }),
      ),
    );
  }

  /** Resolves once the server has stopped (signal, lame duck or shutdown()). */
  whenStopped(): Promise<void> {
    return this.stopped ?? Promise.resolve();
  }
}

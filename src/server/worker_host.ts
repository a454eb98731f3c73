// The inside of one routing worker thread: it receives sockets from the main thread (accepted or
// dialled, each with its connection kind), owns those connections, runs the Router over its
// replica of the node's interest, pumps the lanes from the peer workers, flushes outbound buffers
// once per event-loop turn, and answers monitoring queries.

import fs from 'node:fs';
import type tls from 'node:tls';
import { tlsModule } from './tls_module.ts';
import type net from 'node:net';
import type { MessagePort } from 'node:worker_threads';
import type { Router } from '../routing/router.ts';
import type { RouterLanes } from '../routing/router.ts';
import type { Doorbell } from '../routing/ring.ts';
import { ClientConnection } from './client.ts';
import type { ClientHost } from './client.ts';
import type { Connection, ConnectionKind } from './connection.ts';
import type { RouteConnection, RouteHost, RouteLink } from '../cluster/route.ts';
import type { RouteInfo } from '../cluster/route_info.ts';
import type { WorkerRoutes } from '../cluster/worker_routes.ts';
import type { GatewayConnection, GatewayHost, GatewayLink, GatewaySide } from '../cluster/gateway.ts';
import type { GatewayInfo } from '../cluster/gateway_info.ts';
import type { WorkerGateways, GatewayReplyRouting, GatewayState } from '../cluster/worker_gateways.ts';
import type { LeafConnection, LeafHost, LeafLink, LeafSide } from '../cluster/leafnode.ts';
import type { WorkerLeafs } from '../cluster/worker_leafs.ts';
import type { WorkerLinkModules } from '../cluster/worker_links.ts';
import type { LeafEvent, LeafState } from '../cluster/worker_leafs.ts';
import type { GatewayOptions, LeafNodeOptions } from '../config/options.ts';
import { SystemClient } from './system_client.ts';
import type { ClusterState } from '../cluster/worker_routes.ts';
import type { InterestExport } from '../routing/interest_export.ts';
import { jetStreamClustered, type ClusterOptions } from '../config/options.ts';
import { LanePump } from './lane_pump.ts';
import { joinLanes, workerLogger } from './lane_member.ts';
import { accountNumbers } from './accounts.ts';
import { ClosedState, connzEntry } from './conn_state.ts';
import { ClientAuth } from './client_auth.ts';
import type { Logger } from '../log.ts';
import type { ServerOptions } from '../config/options.ts';
import type { MainToWorker, WorkerToMain, ConnzQuery, WorkerConnz, WorkerVarz, WorkerSubsz, SublistStats, LinkInfo, QueryKind } from './worker_protocol.ts';
import type { WorkerRoutez } from '../cluster/worker_routes.ts';
import type { TlsOptions } from '../config/options.ts';
import { subjectMatches } from '../routing/subjects.ts';

/** Closed connections kept for /connz?state=closed, as nats-server's default. */
const CLOSED_RING = 10_000;

export interface WorkerInit {
  index: number;
  workers: number;
  lanes: RouterLanes;
  bells: SharedArrayBuffer[];
  options: ServerOptions;
  info: Record<string, unknown>;
  /** Present when the node is clustered. */
  cluster?: ClusterState;
  /** Present when the node has a gateway. */
  gateway?: GatewayState;
  /** Present when the node has a leafnodes block. */
  leaf?: LeafState;
}

/** Whether a worker with this start-up state serves links (and so needs the link modules). */
export function hasLinks(init: WorkerInit): boolean {
  return init.cluster !== undefined || init.gateway !== undefined || init.leaf !== undefined;
}

export class WorkerHost implements ClientHost, RouteHost, GatewayHost, LeafHost {
  readonly index: number;
  options: ServerOptions;
  readonly router: Router;
  auth: ClientAuth;
  private accounts: Map<string, number>;
  private accountNames: string[] = [];
  secureContext: tls.SecureContext | null = null;
  routeSecureContext: tls.SecureContext | null = null;
  /** The cluster side of this worker; null when the node is not clustered. */
  private readonly routes: WorkerRoutes | null;
  /** The super-cluster side; null without a gateway. */
  private readonly gateways: WorkerGateways | null;
  /** Leaf connections; null without a leafnodes block. */
  private readonly leafs: WorkerLeafs | null;
  /** The link modules, loaded by the worker's entry only when the node has links (worker_links.ts). */
  private readonly links: WorkerLinkModules | null;
  /** Secure contexts for remote gateways' and leaf remotes' own TLS settings, by settings. */
  private readonly linkContexts = new Map<string, tls.SecureContext>();
  readonly serverId: string;
  logger: Logger;
  private closeLog: () => void;
  private reopenLog: () => void;
  readonly counters = { slowConsumers: 0, totalConnections: 0 };
  private readonly port: MessagePort;
  /** Every connection this worker owns, of any kind, by cid. */
  private readonly conns = new Map<number, Connection>();
  private readonly clients = new Map<number, ClientConnection>();
  private readonly closed: ClosedState[] = [];
  private dirty: Connection[] = [];
  private readonly pump: LanePump;
  private readonly ownBell: Doorbell;
  private info: Record<string, unknown>;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly writeBlocked = new Map<Connection, number>();
  private stopping = false;
  private lameDuck = false;
  readsPaused = false;
  /** The connection whose bytes are being parsed right now (the producer a congested reader stalls). */
  inbound: Connection | null = null;

  /** `links` must be present when `init` names a cluster, gateway or leafnodes block (workers/router.ts loads them then). */
  constructor(port: MessagePort, init: WorkerInit, links: WorkerLinkModules | null) {
    this.port = port;
    this.links = links;
    this.index = init.index;
    this.options = init.options;
    this.info = init.info;
    const log = workerLogger(init.options, init.index);
    this.logger = log.logger;
    this.closeLog = log.close;
    this.reopenLog = log.reopen;
    ({ router: this.router, ownBell: this.ownBell } = joinLanes(init));
    this.serverId = String(init.info.server_id ?? '');
    this.auth = new ClientAuth(init.options.auth);
    this.accounts = accountNumbers(init.options);
    this.setAccounts();
    if (hasLinks(init) && !links) throw new Error('a worker with links needs the link modules');
    this.routes = init.cluster ? new links!.WorkerRoutes(this.router, init.cluster) : null;
    this.gateways = init.gateway ? new links!.WorkerGateways(this.router, init.gateway, this.serverId, () => this.now()) : null;
    this.leafs = init.leaf ? new links!.WorkerLeafs(init.leaf) : null;
    this.loadTls();
    this.startSweep();
    port.on('message', (m: MainToWorker) => this.onMain(m));
    this.pump = new LanePump(
      this.router,
      this.ownBell,
      () => this.flushClients(),
      (backlogged) => this.setReadsPaused(backlogged),
    );
    if (init.workers > 1) void this.pump.run();
    // One system client per node, in the first routing worker.
    if (init.index === 0) new SystemClient(this.router, () => this.scheduleFlush(), this.router.systemAccount, this.serverId, () => this.statsz());
  }

  now(): number {
    return Date.now();
  }

  /** The number of a named account (unknown or absent: the global account). */
  accountNumber(name: string | undefined): number {
    return name === undefined ? 0 : (this.accounts.get(name) ?? 0);
  }

  knownAccount(name: string): number | undefined {
    return this.accounts.get(name);
  }

  accountName(account: number): string {
    return this.accountNames[account] ?? '';
  }

  accountNumbers(): Iterable<number> {
    return this.accounts.values();
  }

  private setAccounts(): void {
    this.accountNames = [];
    for (const [name, n] of this.accounts) this.accountNames[n] = name;
    this.router.systemAccount = this.accounts.get(this.options.systemAccount) ?? -1;
    this.router.exportJetStream = jetStreamClustered(this.options);
  }

  // --- RouteHost ----------------------------------------------------------------------

  get cluster(): ClusterOptions {
    return this.options.cluster!;
  }

  get clusterName(): string {
    return this.routes?.state.name ?? '';
  }

  get clusterDynamic(): boolean {
    return this.routes?.state.dynamic ?? false;
  }

  routeInfo(): RouteInfo {
    return this.routes!.state.routeInfo;
  }

  get interest(): InterestExport | null {
    return this.routes?.interest ?? null;
  }

  routeInfoReceived(c: RouteConnection, info: RouteInfo, first: boolean): void {
    this.post({ t: 'route-info', cid: c.id, info, first, solicited: c.link.solicited, url: c.link.url, ip: c.state.ip });
  }

  get gatewayReplies(): GatewayReplyRouting | null {
    return this.gateways;
  }

  // --- GatewayHost, LeafHost ------------------------------------------------------------

  get gateway(): GatewayOptions {
    return this.options.gateway!;
  }

  get gatewaySide(): GatewaySide {
    return this.gateways!;
  }

  gatewayInfoReceived(c: GatewayConnection, info: GatewayInfo, first: boolean): void {
    this.post({ t: 'gateway-info', cid: c.id, info, first });
  }

  get leafnodes(): LeafNodeOptions {
    return this.options.leafnodes!;
  }

  get leafSide(): LeafSide {
    return this.leafs!;
  }

  leafEvent(c: LeafConnection, event: LeafEvent): void {
    this.post({ t: 'leaf-event', cid: c.id, event });
  }

  /** A secure context for a link's TLS settings (cached: remotes dial again and again). */
  secureContextFor(t: TlsOptions | undefined): tls.SecureContext | null {
    if (!t) return null;
    const key = JSON.stringify(t);
    let ctx = this.linkContexts.get(key);
    if (ctx === undefined) {
      ctx = secureContextFor(t)!;
      this.linkContexts.set(key, ctx);
    }
    return ctx;
  }

  makeNonce(): Uint8Array {
    return this.auth.makeNonce();
  }

  infoFor(c: ClientConnection): Buffer {
    const info: Record<string, unknown> = { ...this.info, client_id: c.id, client_ip: c.state.ip };
    const urls = this.routes?.state.connectUrls;
    if (urls) info.connect_urls = urls;
    if (this.routes) info.cluster = this.routes.state.name;
    if (c.nonce) info.nonce = Buffer.from(c.nonce).toString('latin1');
    if (this.lameDuck) info.ldm = true;
    return Buffer.from(`INFO ${JSON.stringify(info)}\r\n`);
  }

  private loadTls(): void {
    this.secureContext = secureContextFor(this.options.tls);
    this.routeSecureContext = secureContextFor(this.options.cluster?.tls);
  }

  private post(m: WorkerToMain): void {
    this.port.postMessage(m);
  }

  private statszSeq = 1;
  private readonly statszWaiting = new Map<number, (data: unknown) => void>();

  /** The node's statsz, from the main thread (which holds the node-wide numbers). */
  private statsz(): Promise<unknown> {
    const id = this.statszSeq++;
    return new Promise((resolve) => {
      this.statszWaiting.set(id, resolve);
      this.post({ t: 'statsz', id });
    });
  }

  private onMain(m: MainToWorker): void {
    switch (m.t) {
      case 'conn':
        this.accept(m.kind, m.sock, m.cid, m.ip, m.port, m.link);
        return;
      case 'cluster':
        this.clusterChanged(m.state, m.announce);
        return;
      case 'route-verdict':
        this.routes?.verdict(m.cid, m.ok, m.reason);
        this.scheduleFlush();
        return;
      case 'route-send-info':
        this.routes?.sendInfo(m.cid, m.info);
        this.scheduleFlush();
        return;
      case 'route-close':
        this.routes?.close(m.cid, m.reason);
        return;
      case 'gateway':
        this.gateways?.changed(m.state, m.announce);
        this.scheduleFlush();
        return;
      case 'gateway-verdict':
        this.gateways?.conns.get(m.cid)?.verdict(m.ok, m.reason);
        this.scheduleFlush();
        return;
      case 'gateway-send-info':
        this.gateways?.conns.get(m.cid)?.sendInfoJson(m.info);
        this.scheduleFlush();
        return;
      case 'leaf':
        this.leafs?.changed(m.state, m.announce);
        this.scheduleFlush();
        return;
      case 'leaf-close':
        this.leafs?.close(m.cid, m.reason, m.reason);
        this.scheduleFlush();
        return;
      case 'statsz': {
        const done = this.statszWaiting.get(m.id);
        this.statszWaiting.delete(m.id);
        done?.(m.data);
        return;
      }
      case 'reload':
        this.reload(m.options, m.info);
        return;
      case 'query':
        this.post({ t: 'reply', id: m.id, data: this.query(m.what, m.args) });
        return;
      case 'reopen-log':
        this.reopenLog();
        return;
      case 'lameduck':
        this.enterLameDuck(m.graceMs, m.durationMs);
        return;
      case 'shutdown':
        this.shutdown();
        return;
    }
  }

  private accept(kind: ConnectionKind, sock: net.Socket, cid: number, ip: string, port: number, link?: LinkInfo): void {
    if (this.stopping) {
      sock.destroy();
      return;
    }
    switch (kind) {
      case 'client': {
        const c = new ClientConnection(this, cid, sock, { ip, port });
        this.conns.set(cid, c);
        this.clients.set(cid, c);
        this.counters.totalConnections++;
        this.logger.debug({ cid, ip, port }, 'Client connection created');
        c.start();
        return;
      }
      case 'route': {
        if (!this.routes) break;
        const r = new this.links!.RouteConnection(this, cid, sock, { ip, port }, (link as RouteLink | undefined) ?? { solicited: false });
        this.conns.set(cid, r);
        this.routes.add(r);
        this.logger.debug({ cid, ip, port, solicited: r.link.solicited }, 'Route connection created');
        r.start();
        return;
      }
      case 'gateway': {
        if (!this.gateways) break;
        const g = new this.links!.GatewayConnection(this, cid, sock, { ip, port }, (link as GatewayLink | undefined) ?? { solicited: false });
        this.conns.set(cid, g);
        this.gateways.add(g);
        this.logger.debug({ cid, ip, port, outbound: g.outbound }, g.outbound ? 'Outbound gateway connection created' : 'Processing inbound gateway connection');
        g.start();
        return;
      }
      case 'leaf': {
        if (!this.leafs) break;
        const l = new this.links!.LeafConnection(this, cid, sock, { ip, port }, (link as LeafLink | undefined) ?? { solicited: false });
        this.conns.set(cid, l);
        this.leafs.add(l);
        this.logger.debug({ cid, ip, port, solicited: l.link.solicited }, 'Leafnode connection created');
        l.start();
        return;
      }
    }
    this.logger.error({ cid, kind }, 'connection of an unknown kind refused');
    sock.destroy();
  }

  /** The main thread's new cluster state: clients that follow cluster changes get a fresh INFO. */
  private clusterChanged(state: ClusterState, announce: boolean): void {
    if (!this.routes) return;
    const urlsChanged = JSON.stringify(state.connectUrls) !== JSON.stringify(this.routes.state.connectUrls);
    this.routes.state = state;
    if (!urlsChanged || !announce) return;
    for (const c of this.clients.values()) if (c.followsInfo) c.enqueue(this.infoFor(c));
    this.scheduleFlush();
  }

  /** When the cluster's connect URLs last changed (a client older than that gets INFO after its first PONG). */
  get urlsChangedAt(): number {
    return this.routes?.state.urlsChangedAt ?? 0;
  }

  // --- flushing -----------------------------------------------------------------

  markDirty(c: Connection): void {
    this.dirty.push(c);
    this.scheduleFlush();
  }

  scheduleFlush(): void {
    this.pump.scheduleFlush();
  }

  /** While a peer's ring is full, sockets are not read: TCP pushes back on publishers. */
  private setReadsPaused(paused: boolean): void {
    this.readsPaused = paused;
    for (const c of this.conns.values()) c.setReadPaused(paused);
  }

  private flushClients(): void {
    const list = this.dirty;
    this.dirty = [];
    for (const c of list) if (c.out.dirty) c.flush();
  }

  /** Connections whose backlog holds the lanes (see ConnectionHost.holdLanes). */
  private readonly laneHolders = new Set<Connection>();

  holdLanes(c: Connection): void {
    this.laneHolders.add(c);
    this.pump.hold();
  }

  releaseLanes(c: Connection): void {
    if (this.laneHolders.delete(c) && this.laneHolders.size === 0) this.pump.release();
  }

  watchWrite(c: Connection): void {
    if (c.socket.writableLength > 0) {
      if (!this.writeBlocked.has(c)) this.writeBlocked.set(c, this.now());
    } else {
      this.writeBlocked.delete(c);
    }
  }

  writeDrained(c: Connection): void {
    this.writeBlocked.delete(c);
  }

  // --- timers -----------------------------------------------------------------------

  private startSweep(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const o = this.options;
    // Fine enough for the shortest configured deadline, never busier than 100 Hz.
    const every = Math.max(10, Math.min(1000, Math.floor(Math.min(o.pingIntervalMs, o.auth.timeoutMs, o.writeDeadlineMs) / 4)));
    this.sweepTimer = setInterval(() => this.sweep(), every);
    this.sweepTimer.unref();
  }

  private sweep(): void {
    const now = this.now();
    for (const c of this.conns.values()) c.sweep(now);
    for (const [c, since] of this.writeBlocked) {
      if (c.closed) this.writeBlocked.delete(c);
      else if (now - since > this.options.writeDeadlineMs) c.writeDeadlineExceeded();
    }
    this.scheduleFlush();
  }

  connectionClosed(c: Connection, closed: ClosedState): void {
    this.conns.delete(c.id);
    this.writeBlocked.delete(c);
    if (c.kind === 'client') {
      this.clients.delete(c.id);
      this.closed.push(closed);
      if (this.closed.length > CLOSED_RING) this.closed.shift();
      this.logger.debug({ cid: c.id, reason: closed.reason }, 'Client connection closed');
    } else if (c.kind === 'route') {
      const r = c as RouteConnection;
      this.routes?.remove(r);
      this.logger.info({ cid: c.id, remote: r.remote?.server_id, reason: closed.reason }, 'Route connection closed');
    } else if (c.kind === 'gateway') {
      const g = c as GatewayConnection;
      this.gateways?.remove(g);
      this.logger.info({ cid: c.id, gateway: g.name, outbound: g.outbound, reason: closed.reason }, 'Gateway connection closed');
    } else if (c.kind === 'leaf') {
      const l = c as LeafConnection;
      this.leafs?.remove(l);
      this.logger.info({ cid: c.id, remote: l.remoteServer, reason: closed.reason }, 'Leafnode connection closed');
    }
    this.post({ t: 'closed', cid: c.id, kind: c.kind });
    this.scheduleFlush();
  }

  // --- reload, lame duck, shutdown -------------------------------------------------

  private reload(options: ServerOptions, info: Record<string, unknown>): void {
    this.options = options;
    this.info = info;
    this.auth = new ClientAuth(options.auth);
    this.accounts = accountNumbers(options);
    this.setAccounts();
    this.loadTls();
    this.startSweep();
    for (const c of this.clients.values()) {
      c.parser.setLimits({ maxPayload: options.maxPayload, maxControlLine: options.maxControlLine });
      void c.recheckAuth().then(() => this.scheduleFlush());
    }
  }

  private enterLameDuck(graceMs: number, durationMs: number): void {
    this.lameDuck = true;
    const clients = [...this.clients.values()];
    // Tell clients first (INFO with ldm), then close them spread over the duration.
    for (const c of clients) c.enqueue(this.infoFor(c));
    this.scheduleFlush();
    const step = clients.length > 0 ? Math.max(1, Math.floor(durationMs / clients.length)) : 0;
    let i = 0;
    const closeNext = (): void => {
      if (i < clients.length) clients[i++]!.close('Server Shutdown', true);
      if (i >= clients.length) this.post({ t: 'lameduck-done' });
      else setTimeout(closeNext, step);
    };
    setTimeout(closeNext, graceMs);
  }

  private shutdown(): void {
    this.stopping = true;
    for (const c of [...this.conns.values()]) c.close('Server Shutdown', true);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    void this.auth.close().finally(() => {
      this.closeLog();
      this.post({ t: 'stopped' });
      this.pump.stop();
    });
  }

  // --- monitoring ------------------------------------------------------------------

  private query(what: QueryKind, args: unknown): unknown {
    const now = this.now();
    if (what === 'routez') return this.routes?.routez(now, (args as { subs: boolean }).subs) ?? [];
    if (what === 'gatewayz') {
      const a = args as { accounts: boolean; account?: string };
      return this.gateways?.gatewayz(now, a.accounts, a.account) ?? [];
    }
    if (what === 'leafz') {
      const a = args as { subs: boolean; account?: string };
      return this.leafs?.leafz(a.subs, a.account) ?? [];
    }
    if (what === 'connz') {
      const q = args as ConnzQuery;
      const conns: Record<string, unknown>[] = [];
      if (q.state !== 'closed') {
        for (const c of this.clients.values()) {
          if (q.cid !== undefined && c.id !== q.cid) continue;
          conns.push(
            connzEntry(c.state, now, {
              pendingBytes: c.out.pending,
              subscriptions: c.subs.size,
              subsList: q.subs ? [...c.subs.values()].map((s) => s.subject) : undefined,
            }),
          );
        }
      }
      if (q.state === 'closed' || q.state === 'any') {
        for (const cl of this.closed) {
          if (q.cid !== undefined && cl.state.cid !== q.cid) continue;
          conns.push(connzEntry(cl.state, now, { pendingBytes: 0, subscriptions: 0, stop: cl.stop, reason: cl.reason }));
        }
      }
      return { conns };
    }
    if (what === 'subsz') {
      const q = args as { subs: boolean; test?: string };
      const sl = this.router.sublist();
      const list: { subject: string; qgroup?: string; sid: string; msgs: number; cid: number }[] = [];
      if (q.subs) {
        for (const c of this.clients.values()) {
          for (const [sid, s] of c.subs) {
            if (q.test !== undefined && !subjectMatches(q.test, s.subject)) continue;
            list.push({ subject: s.subject, ...(s.queue ? { qgroup: s.queue } : {}), sid, msgs: s.delivered, cid: c.id });
          }
        }
      }
      const st = sl.stats();
      const stats: SublistStats = {
        num_subscriptions: st.count,
        num_cache: st.cacheSize,
        num_inserts: st.inserts,
        num_removes: st.removes,
        num_matches: st.matches,
        cache_hit_rate: st.matches > 0 ? st.cacheHits / st.matches : 0,
        max_fanout: 0,
        avg_fanout: 0,
      };
      return { total: this.router.totalCount, local: this.router.localCount, stats, list };
    }
    const st = this.router.stats;
    const varz: WorkerVarz = {
      connections: this.clients.size,
      leafnodes: this.leafs?.count ?? 0,
      totalConnections: this.counters.totalConnections,
      inMsgs: st.inMsgs,
      inBytes: st.inBytes,
      outMsgs: st.outMsgs,
      outBytes: st.outBytes,
      slowConsumers: this.counters.slowConsumers,
      subscriptions: this.router.totalCount,
    };
    return varz;
  }
}

function secureContextFor(t: TlsOptions | undefined): tls.SecureContext | null {
  if (!t) return null;
  return tlsModule().createSecureContext({
    cert: fs.readFileSync(t.certFile),
    key: fs.readFileSync(t.keyFile),
    ca: t.caFile ? fs.readFileSync(t.caFile) : undefined,
  });
}

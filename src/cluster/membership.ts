// Cluster membership, on the main thread, as nats-server's route.go decides it: the cluster
// port's listener, dialling explicit routes (forever) and gossiped ones (connect_retries),
// the registry of routes by remote server id (one per pair; duplicates resolved as nats-server
// 2.9 does), reconnects, the cluster name (a dynamic one adopts a configured or greater one),
// gossip of new routes to the known servers, and the client connect URLs of the whole cluster.
//
// Route sockets themselves live in the routing workers: accepted and dialled sockets are handed
// over the same way as client sockets; a worker sends each route's INFO here and applies the
// verdict.

import type net from 'node:net';
import crypto from 'node:crypto';
import type { ClusterOptions, ServerOptions } from '../config/options.ts';
import { formatRouteUrl, parseRouteUrl, redactRouteUrl, routeHostPort } from '../config/route-url.ts';
import type { Logger } from '../log.ts';
import { NATS_COMPAT_VERSION } from '../version.ts';
import type { RouteLink } from './route.ts';
import { ROUTE_PROTO, RouteClose } from './route_info.ts';
import type { RouteInfo } from './route_info.ts';
import type { ClusterState, WorkerRoutez } from './worker_routes.ts';
import { Dialler, reportConnectError } from './dialler.ts';
import { hostPortOf, joinHostPort, splitHostPort } from './addresses.ts';
import { CountedUrls } from './counted_urls.ts';

export { interfaceAddresses } from './addresses.ts';

/** nats-server's DEFAULT_ROUTE_CONNECT: the wait between attempts to dial a route. */
export const ROUTE_CONNECT_DELAY_MS = 1000;
/** nats-server's DEFAULT_ROUTE_RECONNECT: the extra wait before redialling an explicit route. */
export const ROUTE_RECONNECT_DELAY_MS = 1000;
/** Random delay before a reconnect, so two servers that dropped each other do not redial in step. */
export const RECONNECT_JITTER_MS = 100;

/** What the cluster tells the gateway and leaf node memberships about routes. */
export interface RouteObserver {
  /** A route registered: its INFO (gateway_url, leafnode_urls) and where to send INFOs to it. */
  routeRegistered(cid: number, info: RouteInfo): void;
  routeRemoved(cid: number, info: RouteInfo): void;
  /** A later INFO about a gateway (gateway_cmd gossip); true when it was one. */
  routeGossip(info: RouteInfo): boolean;
}

/** What membership needs from the main thread. */
export interface MembershipHost {
  readonly options: ServerOptions;
  readonly logger: Logger;
  readonly serverId: string;
  /** The client port actually listened on. */
  readonly clientPort: number;
  /** Gives a route socket to a routing worker; returns the connection's cid. */
  handOver(sock: net.Socket, link: RouteLink): number;
  /** Tells every routing worker the cluster state (`announce`: clients that follow INFO hear of new URLs). */
  broadcastCluster(state: ClusterState, announce: boolean): void;
  /** Sends a message about route `cid` to the worker that owns it. */
  toRouteWorker(cid: number, m: { t: 'route-verdict'; cid: number; ok: boolean; reason?: string } | { t: 'route-send-info'; cid: number; info: RouteInfo } | { t: 'route-close'; cid: number; reason: string }): void;
  /** Client URLs (host:port) of this server. */
  ownClientUrls(): string[];
  /** What the route INFO says about this server's gateway and leafnode URLs. */
  routeInfoExtras(): Partial<RouteInfo>;
}

interface RouteRecord {
  cid: number;
  solicited: boolean;
  /** Configured in cluster.routes (dialled forever). */
  explicit: boolean;
  /** Where to redial: the URL dialled, or the remote's own address for an accepted route. */
  url?: string;
  remoteId?: string;
  remoteName?: string;
  registered: boolean;
  /** Set on the kept route when a duplicate was closed: redial it if it drops (nats-server's retry). */
  retry: boolean;
  connectUrls: string[];
  info?: RouteInfo;
  start: number;
}

export class ClusterMembership {
  private readonly host: MembershipHost;
  private readonly opts: ClusterOptions;
  private readonly dialler: Dialler;
  /** Gateways and leaf nodes follow routes coming and going (set when the node has them). */
  observers: RouteObserver[] = [];
  port = 0;
  private name: string;
  private dynamic: boolean;
  /** Every route connection the workers own, by cid. */
  private readonly routes = new Map<number, RouteRecord>();
  /** Registered routes by remote server id: one per pair. */
  private readonly remotes = new Map<string, RouteRecord>();
  /** Client URLs of other servers, counted by the routes that advertise them. */
  private readonly remoteUrls = new CountedUrls();
  private everClustered = false;
  private urlsChangedAt = 0;
  /** Routes we dialled that turned out to be ourselves (never dialled again). */
  private readonly selfUrls = new Set<string>();
  private stopping = false;
  private lameDuck = false;

  constructor(host: MembershipHost, opts: ClusterOptions) {
    this.host = host;
    this.opts = opts;
    this.dialler = new Dialler(host.logger);
    this.dynamic = opts.name === '';
    // As nats-server: no name configured, a random one until a peer's configured one is adopted.
    this.name = this.dynamic ? crypto.randomBytes(16).toString('base64url').replace(/[-_]/g, 'x').slice(0, 22) : opts.name;
  }

  get clusterName(): string {
    return this.name;
  }

  get routeCount(): number {
    return this.remotes.size;
  }

  /** Listens on the cluster port. */
  async listen(): Promise<void> {
    const o = this.opts;
    this.port = await this.dialler.listen(o.host, o.port, 'route', (sock) => {
      this.track(this.host.handOver(sock, { solicited: false }), { solicited: false });
    });
    const log = this.host.logger;
    log.info(`Cluster name is ${this.name}`);
    if (this.dynamic) log.warn('Cluster name was dynamically generated, consider setting one');
    log.info(`Listening for route connections on ${o.host}:${this.port}`);
  }

  /** Dials the configured routes (forever, as nats-server's explicit routes). */
  solicit(): void {
    for (const url of this.opts.routes) this.connect(url, true, true, 0);
  }

  /** The state every routing worker keeps (sent on start and on every change). */
  state(): ClusterState {
    const s: ClusterState = { name: this.name, dynamic: this.dynamic, routeInfo: this.routeInfo(), urlsChangedAt: this.urlsChangedAt };
    const urls = this.connectUrls();
    if (urls) s.connectUrls = urls;
    return s;
  }

  /** connect_urls clients see: this server's first, then the others' (nats-server's order). */
  connectUrls(): string[] | undefined {
    if (this.opts.noAdvertise || !this.everClustered) return undefined;
    const own = this.lameDuck ? [] : this.host.ownClientUrls();
    return [...own, ...[...this.remoteUrls.keys()].filter((u) => !own.includes(u))];
  }

  /** Our INFO on routes (nats-server's routeInfo); each connection adds a nonce. */
  routeInfo(): RouteInfo {
    const o = this.host.options;
    const c = this.opts;
    const info: RouteInfo = {
      server_id: this.host.serverId,
      server_name: o.serverName || this.host.serverId,
      version: NATS_COMPAT_VERSION,
      proto: ROUTE_PROTO,
      go: `node${process.version}`,
      host: c.host,
      port: this.port,
      headers: true,
      max_payload: o.maxPayload,
      cluster: this.name,
      lnoc: true,
    };
    if (this.dynamic) info.cluster_dynamic = true;
    if (c.authorization?.user) info.auth_required = true;
    if (c.tls) {
      info.tls_required = true;
      info.tls_verify = true;
    }
    if (!c.noAdvertise) info.connect_urls = this.host.ownClientUrls();
    if (c.advertise) {
      const { host, port } = splitHostPort(c.advertise, this.port);
      info.host = host;
      info.port = port;
      info.ip = `nats-route://${joinHostPort(host, port)}/`;
    }
    if (c.permissions?.import) info.import = c.permissions.import;
    if (c.permissions?.export) info.export = c.permissions.export;
    if (this.lameDuck) info.ldm = true;
    return { ...info, ...this.host.routeInfoExtras() };
  }

  private track(cid: number, link: RouteLink, explicit = false): RouteRecord {
    const rec: RouteRecord = { cid, solicited: link.solicited, explicit, url: link.url, registered: false, retry: false, connectUrls: [], start: Date.now() };
    this.routes.set(cid, rec);
    return rec;
  }

  // --- dialling -------------------------------------------------------------------------

  /**
   * nats-server's connectToRoute: dial until connected; an explicit route forever, another one
   * until connect_retries attempts failed (none when it is 0).
   */
  private connect(url: string, explicit: boolean, first: boolean, delayMs: number): void {
    if (this.stopping) return;
    if (delayMs > 0) {
      this.dialler.later(delayMs, () => this.connect(url, explicit, first, 0));
      return;
    }
    this.dialler.retry({
      round: () => (this.stopping || this.selfUrls.has(url) ? null : [url]),
      delayMs: ROUTE_CONNECT_DELAY_MS,
      connected: (sock) => {
        this.host.logger.debug(`Connected to route ${redactRouteUrl(url)}`);
        this.track(this.host.handOver(sock, { solicited: true, url }), { solicited: true, url }, explicit);
      },
      failed: (_url, err, attempt) => {
        const text = `Error trying to connect to route (attempt ${attempt}): ${err.message}`;
        if (reportConnectError(first, attempt)) this.host.logger.error(text);
        else this.host.logger.debug(text);
      },
      again: (attempt) => explicit || (this.opts.connectRetries > 0 && attempt <= this.opts.connectRetries),
    });
  }

  private isExplicit(url: string): boolean {
    const hp = hostPortOf(url);
    return this.opts.routes.some((r) => hostPortOf(r) === hp);
  }

  // --- what the workers tell -------------------------------------------------------------

  /** A route's INFO (the first asks for registration). */
  onRouteInfo(cid: number, info: RouteInfo, first: boolean, remoteIp: string): void {
    const rec = this.routes.get(cid);
    if (!rec) return;
    if (first) {
      const reason = this.register(rec, info, remoteIp);
      this.host.toRouteWorker(cid, reason === null ? { t: 'route-verdict', cid, ok: true } : { t: 'route-verdict', cid, ok: false, reason });
      return;
    }
    if (!rec.registered) return;
    // A gateway INFO forwarded by a server of the cluster (its id is "GW" + the server's).
    if (info.gateway) {
      if (!this.observers.some((o) => o.routeGossip(info))) this.host.logger.error(`Received information about gateway ${JSON.stringify(info.gateway)} from ${rec.remoteId}, but gateway is not configured`);
      return;
    }
    if (info.server_id !== rec.remoteId) {
      this.implicitRoute(info);
      return;
    }
    if (info.ldm && !this.opts.noAdvertise) {
      // The remote is leaving: clients should stop counting on its URLs.
      this.host.logger.info({ remote: rec.remoteId }, 'Route is entering lame duck mode');
      this.dropUrls(rec);
      this.publishState(true);
    }
  }

  /**
   * nats-server's processRouteInfo and addRoute for a first INFO: returns null when the route
   * is registered, else the reason it is closed.
   */
  private register(rec: RouteRecord, info: RouteInfo, remoteIp: string): string | null {
    const log = this.host.logger;
    rec.remoteId = info.server_id;
    rec.remoteName = info.server_name;
    rec.info = info;
    if (info.server_id === this.host.serverId) {
      if (rec.url) this.selfUrls.add(rec.url);
      log.debug(`Detected route to self, ignoring ${rec.url ? redactRouteUrl(rec.url) : ''}`);
      return RouteClose.DUPLICATE_ROUTE;
    }
    const theirs = info.cluster ?? '';
    if (theirs !== '' && theirs !== this.name) {
      if (this.dynamic && (!info.cluster_dynamic || this.name < theirs)) {
        this.adoptName(theirs, rec.cid);
      } else {
        log.error(`Rejecting route: cluster name ${JSON.stringify(theirs)} does not match ${JSON.stringify(this.name)}`);
        return RouteClose.CLUSTER_NAME_CONFLICT;
      }
    }
    const ourName = this.host.options.serverName || this.host.serverId;
    if (!rec.solicited && info.server_name === ourName) {
      log.error(`Remote server has a duplicate name: ${JSON.stringify(info.server_name)}`);
      return RouteClose.DUPLICATE_SERVER_NAME;
    }
    if (!rec.url) rec.url = info.ip || `nats-route://${joinHostPort(remoteIp, info.port ?? 0)}/`;
    const existing = this.remotes.get(info.server_id);
    if (existing) {
      // Both servers dialled each other: keep the route registered first; it is redialled if it
      // drops (both sides may have kept opposite connections), and becomes "solicited" if this
      // one was.
      log.debug(`Detected duplicate remote route ${JSON.stringify(info.server_id)}`);
      existing.retry = true;
      if (rec.solicited) {
        existing.solicited = true;
        existing.url = rec.url;
        existing.explicit ||= rec.explicit;
      }
      return RouteClose.DUPLICATE_ROUTE;
    }
    rec.registered = true;
    this.remotes.set(info.server_id, rec);
    log.info(`Registering remote route ${JSON.stringify(info.server_id)}${info.server_name ? ` (${info.server_name})` : ''}`);
    for (const o of this.observers) o.routeRegistered(rec.cid, info);
    if (this.remotes.size > 1) {
      // Gossip: the other servers learn of this one and dial it.
      const gossip: RouteInfo = { ...info, ip: info.ip || `nats-route://${joinHostPort(remoteIp, info.port ?? 0)}/` };
      delete gossip.nonce;
      for (const other of this.remotes.values()) {
        if (other !== rec) this.host.toRouteWorker(other.cid, { t: 'route-send-info', cid: other.cid, info: gossip });
      }
    }
    this.everClustered = true;
    if (!this.opts.noAdvertise && Array.isArray(info.connect_urls)) {
      rec.connectUrls = info.ldm ? [] : info.connect_urls.filter((u) => typeof u === 'string');
      for (const u of rec.connectUrls) this.remoteUrls.add(u);
    }
    this.publishState(true);
    return null;
  }

  /** nats-server's processImplicitRoute: a server we heard of through gossip. */
  private implicitRoute(info: RouteInfo): void {
    if (this.stopping || info.server_id === this.host.serverId || this.remotes.has(info.server_id)) return;
    if (info.host !== undefined && info.port !== undefined) {
      const hp = joinHostPort(info.host, info.port).toLowerCase();
      if (this.opts.routes.some((r) => hostPortOf(r) === hp)) return;
    }
    if (!info.ip) return;
    const parsed = parseRouteUrl(info.ip);
    if (!parsed.ok) {
      this.host.logger.error(`Error parsing URL from INFO: ${info.ip}`);
      return;
    }
    const url = parsed.url;
    const auth = this.opts.authorization;
    if (info.auth_required && auth?.user) {
      url.user = auth.user;
      url.password = auth.password ?? '';
    }
    const hp = routeHostPort(url).toLowerCase();
    for (const rec of this.routes.values()) if (rec.solicited && !rec.registered && rec.url && hostPortOf(rec.url) === hp) return;
    this.connect(formatRouteUrl(url), false, true, 0);
  }

  /** A dynamic cluster name gives way to a configured or greater one; routes under the old name go. */
  private adoptName(name: string, keepCid: number): void {
    this.host.logger.info(`Cluster name updated to ${name}`);
    this.name = name;
    for (const rec of this.routes.values()) {
      if (rec.cid !== keepCid) this.host.toRouteWorker(rec.cid, { t: 'route-close', cid: rec.cid, reason: RouteClose.CLUSTER_NAME_CONFLICT });
    }
    this.publishState(false);
  }

  /** A route connection closed: forget it and redial when nats-server would. */
  onRouteClosed(cid: number): void {
    const rec = this.routes.get(cid);
    if (!rec) return;
    this.routes.delete(cid);
    if (rec.registered && rec.remoteId !== undefined && this.remotes.get(rec.remoteId) === rec) {
      this.remotes.delete(rec.remoteId);
      if (rec.info) for (const o of this.observers) o.routeRemoved(cid, rec.info);
      this.host.logger.info(`Removed route ${JSON.stringify(rec.remoteId)}${rec.remoteName ? ` (${rec.remoteName})` : ''}`);
      if (this.dropUrls(rec)) this.publishState(true);
    }
    if (this.stopping || !(rec.solicited || rec.retry) || !rec.url) return;
    if (rec.remoteId !== undefined && (this.remotes.has(rec.remoteId) || rec.remoteId === this.host.serverId)) return;
    const explicit = rec.explicit || this.isExplicit(rec.url);
    const jitter = Math.floor(Math.random() * RECONNECT_JITTER_MS);
    this.host.logger.debug(`Attempting reconnect for solicited route ${redactRouteUrl(rec.url)}`);
    this.connect(rec.url, explicit, false, jitter + (explicit ? ROUTE_RECONNECT_DELAY_MS : 0));
  }

  /** Takes a route's client URLs out of the cluster's list; true when the list changed. */
  private dropUrls(rec: RouteRecord): boolean {
    let changed = false;
    for (const u of rec.connectUrls) if (this.remoteUrls.remove(u)) changed = true;
    rec.connectUrls = [];
    return changed;
  }

  private publishState(announce: boolean): void {
    this.urlsChangedAt = Date.now();
    this.host.broadcastCluster(this.state(), announce);
  }

  /** Lame duck: the other servers hear it in our route INFO; clients get the others' URLs only. */
  enterLameDuck(): void {
    this.lameDuck = true;
    const info = this.routeInfo();
    for (const rec of this.remotes.values()) this.host.toRouteWorker(rec.cid, { t: 'route-send-info', cid: rec.cid, info });
    this.urlsChangedAt = Date.now();
    this.host.broadcastCluster(this.state(), false);
  }

  /** Stops listening and dialling; the workers close the route connections. */
  stop(): void {
    this.stopping = true;
    this.dialler.stop();
  }

  /** The cids of the registered routes (where gateway and leaf gossip is sent). */
  registeredRoutes(): number[] {
    return [...this.remotes.values()].map((r) => r.cid);
  }

  /** The server names of the registered routes (a gateway from one of them is a duplicate). */
  registeredServerNames(): string[] {
    return [...this.remotes.values()].map((r) => r.remoteName ?? '').filter((n) => n !== '');
  }

  // --- monitoring -------------------------------------------------------------------------

  /** /routez: the workers' route entries with what membership knows about each. */
  routez(parts: WorkerRoutez[]): Record<string, unknown>[] {
    return parts
      .filter((r) => this.routes.get(r.rid)?.registered)
      .map((r) => {
        const rec = this.routes.get(r.rid)!;
        const out: Record<string, unknown> = {
          rid: r.rid,
          remote_id: r.remote_id,
          remote_name: r.remote_name,
          did_solicit: rec.solicited,
          is_configured: rec.explicit || (rec.url !== undefined && rec.solicited && this.isExplicit(rec.url)),
          ip: r.ip,
          port: r.port,
          start: r.start,
          last_activity: r.last_activity,
          rtt: r.rtt,
          uptime: r.uptime,
          idle: r.idle,
          pending_size: r.pending_size,
          in_msgs: r.in_msgs,
          out_msgs: r.out_msgs,
          in_bytes: r.in_bytes,
          out_bytes: r.out_bytes,
          subscriptions: r.subscriptions,
        };
        if (r.subscriptions_list && r.subscriptions_list.length > 0) out.subscriptions_list = r.subscriptions_list;
        if (rec.info?.import) out.import = rec.info.import;
        if (rec.info?.export) out.export = rec.info.export;
        return out;
      })
      .sort((a, b) => (a.rid as number) - (b.rid as number));
  }

  /** The configured routes as /varz shows them (host:port). */
  configuredUrls(): string[] {
    return this.opts.routes.map(hostPortOf);
  }
}


// Gateway membership, on the main thread, as nats-server's gateway.go decides it: the gateway
// port's listener, the remote clusters (configured ones dialled forever, implicit ones learned
// from gossip for connect_retries rounds), one outbound connection per remote cluster,
// registration of inbound ones, the gateway URLs of this cluster (ours plus the ones routes
// announce) told to remote clusters, gossip of remote clusters to inbound gateways and to the
// routes of this cluster, so every server of a cluster connects to every remote cluster even when
// only one was configured.
//
// Gateway sockets live in the routing workers, handed over like routes; a worker sends a gateway's
// first INFO here and applies the verdict.

import type net from 'node:net';
import type { GatewayOptions, ServerOptions, TlsOptions } from '../config/options.ts';
import type { Logger } from '../log.ts';
import { NATS_COMPAT_VERSION } from '../version.ts';
import { advertisedHostPort, hostPortOf, joinHostPort } from './addresses.ts';
import { Dialler, reportConnectError, shuffle } from './dialler.ts';
import { redactRouteUrl } from '../config/route-url.ts';
import { CountedUrls } from './counted_urls.ts';
import type { GatewayLink } from './gateway.ts';
import { GATEWAY_CONNECT_DELAY_MS, GATEWAY_RECONNECT_DELAY_MS, GatewayClose, GatewayCmd, SOLICIT_GATEWAYS_DELAY_MS } from './gateway_info.ts';
import type { GatewayInfo } from './gateway_info.ts';
import type { RouteObserver } from './membership.ts';
import { RECONNECT_JITTER_MS } from './membership.ts';
import type { RouteInfo } from './route_info.ts';
import type { GatewayState, WorkerGatewayz } from './worker_gateways.ts';

/** What gateway membership needs from the main thread. */
export interface GatewayMembershipHost {
  readonly options: ServerOptions;
  readonly logger: Logger;
  readonly serverId: string;
  /** Gives a gateway socket to a routing worker; returns the connection's cid. */
  handOverGateway(sock: net.Socket, link: GatewayLink): number;
  broadcastGateway(state: GatewayState, announce: boolean): void;
  /** The answer to a gateway's first INFO, an INFO to send on it, or its end. */
  toGatewayWorker(cid: number, m: { t: 'gateway-verdict'; cid: number; ok: boolean; reason?: string } | { t: 'gateway-send-info'; cid: number; info: GatewayInfo }): void;
  /** An INFO for a route of this cluster. */
  toRoute(cid: number, info: RouteInfo): void;
  /** The registered routes' cids and their servers' names. */
  routeCids(): number[];
  routeServerNames(): string[];
}

interface RemoteGateway {
  name: string;
  /** host:port -> the URL to dial (scheme, credentials). */
  urls: Map<string, string>;
  /** The configured URLs, kept when the remote's INFO replaces the learned ones. */
  configured: Map<string, string>;
  implicit: boolean;
  tls?: TlsOptions;
}

interface GatewayRecord {
  outbound: boolean;
  name: string;
  registered: boolean;
}

export class GatewayMembership implements RouteObserver {
  private readonly host: GatewayMembershipHost;
  private readonly opts: GatewayOptions;
  private readonly dialler: Dialler;
  port = 0;
  /** This server's gateway URL (host:port). */
  url = '';
  /** The cluster's gateway URLs, counted by the servers that announce them. */
  private readonly urls = new CountedUrls();
  private readonly remotes = new Map<string, RemoteGateway>();
  private readonly links = new Map<number, GatewayRecord>();
  /** Registered outbound gateways by remote name. */
  private readonly outbound = new Map<string, number>();
  private stopping = false;

  constructor(host: GatewayMembershipHost, opts: GatewayOptions) {
    this.host = host;
    this.opts = opts;
    this.dialler = new Dialler(host.logger);
    for (const g of opts.gateways) {
      // As nats-server: an entry with this cluster's own name only adds URLs for monitoring.
      if (g.name === opts.name) continue;
      const urls = new Map(g.urls.map((u) => [hostPortOf(u), withScheme(u)]));
      this.remotes.set(g.name, { name: g.name, urls: new Map(urls), configured: urls, implicit: false, tls: g.tls });
    }
  }

  get name(): string {
    return this.opts.name;
  }

  async listen(): Promise<void> {
    const o = this.opts;
    this.port = await this.dialler.listen(o.host, o.port, 'gateway', (sock) => {
      const cid = this.host.handOverGateway(sock, { solicited: false });
      this.links.set(cid, { outbound: false, name: '', registered: false });
    });
    const log = this.host.logger;
    log.info(`Gateway name is ${o.name}`);
    log.info(`Listening for gateways connections on ${joinHostPort(o.host, this.port)}`);
    const adv = advertisedHostPort(o.host, this.port, o.advertise);
    this.url = joinHostPort(adv.host, adv.port);
    this.urls.add(this.url);
    log.info(o.advertise ? `Advertise address for gateway ${JSON.stringify(o.name)} is set to ${this.url}` : `Address for gateway ${JSON.stringify(o.name)} is ${this.url}`);
  }

  /** What every routing worker keeps. */
  state(): GatewayState {
    return { name: this.opts.name, info: this.info(), configured: [...this.remotes.values()].filter((r) => !r.implicit).map((r) => r.name), rejectUnknown: this.opts.rejectUnknown };
  }

  /** Our INFO on gateways (nats-server's startGatewayAcceptLoop and generateInfoJSON). */
  private info(): GatewayInfo {
    const o = this.opts;
    const so = this.host.options;
    const adv = advertisedHostPort(o.host, this.port, o.advertise);
    const info: GatewayInfo = {
      server_id: this.host.serverId,
      server_name: so.serverName || this.host.serverId,
      version: NATS_COMPAT_VERSION,
      go: `node${process.version}`,
      host: adv.host,
      port: adv.port,
      headers: true,
      max_payload: so.maxPayload,
      gateway: o.name,
      gateway_url: this.url,
      gateway_urls: [...this.urls.keys()],
      gateway_nrp: true,
      gateway_iom: true,
    };
    if (o.authorization?.user) info.auth_required = true;
    if (o.tls) {
      info.tls_required = true;
      info.tls_verify = true;
    }
    return info;
  }

  /** Dials the configured gateways once the cluster had a moment to form (nats-server waits a second). */
  solicit(): void {
    this.dialler.later(SOLICIT_GATEWAYS_DELAY_MS, () => {
      for (const r of this.remotes.values()) if (!r.implicit) this.connect(r, true, 0);
    });
  }

  /** nats-server's solicitGateway: every URL of the remote, in random order, round after round. */
  private connect(remote: RemoteGateway, first: boolean, delayMs: number): void {
    if (this.stopping) return;
    if (delayMs > 0) {
      this.dialler.later(delayMs, () => this.connect(remote, first, 0));
      return;
    }
    const type = remote.implicit ? 'implicit' : 'explicit';
    this.dialler.retry({
      round: () => (this.remotes.get(remote.name) === remote && !this.outbound.has(remote.name) ? shuffle([...remote.urls.values()]) : null),
      delayMs: GATEWAY_CONNECT_DELAY_MS,
      connected: (sock, url) => {
        this.host.logger.info(`Creating outbound gateway connection to ${JSON.stringify(remote.name)}`);
        const link: GatewayLink = { solicited: true, name: remote.name, url };
        if (remote.tls) link.tls = remote.tls;
        const cid = this.host.handOverGateway(sock, link);
        this.links.set(cid, { outbound: true, name: remote.name, registered: false });
      },
      failed: (url, err, attempt) => {
        const text = `Error connecting to ${type} gateway ${JSON.stringify(remote.name)} (${hostPortOf(url)}) at ${redactRouteUrl(url)} (attempt ${attempt}): ${err.message}`;
        if (reportConnectError(first, attempt)) this.host.logger.error(text);
        else this.host.logger.debug(text);
      },
      again: (attempt) => {
        if (!remote.implicit) return true;
        const retries = this.opts.connectRetries;
        if (retries > 0 && attempt <= retries) return true;
        // An implicit gateway is forgotten after its retries, unless it connected to us meanwhile.
        if (this.hasInbound(remote.name)) return true;
        this.remotes.delete(remote.name);
        return false;
      },
    });
  }

  private hasInbound(name: string): boolean {
    for (const l of this.links.values()) if (!l.outbound && l.registered && l.name === name) return true;
    return false;
  }

  // --- what the workers tell ------------------------------------------------------------------

  /** A gateway's INFO: the first asks for registration, later ones gossip or bring new URLs. */
  onGatewayInfo(cid: number, info: GatewayInfo, first: boolean): void {
    const rec = this.links.get(cid);
    if (!rec) return;
    if (!first) {
      if (info.gateway_cmd === GatewayCmd.GOSSIP && info.gateway !== rec.name) {
        if (this.opts.rejectUnknown && !this.isConfigured(info.gateway ?? '')) return;
        this.implicitGateway(info);
        return;
      }
      const remote = this.remotes.get(rec.name);
      if (remote && info.gateway_urls) this.updateUrls(remote, info.gateway_urls);
      return;
    }
    const reason = this.register(cid, rec, info);
    this.host.toGatewayWorker(cid, reason === null ? { t: 'gateway-verdict', cid, ok: true } : { t: 'gateway-verdict', cid, ok: false, reason });
    if (reason !== null) return;
    if (rec.outbound) {
      // The other servers of this cluster connect to that cluster too.
      this.forwardToCluster(info);
    } else {
      this.implicitGateway(info);
      this.gossipTo(cid, rec.name);
    }
  }

  /** Returns null when registered, else the close reason. */
  private register(cid: number, rec: GatewayRecord, info: GatewayInfo): string | null {
    const log = this.host.logger;
    const name = info.server_name ?? '';
    const ours = this.host.options.serverName || this.host.serverId;
    if (name !== '' && (name === ours || this.host.routeServerNames().includes(name))) {
      log.error(`Remote server has a duplicate name: ${JSON.stringify(name)}`);
      return GatewayClose.DUPLICATE_SERVER_NAME;
    }
    if (rec.outbound) {
      if (this.outbound.has(rec.name)) return GatewayClose.WRONG_GATEWAY;
      this.outbound.set(rec.name, cid);
      const remote = this.remotes.get(rec.name);
      if (remote && info.gateway_urls) this.updateUrls(remote, info.gateway_urls);
    } else {
      rec.name = info.gateway ?? '';
    }
    rec.registered = true;
    return null;
  }

  private isConfigured(name: string): boolean {
    const r = this.remotes.get(name);
    return r !== undefined && !r.implicit;
  }

  /** nats-server's updateURLs: the configured URLs plus the ones the remote announces. */
  private updateUrls(remote: RemoteGateway, urls: string[]): void {
    remote.urls = new Map(remote.configured);
    this.addUrls(remote, urls);
  }

  private addUrls(remote: RemoteGateway, urls: readonly string[] | undefined): void {
    const scheme = remote.tls ?? this.opts.tls ? 'tls' : 'nats';
    for (const u of urls ?? []) if (typeof u === 'string' && !remote.urls.has(u.toLowerCase())) remote.urls.set(u.toLowerCase(), `${scheme}://${u}`);
  }

  /** nats-server's processImplicitGateway: a cluster we heard of gets an outbound connection. */
  private implicitGateway(info: GatewayInfo): void {
    const name = info.gateway;
    if (this.stopping || !name || name === this.opts.name) return;
    const known = this.remotes.get(name);
    if (known) {
      this.addUrls(known, info.gateway_urls);
      return;
    }
    const remote: RemoteGateway = { name, urls: new Map(), configured: new Map(), implicit: true };
    this.addUrls(remote, info.gateway_urls);
    if (remote.urls.size === 0) return;
    this.remotes.set(name, remote);
    this.connect(remote, true, 0);
  }

  /** nats-server's gossipGatewaysToInboundGateway: the new inbound hears of every other cluster we know. */
  private gossipTo(cid: number, except: string): void {
    for (const r of this.remotes.values()) {
      if (r.name === except || r.urls.size === 0) continue;
      const info: GatewayInfo = { server_id: this.host.serverId, gateway: r.name, gateway_urls: [...r.urls.keys()], gateway_cmd: GatewayCmd.GOSSIP };
      this.host.toGatewayWorker(cid, { t: 'gateway-send-info', cid, info });
    }
  }

  /** nats-server's forwardNewGatewayToLocalCluster (the id is not ours, so older servers take it for gossip). */
  private forwardToCluster(info: GatewayInfo): void {
    const gossip = this.gossipInfo(info.gateway ?? '', info.gateway_urls ?? []);
    for (const cid of this.host.routeCids()) this.host.toRoute(cid, gossip);
  }

  private gossipInfo(name: string, urls: string[]): RouteInfo {
    return { server_id: `GW${this.host.serverId}`, server_name: this.host.options.serverName, gateway: name, gateway_urls: urls, gateway_cmd: GatewayCmd.GOSSIP };
  }

  /** A gateway connection closed: forget it and redial an outbound one. */
  onGatewayClosed(cid: number): void {
    const rec = this.links.get(cid);
    if (!rec) return;
    this.links.delete(cid);
    if (!rec.outbound) return;
    if (this.outbound.get(rec.name) === cid) this.outbound.delete(rec.name);
    const remote = this.remotes.get(rec.name);
    if (this.stopping || !remote || this.outbound.has(rec.name)) return;
    this.host.logger.debug(`Attempting reconnect for gateway ${JSON.stringify(rec.name)}`);
    const jitter = Math.floor(Math.random() * RECONNECT_JITTER_MS);
    this.connect(remote, false, jitter + (remote.implicit ? 0 : GATEWAY_RECONNECT_DELAY_MS));
  }

  // --- routes of this cluster ---------------------------------------------------------------

  routeRegistered(cid: number, info: RouteInfo): void {
    if (info.gateway_url && this.urls.add(info.gateway_url)) this.host.broadcastGateway(this.state(), true);
    // nats-server's sendGatewayConfigsToRoute: the new server hears of the clusters we reach.
    for (const name of this.outbound.keys()) {
      const r = this.remotes.get(name);
      if (r && r.urls.size > 0) this.host.toRoute(cid, this.gossipInfo(name, [...r.urls.keys()]));
    }
  }

  routeRemoved(_cid: number, info: RouteInfo): void {
    const u = info.gateway_url;
    if (u && u !== this.url && this.urls.remove(u) && !this.stopping) this.host.broadcastGateway(this.state(), true);
  }

  routeGossip(info: RouteInfo): boolean {
    if (!info.gateway) return false;
    if (info.gateway_cmd === GatewayCmd.GOSSIP) this.implicitGateway({ gateway: info.gateway, gateway_urls: info.gateway_urls });
    else this.host.logger.error(`Unknown command ${info.gateway_cmd} from server ${info.server_id}`);
    return true;
  }

  stop(): void {
    this.stopping = true;
    this.dialler.stop();
  }

  // --- monitoring ------------------------------------------------------------------------------

  /** /gatewayz from the workers' parts (nats-server's Gatewayz). */
  gatewayz(parts: WorkerGatewayz[], gwName?: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const inbound: Record<string, unknown[]> = {};
    for (const p of parts) {
      if (gwName && p.name !== gwName) continue;
      if (p.outbound) {
        const remote = this.remotes.get(p.name);
        out[p.name] = { configured: remote !== undefined && !remote.implicit, connection: p.connection, ...(p.accounts ? { accounts: p.accounts } : {}) };
      } else {
        (inbound[p.name] ??= []).push({ configured: false, connection: p.connection, ...(p.accounts ? { accounts: p.accounts } : {}) });
      }
    }
    const adv = advertisedHostPort(this.opts.host, this.port, this.opts.advertise);
    return { name: this.opts.name, host: adv.host, port: adv.port, outbound_gateways: out, inbound_gateways: inbound };
  }

  /** The remote gateways for /varz: configured ones with the URLs known now. */
  varzGateways(): { name: string; urls: string[] }[] {
    return [...this.remotes.values()].filter((r) => !r.implicit).map((r) => ({ name: r.name, urls: [...r.urls.keys()] }));
  }

  get outboundCount(): number {
    return this.outbound.size;
  }

  get inboundCount(): number {
    let n = 0;
    for (const l of this.links.values()) if (!l.outbound && l.registered) n++;
    return n;
  }
}

/** host:port of a gateway URL, lower case (nats-server keys its URL maps by u.Host). */
/** A configured URL may be a bare host:port (Petrel's convenience): dial it as nats://. */
function withScheme(url: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `nats://${url}`;
}


// Leaf node membership, on the main thread, as nats-server's leafnode.go decides it: the
// leafnode port's listener, the hubs this server connects to (each remote's URLs tried one at a
// time, reconnect_interval apart, plus the URLs the hub announces; a loop or a refused cluster
// name waits 30 s), the cluster's leafnode URLs told to connected leaf nodes (ours plus the ones
// routes announce), duplicate leaf connections from one server replaced, and the accounts'
// loop-detection subjects. Leaf sockets live in the routing workers, handed over like routes.

import crypto from 'node:crypto';
import type net from 'node:net';
import type { LeafNodeOptions, ServerOptions } from '../config/options.ts';
import type { Logger } from '../log.ts';
import { NATS_COMPAT_VERSION } from '../version.ts';
import { advertisedHostPort, hostPortOf, joinHostPort } from './addresses.ts';
import { Dialler, reportConnectError, shuffle } from './dialler.ts';
import { CountedUrls } from './counted_urls.ts';
import { DEFAULT_LEAFNODE_PORT, redactRouteUrl } from '../config/route-url.ts';
import type { LeafLink } from './leafnode.ts';
import { LDS_PREFIX, LeafClose } from './leaf_info.ts';
import type { LeafInfo } from './leaf_info.ts';
import type { RouteObserver } from './membership.ts';
import type { RouteInfo } from './route_info.ts';
import type { LeafEvent, LeafState, WorkerLeafz } from './worker_leafs.ts';

/** What leaf membership needs from the main thread. */
export interface LeafMembershipHost {
  readonly options: ServerOptions;
  readonly logger: Logger;
  readonly serverId: string;
  handOverLeaf(sock: net.Socket, link: LeafLink): number;
  broadcastLeaf(state: LeafState, announce: boolean): void;
  /** Closes a leaf connection (after sending `err`). */
  closeLeaf(cid: number, reason: string, err: string | null): void;
  /** The account names of this server. */
  accountNames(): string[];
  /** This server's cluster name ('' when not clustered). */
  clusterName(): string;
  readonly gatewayEnabled: boolean;
}

interface Remote {
  index: number;
  /** The URLs to try, the current one first (nats-server's pickNextURL rotation). */
  urls: string[];
  /** The URL dialled last (nats-server's curURL). */
  current: string | null;
  /** Wait before the next dial (a loop detected, the hub refused our cluster name). */
  delayMs: number;
  /** The connection of this remote (0: none yet). */
  cid: number;
}

interface LeafRecord {
  solicited: boolean;
  remote?: number;
  registered: boolean;
  account?: string;
  server?: string;
  cluster?: string;
}

export class LeafMembership implements RouteObserver {
  private readonly host: LeafMembershipHost;
  private readonly opts: LeafNodeOptions;
  private readonly dialler: Dialler;
  port = 0;
  /** This server's leafnode URL (host:port), '' without a listener. */
  url = '';
  /** The cluster's leafnode URLs, counted by the servers that announce them. */
  private readonly urls = new CountedUrls();
  private readonly remotes: Remote[] = [];
  private readonly links = new Map<number, LeafRecord>();
  private readonly lds: Record<string, string> = {};
  private stopping = false;

  constructor(host: LeafMembershipHost, opts: LeafNodeOptions) {
    this.host = host;
    this.opts = opts;
    this.dialler = new Dialler(host.logger);
    opts.remotes.forEach((r, index) => {
      const urls = r.urls.map(dialable);
      if (!r.noRandomize) shuffle(urls);
      this.remotes.push({ index, urls, current: null, delayMs: 0, cid: 0 });
    });
    for (const name of host.accountNames()) this.lds[name] = LDS_PREFIX + crypto.randomBytes(16).toString('base64url').replace(/[-_]/g, 'x').slice(0, 22);
  }

  get listening(): boolean {
    return this.opts.port !== 0;
  }

  async listen(): Promise<void> {
    const o = this.opts;
    if (o.port === 0) return;
    this.port = await this.dialler.listen(o.host, o.port, 'leafnode', (sock) => {
      const cid = this.host.handOverLeaf(sock, { solicited: false });
      this.links.set(cid, { solicited: false, registered: false });
    });
    this.host.logger.info(`Listening for leafnode connections on ${joinHostPort(o.host, this.port)}`);
    const adv = advertisedHostPort(o.host, this.port, o.advertise);
    this.url = joinHostPort(adv.host, adv.port);
    this.urls.add(this.url);
    if (o.advertise) this.host.logger.info(`Advertise address for leafnode is set to ${this.url}`);
  }

  state(): LeafState {
    return { info: this.info(), lds: this.lds, clusterName: this.host.clusterName(), gatewayEnabled: this.host.gatewayEnabled };
  }

  /** Our INFO on the leafnode port (nats-server's startLeafNodeAcceptLoop). */
  private info(): LeafInfo {
    const so = this.host.options;
    const o = this.opts;
    const adv = advertisedHostPort(o.host, this.port, o.advertise);
    const info: LeafInfo = {
      server_id: this.host.serverId,
      server_name: so.serverName || this.host.serverId,
      version: NATS_COMPAT_VERSION,
      go: `node${process.version}`,
      host: adv.host,
      port: adv.port,
      auth_required: true,
      max_payload: so.maxPayload,
      headers: true,
      proto: 1,
      info_on_connect: true,
      leafnode_urls: o.noAdvertise ? [] : [...this.urls.keys()],
    };
    if (o.tls) {
      info.tls_required = true;
      if (o.tls.verify) info.tls_verify = true;
    }
    if (so.jetstream.enabled) info.jetstream = true;
    if (so.jetstream.domain) info.domain = so.jetstream.domain;
    const cluster = this.host.clusterName();
    if (cluster) info.cluster = cluster;
    return info;
  }

  /** Dials every remote (hub). */
  solicit(): void {
    for (const r of this.remotes) this.connect(r, true, 0);
  }

  /** nats-server's connectToRemoteLeafNode: one URL per attempt, the next one after a failure. */
  private connect(r: Remote, first: boolean, delayMs: number): void {
    if (this.stopping) return;
    const wait = delayMs + r.delayMs;
    r.delayMs = 0;
    if (wait > 0) {
      this.dialler.later(wait, () => this.connect(r, first, 0));
      return;
    }
    this.dialler.retry({
      round: () => (this.stopping ? null : [this.nextUrl(r)]),
      delayMs: this.opts.reconnectIntervalMs,
      connected: (sock, url) => {
        this.host.logger.debug(`Connected as leafnode to remote server ${redactRouteUrl(url)}`);
        const cid = this.host.handOverLeaf(sock, { solicited: true, remote: r.index, url });
        r.cid = cid;
        this.links.set(cid, { solicited: true, remote: r.index, registered: false });
      },
      failed: (url, err, attempt) => {
        const text = `Error trying to connect as leafnode to remote server ${JSON.stringify(hostPortOf(url))} (attempt ${attempt}): ${err.message}`;
        if (reportConnectError(first, attempt)) this.host.logger.error(text);
        else this.host.logger.debug(text);
      },
    });
  }

  /** nats-server's pickNextURL: the URL dialled last goes to the end of the list. */
  private nextUrl(r: Remote): string {
    if (r.current !== null && r.urls.length > 1 && r.urls[0] === r.current) r.urls.push(r.urls.shift()!);
    r.current = r.urls[0]!;
    return r.current;
  }

  // --- what the workers tell -------------------------------------------------------------------

  onLeafEvent(cid: number, e: LeafEvent): void {
    const rec = this.links.get(cid);
    if (!rec) return;
    switch (e.kind) {
      case 'registered':
        rec.registered = true;
        rec.account = e.account;
        rec.server = e.server;
        rec.cluster = e.cluster;
        if (!rec.solicited) this.replaceDuplicate(cid, rec);
        return;
      case 'delay':
        if (rec.remote !== undefined) this.remotes[rec.remote]!.delayMs = e.ms;
        return;
      case 'urls':
        if (rec.remote !== undefined) this.hubUrls(this.remotes[rec.remote]!, e.urls);
        return;
    }
  }

  /** A server reconnecting before its old connection was noticed gone: the new one wins (nats-server's addLeafNodeConnection). */
  private replaceDuplicate(cid: number, rec: LeafRecord): void {
    if (!rec.server) return;
    for (const [other, o] of this.links) {
      if (other === cid || o.solicited || !o.registered) continue;
      if (o.server === rec.server && o.cluster === rec.cluster && o.account === rec.account) {
        this.host.logger.warn('Replacing connection from same server');
        this.host.closeLeaf(other, LeafClose.DUPLICATE, LeafClose.DUPLICATE);
      }
    }
  }

  /** nats-server's doUpdateLNURLs: the hub's URLs first (not the configured ones twice), then the configured ones. */
  private hubUrls(r: Remote, urls: string[]): void {
    const configured = this.opts.remotes[r.index]!.urls.map(dialable);
    const known = new Set(configured.map(hostPortOf));
    const fresh = urls.filter((u) => !known.has(u.toLowerCase())).map((u) => `nats-leaf://${u}`);
    const current = r.urls[0];
    r.urls = [...fresh, ...configured];
    // Keep dialling from where we are.
    if (current !== undefined) {
      const at = r.urls.indexOf(current);
      if (at > 0) r.urls = [...r.urls.slice(at), ...r.urls.slice(0, at)];
    }
  }

  onLeafClosed(cid: number): void {
    const rec = this.links.get(cid);
    if (!rec) return;
    this.links.delete(cid);
    if (!rec.solicited || rec.remote === undefined || this.stopping) return;
    const r = this.remotes[rec.remote]!;
    if (r.cid !== cid) return;
    this.host.logger.debug(`Attempting reconnect for leafnode remote ${rec.remote}`);
    this.connect(r, false, this.opts.reconnectIntervalMs);
  }

  // --- routes of this cluster ------------------------------------------------------------------

  routeRegistered(_cid: number, info: RouteInfo): void {
    const u = info.leafnode_urls?.[0];
    if (u && this.urls.add(u) && this.listening) this.host.broadcastLeaf(this.state(), true);
  }

  routeRemoved(_cid: number, info: RouteInfo): void {
    const u = info.leafnode_urls?.[0];
    if (u && u !== this.url && this.urls.remove(u) && this.listening && !this.stopping) this.host.broadcastLeaf(this.state(), true);
  }

  routeGossip(): boolean {
    return false;
  }

  stop(): void {
    this.stopping = true;
    this.dialler.stop();
  }

  // --- monitoring -------------------------------------------------------------------------------

  leafz(parts: WorkerLeafz[]): Record<string, unknown> {
    return { leafnodes: parts.length, leafs: parts };
  }

  get count(): number {
    let n = 0;
    for (const l of this.links.values()) if (l.registered) n++;
    return n;
  }
}

/** A remote URL as dialled: with a scheme and the default leafnode port. */
function dialable(url: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `nats-leaf://${url}`;
  try {
    const u = new URL(withScheme);
    if (u.port === '') u.port = String(DEFAULT_LEAFNODE_PORT);
    return u.href.replace(/\/$/, '');
  } catch {
    return withScheme;
  }
}



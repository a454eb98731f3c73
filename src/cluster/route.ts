// The route kind of connection: a link to another server of the cluster, speaking nats-server's
// route protocol on the shared transport. Accepted on the cluster port or dialled by the main
// thread (which owns membership), it lives in a routing worker like a client:
//
// - handshake: the dialling side sends CONNECT then INFO, the accepting side INFO; the accepting
//   side checks the CONNECT (route authorization, a client or gateway on the wrong port, the
//   cluster name); the first INFO goes to the main thread, which registers the route or refuses
//   it (route to self, duplicate, name conflict) — reading waits for its verdict;
// - once registered, this node's interest goes out whole (RS+), then as it changes;
// - RS+/RS-/LS+/LS- become subscriptions owned by this connection (queue weights included), so
//   every worker routes to the remote through them; RMSG/HMSG/LMSG are published here as
//   coming from a link (one hop);
// - deliveries arrive as one RMSG/HMSG per message naming the queue groups the remote serves.

import type net from 'node:net';
import type tls from 'node:tls';
import { RouteParser } from '../protocol/route_parser.ts';
import type { RemoteInterest, RoutedMsgArgs } from '../protocol/route_parser.ts';
import { latin1String } from '../protocol/bytes.ts';
import { interestLine, routedMsgLine } from '../protocol/route_encode.ts';
import { SubKind } from '../routing/router.ts';
import type { InterestExport } from '../routing/interest_export.ts';
import { compilePermissions } from '../auth/permissions.ts';
import type { CompiledPermissions } from '../auth/permissions.ts';
import type { ClusterOptions } from '../config/options.ts';
import { parseRouteUrl } from '../config/route-url.ts';
import type { RouteUrl } from '../config/route-url.ts';
import type { ConnectionHost } from '../server/connection.ts';
import { AUTHORIZATION_VIOLATION } from '../auth/authenticator.ts';
import { clusterNameMismatch, ERR_CLIENT_ON_ROUTE_PORT, RouteClose } from './route_info.ts';
import type { RouteConnect, RouteInfo } from './route_info.ts';
import { ServerLink } from './server_link.ts';
import type { GatewayReplyRouting } from './worker_gateways.ts';

/** How a route socket came to this worker. */
export interface RouteLink {
  /** Dialled by this node (it sends CONNECT first). */
  solicited: boolean;
  /** The URL dialled, with credentials (solicited routes). */
  url?: string;
}

/** What a route needs from its worker beyond the transport's needs. */
export interface RouteHost extends ConnectionHost {
  readonly cluster: ClusterOptions;
  readonly serverId: string;
  /** The cluster's name now (a dynamic one may change during negotiation). */
  readonly clusterName: string;
  readonly clusterDynamic: boolean;
  readonly routeSecureContext: tls.SecureContext | null;
  /** The INFO this node sends on routes (without a nonce). */
  routeInfo(): RouteInfo;
  /** An account's number; undefined when this node does not know it. */
  knownAccount(name: string): number | undefined;
  accountName(account: number): string;
  /** What this node announces to other servers. */
  readonly interest: InterestExport | null;
  /** A route's INFO for the main thread: the first asks to register, later ones gossip. */
  routeInfoReceived(c: RouteConnection, info: RouteInfo, first: boolean): void;
  makeNonce(): Uint8Array;
  /** Routed replies (`_GR_.`) when this node has a gateway; null otherwise. */
  readonly gatewayReplies: GatewayReplyRouting | null;
  /** Every account of this server, by number. */
  accountNumbers(): Iterable<number>;
}

export class RouteConnection extends ServerLink {
  readonly kind = 'route' as const;
  readonly subKind = SubKind.ROUTE;
  readonly echo = true;
  declare readonly host: RouteHost;
  readonly parser: RouteParser;
  readonly link: RouteLink;
  protected readonly peerLabel = 'Route';
  protected readonly msgLine = routedMsgLine;
  /** The remote's INFO once received. */
  remote: RouteInfo | null = null;
  /** cluster.permissions: import (what we announce interest in) and export (what we send). */
  private readonly permissions: CompiledPermissions | null;

  constructor(host: RouteHost, id: number, socket: net.Socket, remote: { ip: string; port: number }, link: RouteLink) {
    super(host, id, socket, remote);
    this.link = link;
    this.parser = new RouteParser(this);
    const p = host.cluster.permissions;
    this.permissions = p ? compilePermissions({ publish: p.import, subscribe: p.export }) : null;
  }

  get authRequired(): boolean {
    return Boolean(this.host.cluster.authorization?.user);
  }

  /** Sends CONNECT (dialled) and INFO, and starts reading. */
  start(): void {
    const h = this.host;
    if (!this.link.solicited && this.authRequired) this.authDeadline = h.now() + h.cluster.authorization!.timeoutMs;
    const t = h.cluster.tls;
    if (t && h.routeSecureContext) {
      // As nats-server, TLS comes first on a route and is always mutual and verified: each side
      // presents its certificate and checks the other's against the CA (the dialling side also
      // checks that the certificate names the host it dialled).
      this.upgradeTls({
        isServer: !this.link.solicited,
        secureContext: h.routeSecureContext,
        verify: true,
        timeoutMs: t.timeoutMs,
        host: this.dialled()?.host,
      });
      return;
    }
    this.greet();
    this.attach(this.socket);
  }

  protected override onSecure(): void {
    this.greet();
    this.flush();
  }

  private greet(): void {
    if (this.link.solicited) this.enqueue(Buffer.from(`CONNECT ${JSON.stringify(this.connectJson())}\r\n`));
    const info: RouteInfo = { ...this.host.routeInfo(), nonce: Buffer.from(this.host.makeNonce()).toString('latin1') };
    this.enqueue(Buffer.from(`INFO ${JSON.stringify(info)}\r\n`));
  }

  /** The URL this route was dialled at (solicited routes; membership dials only URLs that parse). */
  private dialled(): RouteUrl | undefined {
    const parsed = this.link.url === undefined ? undefined : parseRouteUrl(this.link.url);
    return parsed?.ok ? parsed.url : undefined;
  }

  /** nats-server's route CONNECT: credentials from the route URL, our id as the name. */
  private connectJson(): RouteConnect {
    const h = this.host;
    const url = this.dialled();
    const c: RouteConnect = { echo: true, verbose: false, pedantic: false };
    if (url?.user) c.user = url.user;
    if (url?.password) c.pass = url.password;
    c.tls_required = Boolean(h.cluster.tls);
    c.headers = true;
    c.name = h.serverId;
    c.cluster = h.clusterName;
    if (h.clusterDynamic) c.cluster_dynamic = true;
    c.lnoc = true;
    return c;
  }

  // --- handshake -------------------------------------------------------------

  /** The main thread registered this route: interest and messages flow. */
  get registered(): boolean {
    return this.open;
  }

  protected get remoteLabel(): string | undefined {
    return this.remote?.server_id;
  }

  /** nats-server refuses every op but CONNECT on an accepted route that requires authorization. */
  protected override needsConnectFirst(): boolean {
    if (this.link.solicited || this.connectReceived || !this.authRequired) return false;
    this.authViolation();
    return true;
  }

  onConnect(json: Uint8Array): boolean | void {
    this.connectReceived = true;
    let c: RouteConnect;
    try {
      c = JSON.parse(Buffer.from(json).toString('utf8')) as RouteConnect;
    } catch {
      this.protocolViolation('route CONNECT is not valid JSON', RouteClose.PROTOCOL_VIOLATION);
      return true;
    }
    const h = this.host;
    const auth = h.cluster.authorization;
    if (auth?.user && (c.user !== auth.user || c.pass !== (auth.password ?? ''))) {
      h.logger.error({ cid: this.id, user: c.user }, `authentication error - User ${JSON.stringify(c.user ?? '')}`);
      this.authViolation();
      return true;
    }
    this.authDeadline = 0;
    if (c.lang) {
      this.sendErr(ERR_CLIENT_ON_ROUTE_PORT);
      h.logger.error({ cid: this.id }, ERR_CLIENT_ON_ROUTE_PORT);
      this.close(RouteClose.WRONG_PORT, true);
      return true;
    }
    if (c.gateway) {
      const text = `Rejecting connection from gateway ${JSON.stringify(c.gateway)} on the Route port`;
      h.logger.error({ cid: this.id }, text);
      this.sendErr(text);
      this.close(RouteClose.WRONG_GATEWAY, true);
      return true;
    }
    const theirs = c.cluster ?? '';
    // A dynamic name may adopt theirs: the main thread decides when the INFO arrives.
    if (theirs !== h.clusterName && !(h.clusterDynamic && (!c.cluster_dynamic || h.clusterName < theirs))) {
      const text = clusterNameMismatch(theirs, h.clusterName);
      h.logger.error({ cid: this.id }, text);
      this.sendErr(text);
      this.close(RouteClose.CLUSTER_NAME_CONFLICT, true);
      return true;
    }
  }

  onInfo(json: Uint8Array): void {
    if (this.needsConnectFirst()) return;
    let info: RouteInfo;
    try {
      info = JSON.parse(Buffer.from(json).toString('utf8')) as RouteInfo;
    } catch {
      this.protocolViolation('route INFO is not valid JSON', RouteClose.PROTOCOL_VIOLATION);
      return;
    }
    if (typeof info.server_id !== 'string' || info.server_id === '') {
      this.protocolViolation('route INFO without server_id', RouteClose.PROTOCOL_VIOLATION);
      return;
    }
    const first = this.remote === null;
    if (first) {
      this.remote = info;
      this.state.name = info.server_name ?? '';
      // Registration is the main thread's decision; nothing more is read until it answers.
      this.parser.pause();
      this.socket.pause();
    }
    this.host.routeInfoReceived(this, info, first);
  }

  /** The main thread's answer to the first INFO. */
  verdict(ok: boolean, reason?: string): void {
    if (this.closed) return;
    if (!ok) {
      this.host.logger.debug({ cid: this.id, remote: this.remote?.server_id, reason }, 'Route refused');
      this.close(reason ?? RouteClose.DUPLICATE_ROUTE, false);
      return;
    }
    this.open = true;
    this.host.gatewayReplies?.routeRegistered(this);
    this.host.logger.info({ cid: this.id, remote: this.remote?.server_id, name: this.remote?.server_name }, 'Route connection registered');
    this.sendAllInterest();
    this.resumeReading();
  }

  /** The whole of this node's interest, once registered (nats-server's sendSubsToRoute). */
  private sendAllInterest(): void {
    const exp = this.host.interest;
    if (!exp) return;
    let batch = '';
    for (const [account, subject, queue, weight, origin] of exp.entries()) {
      if (!this.canImport(subject)) continue;
      batch += interestLine(this.host.accountName(account), subject, queue, weight, this.lnoc ? origin : null);
      if (batch.length > 32 * 1024) {
        this.enqueue(Buffer.from(batch, 'latin1'));
        batch = '';
      }
    }
    if (batch) this.enqueue(Buffer.from(batch, 'latin1'));
  }

  /** A change of this node's interest: RS+ (weight > 0) or RS-, LS+/LS- for a leaf cluster's. */
  sendInterest(account: number, subject: string, queue: string | null, weight: number, origin: string | null): void {
    if (!this.open || this.closed || !this.canImport(subject)) return;
    this.enqueue(Buffer.from(interestLine(this.host.accountName(account), subject, queue, weight, this.lnoc ? origin : null), 'latin1'));
  }

  /** The remote takes leaf origin clusters (LS+/LMSG), as nats-server 2.9 routes announce. */
  get lnoc(): boolean {
    return this.remote?.lnoc === true;
  }

  /** An INFO the main thread wants the remote to see (gossip of a new route, lame duck). */
  sendInfo(info: RouteInfo): void {
    if (!this.closed) this.enqueue(Buffer.from(`INFO ${JSON.stringify(info)}\r\n`));
  }

  /** Import permission: whether we announce (and so receive) interest in this subject. */
  private canImport(subject: string): boolean {
    return this.permissions === null || this.permissions.canPublish(subject);
  }

  /** Export permission: whether we accept the remote's interest (and so send it messages). */
  private canExport(subject: string): boolean {
    return this.permissions === null || this.permissions.canSubscribe(subject, null);
  }

  private authViolation(): void {
    this.sendErr(AUTHORIZATION_VIOLATION);
    this.close(RouteClose.AUTHENTICATION, true);
  }

  // --- interest from the remote ------------------------------------------------

  onRemoteSub(i: RemoteInterest): void {
    if (this.needsConnectFirst()) return;
    const accountName = latin1String(i.account);
    const account = this.host.knownAccount(accountName);
    const subject = latin1String(i.subject);
    if (account === undefined) {
      // As nats-server with a static account resolver: logged and ignored.
      this.host.logger.debug({ cid: this.id }, `Unknown account ${JSON.stringify(accountName)} for remote subject ${JSON.stringify(subject)}`);
      return;
    }
    if (!this.canExport(subject)) {
      this.host.logger.debug({ cid: this.id }, `Can not export ${JSON.stringify(subject)}, ignoring remote subscription request`);
      return;
    }
    const queue = i.queue === null ? null : latin1String(i.queue);
    this.addInterest(ServerLink.interestKey(accountName, i), account, subject, queue, i.weight, i.origin === null ? null : latin1String(i.origin));
  }

  onRemoteUnsub(i: RemoteInterest): void {
    if (this.needsConnectFirst()) return;
    this.removeInterest(ServerLink.interestKey(latin1String(i.account), i));
  }

  // --- messages ------------------------------------------------------------------

  protected messageAccount(a: RoutedMsgArgs): number | undefined {
    return this.host.knownAccount(this.lastAccount.get(a.src, a.accountStart, a.accountEnd));
  }

  protected wireAccount(account: number): string {
    return this.host.accountName(account);
  }

  /** Replies routed to this route's server (`_GR_.<cluster>.<its hash>.>`) come this way, in every account. */
  addRoutedReplyInterest(subject: string): void {
    for (const account of this.host.accountNumbers()) this.addInterest(`gwreply ${account}`, account, subject, null, 1, null);
  }

  /** A reply routed back from another cluster to a server of this one (nats-server's handleGatewayReply). */
  protected override routedReply(account: number, subject: string, reply: string | null, hdrLen: number, msg: Uint8Array): boolean {
    return this.host.gatewayReplies?.fromRoute(this, account, subject, reply, hdrLen, msg) ?? false;
  }

  /** A leaf-origin message goes as LMSG to a remote that takes origins. */
  protected override get sendsOrigin(): boolean {
    return this.lnoc;
  }

  protected override release(): void {
    this.host.gatewayReplies?.routeClosed(this);
    super.release();
  }
}

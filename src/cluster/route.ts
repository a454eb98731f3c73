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
import type { RemoteInterest, RouteParserHandler, RoutedMsgArgs } from '../protocol/route_parser.ts';
import type { ProtocolError } from '../protocol/errors.ts';
import { latin1String } from '../protocol/bytes.ts';
import { LastString } from '../protocol/string_cache.ts';
import { PONG_LINE } from '../protocol/encode.ts';
import { interestLine, routedMsgPrefixLength, writeRoutedMsgPrefix } from '../protocol/route_encode.ts';
import { NO_HEADERS, SubKind } from '../routing/router.ts';
import type { LinkOutbox, Subscription } from '../routing/router.ts';
import type { InterestExport } from '../routing/interest_export.ts';
import { compilePermissions } from '../auth/permissions.ts';
import type { CompiledPermissions } from '../auth/permissions.ts';
import type { ClusterOptions } from '../config/options.ts';
import { Connection } from '../server/connection.ts';
import type { ConnectionHost } from '../server/connection.ts';
import { AUTHORIZATION_VIOLATION } from '../auth/authenticator.ts';
import { clusterNameMismatch, ERR_CLIENT_ON_ROUTE_PORT, RouteClose } from './route_info.ts';
import type { RouteConnect, RouteInfo } from './route_info.ts';

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
}

/** A route's subscriptions carry no sid of their own (nats-server keys them by account, subject and queue). */
const NO_SID = new Uint8Array(0);

/** nats-server's jsAckPre: only such replies may carry a delivered subject after `@`. */
const JS_ACK_PREFIX = '$JS.ACK';

export class RouteConnection extends Connection implements LinkOutbox, RouteParserHandler {
  readonly kind = 'route' as const;
  readonly subKind = SubKind.ROUTE;
  readonly echo = true;
  declare readonly host: RouteHost;
  readonly parser: RouteParser;
  readonly link: RouteLink;
  /** Remote interest by "account subject[ queue]", as nats-server keys a route's subscriptions. */
  readonly subs = new Map<string, Subscription>();
  /** The remote's INFO once received. */
  remote: RouteInfo | null = null;
  /** The main thread registered this route: interest and messages flow. */
  registered = false;
  private connectReceived = false;
  private authDeadline = 0;
  /** cluster.permissions: import (what we announce interest in) and export (what we send). */
  private readonly permissions: CompiledPermissions | null;
  private readonly lastSubject = new LastString();
  private readonly lastAccount = new LastString();
  private readonly queueNames: string[] = [];

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
        host: this.link.url ? new URL(this.link.url).hostname.replace(/^\[|\]$/g, '') : undefined,
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

  /** nats-server's route CONNECT: credentials from the route URL, our id as the name. */
  private connectJson(): RouteConnect {
    const h = this.host;
    const url = this.link.url ? new URL(this.link.url) : null;
    const c: RouteConnect = { echo: true, verbose: false, pedantic: false };
    if (url?.username) c.user = decodeURIComponent(url.username);
    if (url?.password) c.pass = decodeURIComponent(url.password);
    c.tls_required = Boolean(h.cluster.tls);
    c.headers = true;
    c.name = h.serverId;
    c.cluster = h.clusterName;
    if (h.clusterDynamic) c.cluster_dynamic = true;
    c.lnoc = true;
    return c;
  }

  // --- handshake -------------------------------------------------------------

  /** nats-server refuses every op but CONNECT on an accepted route that requires authorization. */
  private needsConnectFirst(): boolean {
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
      this.protocolViolation('route CONNECT is not valid JSON');
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
      this.protocolViolation('route INFO is not valid JSON');
      return;
    }
    if (typeof info.server_id !== 'string' || info.server_id === '') {
      this.protocolViolation('route INFO without server_id');
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
    this.registered = true;
    this.host.logger.info({ cid: this.id, remote: this.remote?.server_id, name: this.remote?.server_name }, 'Route connection registered');
    this.sendAllInterest();
    this.resumeReading();
  }

  /** The whole of this node's interest, once registered (nats-server's sendSubsToRoute). */
  private sendAllInterest(): void {
    const exp = this.host.interest;
    if (!exp) return;
    let batch = '';
    for (const [account, subject, queue, weight] of exp.entries()) {
      if (!this.canImport(subject)) continue;
      batch += interestLine(this.host.accountName(account), subject, queue, weight);
      if (batch.length > 32 * 1024) {
        this.enqueue(Buffer.from(batch, 'latin1'));
        batch = '';
      }
    }
    if (batch) this.enqueue(Buffer.from(batch, 'latin1'));
  }

  /** A change of this node's interest: RS+ (weight > 0) or RS-. */
  sendInterest(account: number, subject: string, queue: string | null, weight: number): void {
    if (!this.registered || this.closed || !this.canImport(subject)) return;
    this.enqueue(Buffer.from(interestLine(this.host.accountName(account), subject, queue, weight), 'latin1'));
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

  private protocolViolation(why: string): void {
    this.host.logger.error({ cid: this.id }, `Route Error ${why}`);
    this.close(RouteClose.PROTOCOL_VIOLATION, true);
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
    const key = queue === null ? `${accountName} ${subject}` : `${accountName} ${subject} ${queue}`;
    const existing = this.subs.get(key);
    const router = this.host.router;
    if (existing) {
      if (queue !== null) router.setWeight(existing, i.weight);
      return;
    }
    this.subs.set(key, router.addSubscription(this, subject, queue, NO_SID, account, -1, queue === null ? 1 : i.weight));
  }

  onRemoteUnsub(i: RemoteInterest): void {
    if (this.needsConnectFirst()) return;
    const key = i.queue === null ? `${latin1String(i.account)} ${latin1String(i.subject)}` : `${latin1String(i.account)} ${latin1String(i.subject)} ${latin1String(i.queue)}`;
    const sub = this.subs.get(key);
    if (!sub) return;
    this.subs.delete(key);
    this.host.router.removeSubscription(sub);
  }

  // --- messages ------------------------------------------------------------------

  onRoutedMsg(a: RoutedMsgArgs, headerSize: number, msg: Uint8Array): void {
    if (this.needsConnectFirst()) return;
    const account = this.host.knownAccount(this.lastAccount.get(a.src, a.accountStart, a.accountEnd));
    this.state.inMsgs++;
    this.state.inBytes += msg.length;
    if (account === undefined) return;
    const subject = this.lastSubject.get(a.src, a.subjectStart, a.subjectEnd);
    let reply = a.replyStart < 0 ? null : latin1String(a.src, a.replyStart, a.replyEnd);
    const q = this.queueNames;
    for (let i = 0; i < a.queueCount; i++) q[i] = latin1String(a.src, a.tokStart[a.queueFirst + i]!, a.tokEnd[a.queueFirst + i]!);
    // A JetStream delivery routed by its inbox carries the subject it shows after an `@` in its ack reply.
    let shown = subject;
    if (reply !== null && reply.startsWith(JS_ACK_PREFIX)) {
      const at = reply.lastIndexOf('@');
      if (at >= 0 && at < reply.length - 1) {
        shown = reply.slice(at + 1);
        reply = reply.slice(0, at);
      }
    }
    this.host.router.publish(this, shown, reply, headerSize < 0 ? NO_HEADERS : headerSize, msg, subject, account, q, a.queueCount);
  }

  /** LinkOutbox: one RMSG/HMSG for a message, naming the queue groups the remote should serve. */
  deliverLink(account: number, subject: string, reply: string | null, hdrLen: number, msg: Uint8Array, queues: readonly string[], nQueues: number): void {
    if (this.closed || !this.registered) return;
    const acc = this.host.accountName(account);
    const h = hdrLen === NO_HEADERS ? -1 : hdrLen;
    const size = msg.length;
    const need = routedMsgPrefixLength(acc, subject, reply, queues, nQueues, h, size);
    const buf = this.out.reserve(need + size + 2);
    const start = this.out.offset;
    let at = writeRoutedMsgPrefix(buf, start, acc, subject, reply, queues, nQueues, h, size);
    buf.set(msg, at);
    at += size;
    buf[at++] = 13;
    buf[at++] = 10;
    this.out.advance(at - start);
    this.state.outMsgs++;
    this.state.outBytes += size;
    this.markDirty();
    this.checkPending();
  }

  /** A route never owns a subscription delivered one by one: links get deliverLink. */
  deliver(): void {}

  barrierDone(): void {}

  // --- keep-alive, errors, teardown --------------------------------------------------

  onPing(): void {
    if (this.needsConnectFirst()) return;
    this.enqueue(PONG_LINE);
  }

  onPong(): void {
    this.pongReceived();
  }

  override sweep(now: number): void {
    if (this.closed) return;
    if (this.authDeadline > 0 && !this.connectReceived && now >= this.authDeadline) {
      this.sendErr('Authentication Timeout');
      this.close(RouteClose.AUTH_TIMEOUT, true);
      return;
    }
    super.sweep(now);
  }

  onProtocolError(err: ProtocolError): void {
    if (err.errText !== null) this.sendErr(err.errText);
    // A bad frame closes this route only; the reason goes to the log.
    this.host.logger.error({ cid: this.id, remote: this.remote?.server_id, err: err.message }, `Route parser error, closing route: ${err.message}`);
    this.close(err.closeReason, true);
  }

  protected release(): void {
    this.parser.close();
    for (const sub of this.subs.values()) this.host.router.removeSubscription(sub);
    this.subs.clear();
  }
}

// The client kind of connection: the client protocol on top of the shared transport — CONNECT
// and authentication, permissions, subscriptions, PUB/HPUB, the PING barrier — with
// nats-server's error texts and closing decisions.

import type tls from 'node:tls';
import type net from 'node:net';
import { ClientParser } from '../protocol/client_parser.ts';
import type { ClientParserHandler, PubArgs } from '../protocol/client_parser.ts';
import type { ProtocolError } from '../protocol/errors.ts';
import { isValidSubject, isValidPublishSubject, isValidQueueName } from '../routing/subjects.ts';
import type { Outbox, Subscription } from '../routing/router.ts';
import { NO_HEADERS, SubKind } from '../routing/router.ts';
import { AUTHORIZATION_VIOLATION } from '../auth/authenticator.ts';
import type { AuthResult } from '../auth/authenticator.ts';
import { pubViolation, subViolation } from '../auth/permissions.ts';
import type { CompiledPermissions } from '../auth/permissions.ts';
import { subjectMatches } from '../routing/subjects.ts';
import { latin1String } from '../protocol/bytes.ts';
import { LastString } from '../protocol/string_cache.ts';
import { hmsgPrefixLength, msgPrefixLength, OK_LINE, PONG_LINE, writeHMsgPrefix, writeMsgPrefix } from '../protocol/encode.ts';
import { Connection } from './connection.ts';
import type { ConnectionHost } from './connection.ts';
import type { ClientAuth } from './client_auth.ts';
import { GatewayReplyMap, GW_REPLY_PREFIX, GW_SUBJECT_OFFSET, isMappedReply } from '../cluster/gateway_reply.ts';

/** Status header a requester gets when nobody listens (nats-server's no-responders reply). */
const NO_RESPONDERS_HDR = Buffer.from('NATS/1.0 503\r\n\r\n');

export interface ConnectOptions {
  verbose: boolean;
  pedantic: boolean;
  echo: boolean;
  headers: boolean;
  noResponders: boolean;
  name: string;
  lang: string;
  version: string;
  protocol: number;
  tlsRequired: boolean;
}

/** What a client connection needs from its worker beyond the transport's needs. */
export interface ClientHost extends ConnectionHost {
  readonly auth: ClientAuth;
  readonly secureContext: tls.SecureContext | null;
  makeNonce(): Uint8Array;
  /** The INFO line this client gets (on connect, on cluster changes, in lame duck). */
  infoFor(c: ClientConnection): Uint8Array;
  /** The number of a named account (unknown or absent: the global account). */
  accountNumber(name: string | undefined): number;
  /** When the cluster's connect URLs last changed (ms since the epoch; 0 = never). */
  readonly urlsChangedAt: number;
}

export class ClientConnection extends Connection implements Outbox, ClientParserHandler {
  readonly kind = 'client' as const;
  readonly subKind = SubKind.CLIENT;
  declare readonly host: ClientHost;
  readonly parser: ClientParser;
  readonly subs = new Map<string, Subscription>();
  opts: ConnectOptions = {
    verbose: false,
    pedantic: false,
    echo: true,
    headers: false,
    noResponders: false,
    name: '',
    lang: '',
    version: '',
    protocol: 0,
    tlsRequired: false,
  };
  /** Original CONNECT credentials, kept (in memory only) so a reload can re-check them. */
  private creds: Record<string, unknown> = {};
  connectReceived = false;
  authorized = false;
  private firstPongSent = false;
  nonce: Uint8Array | null = null;
  permissions: CompiledPermissions | null = null;
  user: string | undefined;
  private readonly lastSubject = new LastString();
  /** The account's number (0 = global): which subject space this client lives in. */
  account = 0;
  /** Replies routed from another cluster this client was given without their prefix (`_GR_.`). */
  private gwReplies: GatewayReplyMap | null = null;
  /** Set when this client changed interest or sent to other workers since its last PONG. */
  private crossWorkerDirty = false;
  authDeadline = 0;

  constructor(host: ClientHost, id: number, socket: net.Socket, remote: { ip: string; port: number }) {
    super(host, id, socket, remote);
    const o = host.options;
    this.parser = new ClientParser(this, { maxPayload: o.maxPayload, maxControlLine: o.maxControlLine });
  }

  get echo(): boolean {
    return this.opts.echo;
  }

  /** Sends INFO, optionally upgrades to TLS, and starts reading. */
  start(): void {
    const h = this.host;
    if (h.auth.needsNonce) this.nonce = h.makeNonce();
    if (h.auth.required) this.authDeadline = h.now() + h.options.auth.timeoutMs;
    const tlsOpts = h.options.tls;
    if (tlsOpts && tlsOpts.handshakeFirst) {
      this.startTls();
      this.enqueue(h.infoFor(this));
      this.flush();
      return;
    }
    this.enqueue(h.infoFor(this));
    this.flush();
    if (tlsOpts) this.startTls();
    else this.attach(this.socket);
  }

  private startTls(): void {
    const t = this.host.options.tls!;
    this.upgradeTls({ isServer: true, secureContext: this.host.secureContext!, verify: t.verify, timeoutMs: t.timeoutMs });
  }

  // --- output -------------------------------------------------------------

  private sendOk(): void {
    if (this.opts.verbose) this.enqueue(OK_LINE);
  }

  /** Outbox: one MSG/HMSG to this client. */
  deliver(sub: Subscription, subject: string, reply: string | null, hdrLen: number, msg: Uint8Array): void {
    if (this.closed) return;
    // A wildcard subscription may not receive what a deny entry forbids.
    if (this.permissions && !this.permissions.canDeliver(subject, sub.queue)) return;
    if (reply !== null && isMappedReply(reply)) {
      // A request from another cluster: the client answers the plain reply, which goes back the routed way.
      (this.gwReplies ??= new GatewayReplyMap()).track(reply, this.host.now());
      reply = reply.slice(GW_SUBJECT_OFFSET);
    }
    const sid = sub.sid!;
    const size = msg.length;
    const need =
      hdrLen === NO_HEADERS
        ? msgPrefixLength(subject, sid, reply, size)
        : hmsgPrefixLength(subject, sid, reply, hdrLen, size);
    const buf = this.out.reserve(need + size + 2);
    const start = this.out.offset;
    let at =
      hdrLen === NO_HEADERS
        ? writeMsgPrefix(buf, start, subject, sid, reply, size)
        : writeHMsgPrefix(buf, start, subject, sid, reply, hdrLen, size);
    buf.set(msg, at);
    at += size;
    buf[at++] = 13;
    buf[at++] = 10;
    this.out.advance(at - start);
    if (reply !== null && this.permissions) this.permissions.recordReply(reply);
    this.state.outMsgs++;
    this.state.outBytes += msg.length;
    this.markDirty();
    if (sub.max > 0 && sub.delivered >= sub.max) this.dropSub(sub);
    this.checkPending();
  }

  barrierDone(): void {
    if (!this.closed) this.pong();
  }

  /**
   * A PONG; after the first one, a client that follows INFO updates (protocol 1) and connected
   * before the cluster's connect URLs last changed gets a fresh INFO, as nats-server.
   */
  private pong(): void {
    this.enqueue(PONG_LINE);
    if (this.firstPongSent) return;
    this.firstPongSent = true;
    if (this.followsInfo && this.host.urlsChangedAt >= this.state.start) this.enqueue(this.host.infoFor(this));
  }

  /** Whether async INFO updates (connect URLs, lame duck) go to this client. */
  get followsInfo(): boolean {
    return this.opts.protocol >= 1 && this.firstPongSent;
  }

  // --- parser callbacks ------------------------------------------------------

  /** nats-server refuses every op but CONNECT until an auth-requiring client has connected. */
  private needsConnectFirst(): boolean {
    if (this.authorized || !this.host.auth.required) return false;
    if (this.host.auth.noAuthUser && !this.connectReceived) {
      // As nats-server: a client of a no_auth_user server may skip CONNECT (telnet demos).
      return !this.tryNoAuthUser();
    }
    this.authViolation();
    return true;
  }

  private tryNoAuthUser(): boolean {
    const res = this.host.auth.noAuthUserResult();
    if (!res) return false;
    this.connectReceived = true;
    this.applyAuth(res);
    return true;
  }

  onConnect(json: Uint8Array): boolean | void {
    let c: Record<string, unknown>;
    try {
      c = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.length).toString('utf8')) as Record<string, unknown>;
    } catch {
      this.sendErr('Unknown Protocol Operation');
      this.close('Protocol Error', true);
      return true;
    }
    this.connectReceived = true;
    const o = this.opts;
    o.verbose = c.verbose === true;
    o.pedantic = c.pedantic === true;
    o.echo = c.echo !== false;
    o.headers = c.headers === true;
    o.noResponders = c.no_responders === true;
    o.name = typeof c.name === 'string' ? c.name : '';
    o.lang = typeof c.lang === 'string' ? c.lang : '';
    o.version = typeof c.version === 'string' ? c.version : '';
    o.protocol = typeof c.protocol === 'number' ? c.protocol : 0;
    o.tlsRequired = c.tls_required === true;
    this.state.name = o.name;
    this.state.lang = o.lang;
    this.state.version = o.version;
    if (o.protocol < 0 || o.protocol > 1) {
      this.sendErr('invalid client protocol');
      this.close('Bad Client Protocol Version', true);
      return true;
    }
    if (o.noResponders && !o.headers) {
      this.sendErr('no responders requires headers support');
      this.close('No Responders Requires Headers', true);
      return true;
    }
    if (!this.host.auth.required) {
      this.authorized = true;
      this.sendOk();
      return;
    }
    this.creds = { user: c.user, pass: c.pass, auth_token: c.auth_token, nkey: c.nkey, sig: c.sig };
    // Checks may run off the event loop (bcrypt): parsing and reading pause until the answer is in.
    this.socket.pause();
    this.host.auth
      .check(this.creds, this.nonce, this.tlsInfo())
      .then((res) => {
        if (this.closed) return;
        this.finishAuth(res);
        this.resumeReading();
      })
      .catch(() => this.authViolation());
    return true;
  }

  private tlsInfo(): { verified: boolean } {
    return { verified: this.state.tlsVerified };
  }

  private finishAuth(res: AuthResult): void {
    if (!res.ok) {
      this.authViolation();
      return;
    }
    this.applyAuth(res);
    this.sendOk();
  }

  private applyAuth(res: Extract<AuthResult, { ok: true }>): void {
    this.authorized = true;
    this.authDeadline = 0;
    this.user = res.user;
    this.state.user = res.user;
    this.account = this.host.accountNumber(res.account);
    this.state.account = res.account;
    this.permissions = res.permissions ?? null;
  }

  /** Re-checks this client against reloaded auth settings; false when it must go. */
  async recheckAuth(): Promise<void> {
    if (!this.authorized || this.closed) return;
    if (!this.host.auth.required) {
      this.permissions = null;
      return;
    }
    const res = await this.host.auth.check(this.creds, this.nonce, this.tlsInfo());
    if (!res.ok) this.authViolation();
    else this.applyAuth(res);
    this.flush();
  }

  authViolation(): void {
    this.sendErr(AUTHORIZATION_VIOLATION);
    this.close('Authentication Failure', true);
  }

  authTimeout(): void {
    this.sendErr('Authentication Timeout');
    this.close('Authentication Timeout', true);
  }

  onPub(args: PubArgs, payload: Uint8Array): void {
    this.processPub(args, NO_HEADERS, payload);
  }

  onHPub(args: PubArgs, headerSize: number, message: Uint8Array): void {
    if (!this.opts.headers && this.connectReceived) {
      // nats-server treats HPUB from a client that did not announce headers as a protocol error.
      this.sendErr('Unknown Protocol Operation');
      this.close('Protocol Error', true);
      return;
    }
    this.processPub(args, headerSize, message);
  }

  private processPub(args: PubArgs, hdrLen: number, msg: Uint8Array): void {
    if (this.needsConnectFirst()) return;
    const src = args.src;
    const subject = this.lastSubject.get(src, args.subjectStart, args.subjectEnd);
    const reply = args.replyStart < 0 ? null : latin1String(src, args.replyStart, args.replyEnd);
    this.state.inMsgs++;
    this.state.inBytes += msg.length;
    if (this.opts.pedantic && !isValidPublishSubject(subject)) {
      this.sendErr('Invalid Publish Subject');
      return;
    }
    // nats-server reserves the routed-reply prefix: no client publishes on it.
    if ((this.permissions && !this.permissions.canPublish(subject)) || (subject.charCodeAt(0) === 0x5f && subject.startsWith(GW_REPLY_PREFIX))) {
      this.sendErr(pubViolation(subject));
      this.host.logger.debug({ cid: this.id, subject }, 'publish permissions violation');
      return;
    }
    const r = this.host.router;
    if (this.gwReplies !== null && this.gwReplies.size > 0) {
      const routed = this.gwReplies.routed(subject, this.host.now());
      if (routed !== undefined) {
        r.publish(this, routed, reply, hdrLen, msg, routed, this.account);
        this.sendOk();
        return;
      }
    }
    const n = r.publish(this, subject, reply, hdrLen, msg, subject, this.account);
    if (n === 0 && reply !== null && this.opts.noResponders) this.noResponders(reply);
    if (this.host.router.workers > 1) this.crossWorkerDirty = true;
    this.sendOk();
  }

  /** A request nobody can answer gets a 503 status message on its reply subject. */
  private noResponders(reply: string): void {
    for (const sub of this.subs.values()) {
      if (subjectMatches(reply, sub.subject)) {
        sub.delivered++;
        this.deliver(sub, reply, null, NO_RESPONDERS_HDR.length, NO_RESPONDERS_HDR);
        return;
      }
    }
  }

  onSub(subjectBytes: Uint8Array, queueBytes: Uint8Array | null, sidBytes: Uint8Array): void {
    if (this.needsConnectFirst()) return;
    const subject = latin1String(subjectBytes);
    const queue = queueBytes === null ? null : latin1String(queueBytes);
    const sidKey = latin1String(sidBytes);
    if (!isValidSubject(subject) || (queue !== null && !isValidQueueName(queue))) {
      this.sendErr('Invalid Subject');
      return;
    }
    if (this.permissions && !this.permissions.canSubscribe(subject, queue)) {
      this.sendErr(subViolation(subject, queue));
      return;
    }
    const max = this.host.options.maxSubscriptions;
    if (max > 0 && this.subs.size >= max) {
      this.sendErr('maximum subscriptions exceeded');
      return;
    }
    if (!this.subs.has(sidKey)) {
      const sub = this.host.router.addSubscription(this, subject, queue, Buffer.from(sidBytes), this.account);
      this.subs.set(sidKey, sub);
      this.crossWorkerDirty = true;
    }
    this.sendOk();
  }

  onUnsub(sidBytes: Uint8Array, max: number): void {
    if (this.needsConnectFirst()) return;
    const sub = this.subs.get(latin1String(sidBytes));
    if (sub) {
      if (max > 0 && sub.delivered < max) {
        sub.max = max;
      } else {
        this.dropSub(sub);
      }
    }
    this.sendOk();
  }

  private dropSub(sub: Subscription): void {
    const key = latin1String(sub.sid!);
    if (this.subs.get(key) !== sub) return;
    this.subs.delete(key);
    this.host.router.removeSubscription(sub);
    this.crossWorkerDirty = true;
  }

  onPing(): void {
    if (this.needsConnectFirst()) return;
    // A PONG promises that this client's earlier interest changes and messages reached every
    // worker, so a barrier runs first whenever it touched other workers since the last one.
    if (this.crossWorkerDirty && this.host.router.workers > 1) {
      this.crossWorkerDirty = false;
      this.host.router.barrier(this);
    } else {
      this.pong();
    }
  }

  onPong(): void {
    this.pongReceived();
  }

  onProtocolError(err: ProtocolError): void {
    if (err.errText !== null) this.sendErr(err.errText);
    this.host.logger.debug({ cid: this.id, err: err.message }, 'client parser error');
    if (err.closesConnection) this.close(err.closeReason, true);
  }

  // --- keep-alive ------------------------------------------------------------

  /** Called by the worker's sweep: the auth timeout, then the transport's keep-alive. */
  override sweep(now: number): void {
    if (this.closed) return;
    if (this.authDeadline > 0 && !this.authorized && now >= this.authDeadline) {
      this.authTimeout();
      return;
    }
    this.gwReplies?.sweep(now);
    super.sweep(now);
  }

  // --- teardown ----------------------------------------------------------------

  protected release(): void {
    for (const sub of this.subs.values()) this.host.router.removeSubscription(sub);
    this.subs.clear();
  }
}

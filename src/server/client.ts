// One client connection, owned by the routing worker that received its socket: protocol
// parsing, CONNECT and authentication, permissions, subscriptions, outbound buffering,
// keep-alive and slow-consumer rules — with nats-server's error texts and closing decisions.

import tls from 'node:tls';
import type net from 'node:net';
import { ClientParser } from '../protocol/client_parser.ts';
import type { ClientParserHandler, PubArgs } from '../protocol/client_parser.ts';
import type { ProtocolError } from '../protocol/errors.ts';
import { isValidSubject, isValidPublishSubject, isValidQueueName } from '../routing/subjects.ts';
import type { Outbox, Subscription } from '../routing/router.ts';
import { NO_HEADERS } from '../routing/router.ts';
import { AUTHORIZATION_VIOLATION } from '../auth/authenticator.ts';
import type { AuthResult } from '../auth/authenticator.ts';
import { pubViolation, subViolation } from '../auth/permissions.ts';
import type { CompiledPermissions } from '../auth/permissions.ts';
import { subjectMatches } from '../routing/subjects.ts';
import { Outbound } from './outbound.ts';
import { latin1String } from '../protocol/bytes.ts';
import {
  errLine,
  hmsgPrefixLength,
  msgPrefixLength,
  OK_LINE,
  PING_LINE,
  PONG_LINE,
  writeHMsgPrefix,
  writeMsgPrefix,
} from '../protocol/encode.ts';
import type { WorkerHost } from './worker_host.ts';
import { ClosedState, ConnectionState } from './conn_state.ts';

/** Status header a requester gets when nobody listens (nats-server's no-responders reply). */
const NO_RESPONDERS_HDR = Buffer.from('NATS/1.0 503\r\n\r\n');

/** Longest subject the per-connection last-subject cache keeps. */
const LAST_SUBJECT_BYTES = 64;

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

export class ClientConnection implements Outbox, ClientParserHandler {
  readonly id: number;
  readonly host: WorkerHost;
  socket: net.Socket | tls.TLSSocket;
  readonly parser: ClientParser;
  readonly out = new Outbound();
  readonly state: ConnectionState;
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
  /** The congested client this one's reading is paused for (nats-server's producer stall). */
  stalledBy: ClientConnection | null = null;
  /** Producers paused because this client's outbound is past the stall mark. */
  private stalledProducers: ClientConnection[] = [];
  nonce: Uint8Array | null = null;
  permissions: CompiledPermissions | null = null;
  user: string | undefined;
  private readonly lastSubjectBytes = new Uint8Array(LAST_SUBJECT_BYTES);
  private lastSubjectLength = -1;
  private lastSubject = '';
  /** The account's number (0 = global): which subject space this client lives in. */
  account = 0;
  /** Set when this client changed interest or sent to other workers since its last PONG. */
  private crossWorkerDirty = false;
  pingsOut = 0;
  lastPingSent = 0;
  authDeadline = 0;
  nextPingAt = 0;
  closed = false;
  private tlsPending = false;

  constructor(host: WorkerHost, id: number, socket: net.Socket, remote: { ip: string; port: number }) {
    this.host = host;
    this.id = id;
    this.socket = socket;
    this.state = new ConnectionState(id, remote.ip, remote.port, host.now());
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
    this.nextPingAt = h.now() + h.options.pingIntervalMs;
    const tlsOpts = h.options.tls;
    if (tlsOpts && tlsOpts.handshakeFirst) {
      this.upgradeTls();
      this.enqueue(h.infoFor(this));
      this.flush();
      return;
    }
    this.enqueue(h.infoFor(this));
    this.flush();
    if (tlsOpts) this.upgradeTls();
    else this.attach(this.socket);
  }

  private attach(sock: net.Socket | tls.TLSSocket): void {
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('error', () => this.close('Client Closed', false));
    sock.on('close', () => this.close('Client Closed', false));
    sock.on('drain', () => {
      this.host.writeDrained(this);
      this.releaseProducers();
    });
    sock.resume();
  }

  private upgradeTls(): void {
    const h = this.host;
    const t = h.options.tls!;
    this.tlsPending = true;
    const raw = this.socket as net.Socket;
    const secure = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: h.secureContext!,
      requestCert: t.verify,
      rejectUnauthorized: t.verify,
    });
    this.socket = secure;
    const timer = setTimeout(() => {
      if (this.tlsPending) this.close('TLS Handshake Error', false);
    }, t.timeoutMs);
    timer.unref();
    secure.once('secure', () => {
      this.tlsPending = false;
      clearTimeout(timer);
      // A TLSSocket wrapped by hand never checks the peer certificate's verification result
      // (tls.Server does that in its own connection listener), so the check is made here.
      if (t.verify) {
        const verifyError = peerVerifyError(secure);
        if (verifyError) {
          this.host.logger.debug({ cid: this.id, reason: verifyError }, 'TLS handshake error: client certificate rejected');
          this.close('TLS Handshake Error', false);
          return;
        }
      }
      this.state.tls = true;
      this.state.tlsVerified = t.verify;
    });
    this.attach(secure);
    raw.resume();
  }

  /** Backpressure from a full inter-worker ring; a parser paused for auth stays paused. */
  setReadPaused(paused: boolean): void {
    if (this.closed) return;
    if (paused) this.socket.pause();
    else if (!this.parser.paused && this.stalledBy === null) this.socket.resume();
  }

  private onData(chunk: Buffer): void {
    this.state.lastActivity = this.host.now();
    this.state.inBytesRaw += chunk.length;
    this.host.inbound = this;
    this.parser.parse(chunk);
    this.host.inbound = null;
    this.host.scheduleFlush();
  }

  // --- output -------------------------------------------------------------

  enqueue(bytes: Uint8Array): void {
    this.out.append(bytes);
    this.markDirty();
  }

  private markDirty(): void {
    if (!this.out.dirty) {
      this.out.dirty = true;
      this.host.markDirty(this);
    }
  }

  sendErr(text: string): void {
    this.enqueue(errLine(text));
  }

  private sendOk(): void {
    if (this.opts.verbose) this.enqueue(OK_LINE);
  }

  flush(): void {
    if (this.closed && this.socket.destroyed) return;
    this.out.flush(this.socket);
    this.host.watchWrite(this);
    // Stalled producers go again once the backlog is down to half; when it is not, the socket
    // is above its high-water mark and its 'drain' will release them.
    if (this.stalledProducers.length > 0 && this.out.pending <= this.host.options.maxPending >> 1) this.releaseProducers();
  }

  /** Outbox: one MSG/HMSG to this client. */
  deliver(sub: Subscription, subject: string, reply: string | null, hdrLen: number, msg: Uint8Array): void {
    if (this.closed) return;
    // A wildcard subscription may not receive what a deny entry forbids.
    if (this.permissions && !this.permissions.canDeliver(subject, sub.queue)) return;
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
    let pending = this.out.pending;
    const max = this.host.options.maxPending;
    if (pending > max && this.out.unflushed > 0) {
      // Many reads can land in one event-loop turn: hand the backlog to the socket before judging.
      this.flush();
      pending = this.out.pending;
    }
    if (pending > max) this.slowConsumer();
    else if (pending > max - (max >> 2)) this.stallProducer();
  }

  /**
   * Past three quarters of max_pending, the client whose bytes are being parsed stops being read
   * until this one's socket drains — as nats-server stalls a fast producer — so a reader that is
   * merely slower than its publisher is not cut as a slow consumer. One that never reads is still
   * cut by write_deadline.
   */
  private stallProducer(): void {
    const p = this.host.inbound;
    if (p === null || p === this || p.stalledBy !== null || p.closed) return;
    p.stalledBy = this;
    // Stop right after the message being delivered: the rest of the chunk waits in the parser.
    p.parser.pause();
    p.socket.pause();
    this.stalledProducers.push(p);
  }

  private releaseProducers(): void {
    if (this.stalledProducers.length === 0) return;
    const list = this.stalledProducers;
    this.stalledProducers = [];
    // Not inline: this runs inside the worker's flush loop (or a delivery), and a producer parsing
    // its backlog right now would pile more onto readers that loop has not flushed yet.
    queueMicrotask(() => {
      for (const p of list) p.unstall();
    });
  }

  /** Parses what arrived while stalled, then reads again (unless stalled anew meanwhile). */
  private unstall(): void {
    this.stalledBy = null;
    if (this.closed) return;
    this.host.inbound = this;
    this.parser.resume();
    this.host.inbound = null;
    this.setReadPaused(this.host.readsPaused);
    this.host.scheduleFlush();
  }

  barrierDone(): void {
    if (!this.closed) this.enqueue(PONG_LINE);
  }

  private slowConsumer(): void {
    if (this.closed) return;
    this.host.counters.slowConsumers++;
    this.host.logger.warn({ cid: this.id }, `Slow Consumer Detected: MaxPending of ${this.host.options.maxPending} Exceeded`);
    // nats-server sends nothing here: the connection is clogged, so it is just cut.
    this.close('Slow Consumer (Pending Bytes)', false);
  }

  writeDeadlineExceeded(): void {
    if (this.closed) return;
    this.host.counters.slowConsumers++;
    this.host.logger.warn({ cid: this.id }, 'Slow Consumer Detected: WriteDeadline exceeded');
    this.close('Slow Consumer (Write Deadline)', false);
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
        if (!this.closed) {
          this.host.inbound = this;
          this.parser.resume();
          this.host.inbound = null;
          this.setReadPaused(this.host.readsPaused);
          this.host.scheduleFlush();
        }
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
    const subject = this.subjectString(src, args.subjectStart, args.subjectEnd);
    const reply = args.replyStart < 0 ? null : latin1String(src, args.replyStart, args.replyEnd);
    this.state.inMsgs++;
    this.state.inBytes += msg.length;
    if (this.opts.pedantic && !isValidPublishSubject(subject)) {
      this.sendErr('Invalid Publish Subject');
      return;
    }
    if (this.permissions && !this.permissions.canPublish(subject)) {
      this.sendErr(pubViolation(subject));
      this.host.logger.debug({ cid: this.id, subject }, 'publish permissions violation');
      return;
    }
    const r = this.host.router;
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

  /**
   * Publishers mostly repeat subjects: the last one's string is reused when the bytes match,
   * which saves a string allocation per message.
   */
  private subjectString(src: Uint8Array, start: number, end: number): string {
    const n = end - start;
    const last = this.lastSubjectBytes;
    if (n === this.lastSubjectLength) {
      let i = 0;
      while (i < n && last[i] === src[start + i]) i++;
      if (i === n) return this.lastSubject;
    }
    const s = latin1String(src, start, end);
    if (n <= last.length) {
      for (let i = 0; i < n; i++) last[i] = src[start + i]!;
      this.lastSubjectLength = n;
      this.lastSubject = s;
    }
    return s;
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
      this.enqueue(PONG_LINE);
    }
  }

  onPong(): void {
    this.pingsOut = 0;
    if (this.lastPingSent > 0) {
      this.state.rttMs = this.host.now() - this.lastPingSent;
      this.lastPingSent = 0;
    }
  }

  onProtocolError(err: ProtocolError): void {
    if (err.errText !== null) this.sendErr(err.errText);
    this.host.logger.debug({ cid: this.id, err: err.message }, 'client parser error');
    if (err.closesConnection) this.close(err.closeReason, true);
  }

  // --- keep-alive ------------------------------------------------------------

  /** Called by the worker's sweep: auth timeout and nats-server's ping/stale logic. */
  sweep(now: number): void {
    if (this.closed) return;
    if (this.authDeadline > 0 && !this.authorized && now >= this.authDeadline) {
      this.authTimeout();
      return;
    }
    if (now < this.nextPingAt) return;
    this.nextPingAt = now + this.host.options.pingIntervalMs;
    if (this.pingsOut + 1 > this.host.options.pingMax) {
      this.sendErr('Stale Connection');
      this.close('Stale Connection', true);
      return;
    }
    this.pingsOut++;
    this.lastPingSent = now;
    this.enqueue(PING_LINE);
  }

  // --- teardown ----------------------------------------------------------------

  /** Closes the connection; `flushFirst` sends what is queued (an -ERR) before closing. */
  close(reason: string, flushFirst: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.state.reason = reason;
    for (const sub of this.subs.values()) this.host.router.removeSubscription(sub);
    this.subs.clear();
    this.releaseProducers();
    const sock = this.socket;
    if (flushFirst) {
      this.out.flush(sock);
      sock.end();
      // A peer that never reads must not keep the socket alive forever.
      setTimeout(() => sock.destroy(), 1000).unref();
    } else {
      sock.destroy();
    }
    this.host.connectionClosed(this, new ClosedState(this.state, reason, this.host.now()));
  }
}

/**
 * The OpenSSL verification result of the peer certificate (null when it verified). Uses the
 * socket's handle as tls.Server itself does; the TLS tests fail if a Node release changes it.
 */
function peerVerifyError(sock: tls.TLSSocket): string | null {
  const handle = (sock as unknown as { _handle?: { verifyError?: () => Error | null } })._handle;
  if (!handle?.verifyError) return 'verification unavailable';
  const err = handle.verifyError();
  if (err) return (err as Error & { code?: string }).code ?? err.message;
  return sock.getPeerCertificate() && Object.keys(sock.getPeerCertificate()).length > 0 ? null : 'no client certificate';
}

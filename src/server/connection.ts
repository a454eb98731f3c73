// The transport every connection kind shares: the socket (plain or TLS), outbound slabs flushed
// once per event-loop turn, the producer stall and slow-consumer rules, keep-alive PINGs and the
// close sequence. A kind (client, route, gateway, leaf) adds its protocol on top and
// reaches its worker only through the small ConnectionHost interface.

import type tls from 'node:tls';
import { tlsModule } from './tls_module.ts';
import net from 'node:net';
import type { Outbox, Router, SubKind, Subscription } from '../routing/router.ts';
import type { ServerOptions } from '../config/options.ts';
import type { Logger } from '../log.ts';
import { errLine, PING_LINE } from '../protocol/encode.ts';
import { Outbound } from './outbound.ts';
import { ClosedState, ConnectionState } from './conn_state.ts';

/** What kind of peer is on the other end, as nats-server's client kinds. */
export type ConnectionKind = 'client' | 'route' | 'gateway' | 'leaf';

/** What a connection needs from the worker that owns it. */
export interface ConnectionHost {
  readonly options: ServerOptions;
  readonly logger: Logger;
  readonly router: Router;
  readonly counters: { slowConsumers: number };
  /** The connection whose bytes are being parsed right now (the producer a congested reader stalls). */
  inbound: Connection | null;
  /** True while a peer worker's ring is full: sockets are not read. */
  readonly readsPaused: boolean;
  now(): number;
  /** The connection has output to flush this turn. */
  markDirty(c: Connection): void;
  scheduleFlush(): void;
  /** After a flush: the socket still holds bytes, so the write deadline runs. */
  watchWrite(c: Connection): void;
  writeDrained(c: Connection): void;
  connectionClosed(c: Connection, closed: ClosedState): void;
  /**
   * A delivery that came through the lanes (no producer on this worker to stall) pushed `c`
   * past the stall mark: stop draining the lanes until `releaseLanes(c)`, so the rings fill and
   * the producing workers stop reading their sockets.
   */
  holdLanes(c: Connection): void;
  releaseLanes(c: Connection): void;
}

/** The part of a kind's parser the transport drives. */
export interface ConnectionParser {
  parse(chunk: Uint8Array): void;
  pause(): void;
  resume(): void;
  readonly paused: boolean;
}

export interface TlsUpgrade {
  isServer: boolean;
  secureContext: tls.SecureContext;
  /** Check the peer's certificate (mutual TLS on the server side). */
  verify: boolean;
  timeoutMs: number;
  /** Client side: the host dialled, which the server certificate must name (DNS or IP). */
  host?: string;
}

export abstract class Connection implements Outbox {
  abstract readonly kind: ConnectionKind;
  abstract readonly subKind: SubKind;
  readonly id: number;
  readonly host: ConnectionHost;
  socket: net.Socket | tls.TLSSocket;
  abstract readonly parser: ConnectionParser;
  readonly out = new Outbound();
  readonly state: ConnectionState;
  /** The congested connection this one's reading is paused for (nats-server's producer stall). */
  stalledBy: Connection | null = null;
  /** Producers paused because this connection's outbound is past the stall mark. */
  private stalledProducers: Connection[] = [];
  /** This connection holds the worker's lanes (its backlog came from other workers). */
  private holdsLanes = false;
  pingsOut = 0;
  lastPingSent = 0;
  nextPingAt = 0;
  closed = false;
  private tlsPending = false;

  constructor(host: ConnectionHost, id: number, socket: net.Socket, remote: { ip: string; port: number }) {
    this.host = host;
    this.id = id;
    this.socket = socket;
    this.state = new ConnectionState(id, remote.ip, remote.port, host.now());
    this.nextPingAt = host.now() + host.options.pingIntervalMs;
  }

  abstract get echo(): boolean;
  /** Outbox: one message for a subscription this connection owns. */
  abstract deliver(sub: Subscription, subject: string, reply: string | null, hdrLen: number, msg: Uint8Array): void;
  abstract barrierDone(): void;
  /** The kind lets go of what it holds in the router (its subscriptions) as the connection closes. */
  protected abstract release(): void;

  /** Starts reading the socket. */
  protected attach(sock: net.Socket | tls.TLSSocket): void {
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('error', () => this.close(this.closedByPeerReason(), false));
    sock.on('close', () => this.close(this.closedByPeerReason(), false));
    sock.on('drain', () => {
      this.host.writeDrained(this);
      this.releaseProducers();
    });
    sock.resume();
  }

  /** The close reason when the peer hangs up (nats-server says "Client Closed" for every kind). */
  protected closedByPeerReason(): string {
    return 'Client Closed';
  }

  /** Wraps the socket in TLS and starts reading; the handshake must finish within the timeout. */
  protected upgradeTls(t: TlsUpgrade): void {
    this.tlsPending = true;
    const raw = this.socket as net.Socket;
    const secure = t.isServer
      ? new (tlsModule().TLSSocket)(raw, { isServer: true, secureContext: t.secureContext, requestCert: t.verify, rejectUnauthorized: t.verify })
      : tlsModule().connect({
          socket: raw,
          secureContext: t.secureContext,
          host: t.host,
          // SNI carries DNS names only.
          servername: t.host && !net.isIP(t.host) ? t.host : undefined,
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
      if (t.verify && t.isServer) {
        const verifyError = peerVerifyError(secure);
        if (verifyError) {
          this.host.logger.debug({ cid: this.id, reason: verifyError }, 'TLS handshake error: peer certificate rejected');
          this.close('TLS Handshake Error', false);
          return;
        }
      }
      this.state.tls = true;
      this.state.tlsVerified = t.verify;
      this.onSecure();
    });
    this.attach(secure);
    raw.resume();
  }

  /** Called once the TLS handshake completed. */
  protected onSecure(): void {}

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

  /** Parses what waited while reading was paused (auth, a route verdict), then reads again. */
  protected resumeReading(): void {
    if (this.closed) return;
    this.host.inbound = this;
    this.parser.resume();
    this.host.inbound = null;
    this.setReadPaused(this.host.readsPaused);
    this.host.scheduleFlush();
  }

  // --- output -------------------------------------------------------------

  enqueue(bytes: Uint8Array): void {
    this.out.append(bytes);
    this.markDirty();
  }

  protected markDirty(): void {
    if (!this.out.dirty) {
      this.out.dirty = true;
      this.host.markDirty(this);
    }
  }

  sendErr(text: string): void {
    this.enqueue(errLine(text));
  }

  flush(): void {
    if (this.closed && this.socket.destroyed) return;
    this.out.flush(this.socket);
    this.host.watchWrite(this);
    // Stalled producers go again once the backlog is down to half; when it is not, the socket
    // is above its high-water mark and its 'drain' will release them.
    if ((this.stalledProducers.length > 0 || this.holdsLanes) && this.out.pending <= this.host.options.maxPending >> 1) this.releaseProducers();
  }

  /** After a delivery was written to the outbound: the slow-consumer and stall rules. */
  protected checkPending(): void {
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
   * Past three quarters of max_pending, the connection whose bytes are being parsed stops being
   * read until this one's socket drains — as nats-server stalls a fast producer — so a reader
   * that is merely slower than its publisher is not cut as a slow consumer. One that never reads
   * is still cut by write_deadline.
   */
  private stallProducer(): void {
    const p = this.host.inbound;
    if (p === null) {
      // Delivered from the lanes: the producers are on other workers (or other servers, through
      // a route on another worker); stop taking their messages until this backlog drains.
      if (!this.holdsLanes) {
        this.holdsLanes = true;
        this.host.holdLanes(this);
      }
      return;
    }
    if (p === this || p.stalledBy !== null || p.closed) return;
    p.stalledBy = this;
    // Stop right after the message being delivered: the rest of the chunk waits in the parser.
    p.parser.pause();
    p.socket.pause();
    this.stalledProducers.push(p);
  }

  private releaseProducers(): void {
    if (this.holdsLanes) {
      this.holdsLanes = false;
      this.host.releaseLanes(this);
    }
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
    this.resumeReading();
  }

  private slowConsumer(): void {
    if (this.closed) return;
    this.host.counters.slowConsumers++;
    this.host.logger.warn({ cid: this.id, kind: this.kind }, `Slow Consumer Detected: MaxPending of ${this.host.options.maxPending} Exceeded`);
    // nats-server sends nothing here: the connection is clogged, so it is just cut.
    this.close('Slow Consumer (Pending Bytes)', false);
  }

  writeDeadlineExceeded(): void {
    if (this.closed) return;
    this.host.counters.slowConsumers++;
    this.host.logger.warn({ cid: this.id, kind: this.kind }, 'Slow Consumer Detected: WriteDeadline exceeded');
    this.close('Slow Consumer (Write Deadline)', false);
  }

  // --- keep-alive ------------------------------------------------------------

  /** A PONG from the peer: the keep-alive is satisfied and the round trip is known. */
  protected pongReceived(): void {
    this.pingsOut = 0;
    if (this.lastPingSent > 0) {
      this.state.rttMs = this.host.now() - this.lastPingSent;
      this.lastPingSent = 0;
    }
  }

  /** How often this connection is pinged (a kind may ping more often). */
  protected get pingIntervalMs(): number {
    return this.host.options.pingIntervalMs;
  }

  /** Called by the worker's sweep: nats-server's ping and stale-connection logic. */
  sweep(now: number): void {
    if (this.closed || now < this.nextPingAt) return;
    this.nextPingAt = now + this.pingIntervalMs;
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
    this.release();
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

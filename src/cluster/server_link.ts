// What every server-to-server connection kind (route, gateway, leaf) does the same way on top
// of the shared transport: the other side's interest kept as subscriptions this connection owns
// (keyed as nats-server keys them: account, subject, queue), its messages published into the
// router as coming from a link (with the leaf origin cluster, and a JetStream delivery's
// `reply@subject` taken apart), one message per publish written with the kind's message line,
// keep-alive, and a bad frame closing the link with its reason in the log.

import { latin1String } from '../protocol/bytes.ts';
import { LastString } from '../protocol/string_cache.ts';
import { PONG_LINE } from '../protocol/encode.ts';
import type { ProtocolError } from '../protocol/errors.ts';
import type { LinkParser, RemoteInterest, RouteParserHandler, RoutedMsgArgs } from '../protocol/route_parser.ts';
import { NO_HEADERS } from '../routing/router.ts';
import type { routedMsgLine } from '../protocol/route_encode.ts';
import type { LinkOutbox, Subscription } from '../routing/router.ts';
import { Connection } from '../server/connection.ts';

/** A link's subscriptions carry no sid of their own (nats-server keys them by account, subject and queue). */
const NO_SID = new Uint8Array(0);
/** JetStream ack replies may carry the deliver subject after `@` (nats-server's jsAckPre). */
const JS_ACK_PREFIX = '$JS.ACK.';

/** How a message line of the kind is written into the outbound slab (route_encode's writer). */
export type MsgLineWriter = typeof routedMsgLine;

export abstract class ServerLink extends Connection implements LinkOutbox, RouteParserHandler {
  abstract override readonly parser: LinkParser;
  /** The other side's interest by "account subject[ queue]". */
  readonly subs = new Map<string, Subscription>();
  /** Set once interest and messages may flow (registered, handshake done). */
  open = false;
  protected connectReceived = false;
  /** An accepted link that must authenticate: when its CONNECT is due (0 = none expected). */
  protected authDeadline = 0;
  protected readonly lastSubject = new LastString();
  protected readonly lastAccount = new LastString();
  private readonly queueNames: string[] = [];
  /** The queue names of the previous routed message, position by position: a link repeats them message after message. */
  private readonly lastQueues: LastString[] = [];
  /** How the log names the peer ("Route", "Gateway", "Leafnode"). */
  protected abstract readonly peerLabel: string;
  protected abstract readonly msgLine: MsgLineWriter;

  /** The account a message of this link is in; undefined when this node does not know it. */
  protected abstract messageAccount(a: RoutedMsgArgs): number | undefined;
  /** The account name written on the wire for `account` ('' where lines carry none). */
  protected abstract wireAccount(account: number): string;
  /** A message in an account this node does not have (a gateway answers A-). */
  protected unknownAccount(_a: RoutedMsgArgs): void {}
  /**
   * A routed reply subject (`_GR_.`) arrived: the kind handles it and returns true, or false to
   * route it as any subject.
   */
  protected routedReply(_account: number, _subject: string, _reply: string | null, _hdrLen: number, _msg: Uint8Array): boolean {
    return false;
  }
  /** After a message was published: how many got it (a gateway may tell the remote it has no interest). */
  protected published(_delivered: number, _account: number, _subject: string): void {}
  /** The leaf cluster messages of this link come from when their line names none. */
  protected get messageOrigin(): string | null {
    return null;
  }
  /** Whether message lines carry the leaf origin cluster (a route to a server that takes LMSG). */
  protected get sendsOrigin(): boolean {
    return false;
  }
  /** Refuses every op until the peer has authenticated (returns true after closing). */
  protected needsConnectFirst(): boolean {
    return false;
  }

  // --- interest ------------------------------------------------------------------

  /** Adds (or re-weighs) the other side's interest as a subscription this link owns. */
  protected addInterest(key: string, account: number, subject: string, queue: string | null, weight: number, origin: string | null): Subscription {
    const existing = this.subs.get(key);
    const router = this.host.router;
    if (existing) {
      if (queue !== null) router.setWeight(existing, weight);
      return existing;
    }
    const sub = router.addSubscription(this, subject, queue, NO_SID, account, -1, queue === null ? 1 : weight, origin);
    this.subs.set(key, sub);
    return sub;
  }

  protected removeInterest(key: string): Subscription | undefined {
    const sub = this.subs.get(key);
    if (!sub) return undefined;
    this.subs.delete(key);
    this.host.router.removeSubscription(sub);
    return sub;
  }

  /** The key nats-server stores a remote subscription under. */
  protected static interestKey(account: string, i: RemoteInterest): string {
    const subject = latin1String(i.subject);
    const prefix = account === '' ? subject : `${account} ${subject}`;
    return i.queue === null ? prefix : `${prefix} ${latin1String(i.queue)}`;
  }

  abstract onConnect(json: Uint8Array): boolean | void;
  abstract onRemoteSub(i: RemoteInterest): void;
  abstract onRemoteUnsub(i: RemoteInterest): void;
  abstract onInfo(json: Uint8Array): void;

  // --- messages ------------------------------------------------------------------

  onRoutedMsg(a: RoutedMsgArgs, headerSize: number, msg: Uint8Array): void {
    if (this.needsConnectFirst()) return;
    this.state.inMsgs++;
    this.state.inBytes += msg.length;
    const account = this.messageAccount(a);
    if (account === undefined) {
      this.unknownAccount(a);
      return;
    }
    let subject = this.lastSubject.get(a.src, a.subjectStart, a.subjectEnd);
    let reply = a.replyStart < 0 ? null : latin1String(a.src, a.replyStart, a.replyEnd);
    const hdrLen = headerSize < 0 ? NO_HEADERS : headerSize;
    const c0 = subject.charCodeAt(0);
    if ((c0 === 0x5f || c0 === 0x24) && this.routedReply(account, subject, reply, hdrLen, msg)) return;
    let routeSubject = subject;
    if (reply !== null && reply.charCodeAt(0) === 0x24 && reply.startsWith(JS_ACK_PREFIX)) {
      // A JetStream delivery: matched on its deliver subject, shown with the stream's subject.
      const at = reply.lastIndexOf('@');
      if (at > 0 && at < reply.length - 1) {
        subject = reply.slice(at + 1);
        reply = reply.slice(0, at);
      }
    }
    const q = this.queueNames;
    for (let i = 0; i < a.queueCount; i++) {
      q[i] = (this.lastQueues[i] ??= new LastString()).get(a.src, a.tokStart[a.queueFirst + i]!, a.tokEnd[a.queueFirst + i]!);
    }
    const origin = a.originStart < 0 ? this.messageOrigin : latin1String(a.src, a.originStart, a.originEnd);
    const n = this.host.router.publish(this, subject, reply, hdrLen, msg, routeSubject, account, q, a.queueCount, origin);
    this.published(n, account, routeSubject);
  }

  /** LinkOutbox: one message line for a message, naming the queue groups the remote should serve. */
  deliverLink(
    account: number,
    subject: string,
    reply: string | null,
    hdrLen: number,
    msg: Uint8Array,
    queues: readonly string[],
    nQueues: number,
    origin: string | null,
  ): void {
    if (this.closed || !this.open || this.holdsBack(account, subject, nQueues)) return;
    reply = this.outgoingReply(account, reply);
    if (!this.sendsOrigin) origin = null;
    const acc = this.wireAccount(account);
    const h = hdrLen === NO_HEADERS ? -1 : hdrLen;
    const size = msg.length;
    const w = this.msgLine;
    const need = w.length(acc, subject, reply, queues, nQueues, h, size, origin);
    const buf = this.out.reserve(need + size + 2);
    const start = this.out.offset;
    let at = w.write(buf, start, acc, subject, reply, queues, nQueues, h, size, origin);
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

  /** A message the other side must not get (a gateway's no-interest marks, a leaf's deny list). */
  protected holdsBack(_account: number, _subject: string, _nQueues: number): boolean {
    return false;
  }

  /** The reply to send a message with (a gateway maps fresh ones to its cluster). */
  protected outgoingReply(_account: number, reply: string | null): string | null {
    return reply;
  }

  /** A link never owns a subscription delivered one by one: links get deliverLink. */
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

  /** Who the other side is, for log lines. */
  protected abstract get remoteLabel(): string | undefined;

  onProtocolError(err: ProtocolError): void {
    if (err.errText !== null) this.sendErr(err.errText);
    // A bad frame closes this link only; the reason goes to the log.
    this.host.logger.error({ cid: this.id, remote: this.remoteLabel, err: err.message }, `${this.peerLabel} parser error, closing ${this.peerLabel.toLowerCase()}: ${err.message}`);
    this.close(err.closeReason, true);
  }

  /** nats-server's auth timer: an accepted link that has not sent CONNECT in time is closed. */
  override sweep(now: number): void {
    if (this.closed) return;
    if (this.authDeadline > 0 && !this.connectReceived && now >= this.authDeadline) {
      this.sendErr('Authentication Timeout');
      this.close('Authentication Timeout', true);
      return;
    }
    super.sweep(now);
  }

  protected protocolViolation(why: string, reason: string): void {
    this.host.logger.error({ cid: this.id }, `${this.peerLabel} Error ${why}`);
    this.close(reason, true);
  }

  protected release(): void {
    this.parser.close();
    this.open = false;
    for (const sub of this.subs.values()) this.host.router.removeSubscription(sub);
    this.subs.clear();
  }
}

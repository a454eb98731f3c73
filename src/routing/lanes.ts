// The records routing workers exchange over their SPSC rings: interest deltas (SUB with the
// subscription's kind, queue weight and leaf origin cluster, UNSUB, WEIGHT when a link's queue
// member count changes), messages with the subscriptions they are for (and the leaf cluster a
// message came from), and PING barriers. Interest and messages share
// one ordered lane per direction, so a barrier that comes back proves everything sent before it
// was applied by the peer.

import { RingReader, RingWriter } from './ring.ts';
import { latin1String, writeLatin1 } from '../protocol/bytes.ts';
import type { DrainGate, RingBuffers } from './ring.ts';
import type { SubKind } from './router.ts';

export const Rec = {
  Sub: 1,
  Unsub: 2,
  Msg: 3,
  Barrier: 4,
  BarrierAck: 5,
  Weight: 6,
} as const;

/** hdrLen value meaning "no header block" (MSG rather than HMSG). */
export const NO_HEADERS = 0xffffffff;

/** Bytes before the variable part of each record kind. */
const SUB_FIXED = 1 + 8 + 2 + 2 + 2 + 1 + 4 + 2;
const UNSUB_FIXED = 1 + 8;
const WEIGHT_FIXED = 1 + 8 + 4;
const MSG_FIXED = 1 + 2 + 2 + 4 + 4 + 2 + 2;
/** A length field's value for "absent" (no queue, no reply, no origin). */
const ABSENT = 0xffff;
const BARRIER_FIXED = 1 + 4;

/** The writing end of one worker-to-worker lane, with an in-memory backlog when the ring is full. */
export class OutLane {
  private readonly w: RingWriter;
  private readonly ringBuf: Buffer;
  /** Records that did not fit in the ring, oldest at `backlogHead` (a queue without shift()). */
  private backlog: Buffer[] = [];
  private backlogHead = 0;
  private backlogBytes = 0;
  private target: Buffer;
  private pendingCommit = false;

  constructor(ring: RingBuffers) {
    this.w = new RingWriter(ring);
    this.ringBuf = this.w.bytes;
    this.target = this.ringBuf;
  }

  get hasBacklog(): boolean {
    return this.backlogHead < this.backlog.length;
  }

  /** Bytes waiting behind a full ring: the worker stops reading publishers while this grows. */
  get backlogSize(): number {
    return this.backlogBytes;
  }

  /** Picks where the next record goes: the ring, or (to keep order) the backlog behind it. */
  private open(size: number): number {
    this.pendingCommit = true;
    if (!this.hasBacklog) {
      const at = this.w.reserve(size);
      if (at >= 0) {
        this.target = this.ringBuf;
        return at;
      }
    }
    const tmp = Buffer.allocUnsafe(size);
    this.backlog.push(tmp);
    this.backlogBytes += size;
    this.target = tmp;
    return 0;
  }

  sub(id: number, subject: string, queue: string | null, account: number, kind: SubKind, weight: number, origin: string | null): void {
    const sl = Buffer.byteLength(subject, 'latin1');
    const ql = queue === null ? 0 : Buffer.byteLength(queue, 'latin1');
    const ol = origin === null ? 0 : Buffer.byteLength(origin, 'latin1');
    let at = this.open(SUB_FIXED + sl + ql + ol);
    const b = this.target;
    b[at] = Rec.Sub;
    b.writeDoubleLE(id, at + 1);
    b.writeUInt16LE(sl, at + 9);
    b.writeUInt16LE(queue === null ? ABSENT : ql, at + 11);
    b.writeUInt16LE(account, at + 13);
    b[at + 15] = kind;
    b.writeUInt32LE(weight, at + 16);
    b.writeUInt16LE(origin === null ? ABSENT : ol, at + 20);
    at += SUB_FIXED;
    at = writeLatin1(b, at, subject);
    if (queue !== null) at = writeLatin1(b, at, queue);
    if (origin !== null) writeLatin1(b, at, origin);
  }

  unsub(id: number): void {
    const at = this.open(UNSUB_FIXED);
    this.target[at] = Rec.Unsub;
    this.target.writeDoubleLE(id, at + 1);
  }

  weight(id: number, weight: number): void {
    const at = this.open(WEIGHT_FIXED);
    this.target[at] = Rec.Weight;
    this.target.writeDoubleLE(id, at + 1);
    this.target.writeUInt32LE(weight, at + 9);
  }

  msg(
    subject: string,
    reply: string | null,
    hdrLen: number,
    msg: Uint8Array,
    targets: readonly number[],
    nTargets: number,
    origin: string | null,
  ): void {
    const sl = subject.length; // latin1 strings: one char per byte
    const rl = reply === null ? 0 : reply.length;
    const ol = origin === null ? 0 : origin.length;
    let at = this.open(MSG_FIXED + nTargets * 8 + sl + rl + ol + msg.length);
    const b = this.target;
    b[at] = Rec.Msg;
    b.writeUInt16LE(sl, at + 1);
    b.writeUInt16LE(reply === null ? ABSENT : rl, at + 3);
    b.writeUInt32LE(hdrLen, at + 5);
    b.writeUInt32LE(msg.length, at + 9);
    b.writeUInt16LE(nTargets, at + 13);
    b.writeUInt16LE(origin === null ? ABSENT : ol, at + 15);
    at += MSG_FIXED;
    for (let i = 0; i < nTargets; i++, at += 8) b.writeDoubleLE(targets[i]!, at);
    at = writeLatin1(b, at, subject);
    if (reply !== null) at = writeLatin1(b, at, reply);
    if (origin !== null) at = writeLatin1(b, at, origin);
    b.set(msg, at);
  }

  barrier(token: number, ack: boolean): void {
    const at = this.open(BARRIER_FIXED);
    this.target[at] = ack ? Rec.BarrierAck : Rec.Barrier;
    this.target.writeUInt32LE(token, at + 1);
  }

  /** Moves backlog into the ring and publishes. Returns true when the peer has news. */
  commit(): boolean {
    const q = this.backlog;
    let head = this.backlogHead;
    while (head < q.length) {
      const rec = q[head]!;
      const at = this.w.reserve(rec.length);
      if (at < 0) break;
      this.ringBuf.set(rec, at);
      this.backlogBytes -= rec.length;
      head++;
    }
    if (head === q.length) {
      this.backlog = [];
      head = 0;
    } else if (head > 1024 && head * 2 > q.length) {
      this.backlog = q.slice(head);
      head = 0;
    }
    this.backlogHead = head;
    if (!this.pendingCommit) return false;
    this.pendingCommit = this.hasBacklog;
    this.w.commit();
    return true;
  }
}

export interface LaneHandler {
  onPeerSub(from: number, id: number, subject: string, queue: string | null, account: number, kind: SubKind, weight: number, origin: string | null): void;
  onPeerUnsub(from: number, id: number): void;
  onPeerWeight(from: number, id: number, weight: number): void;
  /** `msg` is a view into shared memory, valid only during the call. */
  onPeerMsg(
    from: number,
    subject: string,
    reply: string | null,
    hdrLen: number,
    msg: Uint8Array,
    targets: Float64Array,
    nTargets: number,
    origin: string | null,
  ): void;
  onBarrier(from: number, token: number): void;
  onBarrierAck(from: number, token: number): void;
}

/** The reading end of one lane. */
export class InLane {
  private readonly r: RingReader;
  private readonly buf: Buffer;
  private readonly from: number;
  private targets = new Float64Array(16);

  constructor(ring: RingBuffers, from: number) {
    this.r = new RingReader(ring);
    this.buf = this.r.bytes;
    this.from = from;
  }

  drain(h: LaneHandler, max: number, gate?: DrainGate): number {
    return this.r.drain((off, _len) => this.decode(h, off), max, gate);
  }

  private decode(h: LaneHandler, at: number): void {
    const b = this.buf;
    switch (b[at]) {
      case Rec.Msg: {
        const sl = b.readUInt16LE(at + 1);
        const rlRaw = b.readUInt16LE(at + 3);
        const hdrLen = b.readUInt32LE(at + 5);
        const ml = b.readUInt32LE(at + 9);
        const n = b.readUInt16LE(at + 13);
        const olRaw = b.readUInt16LE(at + 15);
        let p = at + MSG_FIXED;
        if (n > this.targets.length) this.targets = new Float64Array(n * 2);
        for (let i = 0; i < n; i++, p += 8) this.targets[i] = b.readDoubleLE(p);
        const subject = latin1String(b, p, p + sl);
        p += sl;
        let reply: string | null = null;
        if (rlRaw !== ABSENT) {
          reply = latin1String(b, p, p + rlRaw);
          p += rlRaw;
        }
        let origin: string | null = null;
        if (olRaw !== ABSENT) {
          origin = latin1String(b, p, p + olRaw);
          p += olRaw;
        }
        h.onPeerMsg(this.from, subject, reply, hdrLen, b.subarray(p, p + ml), this.targets, n, origin);
        return;
      }
      case Rec.Sub: {
        const id = b.readDoubleLE(at + 1);
        const sl = b.readUInt16LE(at + 9);
        const ql = b.readUInt16LE(at + 11);
        const ol = b.readUInt16LE(at + 20);
        let p = at + SUB_FIXED;
        const subject = latin1String(b, p, p + sl);
        p += sl;
        let queue: string | null = null;
        if (ql !== ABSENT) {
          queue = latin1String(b, p, p + ql);
          p += ql;
        }
        const origin = ol === ABSENT ? null : latin1String(b, p, p + ol);
        h.onPeerSub(this.from, id, subject, queue, b.readUInt16LE(at + 13), b[at + 15] as SubKind, b.readUInt32LE(at + 16), origin);
        return;
      }
      case Rec.Unsub:
        h.onPeerUnsub(this.from, b.readDoubleLE(at + 1));
        return;
      case Rec.Weight:
        h.onPeerWeight(this.from, b.readDoubleLE(at + 1), b.readUInt32LE(at + 9));
        return;
      case Rec.Barrier:
        h.onBarrier(this.from, b.readUInt32LE(at + 1));
        return;
      case Rec.BarrierAck:
        h.onBarrierAck(this.from, b.readUInt32LE(at + 1));
        return;
      default:
        throw new Error(`corrupt inter-worker record type ${b[at]}`);
    }
  }
}

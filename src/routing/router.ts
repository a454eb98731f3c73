// The routing engine of one worker: a full replica of the node's subscription interest, local
// delivery, and forwarding to the workers that own the other matching subscriptions.
// It knows nothing of sockets: local subscribers are reached through the Outbox interface.

import { Sublist } from './sublist.ts';
import { InLane, NO_HEADERS, OutLane } from './lanes.ts';
import type { LaneHandler } from './lanes.ts';
import type { RingBuffers } from './ring.ts';

export { NO_HEADERS };

/** Where a local subscription's messages go (a client connection, later routes and leafs). */
export interface Outbox {
  readonly id: number;
  /** Delivers one message (sub.delivered already counts it). */
  deliver(sub: Subscription, subject: string, reply: string | null, hdrLen: number, msg: Uint8Array): void;
  /** Called when a barrier this outbox asked for completed everywhere. */
  barrierDone(): void;
  readonly echo: boolean;
}

export interface Subscription {
  readonly subject: string;
  readonly queue: string | null;
  /** Account index: subjects of different accounts never meet. */
  readonly account: number;
  /** Node-wide id: worker index in the high part, a per-worker counter in the low part. */
  readonly id: number;
  readonly worker: number;
  /** Local subscriptions only. */
  readonly owner: Outbox | null;
  /** The client's sid, as bytes, for the MSG line. */
  readonly sid: Uint8Array | null;
  max: number;
  delivered: number;
}

/** Ids leave room for 2^32 subscriptions per worker over its life. */
const ID_WORKER_FACTOR = 2 ** 32;

export interface RouterStats {
  inMsgs: number;
  inBytes: number;
  outMsgs: number;
  outBytes: number;
}

export interface RouterLanes {
  /** rings[from][to]: the ring worker `from` writes and worker `to` reads; null on the diagonal. */
  rings: (RingBuffers | null)[][];
}

export class Router implements LaneHandler {
  readonly index: number;
  readonly workers: number;
  /** One interest trie per account, indexed by account number (0 is the global account). */
  private readonly sublists: Sublist<Subscription>[] = [new Sublist<Subscription>()];
  private readonly local = new Map<number, Subscription>();
  private readonly peer = new Map<number, Subscription>();
  private readonly out: (OutLane | null)[] = [];
  private readonly inl: (InLane | null)[] = [];
  private nextLocalId = 1;
  /** Per peer worker, the targets of the message being routed (reused). */
  private readonly scratchTargets: number[][] = [];
  private readonly scratchCounts: number[] = [];
  /** Local queue-group picks per publish nesting depth (publish may re-enter from a delivery). */
  private readonly localQueues: (Subscription | null)[][] = [];
  private depth = 0;
  private barrierSeq = 1;
  private readonly barriers = new Map<number, { outbox: Outbox; remaining: number }>();
  readonly stats: RouterStats = { inMsgs: 0, inBytes: 0, outMsgs: 0, outBytes: 0 };
  /** Called after lanes committed something: the host rings the peers' doorbells. */
  onPeerNews: (peer: number) => void = () => {};

  constructor(index: number, workers: number, lanes: RouterLanes) {
    this.index = index;
    this.workers = workers;
    for (let w = 0; w < workers; w++) {
      const outRing = lanes.rings[index]![w] ?? null;
      const inRing = lanes.rings[w]![index] ?? null;
      this.out.push(outRing && w !== index ? new OutLane(outRing) : null);
      this.inl.push(inRing && w !== index ? new InLane(inRing, w) : null);
      this.scratchTargets.push([]);
      this.scratchCounts.push(0);
    }
  }

  static createLanes(workers: number, ringBytes: number, create: (n: number) => RingBuffers): RouterLanes {
    const rings: (RingBuffers | null)[][] = [];
    for (let f = 0; f < workers; f++) {
      const row: (RingBuffers | null)[] = [];
      for (let t = 0; t < workers; t++) row.push(f === t ? null : create(ringBytes));
      rings.push(row);
    }
    return { rings };
  }

  get localCount(): number {
    return this.local.size;
  }

  get totalCount(): number {
    let n = 0;
    for (const sl of this.sublists) if (sl) n += sl.count;
    return n;
  }

  /** The interest of one account (created on first use). */
  sublist(account = 0): Sublist<Subscription> {
    return (this.sublists[account] ??= new Sublist<Subscription>());
  }

  /** Told after every subscription added or removed here or on a peer (the JetStream worker's push consumers listen). */
  onInterestChange: ((subject: string, account: number) => void) | null = null;

  addSubscription(owner: Outbox, subject: string, queue: string | null, sid: Uint8Array, account = 0, max = -1): Subscription {
    const id = this.index * ID_WORKER_FACTOR + this.nextLocalId++;
    const sub: Subscription = { subject, queue, account, id, worker: this.index, owner, sid, max, delivered: 0 };
    this.local.set(id, sub);
    this.sublist(account).insert(sub);
    for (const lane of this.out) lane?.sub(id, subject, queue, account);
    this.onInterestChange?.(subject, account);
    return sub;
  }

  removeSubscription(sub: Subscription): void {
    if (!this.local.delete(sub.id)) return;
    this.sublist(sub.account).remove(sub);
    for (const lane of this.out) lane?.unsub(sub.id);
    this.onInterestChange?.(sub.subject, sub.account);
  }

  /**
   * Routes one published message. Plain subscribers all get it; each queue group gets it once,
   * the member picked at random across the whole node. Returns the number of deliveries.
   *
   * `routeSubject`, when given, is what subscriptions are matched against (JetStream's
   * deliver-to-inbox); `subject` is what receivers see.
   * Peer-worker targets are written to the lanes before any local delivery runs, because a local
   * owner (an internal JetStream subscriber) may publish again from inside its delivery.
   */
  publish(
    from: Outbox | null,
    subject: string,
    reply: string | null,
    hdrLen: number,
    msg: Uint8Array,
    routeSubject: string = subject,
    account = 0,
  ): number {
    this.stats.inMsgs++;
    this.stats.inBytes += msg.length;
    // JetStream delivers a stored message to an inbox while the MSG line keeps its own subject.
    const r = this.sublist(account).match(routeSubject);
    // Nobody listening (pub-only traffic, requests without responders): nothing to set up.
    if (r.psubs.length === 0 && r.qsubs.length === 0) return 0;
    const depth = this.depth++;
    try {
      let delivered = 0;
      let anyPeer = false;
      const counts = this.scratchCounts;
      const localQueue = (this.localQueues[depth] ??= []);
      let nLocalQueue = 0;
      for (const sub of r.psubs) {
        if (sub.owner !== null) continue;
        this.scratchTargets[sub.worker]![counts[sub.worker]!++] = sub.id;
        anyPeer = true;
        delivered++;
      }
      for (const group of r.qsubs) {
        if (group.length === 0) continue;
        const sub = group.length === 1 ? group[0]! : group[(Math.random() * group.length) | 0]!;
        if (sub.owner !== null) {
          localQueue[nLocalQueue++] = sub;
        } else {
          this.scratchTargets[sub.worker]![counts[sub.worker]!++] = sub.id;
          anyPeer = true;
        }
        delivered++;
      }
      if (anyPeer) {
        for (let w = 0; w < this.workers; w++) {
          const n = counts[w]!;
          if (n === 0) continue;
          this.out[w]!.msg(subject, reply, hdrLen, msg, this.scratchTargets[w]!, n);
          counts[w] = 0;
        }
      }
      for (const sub of r.psubs) {
        if (sub.owner === null) continue;
        if (sub.owner === from && !from.echo) continue;
        this.deliverLocal(sub, subject, reply, hdrLen, msg);
        delivered++;
      }
      for (let i = 0; i < nLocalQueue; i++) {
        const sub = localQueue[i]!;
        localQueue[i] = null;
        this.deliverLocal(sub, subject, reply, hdrLen, msg);
      }
      return delivered;
    } finally {
      this.depth--;
    }
  }

  /** True when anything on the node would receive a message on this subject. */
  hasInterest(subject: string, account = 0): boolean {
    return this.sublist(account).hasInterest(subject);
  }

  private deliverLocal(sub: Subscription, subject: string, reply: string | null, hdrLen: number, msg: Uint8Array): void {
    this.stats.outMsgs++;
    this.stats.outBytes += msg.length;
    sub.delivered++;
    // The owner sees `delivered` and removes a subscription that reached its UNSUB max.
    sub.owner!.deliver(sub, subject, reply, hdrLen, msg);
  }

  /**
   * Asks every other worker to confirm it applied what this worker sent so far; the outbox's
   * barrierDone runs when all did (at once with a single worker).
   */
  barrier(outbox: Outbox): void {
    if (this.workers === 1) {
      outbox.barrierDone();
      return;
    }
    const token = this.barrierSeq++ >>> 0;
    this.barriers.set(token, { outbox, remaining: this.workers - 1 });
    for (const lane of this.out) lane?.barrier(token, false);
  }

  /** Reads every incoming lane, at most `budget` records each. Returns records processed. */
  drainLanes(budget: number): number {
    let n = 0;
    for (const lane of this.inl) if (lane) n += lane.drain(this, budget);
    return n;
  }

  /** Publishes what was written to the lanes; returns true when some lane still has a backlog. */
  commitLanes(): boolean {
    let backlog = false;
    for (let w = 0; w < this.workers; w++) {
      const lane = this.out[w];
      if (!lane) continue;
      if (lane.commit()) this.onPeerNews(w);
      if (lane.hasBacklog) backlog = true;
    }
    return backlog;
  }

  // LaneHandler: records from other workers.

  onPeerSub(from: number, id: number, subject: string, queue: string | null, account: number): void {
    const sub: Subscription = { subject, queue, account, id, worker: from, owner: null, sid: null, max: -1, delivered: 0 };
    this.peer.set(id, sub);
    this.sublist(account).insert(sub);
    this.onInterestChange?.(subject, account);
  }

  onPeerUnsub(_from: number, id: number): void {
    const sub = this.peer.get(id);
    if (!sub) return;
    this.peer.delete(id);
    this.sublist(sub.account).remove(sub);
    this.onInterestChange?.(sub.subject, sub.account);
  }

  onPeerMsg(
    _from: number,
    subject: string,
    reply: string | null,
    hdrLen: number,
    msg: Uint8Array,
    targets: Float64Array,
    nTargets: number,
  ): void {
    for (let i = 0; i < nTargets; i++) {
      // A subscription that went away while the message was in flight is simply skipped.
      const sub = this.local.get(targets[i]!);
      if (sub) this.deliverLocal(sub, subject, reply, hdrLen, msg);
    }
  }

  onBarrier(from: number, token: number): void {
    this.out[from]!.barrier(token, true);
  }

  onBarrierAck(_from: number, token: number): void {
    const b = this.barriers.get(token);
    if (!b) return;
    if (--b.remaining === 0) {
      this.barriers.delete(token);
      b.outbox.barrierDone();
    }
  }

  /** Every subscription of the node (local and replicated), for monitoring. */
  allSubscriptions(): Iterable<Subscription> {
    return this.local.values();
  }
}

// The routing engine of one worker: a full replica of the node's subscription interest, local
// delivery, and forwarding to the workers that own the other matching subscriptions.
// It knows nothing of sockets: local subscribers are reached through the Outbox interface.
//
// Subscriptions have the kind of what owns them, as nats-server's client kinds. The interest a
// link (a route, gateway or leaf connection to another server) brings is just subscriptions owned
// by that link, so the lanes replicate it to every worker unchanged; the kinds decide the cluster
// rules (link_rules.ts): where a message from each kind may go next (one hop inside a cluster,
// one between clusters), that each link gets one message carrying the queue groups it should
// serve, the order in which a queue group's members are tried (this node, the cluster, leaf
// nodes, another cluster), and what each kind of link is told about this node's interest.

import { Sublist } from './sublist.ts';
import { InLane, NO_HEADERS, OutLane } from './lanes.ts';
import type { LaneHandler } from './lanes.ts';
import type { DrainGate, RingBuffers } from './ring.ts';
import { InterestExport } from './interest_export.ts';
import type { ExportListener } from './interest_export.ts';
import { forwards, QUEUE_TIER_OF, QueueTier, reachesLocal, routeExports, SubKind } from './link_rules.ts';
import { RecentInterest } from './recent_interest.ts';

export { NO_HEADERS, SubKind };
export { isLink } from './link_rules.ts';

/** Where a local subscription's messages go (a client connection, an internal bus, a link). */
export interface Outbox {
  readonly id: number;
  /** The kind of every subscription this outbox owns. */
  readonly subKind: SubKind;
  /** Delivers one message (sub.delivered already counts it). */
  deliver(sub: Subscription, subject: string, reply: string | null, hdrLen: number, msg: Uint8Array): void;
  /** Called when a barrier this outbox asked for completed everywhere. */
  barrierDone(): void;
  readonly echo: boolean;
}

/**
 * A link's outbox: one message per publish, naming the queue groups the other side should serve
 * and, for a message that came from a leaf cluster, that cluster (`origin`).
 */
export interface LinkOutbox extends Outbox {
  deliverLink(
    account: number,
    subject: string,
    reply: string | null,
    hdrLen: number,
    msg: Uint8Array,
    queues: readonly string[],
    nQueues: number,
    origin: string | null,
  ): void;
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
  readonly kind: SubKind;
  /** Queue members this subscription stands for: a link's queue interest carries the other side's count. */
  weight: number;
  /** The leaf cluster this interest came from (nats-server's sub.origin), for cluster-wide no echo. */
  readonly origin: string | null;
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
  /** Link subscriptions in this replica: while there are none, queue picks take the plain path. */
  private linkSubs = 0;
  /** The link outboxes of the message being routed, with the queue groups each should serve (reused). */
  private readonly linkOwners: LinkOutbox[] = [];
  private readonly linkQueues: string[][] = [];
  private readonly linkQueueCounts: number[] = [];
  private nLinks = 0;
  /** The system account's number: its internal subscriptions are announced to other servers. */
  systemAccount = -1;
  /** What each link (class) is told about this node's interest. */
  private readonly views: { filter: (sub: Subscription) => boolean; table: InterestExport }[] = [];
  /** Subscriptions made in the last seconds (gateways map the replies they match). */
  private recent: RecentInterest | null = null;
  /** Per peer worker, link targets of a JetStream delivery sent on with its deliver subject (reused). */
  private readonly scratchLinkTargets: number[][] = [];
  private readonly scratchLinkCounts: number[] = [];
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
      this.scratchLinkTargets.push([]);
      this.scratchLinkCounts.push(0);
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

  /** Told after every subscription added or removed here or on a peer (the JetStream host's push consumers listen). */
  onInterestChange: ((subject: string, account: number) => void) | null = null;

  /**
   * Keeps the interest a class of links is told about — the subscriptions `filter` accepts,
   * by default what routes announce — and reports its changes; `entries()` lists it whole.
   * `queueWeights` false: a queue group is reported on its first and last member only (gateways).
   */
  exportInterest(listener: ExportListener, filter: (sub: Subscription) => boolean = (sub) => this.routeExported(sub), queueWeights = true): InterestExport {
    const exp = new InterestExport(listener, queueWeights);
    exp.muted = true;
    for (const sub of this.local.values()) if (filter(sub)) exp.add(sub.account, sub.subject, sub.queue, sub.origin);
    for (const sub of this.peer.values()) if (filter(sub)) exp.add(sub.account, sub.subject, sub.queue, sub.origin);
    exp.muted = false;
    this.views.push({ filter, table: exp });
    return exp;
  }

  /** A link that closed stops following this node's interest. */
  dropInterestExport(exp: InterestExport): void {
    const i = this.views.findIndex((v) => v.table === exp);
    if (i >= 0) this.views.splice(i, 1);
  }

  /**
   * Set when this node runs clustered JetStream: then JetStream's internal subscriptions in every
   * account are announced to routes too, so API requests, publishes to a stream's subjects and
   * acks reach whichever node serves them (the stream's leader subscribes, its followers do not).
   */
  exportJetStream = false;

  /** What routes hear of (link_rules' routeExports with this node's system account and JetStream scope). */
  private routeExported(sub: Subscription): boolean {
    return routeExports(sub, this.systemAccount, this.exportJetStream);
  }

  /** Remember subscriptions for `ms` after they are made, so hasRecentInterest can tell. */
  trackRecentInterest(ms: number, now: () => number): void {
    this.recent ??= new RecentInterest(ms, now);
  }

  /**
   * True when a subscription made in the last seconds matches `subject` (nats-server's
   * shouldMapReplyForGatewaySend: a reply whose interest may not have reached other clusters yet).
   */
  hasRecentInterest(subject: string, account: number): boolean {
    return this.recent !== null && this.recent.matches(subject, account);
  }

  /**
   * Adds a subscription of the owner's kind; `weight` is a link's queue member count, `origin`
   * the leaf cluster a link's interest came from.
   */
  addSubscription(
    owner: Outbox,
    subject: string,
    queue: string | null,
    sid: Uint8Array,
    account = 0,
    max = -1,
    weight = 1,
    origin: string | null = null,
  ): Subscription {
    const id = this.index * ID_WORKER_FACTOR + this.nextLocalId++;
    const kind = owner.subKind;
    const sub: Subscription = { subject, queue, account, id, worker: this.index, owner, sid, kind, weight, max, delivered: 0, origin };
    this.local.set(id, sub);
    this.added(sub);
    for (const lane of this.out) lane?.sub(id, subject, queue, account, kind, weight, origin);
    return sub;
  }

  removeSubscription(sub: Subscription): void {
    if (!this.local.delete(sub.id)) return;
    this.removed(sub);
    for (const lane of this.out) lane?.unsub(sub.id);
  }

  /** A link's queue interest changed its member count. */
  setWeight(sub: Subscription, weight: number): void {
    if (sub.weight === weight || !this.local.has(sub.id)) return;
    sub.weight = weight;
    for (const lane of this.out) lane?.weight(sub.id, weight);
  }

  private added(sub: Subscription): void {
    this.sublist(sub.account).insert(sub);
    if (sub.kind >= SubKind.ROUTE) this.linkSubs++;
    for (const v of this.views) if (v.filter(sub)) v.table.add(sub.account, sub.subject, sub.queue, sub.origin);
    if (this.recent !== null && sub.kind !== SubKind.GATEWAY) this.recent.add(sub.subject, sub.account);
    this.onInterestChange?.(sub.subject, sub.account);
  }

  private removed(sub: Subscription): void {
    this.sublist(sub.account).remove(sub);
    if (sub.kind >= SubKind.ROUTE) this.linkSubs--;
    for (const v of this.views) if (v.filter(sub)) v.table.remove(sub.account, sub.subject, sub.queue, sub.origin);
    this.onInterestChange?.(sub.subject, sub.account);
  }

  /**
   * Routes one published message. Plain subscribers all get it; each queue group gets it once:
   * a member on this node (any worker) picked at random, or when there is none, one in the next
   * tier the source may reach (the cluster, leaf nodes, another cluster) picked by the links'
   * member counts. Each link gets one message naming the queue groups it was picked for.
   * Returns the number of deliveries (zero: nobody anywhere listens).
   *
   * A message that came from a link (`from` is a link outbox) goes only where the kind rules
   * let it (link_rules.ts), never back to its own connection nor to leaf connections of its
   * `origin` cluster, and reaches queue groups only among `queues` (the ones the sender picked
   * this node for); without `queues` it reaches no queue group, as nats-server.
   *
   * `routeSubject`, when given, is what subscriptions are matched against (JetStream's
   * deliver-to-inbox); `subject` is what receivers see. A link is sent the deliver subject and
   * `reply@subject`, as nats-server, so the server on the other side can do the same.
   * Peer-worker targets are written to the lanes and links get theirs before any local delivery
   * runs, because a local owner (an internal subscriber) may publish again from its delivery.
   */
  publish(
    from: Outbox | null,
    subject: string,
    reply: string | null,
    hdrLen: number,
    msg: Uint8Array,
    routeSubject: string = subject,
    account = 0,
    queues: readonly string[] | null = null,
    nQueues = 0,
    origin: string | null = null,
  ): number {
    this.stats.inMsgs++;
    this.stats.inBytes += msg.length;
    // JetStream delivers a stored message to an inbox while the MSG line keeps its own subject.
    const r = this.sublist(account).match(routeSubject);
    // Nobody listening (pub-only traffic, requests without responders): nothing to set up.
    if (r.psubs.length === 0 && r.qsubs.length === 0) return 0;
    const fromKind: SubKind = from === null ? SubKind.INTERNAL : from.subKind;
    const fromLink = fromKind >= SubKind.ROUTE;
    // A delivery whose receivers see another subject: links on other workers need their own record.
    const remap = routeSubject !== subject;
    const depth = this.depth++;
    try {
      let delivered = 0;
      let anyPeer = false;
      const counts = this.scratchCounts;
      const localQueue = (this.localQueues[depth] ??= []);
      let nLocalQueue = 0;
      for (const sub of r.psubs) {
        if (sub.kind >= SubKind.ROUTE) {
          if (!this.mayForward(fromKind, from, origin, sub)) continue;
          if (sub.owner !== null) {
            this.addLinkTarget(sub.owner as LinkOutbox, null);
            continue;
          }
          if (remap) {
            this.scratchLinkTargets[sub.worker]![this.scratchLinkCounts[sub.worker]!++] = sub.id;
            anyPeer = true;
            delivered++;
            continue;
          }
        } else if (sub.owner !== null || (fromLink && !reachesLocal(fromKind, sub, this.systemAccount, this.exportJetStream))) {
          continue;
        }
        this.scratchTargets[sub.worker]![counts[sub.worker]!++] = sub.id;
        anyPeer = true;
        delivered++;
      }
      for (const group of r.qsubs) {
        if (group.length === 0) continue;
        let sub: Subscription | null;
        if (fromLink) {
          if (!namesQueue(queues, nQueues, group[0]!.queue!)) continue;
          sub = this.pickMember(group, fromKind, from, origin);
        } else if (this.linkSubs === 0) {
          sub = group.length === 1 ? group[0]! : group[(Math.random() * group.length) | 0]!;
        } else {
          sub = this.pickMember(group, fromKind, from, origin);
        }
        if (sub === null) continue;
        if (sub.kind >= SubKind.ROUTE) {
          if (sub.owner !== null) {
            this.addLinkTarget(sub.owner as LinkOutbox, sub.queue);
            continue;
          }
          if (remap) this.scratchLinkTargets[sub.worker]![this.scratchLinkCounts[sub.worker]!++] = sub.id;
          else this.scratchTargets[sub.worker]![counts[sub.worker]!++] = sub.id;
          anyPeer = true;
          delivered++;
          continue;
        }
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
          if (n > 0) {
            this.out[w]!.msg(subject, reply, hdrLen, msg, this.scratchTargets[w]!, n, origin);
            counts[w] = 0;
          }
          if (remap && this.scratchLinkCounts[w]! > 0) {
            this.out[w]!.msg(routeSubject, deliverReply(reply, subject), hdrLen, msg, this.scratchLinkTargets[w]!, this.scratchLinkCounts[w]!, origin);
            this.scratchLinkCounts[w] = 0;
          }
        }
      }
      if (this.nLinks > 0) {
        delivered += remap
          ? this.flushLinks(account, routeSubject, deliverReply(reply, subject), hdrLen, msg, origin)
          : this.flushLinks(account, subject, reply, hdrLen, msg, origin);
      }
      for (const sub of r.psubs) {
        if (sub.owner === null || sub.kind >= SubKind.ROUTE) continue;
        if (sub.owner === from && !from.echo) continue;
        if (fromLink && !reachesLocal(fromKind, sub, this.systemAccount, this.exportJetStream)) continue;
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

  /**
   * Whether a message from `from` (of kind `fromKind`, from leaf cluster `origin`) may go to
   * the link that owns `sub`: the kind rules, never back to its own connection, never to a leaf
   * connection of the cluster it came from.
   */
  private mayForward(fromKind: SubKind, from: Outbox | null, origin: string | null, sub: Subscription): boolean {
    if (!forwards(fromKind, sub.kind)) return false;
    if (sub.owner !== null && sub.owner === from) return false;
    return origin === null || sub.origin !== origin || (sub.kind !== SubKind.LEAF && sub.kind !== SubKind.HUB);
  }

  /**
   * A member of a queue group by tier: one on this node (any worker) the source reaches, picked
   * at random; else, tier by tier (the cluster, leaf nodes, another cluster), one behind a link
   * the source may forward to, picked by member counts (nats-server expands a remote queue
   * subscription by its weight). Null when no tier has one.
   */
  private pickMember(group: readonly Subscription[], fromKind: SubKind, from: Outbox | null, origin: string | null): Subscription | null {
    let n = 0;
    for (const s of group) if (s.kind < SubKind.ROUTE && reachesLocal(fromKind, s, this.systemAccount, this.exportJetStream)) n++;
    if (n > 0) {
      let k = (Math.random() * n) | 0;
      for (const s of group) {
        if (s.kind >= SubKind.ROUTE || !reachesLocal(fromKind, s, this.systemAccount, this.exportJetStream)) continue;
        if (k-- === 0) return s;
      }
    }
    if (this.linkSubs === 0) return null;
    for (let tier: number = QueueTier.CLUSTER; tier <= QueueTier.REMOTE_CLUSTER; tier++) {
      let total = 0;
      for (const s of group) if (s.kind >= SubKind.ROUTE && QUEUE_TIER_OF[s.kind] === tier && s.weight > 0 && this.mayForward(fromKind, from, origin, s)) total += s.weight;
      if (total <= 0) continue;
      let k = Math.random() * total;
      for (const s of group) {
        if (s.kind < SubKind.ROUTE || QUEUE_TIER_OF[s.kind] !== tier || s.weight <= 0 || !this.mayForward(fromKind, from, origin, s)) continue;
        k -= s.weight;
        if (k < 0) return s;
      }
    }
    return null;
  }

  /** Collects a link target: one message per link, with the queue groups it serves. */
  private addLinkTarget(owner: LinkOutbox, queue: string | null): void {
    let i = 0;
    while (i < this.nLinks && this.linkOwners[i] !== owner) i++;
    if (i === this.nLinks) {
      this.linkOwners[i] = owner;
      this.linkQueues[i] ??= [];
      this.linkQueueCounts[i] = 0;
      this.nLinks++;
    }
    if (queue !== null) this.linkQueues[i]![this.linkQueueCounts[i]!++] = queue;
  }

  /** Sends the collected link targets their message; returns how many links got it. */
  private flushLinks(account: number, subject: string, reply: string | null, hdrLen: number, msg: Uint8Array, origin: string | null): number {
    const n = this.nLinks;
    this.nLinks = 0;
    for (let i = 0; i < n; i++) {
      const owner = this.linkOwners[i]!;
      this.stats.outMsgs++;
      this.stats.outBytes += msg.length;
      owner.deliverLink(account, subject, reply, hdrLen, msg, this.linkQueues[i]!, this.linkQueueCounts[i]!, origin);
    }
    return n;
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

  /**
   * Set while a local connection is congested by deliveries from the lanes: draining stops at
   * once (mid-batch), so the rings fill and the writing workers stop reading their sockets.
   */
  readonly lanesHeld: DrainGate = { held: false };

  /** Reads every incoming lane, at most `budget` records each. Returns records processed. */
  drainLanes(budget: number): number {
    let n = 0;
    for (const lane of this.inl) if (lane && !this.lanesHeld.held) n += lane.drain(this, budget, this.lanesHeld);
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

  onPeerSub(from: number, id: number, subject: string, queue: string | null, account: number, kind: SubKind, weight: number, origin: string | null): void {
    const sub: Subscription = { subject, queue, account, id, worker: from, owner: null, sid: null, kind, weight, max: -1, delivered: 0, origin };
    this.peer.set(id, sub);
    this.added(sub);
  }

  onPeerUnsub(_from: number, id: number): void {
    const sub = this.peer.get(id);
    if (!sub) return;
    this.peer.delete(id);
    this.removed(sub);
  }

  onPeerWeight(_from: number, id: number, weight: number): void {
    const sub = this.peer.get(id);
    if (sub) sub.weight = weight;
  }

  onPeerMsg(
    _from: number,
    subject: string,
    reply: string | null,
    hdrLen: number,
    msg: Uint8Array,
    targets: Float64Array,
    nTargets: number,
    origin: string | null,
  ): void {
    // Links first (one message each, with their queue groups), then local subscribers, whose
    // delivery may publish again.
    let account = -1;
    for (let i = 0; i < nTargets; i++) {
      const sub = this.local.get(targets[i]!);
      if (sub && sub.kind >= SubKind.ROUTE) {
        this.addLinkTarget(sub.owner as LinkOutbox, sub.queue);
        account = sub.account;
      }
    }
    if (account >= 0) this.flushLinks(account, subject, reply, hdrLen, msg, origin);
    for (let i = 0; i < nTargets; i++) {
      // A subscription that went away while the message was in flight is simply skipped.
      const sub = this.local.get(targets[i]!);
      if (sub && sub.kind < SubKind.ROUTE) this.deliverLocal(sub, subject, reply, hdrLen, msg);
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

/**
 * The reply a link is sent with a JetStream delivery whose receivers see `subject`: nats-server
 * appends `@<subject>` so the server that delivers it restores both.
 */
function deliverReply(reply: string | null, subject: string): string | null {
  return reply === null ? null : `${reply}@${subject}`;
}

/** True when the link's message named this queue group. */
function namesQueue(queues: readonly string[] | null, n: number, queue: string): boolean {
  if (queues === null) return false;
  for (let i = 0; i < n; i++) if (queues[i] === queue) return true;
  return false;
}


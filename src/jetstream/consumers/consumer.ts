// One JetStream consumer: where it is in its stream, what it delivered and what is still unacked,
// and the delivery loop that hands messages to pull requests or to a push deliver subject.
// Follows nats-server's consumer.go semantics (sequences, floors, redelivery queue, waiting
// requests, statuses) on a single thread: every entry point runs to completion, and the delivery
// loop is re-entrancy safe (a subscriber that acks synchronously just asks for another pass).

import { randomBytes } from 'node:crypto';
import type { JsBus } from '../bus.ts';
import type { ConsumerForStream, JsContext, StreamChange, StreamForConsumers } from '../seams.ts';
import type { ConsumerState, StoredMessage } from '../store/index.ts';
import { subjectMatches } from '../../routing/subjects.ts';
import { configToJson, filtersOf, formatGoDuration, isDurable, isPullMode, type ConsumerConfig } from './config.ts';
import { StatePersister } from './persistence.ts';
import { parseGoDuration, rfc3339FromMs } from './time.ts';
import { parseNextRequest } from './next_request.ts';
import { WaitQueue, type PullRequest } from './wait_queue.ts';
import { ackPrefix, ackReply, FLOW_CONTROL_PREFIX, headersOnlyBlock, parseAckReply, Status } from './wire.ts';

const NS_PER_MS = 1_000_000;
/** nats-server ackWaitDelay: fire the ack timer a little late so a burst is handled in one pass. */
const ACK_WAIT_SLACK_MS = 1;
/** How soon restored pending messages are looked at after a restart (nats-server waits 0.5–1.5 s). */
const RESTORED_PENDING_CHECK_MS = 1_000;
/** Replays closer together than this are not delayed (nats-server's threshold). */
const REPLAY_MIN_DELAY_MS = 1;
/** nats-server JSMetricConsumerAckPre. */
const ACK_METRIC_PREFIX = '$JS.EVENT.METRIC.CONSUMER.ACK';

/** Optional bus capability (nats-server's `pa.deliver`): route by one subject, show another to subscribers. */
export interface DeliverAsBus extends JsBus {
  publishAs(routeSubject: string, subject: string, reply: string | null, hdr: Uint8Array | null, data: Uint8Array): void;
}

function hasPublishAs(bus: JsBus): bus is DeliverAsBus {
  return typeof (bus as Partial<DeliverAsBus>).publishAs === 'function';
}

export interface ConsumerOptions {
  /** nats-server JsFlowControlMaxPending: the push window ceiling, bytes. */
  flowControlMaxPendingBytes: number;
}

export interface ConsumerDeps {
  readonly ctx: JsContext;
  readonly stream: StreamForConsumers;
  readonly options: ConsumerOptions;
  readonly persister: StatePersister | null;
  /** The consumer went inactive past its threshold and wants to be deleted. */
  onInactive(c: Consumer): void;
}

interface Pending {
  /** Consumer sequence of the (first) delivery. */
  dseq: number;
  /** Last delivery (or progress) time, ms since the epoch. */
  atMs: number;
}

interface Taken {
  msg: StoredMessage;
  /** Delivery count including this one. */
  dc: number;
  from: 'redelivery' | 'skiplist' | 'stream';
}

const EMPTY = new Uint8Array(0);
const ACK = Buffer.from('+ACK');
const OK = Buffer.from('+OK');
const NAK = Buffer.from('-NAK');
const WPI = Buffer.from('+WPI');
const NXT = Buffer.from('+NXT');
const TERM = Buffer.from('+TERM');

function startsWith(data: Uint8Array, prefix: Uint8Array): boolean {
  if (data.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}
function equals(data: Uint8Array, word: Uint8Array): boolean {
  return data.length === word.length && startsWith(data, word);
}

export function randomId(len: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(len);
  let s = '';
  for (let i = 0; i < len; i++) s += alphabet[bytes[i]! % alphabet.length];
  return s;
}

export class Consumer implements ConsumerForStream {
  readonly name: string;
  readonly streamName: string;
  cfg: ConsumerConfig;
  readonly createdMs: number;
  filters: readonly string[];

  private readonly deps: ConsumerDeps;
  private readonly ctx: JsContext;
  private readonly stream: StreamForConsumers;
  private readonly bus: JsBus;
  private readonly ackReplyPrefix: string;

  // ---- position and ack state (nats-server sseq, dseq, adflr, asflr, pending, rdc, rdq) ----
  /** Next stream sequence to look at. */
  private sseq = 1;
  /** Next consumer (delivery) sequence. */
  private dseq = 1;
  private ackFloorConsumer = 0;
  private ackFloorStream = 0;
  /** Highest stream sequence delivered for the first time (what info reports as delivered). */
  private deliveredStream = 0;
  private readonly pending = new Map<number, Pending>();
  /** Delivery counts above 1, by stream sequence. */
  private readonly redelivered = new Map<number, number>();
  private rdq: number[] = [];
  private readonly rdqSet = new Set<number>();
  /** deliver_policy last_per_subject: the start sequences still to hand out, then resume. */
  private skipList: { seqs: number[]; index: number; resume: number } | null = null;

  // ---- num_pending, kept as a running count like nats-server's npc ----
  private npc = 0;
  private npcValid = false;

  // ---- pull ----
  private waiting: WaitQueue | null;
  private waitTimer: unknown = null;
  private waitTimerAtMs = 0;

  // ---- push ----
  private active = false;
  private pbytes = 0;
  private maxpb = 0;
  private fcId: string | null = null;
  private fcBytes = 0;
  private heartbeatTimer: unknown = null;
  private unwatchInterest: (() => void) | null = null;
  private interestCheckQueued = false;
  private fcSub: { unsubscribe(): void } | null = null;

  // ---- timers and pacing ----
  private ackTimer: unknown = null;
  private ackTimerAtMs = 0;
  private inactiveTimer: unknown = null;
  private resumeTimer: unknown = null;
  private replayBase: { wallMs: number; tsNs: bigint } | null = null;
  private replaying: boolean;
  private rateNextFreeMs = 0;

  private lastDeliveredMs = 0;
  private lastAckMs = 0;
  private driving = false;
  private again = false;
  closed = false;

  private readonly ackSub: { unsubscribe(): void };
  private readonly unsubscribeStream: () => void;

  constructor(deps: ConsumerDeps, cfg: ConsumerConfig, createdMs: number, restored: ConsumerState | null) {
    this.deps = deps;
    this.ctx = deps.ctx;
    this.stream = deps.stream;
    this.bus = deps.ctx.bus;
    this.cfg = cfg;
    this.name = cfg.name;
    this.streamName = deps.stream.name;
    this.createdMs = createdMs;
    this.filters = filtersOf(cfg);
    this.ackReplyPrefix = ackPrefix(this.streamName, this.name);
    const now = this.ctx.scheduler.now();
    this.waiting = isPullMode(cfg) ? new WaitQueue(cfg.maxWaiting, now) : null;
    this.replaying = cfg.replayPolicy === 'original';
    if (cfg.flowControl) {
      this.maxpb = Math.max(1, Math.floor(deps.options.flowControlMaxPendingBytes / 16));
    }

    if (restored) this.applyState(restored);
    else this.selectStartingSeq();
    this.recalcPending();

    this.ackSub = this.bus.subscribe(`${this.ackReplyPrefix}>`, null, (subject, reply, _hdr, data) => this.onAck(subject, reply, data));
    if (cfg.flowControl) {
      this.fcSub = this.bus.subscribe(`${FLOW_CONTROL_PREFIX}${this.streamName}.${this.name}.*`, null, (subject) => this.onFlowControlReply(subject));
    }
    this.unsubscribeStream = this.stream.onChange((ev) => this.onStreamChange(ev));
    if (this.stream.retention !== 'limits') this.stream.registerConsumer(this);
  }

  /** Starts timers and delivery; call once registered. */
  start(): void {
    if (!isPullMode(this.cfg)) {
      this.active = this.bus.hasInterest(this.cfg.deliverSubject);
      this.watchDeliverInterest();
      this.armHeartbeat();
      if (!this.active) this.armInactive(this.inactiveThresholdMs());
    } else if (this.inactiveThresholdMs() > 0) {
      this.armInactive(this.inactiveThresholdMs());
    }
    if (this.pending.size > 0) this.armAckTimer(Math.min(this.ackWaitMs(0), RESTORED_PENDING_CHECK_MS));
    this.drive();
  }

  // ---------------------------------------------------------------- ConsumerForStream

  isDone(seq: number): boolean {
    // Tracked redeliveries are cleared by acks, so one left here either is pending or reached
    // max deliveries without an ack: interest streams keep it (nats-server needAck).
    if (this.redelivered.has(seq)) return false;
    if (seq <= this.ackFloorStream) return true;
    if (this.cfg.ackPolicy !== 'explicit') return false;
    if (seq >= this.sseq) return false;
    return !this.pending.has(seq);
  }

  // ---------------------------------------------------------------- starting position

  private selectStartingSeq(): void {
    const store = this.stream.store;
    const st = store.state();
    const cfg = this.cfg;
    let sseq: number;
    if (cfg.optStartSeq > 0) {
      sseq = cfg.optStartSeq;
    } else {
      switch (cfg.deliverPolicy) {
        case 'all':
          sseq = st.firstSeq;
          break;
        case 'last':
          if (this.filters.length === 0) sseq = st.lastSeq;
          else {
            sseq = 0;
            for (const f of this.filters) sseq = Math.max(sseq, store.loadLast(f)?.seq ?? 0);
          }
          break;
        case 'last_per_subject': {
          const seqs: number[] = [];
          for (const f of this.filters) for (const s of store.subjectsState(f).values()) seqs.push(s.last);
          seqs.sort((a, b) => a - b);
          if (seqs.length === 0) sseq = st.lastSeq;
          else {
            sseq = seqs[0]!;
            // Hand out these first; the position itself moves past them (acks and interest checks use it).
            this.skipList = { seqs, index: 0, resume: st.lastSeq };
          }
          break;
        }
        case 'by_start_time':
          sseq = store.seqForTime(cfg.optStartTime!.ns);
          break;
        default: // new
          sseq = st.lastSeq + 1;
      }
    }
    if (st.firstSeq === 0) sseq = 1;
    else if (sseq < st.firstSeq) sseq = st.firstSeq;
    else if (sseq > st.lastSeq) sseq = st.lastSeq + 1;
    this.sseq = Math.max(1, sseq);
    this.dseq = 1;
    this.ackFloorConsumer = 0;
    this.ackFloorStream = this.sseq - 1;
    this.deliveredStream = this.sseq - 1;
    if (this.skipList !== null) this.sseq = this.skipList.resume + 1;
  }

  private applyState(s: ConsumerState): void {
    this.sseq = s.delivered.stream + 1;
    this.dseq = s.delivered.consumer + 1;
    this.deliveredStream = s.delivered.stream;
    this.ackFloorConsumer = s.ackFloor.consumer;
    this.ackFloorStream = s.ackFloor.stream;
    for (const [seq, p] of s.pending) this.pending.set(seq, { dseq: p.sequence, atMs: Number(p.timestamp / BigInt(NS_PER_MS)) });
    for (const [seq, count] of s.redelivered) {
      if (seq > this.ackFloorStream) this.redelivered.set(seq, count);
    }
  }

  /** The durable state (nats-server ConsumerState). */
  snapshotState(): ConsumerState {
    const pending = new Map<number, { sequence: number; timestamp: bigint }>();
    for (const [seq, p] of this.pending) pending.set(seq, { sequence: p.dseq, timestamp: BigInt(Math.trunc(p.atMs)) * BigInt(NS_PER_MS) });
    return {
      delivered: { consumer: this.dseq - 1, stream: this.deliveredStream },
      ackFloor: { consumer: this.ackFloorConsumer, stream: this.ackFloorStream },
      pending,
      redelivered: new Map(this.redelivered),
    };
  }

  private markDirty(): void {
    this.deps.persister?.markDirty();
  }

  // ---------------------------------------------------------------- num pending

  private recalcPending(): void {
    const store = this.stream.store;
    let n = 0;
    if (this.skipList) {
      n = this.skipList.seqs.length - this.skipList.index;
      for (const f of this.filters) n += store.numPending(f, this.skipList.resume + 1, false);
    } else if (this.filters.length === 0) n = store.numPending('', this.sseq, false);
    else for (const f of this.filters) n += store.numPending(f, this.sseq, false);
    this.npc = n;
    this.npcValid = true;
  }

  numPending(): number {
    if (!this.npcValid) this.recalcPending();
    return Math.max(0, this.npc);
  }

  private matchesFilter(subject: string): boolean {
    if (this.filters.length === 0) return true;
    for (const f of this.filters) if (subjectMatches(subject, f)) return true;
    return false;
  }

  // ---------------------------------------------------------------- stream events

  private onStreamChange(ev: StreamChange): void {
    if (this.closed) return;
    switch (ev.kind) {
      case 'append':
        if (this.npcValid && ev.seq >= this.sseq && this.matchesFilter(ev.subject)) this.npc++;
        this.drive();
        break;
      case 'remove':
        // Only messages not yet reached count towards num_pending.
        if (ev.seq >= this.sseq || this.skipList !== null) this.npcValid = false;
        this.dropPending(ev.seq);
        break;
      case 'purge':
        this.npcValid = false;
        this.onPurge(ev.firstSeq);
        break;
      case 'delete':
        break;
    }
  }

  /** A pending message vanished from the stream: it can no longer be acked or redelivered. */
  private dropPending(seq: number): void {
    const p = this.pending.get(seq);
    if (p === undefined) return;
    this.pending.delete(seq);
    this.redelivered.delete(seq);
    this.removeFromRdq(seq);
    this.advanceFloorsAfterRemoval();
    this.markDirty();
    this.drive();
  }

  private onPurge(firstSeq: number): void {
    let changed = false;
    for (const seq of [...this.pending.keys()]) {
      if (seq < firstSeq) {
        this.pending.delete(seq);
        this.removeFromRdq(seq);
        changed = true;
      }
    }
    for (const seq of [...this.redelivered.keys()]) if (seq < firstSeq) this.redelivered.delete(seq);
    if (this.sseq < firstSeq) {
      this.sseq = firstSeq;
      if (this.skipList) this.skipList = null;
      changed = true;
    }
    if (this.ackFloorStream < firstSeq - 1) {
      this.ackFloorStream = firstSeq - 1;
      changed = true;
    }
    if (this.deliveredStream < firstSeq - 1) this.deliveredStream = firstSeq - 1;
    this.advanceFloorsAfterRemoval();
    if (changed) this.markDirty();
    this.drive();
  }

  private advanceFloorsAfterRemoval(): void {
    if (this.pending.size === 0) {
      this.ackFloorConsumer = this.dseq - 1;
      this.ackFloorStream = Math.max(this.ackFloorStream, this.sseq - 1);
      return;
    }
    let minSeq = Infinity;
    for (const seq of this.pending.keys()) if (seq < minSeq) minSeq = seq;
    const p = this.pending.get(minSeq)!;
    if (minSeq - 1 > this.ackFloorStream) {
      this.ackFloorStream = minSeq - 1;
      this.ackFloorConsumer = Math.max(this.ackFloorConsumer, p.dseq - 1);
    }
  }

  // ---------------------------------------------------------------- delivery loop

  /** Delivers whatever can be delivered now. Safe to call from anywhere, including from inside a delivery. */
  drive(): void {
    if (this.closed) return;
    if (this.driving) {
      this.again = true;
      return;
    }
    this.driving = true;
    try {
      do {
        this.again = false;
        this.deliverAvailable();
      } while (this.again && !this.closed);
    } finally {
      this.driving = false;
    }
  }

  private deliverAvailable(): void {
    const pull = this.waiting !== null;
    let stalledOnAckPending = false;
    for (;;) {
      if (this.closed || this.resumeTimer !== null) return;
      if (!pull) {
        if (!this.checkPushActive()) break;
        if (this.maxpb > 0 && this.pbytes > this.maxpb) break;
      } else if (this.waiting!.length === 0) break;

      const taken = this.takeNext();
      if (taken === 'max_ack_pending') {
        stalledOnAckPending = true;
        break;
      }
      if (taken === null) break;
      const { msg, dc } = taken;
      if (dc === 1) this.npc--;

      const pendingAfter = this.numPending();
      const reply = ackReply(this.ackReplyPrefix, dc, msg.seq, this.dseq, msg.time, pendingAfter);
      let hdr = msg.hdr;
      let data = msg.data;
      if (this.cfg.headersOnly) {
        hdr = headersOnlyBlock(msg.hdr, msg.data.length);
        data = EMPTY;
      }
      // Size as nats-server counts it for max_bytes and flow control.
      const size = msg.subject.length + reply.length + (hdr?.length ?? 0) + data.length;

      const delayMs = this.pacingDelay(msg);
      if (delayMs > 0) {
        this.unTake(taken);
        this.resumeTimer = this.ctx.scheduler.setTimeout(() => {
          this.resumeTimer = null;
          this.drive();
        }, delayMs);
        return;
      }

      let target: string;
      let request: PullRequest | undefined;
      if (pull) {
        request = this.nextWaiting(size);
        if (request === undefined) {
          this.unTake(taken);
          break;
        }
        target = request.reply;
      } else {
        target = this.cfg.deliverSubject;
      }

      this.deliver(target, reply, msg, hdr, data, dc, size);
      if (this.skipList !== null && this.skipList.index >= this.skipList.seqs.length) this.skipList = null;

      if (request) {
        if (request.n <= 0 && request.b > 0) this.publishStatus(request.reply, Status.batchCompleted(request.n, request.b));
        else if (request.n > 0 && request.hbMs > 0) request.hbAtMs = this.ctx.scheduler.now() + request.hbMs;
      }
    }
    if (pull) this.processWaiting(!stalledOnAckPending);
  }

  /** nats-server getNextMsg: redeliveries first, then the skip list, then the stream. */
  private takeNext(): Taken | 'max_ack_pending' | null {
    const store = this.stream.store;
    while (this.rdq.length > 0) {
      const seq = this.rdq.shift()!;
      this.rdqSet.delete(seq);
      const dc = (this.redelivered.get(seq) ?? 1) + 1;
      this.redelivered.set(seq, dc);
      if (this.cfg.maxDeliver > 0 && dc > this.cfg.maxDeliver) {
        if (dc === this.cfg.maxDeliver + 1) this.maxDeliveriesAdvisory(seq, dc - 1);
        this.redelivered.set(seq, dc - 1);
        this.pending.delete(seq);
        this.markDirty();
        continue;
      }
      const msg = store.load(seq);
      if (msg === null) {
        this.redelivered.set(seq, dc - 1);
        if (dc - 1 <= 1) this.redelivered.delete(seq);
        this.dropPending(seq);
        continue;
      }
      return { msg, dc, from: 'redelivery' };
    }
    if (this.cfg.ackPolicy !== 'none' && this.cfg.maxAckPending > 0 && this.pending.size >= this.cfg.maxAckPending) {
      return 'max_ack_pending';
    }
    const sl = this.skipList;
    if (sl !== null) {
      while (sl.index < sl.seqs.length) {
        const msg = store.load(sl.seqs[sl.index++]!);
        if (msg !== null) return { msg, dc: 1, from: 'skiplist' };
      }
      this.skipList = null;
    }
    const msg = this.loadNextFiltered(this.sseq);
    if (msg === null) return null;
    this.sseq = msg.seq + 1;
    return { msg, dc: 1, from: 'stream' };
  }

  private loadNextFiltered(from: number): StoredMessage | null {
    const store = this.stream.store;
    if (this.filters.length === 0) return store.loadNext('', from);
    if (this.filters.length === 1) return store.loadNext(this.filters[0]!, from);
    let best: StoredMessage | null = null;
    for (const f of this.filters) {
      const m = store.loadNext(f, from);
      if (m !== null && (best === null || m.seq < best.seq)) best = m;
    }
    return best;
  }

  /** Puts back a message that was taken but could not be delivered now. */
  private unTake(t: Taken): void {
    if (t.from === 'redelivery') {
      const dc = t.dc - 1;
      if (dc <= 1) this.redelivered.delete(t.msg.seq);
      else this.redelivered.set(t.msg.seq, dc);
      this.rdq.unshift(t.msg.seq);
      this.rdqSet.add(t.msg.seq);
      return;
    }
    if (t.from === 'skiplist') {
      this.skipList!.index--;
      this.npc++;
      return;
    }
    this.sseq = t.msg.seq;
    this.npc++;
  }

  /** Replay-original and rate-limit pacing: how long to wait before this message may go. */
  private pacingDelay(msg: StoredMessage): number {
    const now = this.ctx.scheduler.now();
    let delay = 0;
    if (this.replaying && this.replayBase !== null) {
      const due = this.replayBase.wallMs + Number(msg.time - this.replayBase.tsNs) / NS_PER_MS;
      if (due - now > REPLAY_MIN_DELAY_MS) delay = due - now;
    }
    if (this.cfg.rateLimitBps > 0 && this.rateNextFreeMs > now) delay = Math.max(delay, this.rateNextFreeMs - now);
    return Math.ceil(delay);
  }

  private deliver(target: string, reply: string, msg: StoredMessage, hdr: Uint8Array | null, data: Uint8Array, dc: number, size: number): void {
    const now = this.ctx.scheduler.now();
    const dseq = this.dseq++;
    if (dc === 1 && msg.seq > this.deliveredStream) this.deliveredStream = msg.seq;
    this.lastDeliveredMs = now;

    if (this.replaying) {
      this.replayBase = { wallMs: now, tsNs: msg.time };
      if (this.loadNextFiltered(this.sseq) === null && this.rdq.length === 0) this.replaying = false;
    }
    if (this.cfg.rateLimitBps > 0) {
      const bytesPerMs = this.cfg.rateLimitBps / 8 / 1000;
      this.rateNextFreeMs = Math.max(now, this.rateNextFreeMs) + size / bytesPerMs;
    }
    if (this.maxpb > 0) this.pbytes += size;

    if (hasPublishAs(this.bus)) this.bus.publishAs(target, msg.subject, reply, hdr, data);
    else this.bus.publish(target, reply, hdr, data);

    if (this.cfg.ackPolicy === 'none') {
      this.ackFloorConsumer = dseq;
      this.ackFloorStream = msg.seq;
      if (this.stream.retention !== 'limits') this.stream.consumerDone(this.name, msg.seq);
    } else {
      this.trackPending(msg.seq, dseq, now);
    }
    if (this.maxpb > 0 && this.needFlowControl(size)) this.sendFlowControl();
    if (this.waiting) this.waiting.lastActivityMs = now;
    if (!isPullMode(this.cfg)) this.armHeartbeat();
    this.markDirty();
  }

  private trackPending(seq: number, dseq: number, now: number): void {
    const p = this.pending.get(seq);
    if (p) p.atMs = now;
    else this.pending.set(seq, { dseq, atMs: now });
    this.armAckTimer(this.ackWaitMs(this.deliveryCount(seq)));
  }

  deliveryCount(seq: number): number {
    return this.redelivered.get(seq) ?? 1;
  }

  /** Ack wait for a message delivered `dc` times (backoff picks by delivery count), ms. */
  private ackWaitMs(dc: number): number {
    const bo = this.cfg.backoffNs;
    if (bo.length > 0 && dc > 0) return bo[Math.min(dc - 1, bo.length - 1)]! / NS_PER_MS;
    return this.cfg.ackWaitNs / NS_PER_MS;
  }

  // ---------------------------------------------------------------- redelivery

  private armAckTimer(delayMs: number): void {
    if (this.closed) return;
    const now = this.ctx.scheduler.now();
    const at = now + delayMs + ACK_WAIT_SLACK_MS;
    if (this.ackTimer !== null && this.ackTimerAtMs <= at) return;
    if (this.ackTimer !== null) this.ctx.scheduler.clearTimeout(this.ackTimer);
    this.ackTimerAtMs = at;
    this.ackTimer = this.ctx.scheduler.setTimeout(() => {
      this.ackTimer = null;
      this.checkPending();
    }, Math.max(0, at - now));
  }

  /** nats-server checkPending: queue expired deliveries for redelivery, re-arm for the next one. */
  private checkPending(): void {
    if (this.closed) return;
    const now = this.ctx.scheduler.now();
    const expired: number[] = [];
    const before = this.pending.size;
    let next = Infinity;
    for (const [seq, p] of this.pending) {
      if (seq <= this.ackFloorStream) {
        this.pending.delete(seq);
        this.redelivered.delete(seq);
        this.removeFromRdq(seq);
        continue;
      }
      const deadline = this.ackWaitMs(this.deliveryCount(seq));
      const elapsed = now - p.atMs;
      if (elapsed >= deadline) {
        if (!this.rdqSet.has(seq) && !this.hitMaxDeliveries(seq)) expired.push(seq);
      } else if (deadline - elapsed < next) {
        next = deadline - elapsed;
      }
    }
    if (expired.length > 0) {
      expired.sort((a, b) => a - b);
      for (const seq of expired) {
        this.rdq.push(seq);
        this.rdqSet.add(seq);
        // Until it is actually redelivered, do not count it as expired again.
        this.pending.get(seq)!.atMs = now;
      }
      const soonest = this.ackWaitMs(1);
      if (soonest < next) next = soonest;
    }
    if (this.pending.size > 0) {
      if (next === Infinity) next = this.ackWaitMs(1);
      this.armAckTimer(next);
    } else {
      this.rdq = [];
      this.rdqSet.clear();
      this.ackFloorConsumer = this.dseq - 1;
      this.ackFloorStream = Math.max(this.ackFloorStream, this.sseq - 1);
      this.markDirty();
    }
    // Redeliveries are due, or max deliveries freed slots under max_ack_pending.
    if (expired.length > 0 || this.pending.size < before) this.drive();
  }

  /** nats-server hasMaxDeliveries: at the limit the message leaves pending (once, with an advisory). */
  private hitMaxDeliveries(seq: number): boolean {
    const max = this.cfg.maxDeliver;
    if (max <= 0) return false;
    const dc = this.deliveryCount(seq);
    if (dc < max) return false;
    if (dc === max) this.maxDeliveriesAdvisory(seq, dc);
    this.pending.delete(seq);
    this.redelivered.set(seq, dc);
    this.markDirty();
    return true;
  }

  private addToRdq(seq: number): void {
    if (this.rdqSet.has(seq)) return;
    this.rdq.push(seq);
    this.rdqSet.add(seq);
  }

  private removeFromRdq(seq: number): void {
    if (!this.rdqSet.delete(seq)) return;
    const i = this.rdq.indexOf(seq);
    if (i >= 0) this.rdq.splice(i, 1);
  }

  // ---------------------------------------------------------------- acks

  private onAck(subject: string, reply: string | null, data: Uint8Array): void {
    if (this.closed) return;
    const info = parseAckReply(subject);
    if (info === null) return;
    const { streamSeq: sseq, consumerSeq: dseq, deliveries: dc } = info;
    let answer = sseq !== 0;
    if (data.length === 0 || equals(data, ACK) || equals(data, OK)) {
      answer = answer && this.processAck(sseq, dseq, dc);
    } else if (startsWith(data, NXT)) {
      this.processAck(sseq, dseq, dc);
      answer = false;
      if (reply) this.processNextRequest(reply, data.subarray(NXT.length));
    } else if (startsWith(data, NAK)) {
      this.processNak(sseq, dseq, dc, data.subarray(NAK.length));
    } else if (equals(data, WPI)) {
      this.progress(sseq);
    } else if (startsWith(data, TERM)) {
      const reason = Buffer.from(data.subarray(TERM.length)).toString('utf8').trim();
      answer = answer && this.processTerm(sseq, dseq, dc, reason);
    }
    if (reply && answer) this.answerAfterDurable(reply);
  }

  /** Double-ack: the empty reply goes out only once the ack is on disk. */
  private answerAfterDurable(reply: string): void {
    const send = () => {
      if (!this.closed) this.bus.publish(reply, null, null, EMPTY);
    };
    if (this.deps.persister) this.deps.persister.afterDurable(send);
    else send();
  }

  /** nats-server processAckMsg. False when the ack is out of range (nothing to answer). */
  processAck(sseq: number, dseq: number, dc = 1): boolean {
    if (this.closed || sseq >= this.sseq) return false;
    const policy = this.cfg.ackPolicy;
    const stalled = this.cfg.maxAckPending > 0 && this.pending.size >= this.cfg.maxAckPending;
    const done: number[] = [];
    if (policy === 'explicit') {
      const p = this.pending.get(sseq);
      if (p !== undefined) {
        if (this.sampleFreq > 0) this.sampleAck(sseq, p, dc);
        this.pending.delete(sseq);
        const pdseq = p.dseq;
        if (this.pending.size === 0) {
          this.ackFloorConsumer = this.dseq - 1;
          this.ackFloorStream = this.sseq - 1;
        } else if (pdseq === this.ackFloorConsumer + 1) {
          this.ackFloorConsumer = pdseq;
          this.ackFloorStream = sseq;
          for (let ss = sseq + 1; ss < this.sseq; ss++) {
            const q = this.pending.get(ss);
            if (q !== undefined) {
              this.ackFloorConsumer = q.dseq - 1;
              this.ackFloorStream = ss - 1;
              break;
            }
          }
        }
        done.push(sseq);
      }
      this.redelivered.delete(sseq);
      this.removeFromRdq(sseq);
    } else if (policy === 'all') {
      if (dseq <= this.ackFloorConsumer || sseq <= this.ackFloorStream) return true;
      this.ackFloorConsumer = dseq;
      this.ackFloorStream = sseq;
      for (const seq of [...this.pending.keys()]) {
        if (seq <= sseq) {
          this.pending.delete(seq);
          this.redelivered.delete(seq);
          this.removeFromRdq(seq);
          done.push(seq);
        }
      }
      if (!done.includes(sseq)) done.push(sseq);
    } else {
      return false;
    }
    this.lastAckMs = this.ctx.scheduler.now();
    this.markDirty();
    if (this.stream.retention !== 'limits') for (const seq of done) this.stream.consumerDone(this.name, seq);
    if (stalled) this.drive();
    return true;
  }

  private processNak(sseq: number, dseq: number, dc: number, arg: Uint8Array): void {
    if (dseq <= this.ackFloorConsumer || dseq > this.dseq) return;
    const p = this.pending.get(sseq);
    if (p === undefined) return;
    this.advisory(`CONSUMER.MSG_NAKED.${this.streamName}.${this.name}`, 'io.nats.jetstream.advisory.v1.nak', {
      consumer_seq: dseq,
      stream_seq: sseq,
      deliveries: dc,
    });
    const text = Buffer.from(arg).toString('utf8').trim();
    if (text.length > 0) {
      let delayNs: number | null = null;
      if (text.startsWith('{')) {
        try {
          const d = (JSON.parse(text) as { delay?: unknown }).delay;
          delayNs = d === undefined ? 0 : typeof d === 'number' && Number.isInteger(d) ? d : null;
        } catch {
          delayNs = null;
        }
      } else {
        delayNs = parseGoDuration(text);
      }
      if (delayNs === null) {
        this.ctx.logger.warn(`JetStream consumer '${this.streamName} > ${this.name}' bad NAK delay value: ${JSON.stringify(text)}`);
      } else {
        this.removeFromRdq(sseq);
        const now = this.ctx.scheduler.now();
        // Redeliver `delay` from now: make it look delivered (ackWait - delay) ago.
        p.atMs = now - this.ackWaitMs(this.deliveryCount(sseq)) + delayNs / NS_PER_MS;
        this.markDirty();
        this.armAckTimer(Math.max(0, delayNs / NS_PER_MS));
        return;
      }
    }
    this.addToRdq(sseq);
    this.drive();
  }

  private progress(sseq: number): void {
    const p = this.pending.get(sseq);
    if (p === undefined) return;
    p.atMs = this.ctx.scheduler.now();
    this.markDirty();
  }

  private processTerm(sseq: number, dseq: number, dc: number, reason: string): boolean {
    const acked = this.processAck(sseq, dseq);
    const body: Record<string, unknown> = { consumer_seq: dseq, stream_seq: sseq, deliveries: dc };
    if (reason) body['reason'] = reason;
    this.advisory(`CONSUMER.MSG_TERMINATED.${this.streamName}.${this.name}`, 'io.nats.jetstream.advisory.v1.terminated', body);
    return acked;
  }

  // ---------------------------------------------------------------- pull requests

  /** A `CONSUMER.MSG.NEXT` request (or the tail of a `+NXT` ack). */
  processNextRequest(reply: string, body: Uint8Array): void {
    if (this.closed) return;
    if (this.waiting === null) {
      this.publishStatus(reply, Status.pushBased());
      return;
    }
    const parsed = parseNextRequest(body);
    if (typeof parsed === 'string') {
      this.publishStatus(reply, Status.badRequest(parsed));
      return;
    }
    const cfg = this.cfg;
    if (cfg.maxBatch > 0 && parsed.batch > cfg.maxBatch) {
      this.publishStatus(reply, Status.exceededMaxRequestBatch(cfg.maxBatch));
      return;
    }
    if (parsed.expiresNs > 0 && cfg.maxExpiresNs > 0 && parsed.expiresNs > cfg.maxExpiresNs) {
      this.publishStatus(reply, Status.exceededMaxRequestExpires(formatGoDuration(cfg.maxExpiresNs)));
      return;
    }
    if (parsed.maxBytes > 0 && cfg.maxBytes > 0 && parsed.maxBytes > cfg.maxBytes) {
      this.publishStatus(reply, Status.exceededMaxRequestMaxBytes(cfg.maxBytes));
      return;
    }
    const now = this.ctx.scheduler.now();
    const wq = this.waiting;
    if (wq.isFull()) this.processWaiting(false);
    if (parsed.noWait) {
      const msgsPending = this.numPending() + this.rdq.length;
      if (msgsPending === 0 && parsed.expiresNs === 0) {
        wq.lastActivityMs = now;
        this.publishStatus(reply, Status.noMessages());
        return;
      }
      if (msgsPending > 0) {
        const batchPending = this.processWaiting(false);
        if (msgsPending < batchPending) {
          wq.lastActivityMs = now;
          this.publishStatus(reply, Status.requestsPending());
          return;
        }
      }
    }
    const hbMs = parsed.heartbeatNs / NS_PER_MS;
    const req: PullRequest = {
      reply,
      n: parsed.batch,
      d: 0,
      b: parsed.maxBytes,
      expiresAtMs: parsed.expiresNs > 0 ? now + parsed.expiresNs / NS_PER_MS : 0,
      receivedAtMs: now,
      noWait: parsed.noWait,
      hbMs,
      hbAtMs: hbMs > 0 ? now + hbMs : 0,
    };
    if (!wq.add(req)) {
      this.publishStatus(reply, Status.exceededMaxWaiting());
      return;
    }
    this.drive();
    if (!this.closed && this.waiting !== null) this.armWaitTimer();
  }

  /** nats-server nextWaiting: the request the next message of `size` bytes goes to. */
  private nextWaiting(size: number): PullRequest | undefined {
    const wq = this.waiting!;
    const now = this.ctx.scheduler.now();
    for (let r = wq.peek(); r !== undefined; r = wq.peek()) {
      if (r.b > 0) {
        if (size <= r.b) {
          r.b -= size;
          if (r.b === 0) r.n = 1;
        } else {
          this.publishStatus(r.reply, Status.messageSizeExceedsMaxBytes(r.n, r.b));
          wq.removeHead();
          continue;
        }
      }
      if (r.expiresAtMs === 0 || now < r.expiresAtMs) {
        if (this.bus.hasInterest(r.reply)) return wq.pop();
      } else {
        this.publishStatus(r.reply, Status.requestTimeout(r.n, r.b));
      }
      wq.removeHead();
    }
    return undefined;
  }

  /**
   * nats-server processWaiting: expire requests (and, at the end of the stream, finish no-wait
   * ones that got something), drop those nobody listens to, send due heartbeats.
   * Returns the messages the remaining requests still want.
   */
  private processWaiting(endOfStream: boolean): number {
    const wq = this.waiting;
    if (wq === null || wq.length === 0) return 0;
    const now = this.ctx.scheduler.now();
    let wanted = 0;
    for (const r of [...wq.all()]) {
      if ((endOfStream && r.noWait && r.d > 0) || (r.expiresAtMs > 0 && now >= r.expiresAtMs)) {
        this.publishStatus(r.reply, Status.requestTimeout(r.n, r.b));
        wq.remove(r);
        continue;
      }
      if (endOfStream && r.noWait && r.d === 0 && r.expiresAtMs === 0) {
        this.publishStatus(r.reply, Status.noMessages());
        wq.remove(r);
        continue;
      }
      if (!this.bus.hasInterest(r.reply)) {
        wq.remove(r);
        continue;
      }
      wanted += r.n;
      if (r.hbMs > 0 && now >= r.hbAtMs) {
        this.sendHeartbeat(r.reply);
        r.hbAtMs = now + r.hbMs;
      }
    }
    if (wq.length > 0) this.armWaitTimer();
    return wanted;
  }

  private armWaitTimer(): void {
    const wq = this.waiting;
    if (wq === null || this.closed) return;
    let at = Infinity;
    for (const r of wq.all()) {
      if (r.expiresAtMs > 0 && r.expiresAtMs < at) at = r.expiresAtMs;
      if (r.hbMs > 0 && r.hbAtMs < at) at = r.hbAtMs;
    }
    if (at === Infinity) return;
    if (this.waitTimer !== null) {
      if (this.waitTimerAtMs <= at) return;
      this.ctx.scheduler.clearTimeout(this.waitTimer);
    }
    const now = this.ctx.scheduler.now();
    this.waitTimerAtMs = at;
    this.waitTimer = this.ctx.scheduler.setTimeout(() => {
      this.waitTimer = null;
      if (this.closed) return;
      this.processWaiting(true);
      this.drive();
    }, Math.max(0, at - now));
  }

  // ---------------------------------------------------------------- push

  private checkPushActive(): boolean {
    const interest = this.bus.hasInterest(this.cfg.deliverSubject);
    if (interest !== this.active) this.setActive(interest);
    return interest;
  }

  private setActive(active: boolean): void {
    this.active = active;
    const threshold = this.inactiveThresholdMs();
    if (active) this.clearInactive();
    else if (threshold > 0 && this.inactiveTimer === null) this.armInactive(threshold);
  }

  /** Push delivery starts or stops as soon as the deliver subject gains or loses its last subscriber. */
  private watchDeliverInterest(): void {
    this.unwatchInterest?.();
    this.unwatchInterest = this.bus.watchInterest(this.cfg.deliverSubject, () => {
      // Told from inside the router's subscription bookkeeping: act once it is done.
      if (this.interestCheckQueued) return;
      this.interestCheckQueued = true;
      queueMicrotask(() => {
        this.interestCheckQueued = false;
        if (this.closed) return;
        const was = this.active;
        if (this.checkPushActive() && !was) this.drive();
      });
    });
  }

  private armHeartbeat(): void {
    const hbMs = this.cfg.idleHeartbeatNs / NS_PER_MS;
    if (hbMs <= 0 || this.closed) return;
    if (this.heartbeatTimer !== null) this.ctx.scheduler.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = this.ctx.scheduler.setTimeout(() => {
      this.heartbeatTimer = null;
      if (this.closed) return;
      if (this.bus.hasInterest(this.cfg.deliverSubject)) this.sendHeartbeat(this.cfg.deliverSubject);
      this.armHeartbeat();
    }, hbMs);
  }

  private sendHeartbeat(subject: string): void {
    this.bus.publish(subject, null, Status.idleHeartbeat(this.dseq - 1, this.sseq - 1, this.fcId), EMPTY);
  }

  private needFlowControl(size: number): boolean {
    if (this.fcId === null && this.pbytes > this.maxpb / 2) return true;
    if (this.fcId !== null && this.pbytes - this.fcBytes >= this.maxpb) this.fcBytes += size;
    return false;
  }

  private sendFlowControl(): void {
    this.fcId = `${FLOW_CONTROL_PREFIX}${this.streamName}.${this.name}.${randomId(4)}`;
    this.fcBytes = this.pbytes;
    this.bus.publish(this.cfg.deliverSubject, this.fcId, Status.flowControlRequest(), EMPTY);
  }

  private onFlowControlReply(subject: string): void {
    if (this.closed || subject !== this.fcId) return;
    const limit = this.deps.options.flowControlMaxPendingBytes;
    if (this.maxpb < limit) this.maxpb = Math.min(limit, this.maxpb * 2);
    this.pbytes = Math.max(0, this.pbytes - this.fcBytes);
    this.fcId = null;
    this.fcBytes = 0;
    this.drive();
  }

  /** Flow control stalled waiting for the client (tests and info). */
  get flowControlPending(): string | null {
    return this.fcId;
  }

  // ---------------------------------------------------------------- inactivity

  private inactiveThresholdMs(): number {
    return this.cfg.inactiveThresholdNs > 0 ? this.cfg.inactiveThresholdNs / NS_PER_MS : 0;
  }

  private armInactive(delayMs: number): void {
    if (this.closed || delayMs <= 0) return;
    this.clearInactive();
    this.inactiveTimer = this.ctx.scheduler.setTimeout(() => {
      this.inactiveTimer = null;
      this.checkInactive();
    }, delayMs);
  }

  private clearInactive(): void {
    if (this.inactiveTimer !== null) this.ctx.scheduler.clearTimeout(this.inactiveTimer);
    this.inactiveTimer = null;
  }

  /** nats-server deleteNotActive. */
  private checkInactive(): void {
    if (this.closed) return;
    const threshold = this.inactiveThresholdMs();
    if (threshold <= 0) return;
    if (this.waiting === null) {
      if (this.bus.hasInterest(this.cfg.deliverSubject)) {
        this.setActive(true);
        return;
      }
    } else {
      const elapsed = this.ctx.scheduler.now() - this.waiting.lastActivityMs;
      if (elapsed < threshold) {
        this.armInactive(threshold - elapsed);
        return;
      }
      this.processWaiting(false);
      if (this.waiting.length > 0) {
        this.armInactive(threshold);
        return;
      }
    }
    this.deps.onInactive(this);
  }

  // ---------------------------------------------------------------- config update

  /** Applies an allowed config change (checked by the caller). */
  updateConfig(next: ConsumerConfig): void {
    const prev = this.cfg;
    this.cfg = next;
    this.filters = filtersOf(next);
    this.npcValid = false;
    if (prev.inactiveThresholdNs !== next.inactiveThresholdNs) {
      this.clearInactive();
      const t = this.inactiveThresholdMs();
      if (t > 0 && (this.waiting !== null || !this.active)) this.armInactive(t);
    }
    if (prev.ackWaitNs !== next.ackWaitNs && this.pending.size > 0) this.armAckTimer(0);
    if (prev.deliverSubject !== next.deliverSubject && !isPullMode(next)) {
      this.watchDeliverInterest();
      this.checkPushActive();
    }
    this.drive();
  }

  // ---------------------------------------------------------------- info

  info(): Record<string, unknown> {
    const delivered: Record<string, unknown> = { consumer_seq: this.dseq - 1, stream_seq: this.deliveredStream };
    if (this.lastDeliveredMs > 0) delivered['last_active'] = rfc3339FromMs(this.lastDeliveredMs);
    const ackFloor: Record<string, unknown> = { consumer_seq: this.ackFloorConsumer, stream_seq: this.ackFloorStream };
    if (this.lastAckMs > 0) ackFloor['last_active'] = rfc3339FromMs(this.lastAckMs);
    let numWaiting = 0;
    if (this.waiting !== null) {
      this.processWaiting(false);
      numWaiting = this.waiting.length;
    }
    const info: Record<string, unknown> = {
      stream_name: this.streamName,
      name: this.name,
      created: rfc3339FromMs(this.createdMs),
      config: configToJson(this.cfg),
      delivered,
      ack_floor: ackFloor,
      num_ack_pending: this.pending.size,
      num_redelivered: this.redelivered.size,
      num_waiting: numWaiting,
      num_pending: this.numPending(),
    };
    if (!isPullMode(this.cfg) && this.bus.hasInterest(this.cfg.deliverSubject)) info['push_bound'] = true;
    info['ts'] = rfc3339FromMs(this.ctx.scheduler.now());
    return info;
  }

  get isDurable(): boolean {
    return isDurable(this.cfg);
  }

  // ---------------------------------------------------------------- advisories and statuses

  private publishStatus(reply: string, hdr: Uint8Array): void {
    this.bus.publish(reply, null, hdr, EMPTY);
  }

  /** sample_freq as a percentage (nats-server accepts "30" and "30%"). */
  private get sampleFreq(): number {
    const t = this.cfg.sampleFreq;
    if (t === '') return 0;
    const n = Number.parseInt(t.endsWith('%') ? t.slice(0, -1) : t, 10);
    return Number.isFinite(n) ? n : 0;
  }

  /** nats-server sampleAck: an ack latency metric for a sample of acks. */
  private sampleAck(sseq: number, p: Pending, dc: number): void {
    if (Math.random() * 100 >= this.sampleFreq) return;
    const subject = `${ACK_METRIC_PREFIX}.${this.streamName}.${this.name}`;
    if (!this.bus.hasInterest(subject)) return;
    const now = this.ctx.scheduler.now();
    const body: Record<string, unknown> = {
      type: 'io.nats.jetstream.metric.v1.consumer_ack',
      id: randomId(22),
      timestamp: rfc3339FromMs(now),
      stream: this.streamName,
      consumer: this.name,
      consumer_seq: p.dseq,
      stream_seq: sseq,
      ack_time: Math.max(0, Math.round((now - p.atMs) * NS_PER_MS)),
      deliveries: dc,
    };
    if (this.ctx.domain) body['domain'] = this.ctx.domain;
    this.bus.publish(subject, null, null, Buffer.from(JSON.stringify(body)));
  }

  private maxDeliveriesAdvisory(seq: number, deliveries: number): void {
    this.advisory(`CONSUMER.MAX_DELIVERIES.${this.streamName}.${this.name}`, 'io.nats.jetstream.advisory.v1.max_deliver', {
      stream_seq: seq,
      deliveries,
    });
  }

  advisory(suffix: string, type: string, fields: Record<string, unknown>): void {
    const body: Record<string, unknown> = {
      type,
      id: randomId(22),
      timestamp: rfc3339FromMs(this.ctx.scheduler.now()),
      stream: this.streamName,
      consumer: this.name,
      ...fields,
    };
    if (this.ctx.domain) body['domain'] = this.ctx.domain;
    this.ctx.advisory(suffix, body);
  }

  // ---------------------------------------------------------------- shutdown

  /** Stops timers and subscriptions; answers waiting pull requests with 409 Consumer Deleted when `deleted`. */
  stop(deleted: boolean): void {
    if (this.closed) return;
    this.closed = true;
    if (deleted && this.waiting !== null) {
      for (const r of this.waiting.clear()) this.publishStatus(r.reply, Status.consumerDeleted());
    }
    this.ackSub.unsubscribe();
    this.fcSub?.unsubscribe();
    this.unsubscribeStream();
    if (this.stream.retention !== 'limits') this.stream.unregisterConsumer(this.name);
    const s = this.ctx.scheduler;
    this.unwatchInterest?.();
    this.unwatchInterest = null;
    for (const t of [this.ackTimer, this.waitTimer, this.heartbeatTimer, this.inactiveTimer, this.resumeTimer]) {
      if (t !== null) s.clearTimeout(t);
    }
    this.ackTimer = this.waitTimer = this.heartbeatTimer = this.inactiveTimer = this.resumeTimer = null;
  }
}

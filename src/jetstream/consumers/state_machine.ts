// The replicated half of a consumer: where it is in its stream, what it delivered, what is
// still unacked and how often things were redelivered (nats-server's ConsumerState plus the
// position), changed only by apply(entry). apply is synchronous and deterministic: the same
// entries in the same order give the same state on every replica, whoever leads; time comes
// from the entries, never from a clock. Everything a leader does around it (the delivery
// loop, timers, pull requests, sending) lives in consumer.ts.

import type { ConsumerState } from '../store/index.ts';
import { configToJson, parseConsumerConfig, type ConsumerConfig } from './config.ts';
import { isApiError } from './errors.ts';
import { ConsumerEntryError, EntryKind, type ConsumerEntry, type SkipListState, type StateEntry } from './entries.ts';

const NS_PER_MS = 1_000_000;

export interface PendingDelivery {
  /** Delivery sequence of the (first) delivery. */
  dseq: number;
  /** Last delivery (or progress) time, ms since the epoch. */
  atMs: number;
}

/** What applying an entry tells the world around the state. */
export interface StateMachineHooks {
  /** The consumer is finished with `seq` (acked, terminated, or delivered under ack policy none). */
  done(seq: number): void;
  /** The state changed (durable consumers save it). */
  changed(): void;
}

export class ConsumerStateMachine {
  cfg: ConsumerConfig;
  /** False until a starting position was applied (a replica created before its first leader decided it). */
  started = false;
  /** Next stream sequence to look at. */
  sseq = 1;
  /** Next delivery sequence. */
  dseq = 1;
  ackFloorConsumer = 0;
  ackFloorStream = 0;
  /** Highest stream sequence delivered for the first time (what info reports as delivered). */
  deliveredStream = 0;
  readonly pending = new Map<number, PendingDelivery>();
  /** Delivery counts above 1, by stream sequence. */
  readonly redelivered = new Map<number, number>();
  /** deliver_policy last_per_subject: the start sequences still to hand out, then resume. */
  skipList: SkipListState | null = null;
  lastDeliveredMs = 0;
  lastAckMs = 0;
  /** Pull requests waiting at the leader (reply subjects), for the next leader to release. */
  readonly requests = new Set<string>();
  private readonly hooks: StateMachineHooks;

  constructor(cfg: ConsumerConfig, hooks: StateMachineHooks) {
    this.cfg = cfg;
    this.hooks = hooks;
  }

  // ---------------------------------------------------------------- apply

  apply(e: ConsumerEntry): void {
    switch (e.kind) {
      case EntryKind.State:
        this.load(e);
        break;
      case EntryKind.Delivered:
        this.delivered(e.ts, e.items);
        break;
      case EntryKind.Ack:
      case EntryKind.Term:
        for (let i = 0; i < e.items.length; i += 2) this.ack(e.ts, e.items[i]!, e.items[i + 1]!);
        break;
      case EntryKind.Nak:
        this.nak(e.ts, e.sseq, e.delayNs);
        break;
      case EntryKind.Progress: {
        const p = this.pending.get(e.sseq);
        if (p === undefined) return;
        p.atMs = e.ts;
        break;
      }
      case EntryKind.MaxDeliveries:
        // Acked while the decision was on its way: nothing to give up on.
        if (!this.pending.delete(e.sseq)) return;
        this.redelivered.set(e.sseq, e.deliveries);
        break;
      case EntryKind.Gone:
        for (const seq of e.seqs) this.dropPending(seq);
        break;
      case EntryKind.Purged:
        this.purged(e.firstSeq);
        break;
      case EntryKind.Floor:
        if (this.pending.size > 0) return;
        this.ackFloorConsumer = this.dseq - 1;
        this.ackFloorStream = Math.max(this.ackFloorStream, this.sseq - 1);
        break;
      case EntryKind.Config: {
        const cfg = parseConsumerConfig(e.config);
        if (isApiError(cfg)) throw new ConsumerEntryError(`consumer entry: CONFIG is not a valid config (${cfg.description})`);
        this.cfg = cfg;
        break;
      }
      case EntryKind.Requests:
        for (const r of e.added) this.requests.add(r);
        for (const r of e.removed) this.requests.delete(r);
        return;
    }
    this.hooks.changed();
  }

  private delivered(ts: number, items: number[]): void {
    const ackNone = this.cfg.ackPolicy === 'none';
    for (let i = 0; i < items.length; i += 3) {
      const seq = items[i]!;
      const dseq = items[i + 1]!;
      const dc = items[i + 2]!;
      if (dseq >= this.dseq) this.dseq = dseq + 1;
      if (dc === 1) {
        if (seq > this.deliveredStream) this.deliveredStream = seq;
        if (seq >= this.sseq) this.sseq = seq + 1;
        const sl = this.skipList;
        if (sl !== null) {
          while (sl.index < sl.seqs.length && sl.seqs[sl.index]! <= seq) sl.index++;
          if (sl.index >= sl.seqs.length) this.skipList = null;
        }
      } else {
        // A redelivery of a message acked meanwhile changes nothing (its ack came first in the log).
        if (!this.pending.has(seq)) continue;
        this.redelivered.set(seq, dc);
      }
      this.lastDeliveredMs = ts;
      if (ackNone) {
        this.ackFloorConsumer = dseq;
        this.ackFloorStream = seq;
        this.hooks.done(seq);
      } else {
        const p = this.pending.get(seq);
        if (p !== undefined) p.atMs = ts;
        else this.pending.set(seq, { dseq, atMs: ts });
      }
    }
  }

  /** nats-server processAckMsg (the ack itself, once decided by the leader). */
  private ack(ts: number, sseq: number, dseq: number): void {
    if (sseq >= this.sseq) return;
    const done: number[] = [];
    if (this.cfg.ackPolicy === 'explicit') {
      const p = this.pending.get(sseq);
      if (p !== undefined) {
        this.pending.delete(sseq);
        if (this.pending.size === 0) {
          this.ackFloorConsumer = this.dseq - 1;
          this.ackFloorStream = this.sseq - 1;
        } else if (p.dseq === this.ackFloorConsumer + 1) {
          this.ackFloorConsumer = p.dseq;
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
    } else if (this.cfg.ackPolicy === 'all') {
      if (dseq <= this.ackFloorConsumer || sseq <= this.ackFloorStream) return;
      this.ackFloorConsumer = dseq;
      this.ackFloorStream = sseq;
      for (const seq of [...this.pending.keys()]) {
        if (seq <= sseq) {
          this.pending.delete(seq);
          this.redelivered.delete(seq);
          done.push(seq);
        }
      }
      if (!done.includes(sseq)) done.push(sseq);
    } else {
      return;
    }
    this.lastAckMs = ts;
    for (const seq of done) this.hooks.done(seq);
  }

  private nak(ts: number, sseq: number, delayNs: number): void {
    const p = this.pending.get(sseq);
    if (p === undefined) return;
    // Due again `delay` after ts: it looks delivered (ack wait - delay) before ts.
    p.atMs = ts - this.ackWaitMs(this.deliveryCount(sseq)) + delayNs / NS_PER_MS;
  }

  /** A pending message vanished from the stream: it can no longer be acked or redelivered. */
  private dropPending(seq: number): void {
    if (!this.pending.delete(seq)) return;
    this.redelivered.delete(seq);
    this.advanceFloorsAfterRemoval();
  }

  private purged(firstSeq: number): void {
    for (const seq of [...this.pending.keys()]) if (seq < firstSeq) this.pending.delete(seq);
    for (const seq of [...this.redelivered.keys()]) if (seq < firstSeq) this.redelivered.delete(seq);
    if (this.sseq < firstSeq) {
      this.sseq = firstSeq;
      this.skipList = null;
    }
    if (this.ackFloorStream < firstSeq - 1) this.ackFloorStream = firstSeq - 1;
    if (this.deliveredStream < firstSeq - 1) this.deliveredStream = firstSeq - 1;
    this.advanceFloorsAfterRemoval();
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

  // ---------------------------------------------------------------- reads

  deliveryCount(seq: number): number {
    return this.redelivered.get(seq) ?? 1;
  }

  /** Ack wait for a message delivered `dc` times (backoff picks by delivery count), ms. */
  ackWaitMs(dc: number): number {
    const bo = this.cfg.backoffNs;
    if (bo.length > 0 && dc > 0) return bo[Math.min(dc - 1, bo.length - 1)]! / NS_PER_MS;
    return this.cfg.ackWaitNs / NS_PER_MS;
  }

  /** True when `seq` is no longer needed by this consumer (interest retention asks). */
  isDone(seq: number): boolean {
    // Tracked redeliveries are cleared by acks, so one left here either is pending or reached
    // max deliveries without an ack: interest streams keep it (nats-server needAck).
    if (this.redelivered.has(seq)) return false;
    if (seq <= this.ackFloorStream) return true;
    if (this.cfg.ackPolicy !== 'explicit') return false;
    if (seq >= this.sseq) return false;
    return !this.pending.has(seq);
  }

  // ---------------------------------------------------------------- whole state

  /** The whole state as a STATE entry (Raft snapshots, a first leader's starting position); sseq 0 = no position yet. */
  toEntry(withConfig: boolean): StateEntry {
    const pending: number[] = [];
    for (const [seq, p] of this.pending) pending.push(seq, p.dseq, p.atMs);
    const redelivered: number[] = [];
    for (const [seq, n] of this.redelivered) redelivered.push(seq, n);
    const sl = this.skipList;
    return {
      kind: EntryKind.State,
      sseq: this.started ? this.sseq : 0,
      dseq: this.dseq,
      deliveredStream: this.deliveredStream,
      ackFloorConsumer: this.ackFloorConsumer,
      ackFloorStream: this.ackFloorStream,
      pending,
      redelivered,
      skipList: sl === null ? null : { seqs: [...sl.seqs], index: sl.index, resume: sl.resume },
      lastDeliveredMs: this.lastDeliveredMs,
      lastAckMs: this.lastAckMs,
      config: withConfig ? configToJson(this.cfg) : null,
      requests: [...this.requests],
    };
  }

  /** Replaces the whole state (a STATE entry, a Raft snapshot, a starting position). */
  load(s: StateEntry): void {
    if (s.config !== null) {
      const cfg = parseConsumerConfig(s.config);
      if (isApiError(cfg)) throw new ConsumerEntryError(`consumer entry: STATE holds an invalid config (${cfg.description})`);
      this.cfg = cfg;
    }
    this.started = s.sseq > 0;
    this.sseq = Math.max(1, s.sseq);
    this.dseq = s.dseq;
    this.deliveredStream = s.deliveredStream;
    this.ackFloorConsumer = s.ackFloorConsumer;
    this.ackFloorStream = s.ackFloorStream;
    this.pending.clear();
    for (let i = 0; i < s.pending.length; i += 3) this.pending.set(s.pending[i]!, { dseq: s.pending[i + 1]!, atMs: s.pending[i + 2]! });
    this.redelivered.clear();
    for (let i = 0; i < s.redelivered.length; i += 2) this.redelivered.set(s.redelivered[i]!, s.redelivered[i + 1]!);
    this.skipList = s.skipList === null ? null : { seqs: [...s.skipList.seqs], index: s.skipList.index, resume: s.skipList.resume };
    this.lastDeliveredMs = s.lastDeliveredMs;
    this.lastAckMs = s.lastAckMs;
    this.requests.clear();
    for (const r of s.requests) this.requests.add(r);
  }

  /** nats-server ConsumerState, for the durable state file (no skip list, times in ns). */
  toConsumerState(): ConsumerState {
    const pending = new Map<number, { sequence: number; timestamp: bigint }>();
    for (const [seq, p] of this.pending) pending.set(seq, { sequence: p.dseq, timestamp: BigInt(Math.trunc(p.atMs)) * BigInt(NS_PER_MS) });
    return {
      delivered: { consumer: this.dseq - 1, stream: this.deliveredStream },
      ackFloor: { consumer: this.ackFloorConsumer, stream: this.ackFloorStream },
      pending,
      redelivered: new Map(this.redelivered),
    };
  }

  /** Loads a durable state file's contents (a restart of a single-node durable consumer). */
  loadConsumerState(s: ConsumerState): void {
    const pending: number[] = [];
    for (const [seq, p] of s.pending) pending.push(seq, p.sequence, Number(p.timestamp / BigInt(NS_PER_MS)));
    const redelivered: number[] = [];
    for (const [seq, count] of s.redelivered) if (seq > s.ackFloor.stream) redelivered.push(seq, count);
    this.load({
      kind: EntryKind.State,
      sseq: s.delivered.stream + 1,
      dseq: s.delivered.consumer + 1,
      deliveredStream: s.delivered.stream,
      ackFloorConsumer: s.ackFloor.consumer,
      ackFloorStream: s.ackFloor.stream,
      pending,
      redelivered,
      skipList: null,
      lastDeliveredMs: 0,
      lastAckMs: 0,
      config: null,
      requests: [],
    });
  }
}

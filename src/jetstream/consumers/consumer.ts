// One JetStream consumer. Its state (position, floors, pending, redelivery counts) lives in a
// ConsumerStateMachine that only committed entries change (state_machine.ts, entries.ts); this
// file is everything around it. Every replica applies entries; the replica that leads also runs
// the delivery loop, the pull wait queue, heartbeats, flow control and the ack-wait timer, takes
// acks, turns each decision into a proposal through its ConsumerReplicator, and does the side
// effects (sending the message, answering a double ack, advisories) once the proposal resolved.
// On a single node (LocalReplicator) a proposal is applied on the spot, so all of this runs
// synchronously as nats-server's consumer.go does; a replicated leader keeps a thin view ahead
// of the applied state (the next stream and delivery sequences, deliveries in flight).
// Every entry point runs to completion, and the delivery loop is re-entrancy safe (a subscriber
// that acks synchronously just asks for another pass).

import { randomBytes } from 'node:crypto';
import type { JsBus } from '../bus.ts';
import type { ConsumerForStream, JsContext, StreamChange, StreamForConsumers } from '../seams.ts';
import type { ConsumerState, StoredMessage } from '../store/index.ts';
import { subjectMatches } from '../../routing/subjects.ts';
import { configsEqual, configToJson, filtersOf, formatGoDuration, isDurable, isPullMode, type ConsumerConfig } from './config.ts';
import { ConsumerEntryError, decodeEntry, EntryKind, encodeEntry, type ConsumerEntry, type DeliveredEntry, type StateEntry } from './entries.ts';
import type { StatePersister } from './persistence.ts';
import { LocalReplicator, type ConsumerReplicator, type ReplicatedConsumer } from './replicator.ts';
import { ConsumerStateMachine } from './state_machine.ts';
import { parseGoDuration, rfc3339FromMs } from './time.ts';
import { parseNextRequest } from './next_request.ts';
import { WaitQueue, type PullRequest } from './wait_queue.ts';
import { ackPrefix, ackReply, FLOW_CONTROL_PREFIX, headersOnlyBlock, parseAckReply, Status } from './wire.ts';

const NS_PER_MS = 1_000_000;
/** nats-server ackWaitDelay: fire the ack timer a little late so a burst is handled in one pass. */
const ACK_WAIT_SLACK_MS = 1;
/** How soon restored pending messages are looked at after a restart or a change of leader (nats-server waits 0.5–1.5 s). */
const RESTORED_PENDING_CHECK_MS = 1_000;
/** Replays closer together than this are not delayed (nats-server's threshold). */
const REPLAY_MIN_DELAY_MS = 1;
/** A leader whose proposal failed re-reads the committed state; if that barrier fails too, it tries again after this long. */
const RESYNC_RETRY_MS = 250;
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
  /** The state file of a durable single-node consumer, or null. */
  readonly persister: StatePersister | null;
  /** Who orders state changes; a LocalReplicator when absent. */
  readonly replicator?: ConsumerReplicator;
  /** The `cluster` object of consumer info (replicated consumers), or undefined for none. */
  readonly clusterInfo?: () => Record<string, unknown> | undefined;
  /** The consumer went inactive past its threshold and wants to be deleted (leader only). */
  onInactive(c: Consumer): void;
}

interface Taken {
  msg: StoredMessage;
  /** Delivery count including this one. */
  dc: number;
  from: 'redelivery' | 'skiplist' | 'stream';
}

/** A message handed out: sent once the DELIVERED entry holding it is committed. */
interface Delivery {
  target: string;
  reply: string;
  msg: StoredMessage;
  hdr: Uint8Array | null;
  data: Uint8Array;
  dc: number;
  size: number;
  request: PullRequest | undefined;
}

type AckKind = typeof EntryKind.Ack | typeof EntryKind.Term;

/** An ack waiting to be proposed with the others of its turn (replicated). */
interface QueuedAck {
  sseq: number;
  dseq: number;
  dc: number;
  answerTo: string | null;
  sample: { dseq: number; atMs: number } | null;
  stalled: boolean;
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
  readonly createdMs: number;
  filters: readonly string[];

  private readonly deps: ConsumerDeps;
  private readonly ctx: JsContext;
  private readonly stream: StreamForConsumers;
  private readonly bus: JsBus;
  private readonly ackReplyPrefix: string;
  private readonly sm: ConsumerStateMachine;
  private readonly replicator: ConsumerReplicator;
  /** Set when this replica is the only one: proposals apply on the spot. */
  private readonly local: LocalReplicator | null;
  /** A config the meta layer asked for that is not applied yet (replicated consumers). */
  private desiredCfg: ConsumerConfig | null = null;

  // ---- leadership ----
  private leading = false;
  /** Bumped whenever the leader's view is thrown away: answers to older proposals send nothing. */
  private epoch = 0;
  /** A proposal failed: deliver nothing until the committed state is re-read. */
  private fenced = false;
  private barrierInFlight = false;
  private resyncTimer: unknown = null;
  /** Replicated proposals not yet resolved. */
  private inflight = 0;
  /**
   * Naks proposed in this epoch and not yet applied: the leader delivers nothing meanwhile, so a
   * pull that follows a nak gets the naked message first, as from nats-server, whose leader
   * requeues it at once.
   */
  private nakHold = { epoch: -1, count: 0 };

  // ---- the leader's view, ahead of the applied state by what is in flight ----
  /** Next stream sequence to look at. */
  private cursor = 1;
  /** Next delivery sequence to hand out. */
  private nextDseq = 1;
  /** Next index of the skip list to hand out. */
  private skipNext = 0;
  /** First deliveries proposed and not yet applied (they count against max_ack_pending). */
  private inflightNew = 0;
  /** Messages whose redelivery (or max-deliveries decision, or removal) is proposed. */
  private readonly redelivering = new Set<number>();
  /** Messages whose ack is proposed. */
  private readonly acking = new Set<number>();
  private rdq: number[] = [];
  private readonly rdqSet = new Set<number>();
  /** Deliveries of this drive pass, proposed together as one DELIVERED entry (replicated). */
  private batch: Delivery[] = [];
  private batchItems: number[] = [];
  /** DELIVERED entries proposed and not yet sent: a pull request is not finished before they are. */
  private batchesInFlight = 0;
  /** Request-ending statuses waiting for the deliveries in flight before them (replicated). */
  private statusesAfterSent: Array<[string, Uint8Array]> = [];
  /** Acks of this turn, proposed together as one ACK entry (replicated). */
  private ackBatch: QueuedAck[] = [];
  /** Pull requests that started (true) or stopped (false) waiting this turn (replicated). */
  private requestChanges = new Map<string, boolean>();
  /** The scratch DELIVERED entry of local proposals (applied at once, never kept). */
  private readonly localDelivered: DeliveredEntry = { kind: EntryKind.Delivered, ts: 0, items: [0, 0, 0] };

  // ---- num_pending, kept as a running count like nats-server's npc ----
  private npc = 0;
  private npcValid = false;

  // ---- pull ----
  private waiting: WaitQueue | null = null;
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
  private replaying = false;
  private rateNextFreeMs = 0;

  private driving = false;
  private again = false;
  closed = false;

  private ackSub: { unsubscribe(): void } | null = null;
  private startWaiters: (() => void)[] = [];
  private configWaiters: { cfg: ConsumerConfig; resolve: () => void }[] = [];
  private readonly unsubscribeStream: () => void;
  private unwatchLeader: (() => void) | null = null;

  /** The replicated state machine a Raft group (or the LocalReplicator) applies entries to. */
  readonly replicated: ReplicatedConsumer = {
    applyEntry: (data) => this.applyEntry(decodeEntry(data)),
    snapshot: () => encodeEntry(this.sm.toEntry(true)),
    restore: (data) => {
      const e = decodeEntry(data);
      if (e.kind !== EntryKind.State) throw new ConsumerEntryError(`consumer snapshot: expected a STATE entry, got kind ${e.kind}`);
      this.applyEntry(e);
    },
  };

  /**
   * `restored`: the durable state file of a single-node consumer. Without it, a local consumer
   * starts where its deliver policy says; a replicated one waits for its first leader to decide.
   */
  constructor(deps: ConsumerDeps, cfg: ConsumerConfig, createdMs: number, restored: ConsumerState | null) {
    this.deps = deps;
    this.ctx = deps.ctx;
    this.stream = deps.stream;
    this.bus = deps.ctx.bus;
    this.name = cfg.name;
    this.streamName = deps.stream.name;
    this.createdMs = createdMs;
    this.filters = filtersOf(cfg);
    this.ackReplyPrefix = ackPrefix(this.streamName, this.name);
    this.replicator = deps.replicator ?? new LocalReplicator();
    this.local = this.replicator instanceof LocalReplicator ? this.replicator : null;
    const persister = deps.persister;
    this.sm = new ConsumerStateMachine(cfg, {
      done: (seq) => {
        if (this.stream.retention !== 'limits') this.stream.consumerDone(this.name, seq);
      },
      changed: persister ? () => persister.markDirty() : () => {},
    });
    if (restored) this.sm.loadConsumerState(restored);
    else if (this.local) this.sm.load(this.startingState());
    this.local?.bind({ consumer: this.replicated, afterDurable: persister ? (fn) => persister.afterDurable(fn) : null });

    this.unsubscribeStream = this.stream.onChange((ev) => this.onStreamChange(ev));
    if (this.stream.retention !== 'limits') this.stream.registerConsumer(this);
  }

  get cfg(): ConsumerConfig {
    return this.sm.cfg;
  }

  /** This replica leads (always, for a local consumer). */
  get isLeader(): boolean {
    return this.leading;
  }

  /** Its starting position is decided (a replicated consumer's first leader proposes it). */
  get started(): boolean {
    return this.sm.started;
  }

  /** Resolves once the starting position is applied here (what a create answer should show). */
  whenStarted(): Promise<void> {
    if (this.sm.started) return Promise.resolve();
    return new Promise((resolve) => this.startWaiters.push(resolve));
  }

  /** Resolves once `cfg` is the config applied here (what an update answer should show). */
  whenConfig(cfg: ConsumerConfig): Promise<void> {
    if (configsEqual(cfg, this.sm.cfg)) return Promise.resolve();
    return new Promise((resolve) => this.configWaiters.push({ cfg, resolve }));
  }

  /** Starts following leadership; a leader starts timers and delivery. Call once registered. */
  start(): void {
    if (this.closed || this.unwatchLeader !== null) return;
    this.unwatchLeader = this.replicator.onLeaderChange((isLeader) => (isLeader ? this.becomeLeader() : this.loseLeadership()));
    if (this.replicator.isLeader) this.becomeLeader();
  }

  // ---------------------------------------------------------------- ConsumerForStream

  isDone(seq: number): boolean {
    return this.sm.isDone(seq);
  }

  // ---------------------------------------------------------------- starting position

  /** nats-server selectStartingSeqNo, as a STATE entry. */
  private startingState(): StateEntry {
    const store = this.stream.store;
    const st = store.state();
    const cfg = this.cfg;
    let sseq: number;
    let skip: number[] | null = null;
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
            skip = seqs;
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
    sseq = Math.max(1, sseq);
    return {
      kind: EntryKind.State,
      sseq: skip !== null ? st.lastSeq + 1 : sseq,
      dseq: 1,
      deliveredStream: sseq - 1,
      ackFloorConsumer: 0,
      ackFloorStream: sseq - 1,
      pending: [],
      redelivered: [],
      skipList: skip !== null ? { seqs: skip, index: 0, resume: st.lastSeq } : null,
      lastDeliveredMs: 0,
      lastAckMs: 0,
      // Every replica was created with the config; later changes are CONFIG entries.
      config: null,
      requests: [],
    };
  }

  /** The durable state (nats-server ConsumerState). */
  snapshotState(): ConsumerState {
    return this.sm.toConsumerState();
  }

  // ---------------------------------------------------------------- proposing and applying

  /**
   * Proposes `e`; `after` runs once it is committed and applied here (at once for a local
   * consumer). `current` says this replica still leads with the view it proposed from: only
   * then may it send deliveries or touch that view; facts (answers, advisories) go out anyway.
   */
  private propose(e: ConsumerEntry, after: ((current: boolean) => void) | null): void {
    if (this.local) {
      this.applyEntry(e);
      after?.(true);
      return;
    }
    const epoch = this.epoch;
    this.inflight++;
    this.replicator.propose(encodeEntry(e)).then(
      () => {
        this.inflight--;
        if (!this.closed) after?.(epoch === this.epoch && this.leading);
        this.maybeResync();
      },
      (err: unknown) => {
        this.inflight--;
        this.proposalFailed(epoch, err);
        this.maybeResync();
      },
    );
  }

  /** Every replica: apply a committed entry, then keep what is derived from the state in step. */
  private applyEntry(e: ConsumerEntry): void {
    if (this.closed) return;
    const prev = this.sm.cfg;
    this.sm.apply(e);
    switch (e.kind) {
      case EntryKind.Delivered:
        // A leader counted these when it took them.
        if (!this.leading) this.npcValid = false;
        break;
      case EntryKind.State:
        this.npcValid = false;
        this.filters = filtersOf(this.sm.cfg);
        if (this.sm.started && this.startWaiters.length > 0) {
          const waiters = this.startWaiters;
          this.startWaiters = [];
          for (const w of waiters) w();
        }
        // Only a leader's own starting position reaches it while it leads.
        if (this.leading) {
          this.resetView();
          this.reconcileConfig();
          if (!this.driving) queueMicrotask(() => this.drive());
        }
        break;
      case EntryKind.Purged:
        this.npcValid = false;
        break;
      case EntryKind.Config:
        this.configApplied(prev);
        break;
    }
  }

  /** A proposal failed while this replica still leads: its view may be ahead of what will ever commit. */
  private proposalFailed(epoch: number, err: unknown): void {
    if (this.closed || epoch !== this.epoch || !this.leading) return;
    this.ctx.logger.warn(`JetStream consumer '${this.streamName} > ${this.name}' proposal failed, re-reading its state: ${String(err)}`);
    this.fenced = true;
    this.epoch++;
  }

  /** Once nothing is in flight, a fenced leader commits a barrier and starts again from the applied state. */
  private maybeResync(): void {
    if (!this.fenced || this.inflight > 0 || this.barrierInFlight || this.resyncTimer !== null || !this.leading || this.closed) return;
    this.barrierInFlight = true;
    const epoch = this.epoch;
    // An empty REQUESTS entry changes nothing: once it is applied, so is everything before it.
    this.replicator.propose(encodeEntry({ kind: EntryKind.Requests, added: [], removed: [] })).then(
      () => {
        this.barrierInFlight = false;
        if (this.closed || !this.leading || epoch !== this.epoch) return;
        this.fenced = false;
        this.epoch++;
        this.resetView();
        if (!this.sm.started) this.propose(this.startingState(), null);
        else this.reconcileConfig();
        if (this.sm.pending.size > 0) this.armAckTimer(Math.min(this.sm.ackWaitMs(0), RESTORED_PENDING_CHECK_MS));
        this.drive();
      },
      () => {
        this.barrierInFlight = false;
        if (this.closed || !this.leading) return;
        this.resyncTimer = this.ctx.scheduler.setTimeout(() => {
          this.resyncTimer = null;
          this.maybeResync();
        }, RESYNC_RETRY_MS);
      },
    );
  }

  // ---------------------------------------------------------------- leadership

  private becomeLeader(): void {
    if (this.closed || this.leading) return;
    this.leading = true;
    this.epoch++;
    this.fenced = false;
    const cfg = this.cfg;
    this.waiting = isPullMode(cfg) ? new WaitQueue(cfg.maxWaiting, this.ctx.scheduler.now(), (r) => this.requestChanged(r.reply, false)) : null;
    this.active = false;
    this.pbytes = 0;
    this.fcId = null;
    this.fcBytes = 0;
    this.maxpb = cfg.flowControl ? Math.max(1, Math.floor(this.deps.options.flowControlMaxPendingBytes / 16)) : 0;
    this.replaying = cfg.replayPolicy === 'original';
    this.replayBase = null;
    this.rateNextFreeMs = 0;
    this.resetView();
    this.ackSub = this.bus.subscribe(`${this.ackReplyPrefix}>`, null, (subject, reply, _hdr, data) => this.onAck(subject, reply, data));
    if (cfg.flowControl) {
      this.fcSub = this.bus.subscribe(`${FLOW_CONTROL_PREFIX}${this.streamName}.${this.name}.*`, null, (subject) => this.onFlowControlReply(subject));
    }
    if (!this.local) {
      this.releaseRequestsOfPreviousLeader();
      if (!this.sm.started) this.propose(this.startingState(), null);
      else this.reconcileConfig();
    }
    if (!isPullMode(cfg)) {
      this.active = this.bus.hasInterest(cfg.deliverSubject);
      this.watchDeliverInterest();
      this.armHeartbeat();
      if (!this.active) this.armInactive(this.inactiveThresholdMs());
    } else if (this.inactiveThresholdMs() > 0) {
      this.armInactive(this.inactiveThresholdMs());
    }
    if (this.sm.pending.size > 0) this.armAckTimer(Math.min(this.sm.ackWaitMs(0), RESTORED_PENDING_CHECK_MS));
    this.drive();
  }

  /** Stops everything a leader runs; its pull requests are dropped (nats-server does the same). */
  private loseLeadership(): void {
    if (!this.leading) return;
    this.leading = false;
    this.epoch++;
    this.fenced = false;
    this.stopLeaderWork();
    this.waiting?.clear();
    this.waiting = null;
    this.requestChanges.clear();
    this.statusesAfterSent = [];
    this.resetView();
  }

  private stopLeaderWork(): void {
    this.ackSub?.unsubscribe();
    this.fcSub?.unsubscribe();
    this.ackSub = this.fcSub = null;
    this.unwatchInterest?.();
    this.unwatchInterest = null;
    const s = this.ctx.scheduler;
    for (const t of [this.ackTimer, this.waitTimer, this.heartbeatTimer, this.inactiveTimer, this.resumeTimer, this.resyncTimer]) {
      if (t !== null) s.clearTimeout(t);
    }
    this.ackTimer = this.waitTimer = this.heartbeatTimer = this.inactiveTimer = this.resumeTimer = this.resyncTimer = null;
  }

  /** The leader's view starts again from the applied state (nothing in flight counts). */
  private resetView(): void {
    this.cursor = this.sm.sseq;
    this.nextDseq = this.sm.dseq;
    this.skipNext = this.sm.skipList?.index ?? 0;
    this.inflightNew = 0;
    this.redelivering.clear();
    this.acking.clear();
    this.rdq = [];
    this.rdqSet.clear();
    this.batch = [];
    this.batchItems = [];
    this.batchesInFlight = 0;
    this.ackBatch = [];
    this.npcValid = false;
  }

  /** nats-server checkPendingRequests: the clients of the old leader's pull requests ask again. */
  private releaseRequestsOfPreviousLeader(): void {
    const stale = [...this.sm.requests];
    if (stale.length === 0) return;
    for (const reply of stale) this.publishStatus(reply, Status.leadershipChange());
    this.propose({ kind: EntryKind.Requests, added: [], removed: stale }, null);
  }

  /** Proposes the config the meta layer asked for, if the applied one differs. */
  private reconcileConfig(): void {
    const want = this.desiredCfg;
    if (want === null || !this.sm.started) return;
    if (configsEqual(want, this.sm.cfg)) {
      this.desiredCfg = null;
      return;
    }
    this.propose({ kind: EntryKind.Config, config: configToJson(want) }, null);
  }

  private requestChanged(reply: string, waiting: boolean): void {
    if (this.local) return;
    const first = this.requestChanges.size === 0;
    this.requestChanges.set(reply, waiting);
    if (first) queueMicrotask(() => this.flushRequestChanges());
  }

  private flushRequestChanges(): void {
    const changes = this.requestChanges;
    if (changes.size === 0) return;
    this.requestChanges = new Map();
    if (!this.leading || this.closed) return;
    const added: string[] = [];
    const removed: string[] = [];
    for (const [reply, waiting] of changes) (waiting ? added : removed).push(reply);
    this.propose({ kind: EntryKind.Requests, added, removed }, null);
  }

  // ---------------------------------------------------------------- num pending

  private recalcPending(): void {
    const store = this.stream.store;
    const from = this.leading ? this.cursor : this.sm.sseq;
    const sl = this.sm.skipList;
    const skipFrom = this.leading ? this.skipNext : (sl?.index ?? 0);
    let n = 0;
    if (sl !== null && skipFrom < sl.seqs.length) {
      n = sl.seqs.length - skipFrom;
      for (const f of this.filters) n += store.numPending(f, sl.resume + 1, false);
    } else if (this.filters.length === 0) n = store.numPending('', from, false);
    else for (const f of this.filters) n += store.numPending(f, from, false);
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
    const from = this.leading ? this.cursor : this.sm.sseq;
    switch (ev.kind) {
      case 'append':
        if (this.npcValid && ev.seq >= from && this.matchesFilter(ev.subject)) this.npc++;
        this.drive();
        break;
      case 'remove':
        // Only messages not yet reached count towards num_pending.
        if (ev.seq >= from || this.sm.skipList !== null) this.npcValid = false;
        if (this.leading && this.sm.pending.has(ev.seq) && !this.redelivering.has(ev.seq)) this.proposeGone(ev.seq);
        break;
      case 'purge':
        this.npcValid = false;
        if (this.leading) this.onPurge(ev.firstSeq);
        break;
      case 'delete':
        break;
    }
  }

  /** A pending message vanished from the stream: it can no longer be acked or redelivered. */
  private proposeGone(seq: number): void {
    this.removeFromRdq(seq);
    if (!this.local) this.redelivering.add(seq);
    this.propose({ kind: EntryKind.Gone, seqs: [seq] }, (current) => {
      if (!current) return;
      this.redelivering.delete(seq);
      this.drive();
    });
  }

  private onPurge(firstSeq: number): void {
    const sm = this.sm;
    let pendingBelow = false;
    for (const seq of sm.pending.keys()) {
      if (seq < firstSeq) {
        pendingBelow = true;
        break;
      }
    }
    for (const seq of [...this.rdq]) if (seq < firstSeq) this.removeFromRdq(seq);
    if (this.cursor < firstSeq) this.cursor = firstSeq;
    const stale = pendingBelow || sm.sseq < firstSeq || sm.ackFloorStream < firstSeq - 1 || sm.deliveredStream < firstSeq - 1;
    if (stale) this.propose({ kind: EntryKind.Purged, firstSeq }, null);
    this.drive();
  }

  // ---------------------------------------------------------------- delivery loop

  /** Delivers whatever can be delivered now. Safe to call from anywhere, including from inside a delivery. */
  drive(): void {
    if (this.closed || !this.leading || this.fenced || !this.sm.started) return;
    if (this.nakHold.count > 0 && this.nakHold.epoch === this.epoch) return;
    if (this.driving) {
      this.again = true;
      return;
    }
    this.driving = true;
    try {
      do {
        this.again = false;
        this.deliverAvailable();
      } while (this.again && !this.closed && this.leading);
    } finally {
      this.driving = false;
    }
    if (this.batch.length > 0) this.proposeBatch();
  }

  private deliverAvailable(): void {
    const pull = this.waiting !== null;
    let stalledOnAckPending = false;
    for (;;) {
      if (this.closed || !this.leading || this.fenced || this.resumeTimer !== null) return;
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
      const reply = ackReply(this.ackReplyPrefix, dc, msg.seq, this.nextDseq, msg.time, pendingAfter);
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
      this.deliver({ target, reply, msg, hdr, data, dc, size, request });
    }
    // The end of the stream finishes no-wait requests, but only once what they got was sent.
    if (pull) this.processWaiting(!stalledOnAckPending && this.batch.length === 0 && this.batchesInFlight === 0);
  }

  /** nats-server getNextMsg: redeliveries first, then the skip list, then the stream. */
  private takeNext(): Taken | 'max_ack_pending' | null {
    const store = this.stream.store;
    const sm = this.sm;
    while (this.rdq.length > 0) {
      const seq = this.rdq.shift()!;
      this.rdqSet.delete(seq);
      if (!sm.pending.has(seq) || this.redelivering.has(seq) || this.acking.has(seq)) continue;
      const dc = sm.deliveryCount(seq) + 1;
      if (this.cfg.maxDeliver > 0 && dc > this.cfg.maxDeliver) {
        this.proposeMaxDeliveries(seq, dc - 1, dc === this.cfg.maxDeliver + 1);
        continue;
      }
      const msg = store.load(seq);
      if (msg === null) {
        this.proposeGone(seq);
        continue;
      }
      return { msg, dc, from: 'redelivery' };
    }
    const maxAckPending = this.cfg.maxAckPending;
    if (this.cfg.ackPolicy !== 'none' && maxAckPending > 0 && sm.pending.size + this.inflightNew >= maxAckPending) {
      return 'max_ack_pending';
    }
    const sl = sm.skipList;
    if (sl !== null) {
      while (this.skipNext < sl.seqs.length) {
        const msg = store.load(sl.seqs[this.skipNext++]!);
        if (msg !== null) return { msg, dc: 1, from: 'skiplist' };
      }
    }
    const msg = this.loadNextFiltered(this.cursor);
    if (msg === null) return null;
    this.cursor = msg.seq + 1;
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
      this.rdq.unshift(t.msg.seq);
      this.rdqSet.add(t.msg.seq);
      return;
    }
    if (t.from === 'skiplist') {
      this.skipNext--;
      this.npc++;
      return;
    }
    this.cursor = t.msg.seq;
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

  /** Hands out one message: recorded by a DELIVERED entry, sent once that is applied. */
  private deliver(d: Delivery): void {
    const now = this.ctx.scheduler.now();
    const seq = d.msg.seq;
    const dseq = this.nextDseq++;
    if (this.replaying) {
      this.replayBase = { wallMs: now, tsNs: d.msg.time };
      if (this.loadNextFiltered(this.cursor) === null && this.rdq.length === 0) this.replaying = false;
    }
    if (this.cfg.rateLimitBps > 0) {
      const bytesPerMs = this.cfg.rateLimitBps / 8 / 1000;
      this.rateNextFreeMs = Math.max(now, this.rateNextFreeMs) + d.size / bytesPerMs;
    }
    if (this.maxpb > 0) this.pbytes += d.size;
    if (this.waiting) this.waiting.lastActivityMs = now;
    if (this.local) {
      const e = this.localDelivered;
      e.ts = now;
      e.items[0] = seq;
      e.items[1] = dseq;
      e.items[2] = d.dc;
      this.sm.apply(e);
      this.sendDelivery(d, now);
      return;
    }
    if (d.dc === 1) this.inflightNew++;
    else this.redelivering.add(seq);
    this.batch.push(d);
    this.batchItems.push(seq, dseq, d.dc);
  }

  /** Replicated: this pass's deliveries as one DELIVERED entry, sent once it is committed. */
  private proposeBatch(): void {
    const batch = this.batch;
    const items = this.batchItems;
    this.batch = [];
    this.batchItems = [];
    this.batchesInFlight++;
    this.propose({ kind: EntryKind.Delivered, ts: this.ctx.scheduler.now(), items }, (current) => {
      if (!current) return;
      this.batchesInFlight--;
      const now = this.ctx.scheduler.now();
      for (const d of batch) {
        if (d.dc === 1) this.inflightNew--;
        else this.redelivering.delete(d.msg.seq);
      }
      const sm = this.sm;
      for (const d of batch) {
        // A redelivery that met its ack in the log recorded nothing: nothing to send.
        if (d.dc > 1 && !(sm.pending.has(d.msg.seq) && sm.redelivered.get(d.msg.seq) === d.dc)) continue;
        this.sendDelivery(d, now);
      }
      this.sendStatusesAfterSent();
      if (this.batchesInFlight === 0 && this.waiting !== null) this.drive();
    });
  }

  private sendDelivery(d: Delivery, now: number): void {
    if (hasPublishAs(this.bus)) this.bus.publishAs(d.target, d.msg.subject, d.reply, d.hdr, d.data);
    else this.bus.publish(d.target, d.reply, d.hdr, d.data);
    if (this.cfg.ackPolicy !== 'none') this.armAckTimer(this.sm.ackWaitMs(d.dc));
    if (this.maxpb > 0 && this.needFlowControl(d.size)) this.sendFlowControl();
    if (this.waiting === null) this.armHeartbeat();
    const r = d.request;
    if (r) {
      if (r.n <= 0 && r.b > 0) this.publishStatus(r.reply, Status.batchCompleted(r.n, r.b));
      else if (r.n > 0 && r.hbMs > 0) r.hbAtMs = now + r.hbMs;
    }
  }

  // ---------------------------------------------------------------- redelivery

  private armAckTimer(delayMs: number): void {
    if (this.closed || !this.leading) return;
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
    if (this.closed || !this.leading) return;
    const sm = this.sm;
    const now = this.ctx.scheduler.now();
    const expired: number[] = [];
    const before = sm.pending.size;
    let next = Infinity;
    for (const [seq, p] of sm.pending) {
      if (this.redelivering.has(seq) || this.acking.has(seq)) continue;
      const deadline = sm.ackWaitMs(sm.deliveryCount(seq));
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
      }
      const soonest = sm.ackWaitMs(1);
      if (soonest < next) next = soonest;
    }
    if (sm.pending.size > 0) {
      if (next === Infinity) next = sm.ackWaitMs(1);
      this.armAckTimer(next);
    } else {
      this.rdq = [];
      this.rdqSet.clear();
      if (sm.ackFloorConsumer !== sm.dseq - 1 || sm.ackFloorStream < sm.sseq - 1) this.propose({ kind: EntryKind.Floor }, null);
    }
    // Redeliveries are due, or max deliveries freed slots under max_ack_pending.
    if (expired.length > 0 || sm.pending.size < before) this.drive();
  }

  /** nats-server hasMaxDeliveries: at the limit the message leaves pending (once, with an advisory). */
  private hitMaxDeliveries(seq: number): boolean {
    const max = this.cfg.maxDeliver;
    if (max <= 0) return false;
    const dc = this.sm.deliveryCount(seq);
    if (dc < max) return false;
    this.proposeMaxDeliveries(seq, dc, dc === max);
    return true;
  }

  private proposeMaxDeliveries(seq: number, deliveries: number, advise: boolean): void {
    if (!this.local) this.redelivering.add(seq);
    this.propose({ kind: EntryKind.MaxDeliveries, sseq: seq, deliveries }, (current) => {
      if (current) this.redelivering.delete(seq);
      if (advise) this.maxDeliveriesAdvisory(seq, deliveries);
      if (current) this.drive();
    });
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
    if (this.closed || !this.leading) return;
    const info = parseAckReply(subject);
    if (info === null) return;
    const { streamSeq: sseq, consumerSeq: dseq, deliveries: dc } = info;
    // Who asked for an answer (a double ack) gets one once the change is committed.
    const answerTo = reply !== null && sseq !== 0 ? reply : null;
    if (data.length === 0 || equals(data, ACK) || equals(data, OK)) {
      this.ackMsg(EntryKind.Ack, sseq, dseq, dc, answerTo, '');
    } else if (startsWith(data, NXT)) {
      this.ackMsg(EntryKind.Ack, sseq, dseq, dc, null, '');
      if (reply) this.processNextRequest(reply, data.subarray(NXT.length));
    } else if (startsWith(data, NAK)) {
      this.nakMsg(sseq, dseq, dc, data.subarray(NAK.length), answerTo);
    } else if (equals(data, WPI)) {
      this.progressMsg(sseq, answerTo);
    } else if (startsWith(data, TERM)) {
      const reason = Buffer.from(data.subarray(TERM.length)).toString('utf8').trim();
      const r = this.ackMsg(EntryKind.Term, sseq, dseq, dc, answerTo, reason);
      if (r !== 'proposed') this.termAdvisory(sseq, dseq, dc, reason);
    } else if (answerTo !== null) {
      this.answer(answerTo);
    }
  }

  /** The empty reply to a double ack: once committed, and for a durable single-node consumer once on disk. */
  private answer(reply: string): void {
    const send = () => {
      if (!this.closed) this.bus.publish(reply, null, null, EMPTY);
    };
    const p = this.deps.persister;
    if (this.local && p) p.afterDurable(send);
    else send();
  }

  /**
   * nats-server processAckMsg, the leader's half: checks the ack and proposes it.
   * 'rejected': out of range (no answer); 'noop': nothing to change (answered); 'proposed'.
   */
  private ackMsg(kind: AckKind, sseq: number, dseq: number, dc: number, answerTo: string | null, reason: string): 'rejected' | 'noop' | 'proposed' {
    const sm = this.sm;
    if (sseq >= sm.sseq) return 'rejected';
    const policy = this.cfg.ackPolicy;
    if (policy === 'none') return 'rejected';
    if (policy === 'all' && (dseq <= sm.ackFloorConsumer || sseq <= sm.ackFloorStream)) {
      if (answerTo !== null) this.answer(answerTo);
      return 'noop';
    }
    const maxAckPending = this.cfg.maxAckPending;
    const stalled = maxAckPending > 0 && sm.pending.size + this.inflightNew >= maxAckPending;
    let sample: { dseq: number; atMs: number } | null = null;
    if (policy === 'explicit') {
      const p = sm.pending.get(sseq);
      if (p !== undefined && this.sampleFreq > 0) sample = { dseq: p.dseq, atMs: p.atMs };
      this.removeFromRdq(sseq);
      if (!this.local) this.acking.add(sseq);
    } else {
      for (const seq of [...this.rdq]) if (seq <= sseq) this.removeFromRdq(seq);
    }
    if (!this.local && kind === EntryKind.Ack) {
      if (this.ackBatch.length === 0) queueMicrotask(() => this.proposeAcks());
      this.ackBatch.push({ sseq, dseq, dc, answerTo, sample, stalled });
      return 'proposed';
    }
    this.propose({ kind, ts: this.ctx.scheduler.now(), items: [sseq, dseq] }, (current) => {
      if (current) this.acking.delete(sseq);
      if (sample !== null) this.sampleAck(sseq, sample, dc);
      if (kind === EntryKind.Term) this.termAdvisory(sseq, dseq, dc, reason);
      if (answerTo !== null) this.answer(answerTo);
      if (current && stalled) this.drive();
    });
    return 'proposed';
  }

  /** Replicated: the acks of one turn (say, all those of one read from a client) as one entry. */
  private proposeAcks(): void {
    const acks = this.ackBatch;
    if (acks.length === 0) return;
    this.ackBatch = [];
    if (!this.leading || this.closed) return;
    const items: number[] = [];
    let stalled = false;
    for (const a of acks) {
      items.push(a.sseq, a.dseq);
      stalled ||= a.stalled;
    }
    this.propose({ kind: EntryKind.Ack, ts: this.ctx.scheduler.now(), items }, (current) => {
      for (const a of acks) {
        if (current) this.acking.delete(a.sseq);
        if (a.sample !== null) this.sampleAck(a.sseq, a.sample, a.dc);
        if (a.answerTo !== null) this.answer(a.answerTo);
      }
      if (current && stalled) this.drive();
    });
  }

  private nakMsg(sseq: number, dseq: number, dc: number, arg: Uint8Array, answerTo: string | null): void {
    const sm = this.sm;
    if (dseq <= sm.ackFloorConsumer || dseq > sm.dseq || !sm.pending.has(sseq)) {
      if (answerTo !== null) this.answer(answerTo);
      return;
    }
    const text = Buffer.from(arg).toString('utf8').trim();
    let delayNs: number | null = null;
    if (text.length > 0) {
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
      if (delayNs === null) this.ctx.logger.warn(`JetStream consumer '${this.streamName} > ${this.name}' bad NAK delay value: ${JSON.stringify(text)}`);
    }
    // Without a (valid) delay the message is due at once.
    const epoch = this.epoch;
    if (!this.local) this.nakHold = { epoch, count: this.nakHold.epoch === epoch ? this.nakHold.count + 1 : 1 };
    this.propose({ kind: EntryKind.Nak, ts: this.ctx.scheduler.now(), sseq, dseq, delayNs: delayNs ?? 0 }, (current) => {
      if (this.nakHold.epoch === epoch && this.nakHold.count > 0) this.nakHold.count--;
      this.advisory(`CONSUMER.MSG_NAKED.${this.streamName}.${this.name}`, 'io.nats.jetstream.advisory.v1.nak', {
        consumer_seq: dseq,
        stream_seq: sseq,
        deliveries: dc,
      });
      if (current) {
        if (delayNs !== null) {
          this.removeFromRdq(sseq);
          this.armAckTimer(Math.max(0, delayNs / NS_PER_MS));
        } else if (this.sm.pending.has(sseq)) {
          this.addToRdq(sseq);
        }
        this.drive();
      }
      if (answerTo !== null) this.answer(answerTo);
    });
  }

  private progressMsg(sseq: number, answerTo: string | null): void {
    if (!this.sm.pending.has(sseq)) {
      if (answerTo !== null) this.answer(answerTo);
      return;
    }
    this.propose({ kind: EntryKind.Progress, ts: this.ctx.scheduler.now(), sseq }, answerTo === null ? null : () => this.answer(answerTo));
  }

  private termAdvisory(sseq: number, dseq: number, dc: number, reason: string): void {
    const body: Record<string, unknown> = { consumer_seq: dseq, stream_seq: sseq, deliveries: dc };
    if (reason) body['reason'] = reason;
    this.advisory(`CONSUMER.MSG_TERMINATED.${this.streamName}.${this.name}`, 'io.nats.jetstream.advisory.v1.terminated', body);
  }

  // ---------------------------------------------------------------- pull requests

  /** A `CONSUMER.MSG.NEXT` request (or the tail of a `+NXT` ack). Only the leader serves them. */
  processNextRequest(reply: string, body: Uint8Array): void {
    if (this.closed || !this.leading) return;
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
    this.requestChanged(reply, true);
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
          // After the messages this request already got, as nats-server sends them.
          this.statusAfterDeliveries(r.reply, Status.messageSizeExceedsMaxBytes(r.n, r.b));
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
        if (this.closed || !this.leading) return;
        const was = this.active;
        if (this.checkPushActive() && !was) this.drive();
      });
    });
  }

  private armHeartbeat(): void {
    const hbMs = this.cfg.idleHeartbeatNs / NS_PER_MS;
    if (hbMs <= 0 || this.closed || !this.leading) return;
    if (this.heartbeatTimer !== null) this.ctx.scheduler.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = this.ctx.scheduler.setTimeout(() => {
      this.heartbeatTimer = null;
      if (this.closed) return;
      if (this.bus.hasInterest(this.cfg.deliverSubject)) this.sendHeartbeat(this.cfg.deliverSubject);
      this.armHeartbeat();
    }, hbMs);
  }

  private sendHeartbeat(subject: string): void {
    // What was sent so far: the applied state (a delivery is sent once applied).
    this.bus.publish(subject, null, Status.idleHeartbeat(this.sm.dseq - 1, this.sm.sseq - 1, this.fcId), EMPTY);
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
    if (this.closed || !this.leading || delayMs <= 0) return;
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
    if (this.closed || !this.leading) return;
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

  /**
   * Applies an allowed config change (checked by the caller). A local consumer applies it at
   * once; a replicated leader proposes it, and a follower keeps it for when it leads.
   */
  updateConfig(next: ConsumerConfig): void {
    if (this.closed) return;
    if (this.local) {
      this.propose({ kind: EntryKind.Config, config: configToJson(next) }, null);
      return;
    }
    this.desiredCfg = next;
    if (this.leading && !this.fenced) this.reconcileConfig();
  }

  /** Every replica, after a CONFIG entry: what follows from the config; the leader re-arms what it runs. */
  private configApplied(prev: ConsumerConfig): void {
    const next = this.sm.cfg;
    this.filters = filtersOf(next);
    this.npcValid = false;
    if (this.desiredCfg !== null && configsEqual(this.desiredCfg, next)) this.desiredCfg = null;
    if (this.configWaiters.length > 0) {
      const due = this.configWaiters.filter((w) => configsEqual(w.cfg, next));
      this.configWaiters = this.configWaiters.filter((w) => !due.includes(w));
      for (const w of due) w.resolve();
    }
    if (!this.leading) return;
    if (prev.inactiveThresholdNs !== next.inactiveThresholdNs) {
      this.clearInactive();
      const t = this.inactiveThresholdMs();
      if (t > 0 && (this.waiting !== null || !this.active)) this.armInactive(t);
    }
    if (prev.ackWaitNs !== next.ackWaitNs && this.sm.pending.size > 0) this.armAckTimer(0);
    if (prev.deliverSubject !== next.deliverSubject && !isPullMode(next)) {
      this.watchDeliverInterest();
      this.checkPushActive();
    }
    this.drive();
  }

  // ---------------------------------------------------------------- info

  info(): Record<string, unknown> {
    const sm = this.sm;
    const delivered: Record<string, unknown> = { consumer_seq: sm.dseq - 1, stream_seq: sm.deliveredStream };
    if (sm.lastDeliveredMs > 0) delivered['last_active'] = rfc3339FromMs(sm.lastDeliveredMs);
    const ackFloor: Record<string, unknown> = { consumer_seq: sm.ackFloorConsumer, stream_seq: sm.ackFloorStream };
    if (sm.lastAckMs > 0) ackFloor['last_active'] = rfc3339FromMs(sm.lastAckMs);
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
      num_ack_pending: sm.pending.size,
      num_redelivered: sm.redelivered.size,
      num_waiting: numWaiting,
      num_pending: this.numPending(),
    };
    const cluster = this.deps.clusterInfo?.();
    if (cluster !== undefined) info['cluster'] = cluster;
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

  /**
   * A status that ends a pull request goes after the deliveries handed out before it: at once
   * when nothing waits for its entry, else once the replicated deliveries in flight were sent.
   */
  private statusAfterDeliveries(reply: string, hdr: Uint8Array): void {
    if (this.local || (this.batch.length === 0 && this.batchesInFlight === 0)) {
      this.publishStatus(reply, hdr);
      return;
    }
    this.statusesAfterSent.push([reply, hdr]);
  }

  private sendStatusesAfterSent(): void {
    if (this.batch.length > 0 || this.batchesInFlight > 0 || this.statusesAfterSent.length === 0) return;
    const due = this.statusesAfterSent;
    this.statusesAfterSent = [];
    for (const [reply, hdr] of due) this.publishStatus(reply, hdr);
  }

  /** sample_freq as a percentage (nats-server accepts "30" and "30%"). */
  private get sampleFreq(): number {
    const t = this.cfg.sampleFreq;
    if (t === '') return 0;
    const n = Number.parseInt(t.endsWith('%') ? t.slice(0, -1) : t, 10);
    return Number.isFinite(n) ? n : 0;
  }

  /** nats-server sampleAck: an ack latency metric for a sample of acks. */
  private sampleAck(sseq: number, p: { dseq: number; atMs: number }, dc: number): void {
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

  /** Stops timers and subscriptions; a leader answers waiting pull requests with 409 Consumer Deleted when `deleted`. */
  stop(deleted: boolean): void {
    if (this.closed) return;
    if (deleted && this.waiting !== null) {
      for (const r of this.waiting.clear()) this.publishStatus(r.reply, Status.consumerDeleted());
    }
    this.closed = true;
    this.unwatchLeader?.();
    this.unwatchLeader = null;
    this.stopLeaderWork();
    this.leading = false;
    this.unsubscribeStream();
    if (this.stream.retention !== 'limits') this.stream.unregisterConsumer(this.name);
  }
}

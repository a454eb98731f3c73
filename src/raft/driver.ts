// The driver of one Raft group on one node, around the pure core (etcd's raftexample node loop
// is the model): it ticks the core on an injected scheduler, feeds it messages from the
// Transport, and runs each Ready through storage, state machine and transport:
//   ready() -> persist (asynchronous, group commit) -> restore snapshot, apply committed entries
//   in order -> send messages -> advance()
// While a Ready is being persisted the core takes no input, so inputs (messages, ticks,
// proposals, membership changes, transfers, reads) queue and reach the core together once
// it is done: everything that arrived during one fsync is made durable by the next one.
// A leader sends its appends and heartbeats before its own fsync (the leader's fsync then runs
// in parallel with the followers'); it counts its own log towards a quorum only after the
// fsync, and every other message waits for it, so a committed entry is always durable on a
// quorum. proposals resolve once their entry is committed and applied here.
// Nothing here reads a clock or opens a socket or file: the scheduler, transport and storage
// are injected, so tests and the simulator run it deterministically.

import { RaftError, RaftErrorCode, isRaftError } from './errors.ts';
import type { Random } from './prng.ts';
import { Raft, RAFT_DEFAULTS } from './raft.ts';
import type { RaftConfig, Ready } from './raft.ts';
import { bootstrapSnapshot } from './storage.ts';
import type { AsyncRaftStorage } from './storage.ts';
import type { Transport } from './transport.ts';
import { ConfChangeType, MessageType, NONE, StateType } from './types.ts';
import type { ConfChange, ConfState, Entry, Message, NodeId, Snapshot } from './types.ts';

/** The replicated application: JetStream streams, consumers and assignments implement it. */
export interface StateMachine {
  /**
   * Applies one committed entry. Synchronous and deterministic: the same entries in the same
   * order give the same state on every replica (time comes from the entry, never a clock).
   * Called for every index in order, empty and membership entries included.
   */
  apply(entry: Entry): void;
  /**
   * The state after the last applied entry, for a snapshot; null when it cannot be described
   * now (the driver asks again later).
   */
  snapshot(): Uint8Array | null;
  /** Replaces the whole state (a snapshot installed from the leader, or at start-up). */
  restore(snapshot: Snapshot): void;
  /**
   * For a state machine that keeps its own durable copy lazily (a stream store): resolves once
   * everything applied so far is on disk. The driver takes a snapshot's data when it decides to,
   * and records the snapshot and compacts the log only after this resolves, so the log never
   * loses an entry the state machine's disk does not hold yet.
   */
  flush?(): Promise<void>;
}

/** Time as the driver needs it; the JetStream engine's Scheduler fits. */
export interface DriverScheduler {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface SnapshotPolicy {
  /** snapshot after this many entries applied since the last one (0: not by count) */
  entries: number;
  /** or after this many bytes of entry data applied since the last one (0: not by size) */
  bytes: number;
  /** entries kept behind a snapshot, so a follower a little behind catches up from the log */
  keepEntries: number;
}

export const DRIVER_DEFAULTS = {
  /** one tick; elections after 10-20 ticks, heartbeats every tick */
  tickMs: 100,
  snapshot: { entries: 8192, bytes: 64 * 1024 * 1024, keepEntries: 1024 } satisfies SnapshotPolicy,
  /** a failed storage write is retried this often */
  storageRetryMs: 1000,
  /** inputs queued behind one fsync before messages are dropped and proposals refused */
  maxQueuedInputs: 65536,
} as const;

type CoreOptions = Omit<RaftConfig, 'id' | 'storage' | 'random' | 'applied' | 'repair' | 'forwardProposals' | 'canCampaign'>;

export interface DriverOptions {
  id: NodeId;
  /** the group's name, for errors and status */
  group: string;
  storage: AsyncRaftStorage;
  transport: Transport;
  scheduler: DriverScheduler;
  stateMachine: StateMachine;
  random: Random;
  tickMs?: number;
  raft?: CoreOptions;
  snapshot?: Partial<SnapshotPolicy>;
  /**
   * Index a durable state machine already reflects; entries up to it are not applied again.
   * Default: the state machine is restored from the storage's snapshot and replays the log.
   */
  applied?: number;
  storageRetryMs?: number;
  maxQueuedInputs?: number;
  /** storage failures and dropped inputs, for the log */
  onError?: (err: Error) => void;
  /** see RaftConfig.canCampaign */
  canCampaign?: () => boolean;
}

export interface LeaderChange {
  /** the leader this node knows of, NONE ('') when there is none */
  leader: NodeId;
  term: number;
}

export interface PeerStatus {
  id: NodeId;
  /** caught up with what this leader applied, and heard from recently */
  current: boolean;
  /** entries behind the commit index (leader's view; 0 on followers) */
  lag: number;
  /** highest index known to be on that peer (leader's view; 0 on followers) */
  match: number;
  /** ms since a message from it arrived, null if none has */
  lastActiveMs: number | null;
}

export interface DriverStatus {
  group: string;
  id: NodeId;
  state: StateType;
  /** the leader, once it has applied its term's first entry; NONE otherwise */
  leader: NodeId;
  term: number;
  commit: number;
  applied: number;
  firstIndex: number;
  lastIndex: number;
  snapshotIndex: number;
  voters: NodeId[];
  /** the other voters */
  peers: PeerStatus[];
  /** lost entries still being repaired from the leader up to here (0: none) */
  repairIndex: number;
  /** the storage write that failed and is being retried, or null */
  storageError: string | null;
}

type Done = (err: RaftError | null, index: number) => void;

type Input =
  | { kind: 'tick' }
  | { kind: 'step'; m: Message }
  | { kind: 'propose'; data: Uint8Array; done: Done }
  | { kind: 'conf'; cc: ConfChange; done: Done }
  | { kind: 'transfer'; to: NodeId }
  | { kind: 'read'; ctx: string }
  | { kind: 'campaign' };

interface Pending {
  term: number;
  done: Done;
}

interface ReadWaiter {
  /** the read index once known, -1 before */
  index: number;
  ticksLeft: number;
  done: Done;
}

interface Transfer {
  to: NodeId;
  ticksLeft: number;
  done: (err: RaftError | null, leader: NodeId) => void;
}

const TICK: Input = { kind: 'tick' };

/** Messages a leader may send before its own fsync: they only carry its log and term. */
function sendsBeforePersist(m: Message): boolean {
  return m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap;
}

/** Creates the founding members' starting point in empty storage (index 1: the voters). */
export function bootstrap(storage: AsyncRaftStorage, voters: NodeId[], data?: Uint8Array): Promise<void> {
  if (storage.snapshot().meta.index > 0 || storage.lastIndex() > 0) return Promise.resolve();
  return new Promise((resolve, reject) =>
    storage.persist({ hardState: null, entries: [], snapshot: bootstrapSnapshot(voters, data) }, (err) => (err ? reject(err) : resolve())),
  );
}

export class RaftDriver {
  readonly id: NodeId;
  readonly group: string;
  private readonly core: Raft;
  private readonly storage: AsyncRaftStorage;
  private readonly transport: Transport;
  private readonly scheduler: DriverScheduler;
  private readonly sm: StateMachine;
  private readonly tickMs: number;
  private readonly policy: SnapshotPolicy;
  private readonly electionTicks: number;
  private readonly retryMs: number;
  private readonly maxQueued: number;
  private readonly onError: (err: Error) => void;

  private inbox: Input[] = [];
  /** the Ready handed to storage and not yet advanced */
  private persisting: Ready | null = null;
  /** its appends and heartbeats went out before the fsync */
  private sentEarly = false;
  /** inside the loop: inputs queue instead of re-entering the core */
  private driving = false;
  private started = false;
  private closed = false;
  private failure: Error | null = null;
  private tickTimer: unknown = null;
  private retryTimer: unknown = null;

  private readonly pending = new Map<number, Pending>();
  private readonly reads = new Map<string, ReadWaiter>();
  private readSeq = 0;
  private transfer: Transfer | null = null;
  private readonly lastHeard = new Map<NodeId, number>();

  /** the state machine reflects entries up to here */
  private applied: number;
  /** term of the last applied entry: a leader is ready to serve once it applied one of its own term */
  private appliedTerm: number;
  private bytesSinceSnapshot = 0;
  /** a snapshot taken and waiting for the state machine's flush before it is recorded */
  private snapshotting = false;
  private wasLeader = false;
  private wasVoter: boolean;
  private announced: LeaderChange = { leader: NONE, term: 0 };
  private events: (() => void)[] = [];
  private readonly leaderListeners = new Set<(ev: LeaderChange) => void>();
  private readonly removedListeners = new Set<() => void>();

  constructor(opts: DriverOptions) {
    this.id = opts.id;
    this.group = opts.group;
    this.storage = opts.storage;
    this.transport = opts.transport;
    this.scheduler = opts.scheduler;
    this.sm = opts.stateMachine;
    this.tickMs = opts.tickMs ?? DRIVER_DEFAULTS.tickMs;
    this.policy = { ...DRIVER_DEFAULTS.snapshot, ...opts.snapshot };
    this.retryMs = opts.storageRetryMs ?? DRIVER_DEFAULTS.storageRetryMs;
    this.maxQueued = opts.maxQueuedInputs ?? DRIVER_DEFAULTS.maxQueuedInputs;
    this.onError = opts.onError ?? (() => {});
    this.electionTicks = opts.raft?.electionTicks ?? RAFT_DEFAULTS.electionTicks;

    const snap = this.storage.snapshot();
    let applied = opts.applied ?? -1;
    if (applied < snap.meta.index) {
      if (snap.meta.index > 0) this.sm.restore(snap);
      applied = snap.meta.index;
    }
    this.applied = applied;
    this.appliedTerm = applied === snap.meta.index ? snap.meta.term : 0;
    const damage = this.storage.damage();
    this.core = new Raft({
      ...opts.raft,
      id: this.id,
      storage: this.storage,
      random: opts.random,
      // proposals go to the leader by the layer above (it knows where to send a client)
      forwardProposals: false,
      // a state machine ahead of a damaged log applies nothing twice: it skips what it has
      applied: Math.min(applied, this.storage.lastIndex()),
      repair: damage ? { index: damage.index, term: damage.term } : null,
      ...(opts.canCampaign ? { canCampaign: opts.canCampaign } : {}),
    });
    this.wasVoter = this.core.isVoter(this.id);
  }

  /** Starts listening and ticking. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.transport.listen(this.id, (m) => this.receive(m));
    this.scheduleTick();
    // committed entries beyond what the state machine reflects are applied at once
    this.driving = true;
    try {
      this.loop();
    } finally {
      this.driving = false;
    }
    this.emitEvents();
  }

  // ---------------------------------------------------------------- public API

  /** The core, for monitoring and tests; never step or tick it directly. */
  get raft(): Raft {
    return this.core;
  }

  get isLeader(): boolean {
    return this.core.isLeader;
  }

  /** A Ready is waiting for storage to answer (tests wait for quiet with it). */
  get busy(): boolean {
    return this.persisting !== null && this.failure === null && !this.closed;
  }

  /**
   * Proposes `data`. Resolves with its index once it is committed (durable on a quorum) and
   * applied here. Rejects with a RaftError: NotLeader (with the leader) or NoLeader at once,
   * LeadershipLost if this node stops leading first (the entry may still commit), Removed,
   * StorageFailed, UncommittedLimit, TransferInProgress, Closed.
   */
  propose(data: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => this.proposeWith(data, (err, index) => (err ? reject(err) : resolve(index))));
  }

  /** propose() with a callback (the simulator runs without a microtask queue). */
  proposeWith(data: Uint8Array, done: Done): void {
    this.submit({ kind: 'propose', data, done }, true);
  }

  /** Adds a voter; resolves with the change's index once it is applied here. */
  addPeer(id: NodeId): Promise<number> {
    return this.confChange({ type: ConfChangeType.AddNode, nodeId: id });
  }

  /** Removes a voter (for good: its id is never accepted again). */
  removePeer(id: NodeId): Promise<number> {
    return this.confChange({ type: ConfChangeType.RemoveNode, nodeId: id });
  }

  confChangeWith(cc: ConfChange, done: Done): void {
    this.submit({ kind: 'conf', cc, done }, true);
  }

  private confChange(cc: ConfChange): Promise<number> {
    return new Promise((resolve, reject) => this.confChangeWith(cc, (err, index) => (err ? reject(err) : resolve(index))));
  }

  /**
   * Hands leadership to `to`, or to the most caught-up voter. Resolves with the new leader;
   * rejects if this node does not lead or the transfer does not finish within two election
   * timeouts.
   */
  stepDown(to?: NodeId): Promise<NodeId> {
    return new Promise((resolve, reject) => this.stepDownWith(to, (err, leader) => (err ? reject(err) : resolve(leader))));
  }

  stepDownWith(to: NodeId | undefined, done: (err: RaftError | null, leader: NodeId) => void): void {
    if (this.closed) return done(this.closedError(), NONE);
    if (!this.core.isLeader) return done(new RaftError(RaftErrorCode.NotLeader, 'step down: not the leader', this.core.lead), NONE);
    const target = to ?? this.bestTransferee();
    if (target === NONE) return done(new RaftError(RaftErrorCode.InvalidConfChange, 'step down: no other voter to hand leadership to'), NONE);
    this.transfer?.done(new RaftError(RaftErrorCode.Timeout, `leadership transfer superseded by one to ${target}`), NONE);
    this.transfer = { to: target, ticksLeft: 2 * this.electionTicks, done };
    this.submit({ kind: 'transfer', to: target }, false);
  }

  /**
   * A linearizable read barrier: resolves with an index once this node's state machine has
   * applied it and it is at least the commit index at the time of the call, confirmed by a
   * quorum; reads of the state machine after that see every write acknowledged before.
   */
  read(): Promise<number> {
    return new Promise((resolve, reject) => this.readWith((err, index) => (err ? reject(err) : resolve(index))));
  }

  readWith(done: Done): void {
    if (this.closed) return done(this.closedError(), 0);
    if (this.failure) return done(this.storageError(), 0);
    const ctx = `${this.id}/${++this.readSeq}`;
    this.reads.set(ctx, { index: -1, ticksLeft: 2 * this.electionTicks, done });
    this.submit({ kind: 'read', ctx }, false);
  }

  /** Starts an election now (instead of waiting for the election timeout). */
  campaign(): void {
    this.submit({ kind: 'campaign' }, false);
  }

  /** Leader changes as this node learns them; returns the unsubscribe function. */
  onLeaderChange(fn: (ev: LeaderChange) => void): () => void {
    this.leaderListeners.add(fn);
    return () => this.leaderListeners.delete(fn);
  }

  /** Called once when a committed membership change removes this node. */
  onRemoved(fn: () => void): () => void {
    this.removedListeners.add(fn);
    return () => this.removedListeners.delete(fn);
  }

  status(): DriverStatus {
    const st = this.core.status();
    const now = this.scheduler.now();
    const activeWindowMs = 2 * this.electionTicks * this.tickMs;
    const peers: PeerStatus[] = [];
    for (const id of st.voters) {
      if (id === this.id) continue;
      const heard = this.lastHeard.get(id);
      const lastActiveMs = heard === undefined ? null : now - heard;
      const pr = st.progress[id];
      const match = pr?.match ?? 0;
      const recent = lastActiveMs !== null && lastActiveMs <= activeWindowMs;
      const current = id === st.lead || (pr !== undefined && match >= this.applied && recent);
      peers.push({ id, current, lag: pr ? Math.max(0, st.commit - match) : 0, match, lastActiveMs });
    }
    return {
      group: this.group,
      id: this.id,
      state: st.state,
      leader: this.effectiveLeader(),
      term: st.term,
      commit: st.commit,
      applied: this.applied,
      firstIndex: st.firstIndex,
      lastIndex: st.lastIndex,
      snapshotIndex: this.storage.snapshot().meta.index,
      voters: st.voters,
      peers,
      repairIndex: st.repairIndex,
      storageError: this.failure ? this.failure.message : null,
    };
  }

  /** Stops ticking and listening, fails what waits, and waits for the storage to settle. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.halt();
    await this.storage.close();
  }

  /** Stops at once, as a killed process would: nothing more is sent, applied or answered. */
  halt(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.tickTimer !== null) this.scheduler.clearTimeout(this.tickTimer);
    if (this.retryTimer !== null) this.scheduler.clearTimeout(this.retryTimer);
    this.tickTimer = null;
    this.retryTimer = null;
    if (this.started) this.transport.close(this.id);
    this.failAll(this.closedError());
    for (const input of this.inbox) this.refuse(input, this.closedError());
    this.inbox = [];
  }

  // ---------------------------------------------------------------- the loop

  private receive(m: Message): void {
    if (m.from !== NONE) this.lastHeard.set(m.from, this.scheduler.now());
    this.submit({ kind: 'step', m }, false);
  }

  private scheduleTick(): void {
    this.tickTimer = this.scheduler.setTimeout(this.onTickTimer, this.tickMs);
  }

  private readonly onTickTimer = (): void => {
    this.tickTimer = null;
    if (this.closed) return;
    this.scheduleTick();
    this.submit(TICK, false);
  };

  /** Runs `input` now, or queues it while the core waits for storage. */
  private submit(input: Input, isProposal: boolean): void {
    if (this.closed) return this.refuse(input, this.closedError());
    if (this.failure) return this.refuse(input, this.storageError());
    if (this.persisting !== null || this.driving) {
      if (this.inbox.length >= this.maxQueued && (isProposal || input.kind === 'step')) {
        return this.refuse(input, new RaftError(RaftErrorCode.UncommittedLimit, `${this.group}: too many inputs waiting for the disk`, this.id));
      }
      this.inbox.push(input);
      return;
    }
    this.driving = true;
    try {
      this.run(input);
      this.loop();
    } finally {
      this.driving = false;
    }
    this.emitEvents();
  }

  /** Answers an input that will never reach the core. Messages and ticks are simply lost. */
  private refuse(input: Input, err: RaftError): void {
    switch (input.kind) {
      case 'propose':
      case 'conf':
        input.done(err, 0);
        return;
      case 'read':
        this.finishRead(input.ctx, err, 0);
        return;
      case 'transfer':
        this.finishTransfer(err, NONE);
        return;
    }
  }

  private run(input: Input): void {
    const core = this.core;
    switch (input.kind) {
      case 'tick':
        core.tick();
        this.onTick();
        return;
      case 'step':
        try {
          core.step(input.m);
        } catch (e) {
          if (!isRaftError(e)) throw e;
          this.onError(new RaftError(e.code, `${this.group}: message from ${input.m.from} dropped: ${e.message}`));
        }
        return;
      case 'propose':
      case 'conf':
        try {
          if (input.kind === 'propose') core.propose(input.data);
          else core.proposeConfChange(input.cc);
        } catch (e) {
          if (!isRaftError(e)) throw e;
          input.done(e, 0);
          return;
        }
        this.pending.set(core.raftLog.lastIndex(), { term: core.term, done: input.done });
        return;
      case 'transfer':
        core.transferLeader(input.to);
        return;
      case 'read':
        try {
          core.readIndex(input.ctx);
        } catch (e) {
          if (!isRaftError(e)) throw e;
          this.finishRead(input.ctx, e, 0);
        }
        return;
      case 'campaign':
        core.campaign();
        return;
    }
  }

  /** Takes Readies until one must wait for storage or there are none. Runs with `driving` set. */
  private loop(): void {
    for (;;) {
      if (this.closed || this.persisting !== null || this.failure) return;
      if (this.inbox.length > 0) {
        const queued = this.inbox;
        this.inbox = [];
        for (const input of queued) this.run(input);
      }
      if (!this.core.hasReady()) return;
      const rd = this.core.ready();
      this.persisting = rd;
      this.sentEarly = this.core.isLeader;
      if (this.sentEarly) for (const m of rd.messages) if (sendsBeforePersist(m)) this.transport.send(m);
      this.applyEarly(rd);
      if (!this.write(rd)) return;
    }
  }

  /**
   * Committed entries this node already holds on disk need not wait for the Ready's own writes
   * (new entries, a commit index): they are durable on a quorum and here, so they are applied
   * and their proposals answered now, not one fsync later. Entries that arrived in this Ready
   * are applied once it is persisted (complete() skips what was applied here).
   */
  private applyEarly(rd: Ready): void {
    if (rd.snapshot !== null || rd.committedEntries.length === 0) return;
    const stable = this.core.raftLog.persistedLastIndex();
    for (const e of rd.committedEntries) {
      if (e.index > stable) return;
      this.applyEntry(e);
    }
  }

  /** Hands `rd` to storage; true when it completed at once (then it is already processed). */
  private write(rd: Ready): boolean {
    let sync = true;
    let result: Error | null | undefined;
    this.storage.persist(rd, (err) => {
      if (sync) result = err;
      else this.persisted(rd, err);
    });
    sync = false;
    if (result === undefined) return false;
    this.complete(rd, result);
    return this.persisting === null;
  }

  private persisted(rd: Ready, err: Error | null): void {
    if (this.closed || rd !== this.persisting) return;
    this.driving = true;
    try {
      this.complete(rd, err);
      this.loop();
    } finally {
      this.driving = false;
    }
    this.emitEvents();
  }

  /** `rd` is durable (or failed): install, apply, send, advance. */
  private complete(rd: Ready, err: Error | null): void {
    if (err) {
      this.storageFailed(rd, err);
      return;
    }
    this.persisting = null;
    if (rd.snapshot) {
      const s = rd.snapshot;
      this.sm.restore(s);
      this.applied = s.meta.index;
      this.appliedTerm = s.meta.term;
      this.bytesSinceSnapshot = 0;
      // whatever waited at or below it is settled by someone else's entries
      for (const [index, p] of this.pending) {
        if (index <= s.meta.index) {
          this.pending.delete(index);
          p.done(new RaftError(RaftErrorCode.LeadershipLost, `${this.group}: replaced by a snapshot from the leader`, this.core.lead), 0);
        }
      }
    }
    for (const e of rd.committedEntries) this.applyEntry(e);
    for (const m of rd.messages) if (!(this.sentEarly && sendsBeforePersist(m))) this.transport.send(m);
    for (const rs of rd.readStates) {
      const w = this.reads.get(rs.context);
      if (w) w.index = rs.index;
    }
    this.core.advance(rd);
    this.afterAdvance();
  }

  private applyEntry(e: Entry): void {
    if (e.index > this.applied) {
      this.sm.apply(e);
      this.applied = e.index;
      this.bytesSinceSnapshot += e.data.length;
    }
    this.appliedTerm = e.term;
    const p = this.pending.get(e.index);
    if (p === undefined) return;
    this.pending.delete(e.index);
    if (p.term === e.term) p.done(null, e.index);
    else p.done(new RaftError(RaftErrorCode.LeadershipLost, `${this.group}: entry ${e.index} was replaced by another leader's`, this.core.lead), 0);
  }

  private afterAdvance(): void {
    const core = this.core;
    if (this.wasLeader && !core.isLeader) {
      const err = new RaftError(RaftErrorCode.LeadershipLost, `${this.group}: leadership lost before the entry committed; it may still commit`, core.lead);
      this.failPending(err);
    }
    this.wasLeader = core.isLeader;
    if (this.wasVoter && !core.isVoter(this.id)) {
      this.wasVoter = false;
      this.failPending(new RaftError(RaftErrorCode.Removed, `${this.group}: this node was removed from the group`));
      for (const fn of this.removedListeners) this.events.push(fn);
    }
    for (const [ctx, w] of this.reads) if (w.index >= 0 && w.index <= this.applied) this.finishRead(ctx, null, w.index);
    if (this.transfer && core.lead !== NONE && core.lead !== this.id) this.finishTransfer(null, core.lead);
    const leader = this.effectiveLeader();
    if (leader !== this.announced.leader || core.term !== this.announced.term) {
      const ev: LeaderChange = { leader, term: core.term };
      if (leader !== this.announced.leader) {
        for (const fn of this.leaderListeners) this.events.push(() => fn(ev));
      }
      this.announced = ev;
    }
    this.maybeSnapshot();
  }

  /** The leader as the layer above may use it: this node only once it applied its term's first entry. */
  private effectiveLeader(): NodeId {
    const core = this.core;
    if (core.lead === this.id) return core.isLeader && this.appliedTerm === core.term ? this.id : NONE;
    return core.lead;
  }

  private maybeSnapshot(): void {
    if (this.snapshotting) return;
    const { entries, bytes } = this.policy;
    const snapIndex = this.storage.snapshot().meta.index;
    const count = this.applied - snapIndex;
    if (count <= 0) return;
    if (!((entries > 0 && count >= entries) || (bytes > 0 && this.bytesSinceSnapshot >= bytes))) return;
    // a durable state machine may be ahead of a damaged log: snapshot only what the log holds
    if (this.applied > this.storage.lastIndex()) return;
    const data = this.sm.snapshot();
    if (data === null) return;
    const index = this.applied;
    const conf = this.core.confState();
    this.bytesSinceSnapshot = 0;
    if (!this.sm.flush) {
      this.recordSnapshot(index, conf, data);
      return;
    }
    this.snapshotting = true;
    this.sm.flush().then(
      () => {
        this.snapshotting = false;
        if (!this.closed && index > this.storage.snapshot().meta.index && index <= this.storage.lastIndex()) this.recordSnapshot(index, conf, data);
      },
      (err: unknown) => {
        this.snapshotting = false;
        this.onError(new Error(`${this.group}: snapshot skipped, the state machine could not flush: ${String(err)}`));
      },
    );
  }

  private recordSnapshot(index: number, conf: ConfState, data: Uint8Array): void {
    this.storage.createSnapshot(index, conf, data);
    const compactTo = index - this.policy.keepEntries;
    if (compactTo > this.storage.firstIndex() - 1) this.storage.compact(compactTo);
  }

  private onTick(): void {
    if (this.transfer && --this.transfer.ticksLeft <= 0) {
      this.finishTransfer(new RaftError(RaftErrorCode.Timeout, `${this.group}: leadership transfer to ${this.transfer.to} did not complete`, this.core.lead), NONE);
    }
    for (const [ctx, w] of this.reads) {
      if (--w.ticksLeft <= 0) this.finishRead(ctx, new RaftError(RaftErrorCode.Timeout, `${this.group}: read not confirmed by a quorum in time`, this.core.lead), 0);
    }
  }

  private bestTransferee(): NodeId {
    const st = this.core.status();
    let best = NONE;
    let bestMatch = -1;
    for (const id of st.voters) {
      const pr = st.progress[id];
      if (id === this.id || !pr || pr.match <= bestMatch) continue;
      best = id;
      bestMatch = pr.match;
    }
    return best;
  }

  // ---------------------------------------------------------------- failures

  private storageFailed(rd: Ready, err: Error): void {
    this.failure = err;
    this.onError(new Error(`${this.group}: storage write failed, retrying every ${this.retryMs} ms: ${err.message}`));
    this.failAll(this.storageError());
    const queued = this.inbox;
    this.inbox = [];
    for (const input of queued) this.refuse(input, this.storageError());
    this.retryTimer = this.scheduler.setTimeout(() => this.retry(rd), this.retryMs);
  }

  private retry(rd: Ready): void {
    this.retryTimer = null;
    if (this.closed || rd !== this.persisting) return;
    this.failure = null;
    this.driving = true;
    try {
      if (this.write(rd)) this.loop();
    } finally {
      this.driving = false;
    }
    this.emitEvents();
  }

  private storageError(): RaftError {
    const why = this.failure ? this.failure.message : 'unknown';
    return new RaftError(RaftErrorCode.StorageFailed, `${this.group}: storage failed (${why}); not known to be committed`, this.core.lead);
  }

  private closedError(): RaftError {
    return new RaftError(RaftErrorCode.Closed, `${this.group}: closed`);
  }

  private failPending(err: RaftError): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.done(err, 0);
  }

  private failAll(err: RaftError): void {
    this.failPending(err);
    for (const ctx of [...this.reads.keys()]) this.finishRead(ctx, err, 0);
    this.finishTransfer(err, NONE);
  }

  private finishRead(ctx: string, err: RaftError | null, index: number): void {
    const w = this.reads.get(ctx);
    if (!w) return;
    this.reads.delete(ctx);
    w.done(err, index);
  }

  private finishTransfer(err: RaftError | null, leader: NodeId): void {
    const t = this.transfer;
    if (!t) return;
    this.transfer = null;
    t.done(err, leader);
  }

  private emitEvents(): void {
    while (this.events.length > 0) this.events.shift()!();
  }
}

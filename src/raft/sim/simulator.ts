// Deterministic simulation of one Raft group in one process: every source of
// randomness derives from the seed, time is simulated, and the checker runs after
// every event. A run is fully determined by (seed, options, fault schedule).
// Each node runs the real RaftDriver over a simulated scheduler, network and disk: a
// Ready's persistence completes later than ready() (a simulated fsync; inputs queue
// meanwhile and go to disk together), the state machine takes snapshots by the driver's
// policy, and a disk may lose its newest entries and report it on restart.

import { decodeMessage, encodeMessage } from '../codec.ts';
import { RaftDriver } from '../driver.ts';
import type { DriverScheduler, StateMachine } from '../driver.ts';
import { RaftErrorCode, isRaftError } from '../errors.ts';
import type { RaftError } from '../errors.ts';
import { KvStateMachine, encodeKvCommand } from '../kv.ts';
import { deriveSeed, seededRandom } from '../prng.ts';
import type { Random } from '../prng.ts';
import { MemoryBackedStorage, MemoryStorage } from '../storage.ts';
import type { AsyncRaftStorage, InitialState, LogDamage, PersistBatch } from '../storage.ts';
import type { Transport } from '../transport.ts';
import { ConfChangeType, NONE } from '../types.ts';
import type { ConfState, Entry, Message, NodeId, Snapshot } from '../types.ts';
import { Checker, SimViolation } from './checker.ts';
import { EventHeap } from './heap.ts';
import { SimNetwork } from './network.ts';
import type { LinkConditions } from './network.ts';
import { FaultKind, describeFault, generateSchedule } from './schedule.ts';
import type { Fault } from './schedule.ts';

export interface SimOptions {
  seed: number;
  nodes: 3 | 5;
  /** length of the fault phase in ms of simulated time (one tick is about 10 ms) */
  faultPhaseMs?: number;
  /** after healing, a leader must be elected and a proposal applied everywhere within this */
  livenessBoundMs?: number;
  maxFaults?: number;
  membership?: boolean;
  /** pass every message through the msgpackr codec (slower, closer to production) */
  wireCodec?: boolean;
  /** replay this schedule instead of generating one from the seed */
  schedule?: Fault[];
}

export interface SimStats {
  events: number;
  messages: number;
  elections: number;
  committed: number;
  proposals: number;
  /** proposals acknowledged to the client (each checked durable on a quorum) */
  acks: number;
  snapshotsInstalled: number;
  reads: number;
  crashes: number;
  /** restarts with a damaged disk */
  damaged: number;
  livenessMs: number;
}

export interface SimResult {
  seed: number;
  nodes: number;
  ok: boolean;
  violation: string | null;
  schedule: Fault[];
  stats: SimStats;
}

/** Nominal tick; each node's real period is skewed around it. */
const TICK_MS = 10;
const ELECTION_TICKS = 10;
const HEARTBEAT_TICKS = 2;
const CLIENT_INTERVAL_MAX_MS = 25;
const PROBE_INTERVAL_MS = 40;
/** small windows so pipelining, flow control and batching limits are exercised */
const SIM_MAX_INFLIGHT = 4;
const SIM_MAX_MSG_BYTES = 512;
const SIM_MAX_UNCOMMITTED_BYTES = 8 * 1024;
/** a paused node's disk answers once it runs again: look again this much later */
const PAUSED_RETRY_MS = 5;

const EventKind = {
  Deliver: 0,
  Timer: 1,
  FaultStart: 2,
  FaultEnd: 3,
  Client: 4,
  Heal: 5,
  Probe: 6,
  SyncDone: 7,
} as const;
type EventKind = (typeof EventKind)[keyof typeof EventKind];

interface SimEvent {
  time: number;
  seq: number;
  kind: EventKind;
  node?: SimNode;
  msg?: Message;
  wire?: Uint8Array;
  fault?: ActiveFault;
  /** Timer and SyncDone: what to run, if the node's incarnation is still the one that asked */
  run?: () => void;
  incarnation?: number;
  timer?: number;
}

interface ActiveFault {
  fault: Fault;
  /** what the start actually did, so the end undoes exactly that */
  links: [NodeId, NodeId][];
  node: SimNode | null;
  conditions: LinkConditions | null;
}

interface SimNode {
  id: NodeId;
  ordinal: number;
  /** the disk: what survives a crash */
  storage: MemoryStorage;
  /** the commit index of the last batch that was fsynced (a commit alone is written, not synced) */
  syncedCommit: number;
  driver: RaftDriver | null;
  kv: KvStateMachine;
  paused: boolean;
  /** messages that arrived while paused */
  inbox: Message[];
  /** timers that came due while paused: they fire on resume */
  heldTimers: (() => void)[];
  receiver: ((m: Message) => void) | null;
  tickMs: number;
  incarnation: number;
  compactEvery: number;
  keepEntries: number;
  /** damage the next start reports (a crash-damage fault) */
  damage: LogDamage | null;
  /** index -> term of every entry this disk ever made durable (a later disk fault does not undo an ack) */
  durable: Map<number, number>;
  /** highest snapshot index this disk ever made durable */
  durableSnapshot: number;
}

interface PendingRead {
  committedWhenIssued: number;
}

export class Simulation {
  private readonly opts: Required<Omit<SimOptions, 'schedule'>>;
  readonly schedule: Fault[];
  private readonly checker = new Checker();
  private readonly net: SimNetwork;
  private readonly netRandom: Random;
  private readonly clientRandom: Random;
  private readonly paramRandom: Random;
  private readonly diskRandom: Random;
  private readonly heap = new EventHeap<SimEvent>();
  private readonly nodes: SimNode[] = [];
  private readonly byId = new Map<NodeId, SimNode>();
  private readonly cancelled = new Set<number>();
  private readonly transport: Transport;
  private seq = 0;
  private timerSeq = 0;
  private now = 0;
  private nextNodeOrdinal = 0;
  private healed = false;
  private healAt = 0;
  private probeIds = new Set<string>();
  /** index of the first post-heal probe that committed */
  private probeIndex = 0;
  private livenessMet = -1;
  private clientSeq = 0;
  private readonly stats: SimStats = {
    events: 0,
    messages: 0,
    elections: 0,
    committed: 0,
    proposals: 0,
    acks: 0,
    snapshotsInstalled: 0,
    reads: 0,
    crashes: 0,
    damaged: 0,
    livenessMs: -1,
  };

  constructor(options: SimOptions) {
    this.opts = {
      seed: options.seed,
      nodes: options.nodes,
      faultPhaseMs: options.faultPhaseMs ?? 2500,
      livenessBoundMs: options.livenessBoundMs ?? 3000,
      maxFaults: options.maxFaults ?? 12,
      membership: options.membership ?? true,
      wireCodec: options.wireCodec ?? false,
    };
    const seed = this.opts.seed;
    this.netRandom = seededRandom(deriveSeed(seed, 2));
    this.clientRandom = seededRandom(deriveSeed(seed, 3));
    this.paramRandom = seededRandom(deriveSeed(seed, 4));
    this.diskRandom = seededRandom(deriveSeed(seed, 5));
    this.net = new SimNetwork(this.netRandom);
    this.transport = this.makeTransport();
    this.schedule =
      options.schedule ??
      generateSchedule(seed, {
        nodes: this.opts.nodes,
        faultPhaseMs: this.opts.faultPhaseMs,
        maxFaults: this.opts.maxFaults,
        membership: this.opts.membership,
      });
  }

  run(): SimResult {
    let violation: string | null = null;
    try {
      this.setup();
      this.loop();
      if (this.livenessMet < 0) {
        throw new SimViolation('liveness', `no leader committed a proposal on every voter within ${this.opts.livenessBoundMs}ms of healing`);
      }
    } catch (e) {
      if (e instanceof SimViolation) violation = e.message;
      else violation = `exception: ${(e as Error).stack ?? String(e)}`;
    }
    this.stats.elections = this.checker.elections;
    this.stats.committed = this.checker.maxCommitted;
    this.stats.reads = this.checker.readsChecked;
    this.stats.livenessMs = this.livenessMet < 0 ? -1 : this.livenessMet - this.healAt;
    return { seed: this.opts.seed, nodes: this.opts.nodes, ok: violation === null, violation, schedule: this.schedule, stats: this.stats };
  }

  // ---------------------------------------------------------------- setup & loop

  private setup(): void {
    const ids: NodeId[] = [];
    for (let i = 0; i < this.opts.nodes; i++) ids.push(`n${i + 1}`);
    this.nextNodeOrdinal = this.opts.nodes;
    const kv = new KvStateMachine();
    for (const id of ids) this.addNode(id, MemoryStorage.bootstrap(ids, kv.snapshot()));
    for (const f of this.schedule) {
      this.push({ time: f.at, kind: EventKind.FaultStart, fault: { fault: f, links: [], node: null, conditions: null } });
    }
    this.healAt = this.opts.faultPhaseMs;
    this.push({ time: this.healAt, kind: EventKind.Heal });
    this.push({ time: 1 + this.clientRandom.int(CLIENT_INTERVAL_MAX_MS), kind: EventKind.Client });
  }

  private addNode(id: NodeId, storage: MemoryStorage): SimNode {
    const node: SimNode = {
      id,
      ordinal: this.nodes.length,
      storage,
      syncedCommit: storage.getHardState().commit,
      driver: null,
      kv: new KvStateMachine(),
      paused: false,
      inbox: [],
      heldTimers: [],
      receiver: null,
      // clock skew: each node's tick period differs by up to 20%
      tickMs: TICK_MS - 2 + this.paramRandom.int(5),
      incarnation: 0,
      compactEvery: 5 + this.paramRandom.int(40),
      keepEntries: this.paramRandom.int(8),
      damage: null,
      durable: new Map(),
      durableSnapshot: storage.snapshot().meta.index,
    };
    this.nodes.push(node);
    this.byId.set(id, node);
    this.start(node);
    return node;
  }

  private start(node: SimNode): void {
    node.incarnation++;
    node.paused = false;
    node.inbox = [];
    node.heldTimers = [];
    node.kv = new KvStateMachine();
    const storage = new SimDisk(this, node, node.incarnation, node.damage);
    if (node.damage) this.stats.damaged++;
    node.damage = null;
    let started = false;
    const kv = node.kv;
    const sm: StateMachine = {
      apply: (e: Entry) => {
        const cmd = kv.apply(e);
        this.checker.onApply(node.id, e, kv.digest);
        if (cmd && this.probeIndex === 0 && this.probeIds.has(cmd.id)) this.probeIndex = e.index;
      },
      snapshot: () => kv.snapshot(),
      restore: (snap: Snapshot) => {
        kv.restore(snap);
        if (started) this.stats.snapshotsInstalled++;
        this.checker.onSnapshotRestored(node.id, snap, kv.digest);
      },
    };
    node.driver = new RaftDriver({
      id: node.id,
      group: 'sim',
      storage,
      transport: this.transport,
      scheduler: this.schedulerFor(node, node.incarnation),
      stateMachine: sm,
      random: seededRandom(deriveSeed(this.opts.seed, 100 + node.ordinal * 1000 + node.incarnation)),
      tickMs: node.tickMs,
      raft: {
        electionTicks: ELECTION_TICKS,
        heartbeatTicks: HEARTBEAT_TICKS,
        maxInflightMsgs: SIM_MAX_INFLIGHT,
        maxSizePerMsgBytes: SIM_MAX_MSG_BYTES,
        maxUncommittedBytes: SIM_MAX_UNCOMMITTED_BYTES,
      },
      snapshot: { entries: node.compactEvery, bytes: 0, keepEntries: node.keepEntries },
    });
    started = true;
    node.driver.start();
    this.checker.observe(node.id, node.driver.raft);
  }

  private push(e: Omit<SimEvent, 'seq'>): void {
    (e as SimEvent).seq = this.seq++;
    this.heap.push(e as SimEvent);
  }

  private loop(): void {
    const end = this.opts.faultPhaseMs + this.opts.livenessBoundMs;
    for (;;) {
      const ev = this.heap.pop();
      if (!ev || ev.time > end || this.livenessMet >= 0) return;
      this.now = ev.time;
      this.stats.events++;
      const touched = this.handle(ev);
      if (touched?.driver) this.checker.observe(touched.id, touched.driver.raft);
      if (this.probeIndex > 0) this.checkLiveness(this.probeIndex);
    }
  }

  /** Handles one event; returns the node whose core it may have changed. */
  private handle(ev: SimEvent): SimNode | null {
    switch (ev.kind) {
      case EventKind.Deliver: {
        const node = this.byId.get(ev.msg!.to);
        if (!node || !node.receiver) return null;
        const m = ev.wire ? decodeMessage(ev.wire) : ev.msg!;
        if (node.paused) {
          node.inbox.push(m);
          return null;
        }
        node.receiver(m);
        return node;
      }
      case EventKind.Timer: {
        const node = ev.node!;
        if (this.cancelled.delete(ev.timer!) || node.incarnation !== ev.incarnation || !node.driver) return null;
        if (node.paused) {
          node.heldTimers.push(ev.run!);
          return null;
        }
        ev.run!();
        return node;
      }
      case EventKind.SyncDone: {
        const node = ev.node!;
        // power loss during the fsync: the batch never became durable
        if (!node.driver || node.incarnation !== ev.incarnation) return null;
        if (node.paused) {
          this.push({ ...ev, time: this.now + PAUSED_RETRY_MS });
          return null;
        }
        ev.run!();
        return node;
      }
      case EventKind.FaultStart:
        this.startFault(ev.fault!);
        return null;
      case EventKind.FaultEnd:
        this.endFault(ev.fault!);
        return null;
      case EventKind.Client:
        return this.client();
      case EventKind.Heal:
        this.heal();
        return null;
      case EventKind.Probe:
        return this.probe();
    }
    return null;
  }

  // ---------------------------------------------------------------- the driver's world

  private schedulerFor(node: SimNode, incarnation: number): DriverScheduler {
    return {
      now: () => this.now,
      setTimeout: (fn, ms) => {
        const timer = ++this.timerSeq;
        this.push({ time: this.now + ms, kind: EventKind.Timer, node, run: fn, incarnation, timer });
        return timer;
      },
      clearTimeout: (handle) => {
        this.cancelled.add(handle as number);
      },
    };
  }

  private makeTransport(): Transport {
    return {
      send: (m: Message) => {
        this.stats.messages++;
        if (!this.byId.has(m.to)) return;
        const wire = this.opts.wireCodec ? encodeMessage(m) : undefined;
        for (const delay of this.net.plan(m.from, m.to)) {
          this.push({ time: this.now + delay, kind: EventKind.Deliver, msg: m, wire });
        }
      },
      listen: (id, onMessage) => {
        const n = this.byId.get(id);
        if (n) n.receiver = onMessage;
      },
      close: (id) => {
        const n = this.byId.get(id);
        if (n) n.receiver = null;
      },
    };
  }

  /** Simulated fsync latency of one batch: 1-4 ms, sometimes 0. */
  fsyncDelay(): number {
    return this.diskRandom.int(5);
  }

  /** Completes `run` after `ms`, unless the node crashes (or is restarted) first. */
  later(node: SimNode, incarnation: number, ms: number, run: () => void): void {
    this.push({ time: this.now + ms, kind: EventKind.SyncDone, node, incarnation, run });
  }

  onDurable(node: SimNode, before: InitialState['hardState'], batch: PersistBatch): void {
    if (batch.hardState) this.checker.onHardState(node.id, before, batch.hardState);
    this.checker.onPersist(node.id, batch.entries, node.storage);
    for (const e of batch.entries) node.durable.set(e.index, e.term);
    if (batch.snapshot) node.durableSnapshot = Math.max(node.durableSnapshot, batch.snapshot.meta.index);
  }

  // ---------------------------------------------------------------- workload

  private client(): SimNode | null {
    this.push({ time: this.now + 1 + this.clientRandom.int(CLIENT_INTERVAL_MAX_MS), kind: EventKind.Client });
    const live = this.liveNodes();
    if (live.length === 0) return null;
    const node = live[this.clientRandom.int(live.length)]!;
    const driver = node.driver!;
    if (this.clientRandom.int(8) === 0) {
      const committedWhenIssued = this.checker.maxCommitted;
      driver.readWith((err, index) => {
        if (!err) this.checker.onReadState(node.id, index, committedWhenIssued);
      });
      return node;
    }
    const id = `c${this.clientSeq++}`;
    const key = `k${this.clientRandom.int(16)}`;
    const value = 'v'.repeat(this.clientRandom.int(48));
    // a client that knows the leader from the node it talks to goes there; otherwise it is redirected
    const lead = this.byId.get(driver.raft.lead);
    const target = lead?.driver && !lead.paused ? lead : node;
    this.propose(target, encodeKvCommand({ op: this.clientRandom.int(10) === 0 ? 'del' : 'put', key, value, id }), true);
    return target;
  }

  /** Proposes through `node`; a follower's NotLeader redirects once to the leader it names, as a client would. */
  private propose(node: SimNode, data: Uint8Array, redirect: boolean, onAck?: () => void): void {
    this.stats.proposals++;
    node.driver!.proposeWith(data, (err, index) => {
      if (!err) {
        this.acknowledged(node, index);
        onAck?.();
        return;
      }
      if (!redirect || !isNotLeader(err)) return;
      const leader = this.byId.get(err.leader);
      if (leader?.driver && !leader.paused) this.propose(leader, data, false, onAck);
    });
  }

  /** A client was told `index` committed: it must be durable on a quorum of the leader's voters right now. */
  private acknowledged(node: SimNode, index: number): void {
    this.stats.acks++;
    const raft = node.driver!.raft;
    const term = raft.raftLog.term(index);
    let voters = 0;
    let durable = 0;
    for (const n of this.nodes) {
      if (!raft.isVoter(n.id)) continue;
      voters++;
      if (index <= n.durableSnapshot || n.durable.get(index) === term) durable++;
    }
    if (durable < Math.floor(voters / 2) + 1) {
      throw new SimViolation('durable ack', `${node.id} acknowledged ${index} (term ${term}) held durably by ${durable} of ${voters} voters`);
    }
  }

  // ---------------------------------------------------------------- faults

  private liveNodes(): SimNode[] {
    return this.nodes.filter((n) => n.driver !== null && !n.paused);
  }

  private leader(): SimNode | null {
    let best: SimNode | null = null;
    for (const n of this.nodes) {
      if (n.driver && !n.paused && n.driver.isLeader && (!best || n.driver.raft.term > best.driver!.raft.term)) best = n;
    }
    return best;
  }

  private crash(n: SimNode): void {
    n.driver!.halt();
    n.driver = null;
    n.paused = false;
    n.inbox = [];
    n.heldTimers = [];
    // the commit index written since the last fsync may not have reached the disk
    const hs = n.storage.getHardState();
    if (hs.commit > n.syncedCommit) n.storage.setHardState({ ...hs, commit: n.syncedCommit });
    this.stats.crashes++;
  }

  /** The disk of a crashed node loses its newest `lost` entries; recovery will report it. */
  private damageDisk(n: SimNode, lost: number, termKnown: boolean): void {
    // one damaged node at a time: a majority that lost data cannot be repaired safely
    for (const o of this.nodes) if (o.damage || (o.driver && o.driver.status().repairIndex > 0)) return;
    const s = n.storage;
    const last = s.lastIndex();
    const keep = Math.max(s.snapshot().meta.index, last - lost);
    if (keep >= last) return;
    const term = s.term(last);
    s.discardAfter(keep);
    n.syncedCommit = Math.min(n.syncedCommit, keep);
    n.damage = { index: last, term: termKnown ? term : 0, reason: `simulated: lost ${last - keep} entries` };
  }

  private startFault(af: ActiveFault): void {
    if (this.healed) return;
    const f = af.fault;
    const ids = this.nodes.map((n) => n.id);
    switch (f.kind) {
      case FaultKind.Partition:
        for (let i = 0; i < ids.length; i++) {
          for (let j = 0; j < ids.length; j++) {
            const si = (f.mask >> (i % this.opts.nodes)) & 1;
            const sj = (f.mask >> (j % this.opts.nodes)) & 1;
            if (si !== sj) af.links.push([ids[i]!, ids[j]!]);
          }
        }
        break;
      case FaultKind.OneWay: {
        const a = ids[f.a % ids.length]!;
        const b = ids[f.b % ids.length]!;
        if (a !== b) af.links.push([a, b]);
        break;
      }
      case FaultKind.IsolateLeader: {
        const l = this.leader();
        if (l) for (const id of ids) if (id !== l.id) af.links.push([l.id, id], [id, l.id]);
        break;
      }
      case FaultKind.Crash:
      case FaultKind.CrashDamage: {
        const live = this.nodes.filter((n) => n.driver !== null);
        const n = live[f.a % live.length];
        if (!n) break;
        this.crash(n);
        if (f.kind === FaultKind.CrashDamage) this.damageDisk(n, f.b, f.mask === 1);
        af.node = n;
        break;
      }
      case FaultKind.Pause: {
        const live = this.liveNodes();
        const n = live[f.a % live.length];
        if (!n) break;
        n.paused = true;
        af.node = n;
        break;
      }
      case FaultKind.Lossy:
        af.conditions = { lossPerMille: f.lossPerMille, dupPerMille: f.dupPerMille, minDelayMs: 1, maxDelayMs: f.maxDelayMs };
        this.net.addLossy(af.conditions);
        break;
      case FaultKind.AddNode:
      case FaultKind.RemoveNode:
      case FaultKind.TransferLeader:
        this.membershipFault(f);
        return;
    }
    for (const [a, b] of af.links) this.net.block(a, b);
    this.push({ time: this.now + f.duration, kind: EventKind.FaultEnd, fault: af });
  }

  private endFault(af: ActiveFault): void {
    if (this.healed) return;
    for (const [a, b] of af.links) this.net.unblock(a, b);
    if (af.conditions) this.net.removeLossy(af.conditions);
    const n = af.node;
    const crashed = af.fault.kind === FaultKind.Crash || af.fault.kind === FaultKind.CrashDamage;
    if (n && crashed && n.driver === null) this.start(n);
    if (n && af.fault.kind === FaultKind.Pause && n.paused && n.driver) this.resume(n);
  }

  /** Runs what came due and what arrived while the node was paused. */
  private resume(n: SimNode): void {
    n.paused = false;
    const timers = n.heldTimers;
    n.heldTimers = [];
    for (const run of timers) if (n.driver && !n.paused) run();
    const inbox = n.inbox;
    n.inbox = [];
    for (const m of inbox) if (n.receiver && !n.paused) n.receiver(m);
    if (n.driver) this.checker.observe(n.id, n.driver.raft);
  }

  private membershipFault(f: Fault): void {
    const l = this.leader();
    if (!l) return;
    const driver = l.driver!;
    const voters = driver.raft.confState().voters;
    const ignore = (): void => {};
    if (f.kind === FaultKind.AddNode) {
      if (voters.length >= this.opts.nodes + 1) return;
      // ids are never reused: always a fresh ordinal
      const id = `n${++this.nextNodeOrdinal}`;
      driver.confChangeWith({ type: ConfChangeType.AddNode, nodeId: id }, ignore);
      this.addNode(id, new MemoryStorage());
    } else if (f.kind === FaultKind.RemoveNode) {
      if (voters.length <= 3) return;
      driver.confChangeWith({ type: ConfChangeType.RemoveNode, nodeId: voters[f.a % voters.length]! }, ignore);
    } else {
      const to = voters[f.a % voters.length]!;
      if (to !== l.id) driver.stepDownWith(to, ignore);
    }
    this.checker.observe(l.id, driver.raft);
  }

  // ---------------------------------------------------------------- healing & liveness

  private heal(): void {
    this.healed = true;
    this.net.healAll();
    for (const n of this.nodes) {
      if (n.driver === null) this.start(n);
      else if (n.paused) this.resume(n);
    }
    this.push({ time: this.now + 1, kind: EventKind.Probe });
  }

  private probe(): SimNode | null {
    this.push({ time: this.now + PROBE_INTERVAL_MS, kind: EventKind.Probe });
    const l = this.leader();
    if (!l) return null;
    const id = `probe${this.probeIds.size}`;
    this.probeIds.add(id);
    this.propose(l, encodeKvCommand({ op: 'put', key: 'probe', value: id, id }), false);
    return l;
  }

  /** Liveness holds once a post-heal proposal is applied on every voter of the current leader. */
  private checkLiveness(index: number): void {
    if (this.livenessMet >= 0) return;
    const l = this.leader();
    if (!l) return;
    for (const id of l.driver!.raft.confState().voters) {
      const n = this.byId.get(id);
      if (!n || !n.driver || n.kv.applied < index) return;
    }
    this.livenessMet = this.now;
  }

  describeSchedule(): string[] {
    return this.schedule.map(describeFault);
  }
}

function isNotLeader(err: RaftError): boolean {
  return isRaftError(err, RaftErrorCode.NotLeader) && err.leader !== NONE;
}

/**
 * One node's disk for one incarnation, over the MemoryStorage that survives crashes. A batch
 * that needs an fsync becomes durable (and readable) after a simulated delay; a commit index
 * alone is written at once and kept only if a later fsync covers it; a crash drops what is in
 * flight. Snapshots and compaction are durable at once.
 */
class SimDisk extends MemoryBackedStorage implements AsyncRaftStorage {
  private readonly sim: Simulation;
  private readonly node: SimNode;
  private readonly incarnation: number;
  private readonly lost: LogDamage | null;

  constructor(sim: Simulation, node: SimNode, incarnation: number, lost: LogDamage | null) {
    super(node.storage);
    this.sim = sim;
    this.node = node;
    this.incarnation = incarnation;
    this.lost = lost;
  }

  damage(): LogDamage | null {
    return this.lost;
  }

  persist(batch: PersistBatch, done: (err: Error | null) => void): void {
    const node = this.node;
    const hs = batch.hardState;
    const prev = this.mem.getHardState();
    const needsSync = batch.snapshot !== null || batch.entries.length > 0 || (hs !== null && (hs.term !== prev.term || hs.vote !== prev.vote));
    if (!needsSync) {
      if (hs) {
        this.mem.setHardState(hs);
        this.sim.onDurable(node, prev, batch);
      }
      done(null);
      return;
    }
    this.sim.later(node, this.incarnation, this.sim.fsyncDelay(), () => {
      const before = this.mem.getHardState();
      this.mem.persist(batch);
      node.syncedCommit = this.mem.getHardState().commit;
      this.sim.onDurable(node, before, batch);
      done(null);
    });
  }

  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    return this.mem.createSnapshot(index, conf, data);
  }

  compact(index: number): void {
    this.mem.compact(index);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export function runSimulation(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

/**
 * Greedy shrinking: drop faults one at a time while the run still fails, so the
 * reproduction printed for a failing seed is as small as this finds.
 */
export function shrinkFailure(options: SimOptions, failing: SimResult, maxRuns = 200): SimResult {
  let best = failing;
  let runs = 0;
  let changed = true;
  while (changed && runs < maxRuns) {
    changed = false;
    for (let i = 0; i < best.schedule.length && runs < maxRuns; i++) {
      const candidate = best.schedule.filter((_, j) => j !== i);
      runs++;
      const r = runSimulation({ ...options, schedule: candidate });
      if (!r.ok) {
        best = r;
        changed = true;
        i--;
      }
    }
  }
  return best;
}

// Deterministic simulation of one Raft group in one process: every source of
// randomness derives from the seed, time is simulated, and the checker runs after
// every event. A run is fully determined by (seed, options, fault schedule).

import { decodeMessage, encodeMessage } from '../codec.ts';
import { isRaftError } from '../errors.ts';
import { KvStateMachine, encodeKvCommand } from '../kv.ts';
import { deriveSeed, seededRandom } from '../prng.ts';
import { Raft } from '../raft.ts';
import type { Ready } from '../raft.ts';
import { MemoryStorage } from '../storage.ts';
import { ConfChangeType, NONE, StateType } from '../types.ts';
import type { Random } from '../prng.ts';
import type { Message, NodeId } from '../types.ts';
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
  snapshotsInstalled: number;
  reads: number;
  crashes: number;
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

const EventKind = {
  Deliver: 0,
  Tick: 1,
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
  ready?: Ready;
  incarnation?: number;
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
  storage: MemoryStorage;
  raft: Raft | null;
  kv: KvStateMachine;
  paused: boolean;
  /** a Ready is being persisted (fsync in flight); inputs wait in the inbox */
  syncing: boolean;
  pendingTicks: number;
  inbox: Message[];
  tickMs: number;
  incarnation: number;
  compactEvery: number;
  keepEntries: number;
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
  private readonly heap = new EventHeap<SimEvent>();
  private readonly nodes: SimNode[] = [];
  private readonly byId = new Map<NodeId, SimNode>();
  private readonly reads = new Map<string, PendingRead>();
  private seq = 0;
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
    snapshotsInstalled: 0,
    reads: 0,
    crashes: 0,
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
    this.net = new SimNetwork(this.netRandom);
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
      raft: null,
      kv: new KvStateMachine(),
      paused: false,
      syncing: false,
      pendingTicks: 0,
      inbox: [],
      // clock skew: each node's tick period differs by up to 20%
      tickMs: TICK_MS - 2 + this.paramRandom.int(5),
      incarnation: 0,
      compactEvery: 5 + this.paramRandom.int(40),
      keepEntries: this.paramRandom.int(8),
    };
    this.nodes.push(node);
    this.byId.set(id, node);
    this.start(node);
    this.push({ time: this.now + 1 + this.paramRandom.int(node.tickMs), kind: EventKind.Tick, node });
    return node;
  }

  private start(node: SimNode): void {
    node.incarnation++;
    const snap = node.storage.snapshot();
    node.kv = new KvStateMachine();
    node.kv.restore(snap);
    node.raft = new Raft({
      id: node.id,
      storage: node.storage,
      random: seededRandom(deriveSeed(this.opts.seed, 100 + node.ordinal * 1000 + node.incarnation)),
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: HEARTBEAT_TICKS,
      maxInflightMsgs: SIM_MAX_INFLIGHT,
      maxSizePerMsgBytes: SIM_MAX_MSG_BYTES,
      maxUncommittedBytes: SIM_MAX_UNCOMMITTED_BYTES,
      applied: snap.meta.index,
    });
    node.paused = false;
    node.syncing = false;
    node.pendingTicks = 0;
    node.inbox = [];
    this.drive(node);
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
      this.handle(ev);
    }
  }

  private handle(ev: SimEvent): void {
    switch (ev.kind) {
      case EventKind.Deliver: {
        const node = this.byId.get(ev.msg ? ev.msg.to : NONE) ?? ev.node!;
        if (!node.raft) return;
        const m = ev.wire ? decodeMessage(ev.wire) : ev.msg!;
        if (node.paused || node.syncing) {
          node.inbox.push(m);
          return;
        }
        node.raft.step(m);
        this.drive(node);
        return;
      }
      case EventKind.Tick: {
        const node = ev.node!;
        this.push({ time: this.now + node.tickMs, kind: EventKind.Tick, node });
        if (!node.raft || node.paused) return;
        if (node.syncing) {
          node.pendingTicks++;
          return;
        }
        node.raft.tick();
        this.drive(node);
        return;
      }
      case EventKind.FaultStart:
        this.startFault(ev.fault!);
        return;
      case EventKind.FaultEnd:
        this.endFault(ev.fault!);
        return;
      case EventKind.Client:
        this.client();
        return;
      case EventKind.Heal:
        this.heal();
        return;
      case EventKind.Probe:
        this.probe();
        return;
      case EventKind.SyncDone: {
        const node = ev.node!;
        // power loss during the fsync: the batch never became durable
        if (!node.raft || node.incarnation !== ev.incarnation) return;
        if (node.paused) {
          this.push({ ...ev, time: this.now + 5 });
          return;
        }
        this.complete(node, ev.ready!);
        this.flush(node);
        return;
      }
    }
  }

  /**
   * The driver loop every server runs per group: take a Ready, persist it (fsync),
   * then apply, send and advance. The fsync takes simulated time; a crash before it
   * completes loses the batch, and inputs arriving meanwhile wait in the inbox.
   */
  private drive(node: SimNode): void {
    const raft = node.raft;
    if (!raft || node.syncing || node.paused) return;
    while (raft.hasReady()) {
      const rd = raft.ready();
      const fsyncMs = rd.mustSync ? this.paramRandom.int(4) : 0;
      if (fsyncMs > 0) {
        node.syncing = true;
        this.push({ time: this.now + fsyncMs, kind: EventKind.SyncDone, node, ready: rd, incarnation: node.incarnation });
        return;
      }
      this.complete(node, rd);
    }
    this.checker.observe(node.id, raft);
    this.maybeCompact(node);
  }

  private complete(node: SimNode, rd: Ready): void {
    const raft = node.raft!;
    node.syncing = false;
    const before = node.storage.getHardState();
    node.storage.persist(rd);
    if (rd.hardState) this.checker.onHardState(node.id, before, rd.hardState);
    this.checker.onPersist(node.id, rd.entries, node.storage);
    if (rd.snapshot) {
      node.kv.restore(rd.snapshot);
      this.stats.snapshotsInstalled++;
      this.checker.onSnapshotRestored(node.id, rd.snapshot, node.kv.digest);
    }
    for (const e of rd.committedEntries) {
      const cmd = node.kv.apply(e);
      this.checker.onApply(node.id, e, node.kv.digest);
      if (cmd && this.probeIndex === 0 && this.probeIds.has(cmd.id)) this.probeIndex = e.index;
    }
    for (const m of rd.messages) this.send(m);
    for (const rs of rd.readStates) {
      const pending = this.reads.get(rs.context);
      if (pending) {
        this.reads.delete(rs.context);
        this.checker.onReadState(node.id, rs.index, pending.committedWhenIssued);
      }
    }
    raft.advance(rd);
    this.checker.observe(node.id, raft);
    if (this.probeIndex > 0) this.checkLiveness(this.probeIndex);
  }

  /** Runs what queued up while the node was busy, then drives it again. */
  private flush(node: SimNode): void {
    const raft = node.raft!;
    const ticks = node.pendingTicks;
    node.pendingTicks = 0;
    for (let i = 0; i < ticks; i++) raft.tick();
    const inbox = node.inbox;
    node.inbox = [];
    for (const m of inbox) raft.step(m);
    this.drive(node);
  }

  private maybeCompact(node: SimNode): void {
    const applied = node.kv.applied;
    const snapIndex = node.storage.snapshot().meta.index;
    if (applied - snapIndex < node.compactEvery || applied > node.storage.lastIndex()) return;
    node.storage.createSnapshot(applied, node.raft!.confState(), node.kv.snapshot());
    node.storage.compact(Math.max(snapIndex, applied - node.keepEntries));
  }

  private send(m: Message): void {
    this.stats.messages++;
    if (!this.byId.has(m.to)) return;
    const wire = this.opts.wireCodec ? encodeMessage(m) : undefined;
    for (const delay of this.net.plan(m.from, m.to)) {
      this.push({ time: this.now + delay, kind: EventKind.Deliver, msg: m, wire });
    }
  }

  // ---------------------------------------------------------------- workload

  private client(): void {
    this.push({ time: this.now + 1 + this.clientRandom.int(CLIENT_INTERVAL_MAX_MS), kind: EventKind.Client });
    const live = this.nodes.filter((n) => n.raft && !n.paused && !n.syncing);
    if (live.length === 0) return;
    const node = live[this.clientRandom.int(live.length)]!;
    const raft = node.raft!;
    if (this.clientRandom.int(8) === 0) {
      const ctx = `r${this.clientSeq++}`;
      try {
        raft.readIndex(ctx);
        this.reads.set(ctx, { committedWhenIssued: this.checker.maxCommitted });
      } catch (e) {
        if (!isRaftError(e)) throw e;
      }
      this.drive(node);
      return;
    }
    const id = `c${this.clientSeq++}`;
    const key = `k${this.clientRandom.int(16)}`;
    const value = 'v'.repeat(this.clientRandom.int(48));
    this.propose(node, encodeKvCommand({ op: this.clientRandom.int(10) === 0 ? 'del' : 'put', key, value, id }));
  }

  private propose(node: SimNode, data: Uint8Array): boolean {
    this.stats.proposals++;
    try {
      node.raft!.propose(data);
    } catch (e) {
      if (!isRaftError(e)) throw e;
      return false;
    } finally {
      this.drive(node);
    }
    return true;
  }

  // ---------------------------------------------------------------- faults

  private liveNodes(): SimNode[] {
    return this.nodes.filter((n) => n.raft !== null && !n.paused);
  }

  private leader(): SimNode | null {
    let best: SimNode | null = null;
    for (const n of this.nodes) {
      if (n.raft && !n.paused && n.raft.isLeader && (!best || n.raft.term > best.raft!.term)) best = n;
    }
    return best;
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
      case FaultKind.Crash: {
        const live = this.nodes.filter((n) => n.raft !== null);
        const n = live[f.a % live.length];
        if (!n) break;
        n.raft = null;
        n.paused = false;
        n.syncing = false;
        n.pendingTicks = 0;
        n.inbox = [];
        this.stats.crashes++;
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
    if (n && af.fault.kind === FaultKind.Crash && n.raft === null) this.start(n);
    if (n && af.fault.kind === FaultKind.Pause && n.paused && n.raft) this.resume(n);
  }

  private resume(n: SimNode): void {
    n.paused = false;
    if (!n.syncing) this.flush(n);
  }

  private membershipFault(f: Fault): void {
    const l = this.leader();
    if (!l || l.syncing) return;
    const raft = l.raft!;
    const voters = raft.confState().voters;
    try {
      if (f.kind === FaultKind.AddNode) {
        if (voters.length >= this.opts.nodes + 1) return;
        // ids are never reused: always a fresh ordinal
        const id = `n${++this.nextNodeOrdinal}`;
        raft.proposeConfChange({ type: ConfChangeType.AddNode, nodeId: id });
        this.drive(l);
        this.addNode(id, new MemoryStorage());
      } else if (f.kind === FaultKind.RemoveNode) {
        if (voters.length <= 3) return;
        raft.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: voters[f.a % voters.length]! });
        this.drive(l);
      } else {
        raft.transferLeader(voters[f.a % voters.length]!);
        this.drive(l);
      }
    } catch (e) {
      if (!isRaftError(e)) throw e;
      this.drive(l);
    }
  }

  // ---------------------------------------------------------------- healing & liveness

  private heal(): void {
    this.healed = true;
    this.net.healAll();
    for (const n of this.nodes) {
      if (n.raft === null) this.start(n);
      else if (n.paused) this.resume(n);
    }
    this.push({ time: this.now + 1, kind: EventKind.Probe });
  }

  private probe(): void {
    this.push({ time: this.now + PROBE_INTERVAL_MS, kind: EventKind.Probe });
    const l = this.leader();
    if (!l || l.syncing) return;
    const id = `probe${this.probeIds.size}`;
    if (this.propose(l, encodeKvCommand({ op: 'put', key: 'probe', value: id, id }))) this.probeIds.add(id);
  }

  /** Liveness holds once a post-heal proposal is applied on every voter of the current leader. */
  private checkLiveness(index: number): void {
    if (this.livenessMet >= 0) return;
    const l = this.leader();
    if (!l) return;
    for (const id of l.raft!.confState().voters) {
      const n = this.byId.get(id);
      if (!n || !n.raft || n.kv.applied < index) return;
    }
    this.livenessMet = this.now;
  }

  describeSchedule(): string[] {
    return this.schedule.map(describeFault);
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

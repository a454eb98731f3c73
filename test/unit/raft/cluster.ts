// A hand-driven cluster of Raft cores for unit and scenario tests: messages wait in
// a queue until delivered, links can be cut, nodes crash (keeping only what was
// persisted) and restart. Everything is deterministic.

import { KvStateMachine, encodeKvCommand } from '../../../src/raft/kv.ts';
import { deriveSeed, seededRandom } from '../../../src/raft/prng.ts';
import { Raft } from '../../../src/raft/raft.ts';
import { RaftError } from '../../../src/raft/errors.ts';
import type { RaftConfig } from '../../../src/raft/raft.ts';
import { MemoryStorage } from '../../../src/raft/storage.ts';
import type { Message, NodeId, ReadState } from '../../../src/raft/types.ts';

export interface TestNode {
  id: NodeId;
  storage: MemoryStorage;
  raft: Raft | null;
  kv: KvStateMachine;
  readStates: ReadState[];
  incarnation: number;
}

export type ClusterOptions = Partial<Omit<RaftConfig, 'id' | 'storage' | 'random'>> & { seed?: number };

export class TestCluster {
  readonly nodes = new Map<NodeId, TestNode>();
  queue: Message[] = [];
  private readonly cut = new Set<string>();
  private readonly opts: ClusterOptions;
  private seq = 0;
  delivered = 0;

  constructor(ids: NodeId[], opts: ClusterOptions = {}) {
    this.opts = opts;
    const kv = new KvStateMachine();
    for (const id of ids) this.addNode(id, MemoryStorage.bootstrap(ids, kv.snapshot()));
  }

  addNode(id: NodeId, storage: MemoryStorage = new MemoryStorage()): TestNode {
    const n: TestNode = { id, storage, raft: null, kv: new KvStateMachine(), readStates: [], incarnation: 0 };
    this.nodes.set(id, n);
    this.start(n);
    return n;
  }

  private start(n: TestNode, extra: Partial<RaftConfig> = {}): void {
    n.incarnation++;
    const snap = n.storage.snapshot();
    n.kv = new KvStateMachine();
    n.kv.restore(snap);
    const { seed, ...rest } = this.opts;
    n.raft = new Raft({
      electionTicks: 10,
      heartbeatTicks: 1,
      ...rest,
      id: n.id,
      storage: n.storage,
      random: seededRandom(deriveSeed(seed ?? 1, this.seq++)),
      applied: snap.meta.index,
      ...extra,
    });
    this.process(n.id);
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  raft(id: NodeId): Raft {
    const r = this.node(id).raft;
    if (!r) throw new Error(`${id} is down`);
    return r;
  }

  /** Drains all Ready batches of one node: persist, apply, queue messages, advance. */
  process(id: NodeId): void {
    const n = this.node(id);
    const r = n.raft;
    if (!r) return;
    while (r.hasReady()) {
      const rd = r.ready();
      n.storage.persist(rd);
      if (rd.snapshot) n.kv.restore(rd.snapshot);
      for (const e of rd.committedEntries) n.kv.apply(e);
      for (const m of rd.messages) this.queue.push(m);
      n.readStates.push(...rd.readStates);
      r.advance(rd);
    }
  }

  processAll(): void {
    for (const id of this.nodes.keys()) this.process(id);
  }

  /** Delivers queued messages (and what they cause) until the network is quiet. */
  stabilize(maxRounds = 1000): void {
    this.processAll();
    for (let round = 0; round < maxRounds && this.queue.length > 0; round++) {
      const q = this.queue;
      this.queue = [];
      for (const m of q) this.deliver(m);
      this.processAll();
    }
    if (this.queue.length > 0) throw new Error('stabilize: network did not quiesce');
  }

  deliver(m: Message): void {
    if (this.cut.has(`${m.from}>${m.to}`)) return;
    const n = this.nodes.get(m.to);
    if (!n || !n.raft) return;
    this.delivered++;
    n.raft.step(m);
    this.process(m.to);
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) {
      const r = this.node(id).raft;
      if (!r) return;
      r.tick();
      this.process(id);
    }
  }

  /** Ticks every live node once per round, stabilizing after each round. */
  tickAll(rounds = 1): void {
    for (let i = 0; i < rounds; i++) {
      for (const [id, n] of this.nodes) if (n.raft) this.tick(id);
      this.stabilize();
    }
  }

  campaign(id: NodeId): void {
    this.raft(id).campaign();
    this.process(id);
  }

  propose(id: NodeId, key: string, value: string): void {
    this.raft(id).propose(encodeKvCommand({ op: 'put', key, value, id: `${key}=${value}@${this.seq++}` }));
    this.process(id);
  }

  /** Cuts both directions between every node of `a` and every node of `b`. */
  partition(a: NodeId[], b: NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.cut.add(`${x}>${y}`);
        this.cut.add(`${y}>${x}`);
      }
    }
  }

  cutOneWay(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  isolate(id: NodeId): void {
    this.partition(
      [id],
      [...this.nodes.keys()].filter((x) => x !== id),
    );
  }

  heal(): void {
    this.cut.clear();
  }

  /** Power loss: the node keeps only its storage (everything persisted). */
  crash(id: NodeId): void {
    const n = this.node(id);
    n.raft = null;
    n.readStates = [];
  }

  restart(id: NodeId, extra: Partial<RaftConfig> = {}): void {
    this.start(this.node(id), extra);
  }

  /** Snapshot at the applied index and drop the log up to it. */
  compact(id: NodeId, keep = 0): void {
    const n = this.node(id);
    const applied = n.kv.applied;
    if (applied <= n.storage.snapshot().meta.index) return;
    n.storage.createSnapshot(applied, this.raft(id).confState(), n.kv.snapshot());
    n.storage.compact(Math.max(n.storage.firstIndex() - 1, applied - keep));
  }

  leader(): NodeId | null {
    let best: TestNode | null = null;
    for (const n of this.nodes.values()) {
      if (n.raft?.isLeader && (!best || n.raft.term > best.raft!.term)) best = n;
    }
    return best ? best.id : null;
  }

  /** Ticks until some node leads (bounded); returns it. */
  electLeader(maxRounds = 200): NodeId {
    for (let i = 0; i < maxRounds; i++) {
      const l = this.leader();
      if (l) return l;
      this.tickAll();
    }
    throw new Error('no leader elected');
  }
}

/** The RaftError code `fn` throws, or 'ok' when it returns. */
export function raftErrorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof RaftError) return e.code;
    throw e;
  }
  return 'ok';
}

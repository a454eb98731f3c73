// A Raft group of drivers for tests: real FileStorage in temp directories, the in-memory
// transport (messages wait until settle() delivers them), one fake clock for every node, and
// a gate per node that can hold its fsyncs. Time only moves when a test ticks.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RaftDriver, bootstrap } from '../../../src/raft/driver.ts';
import type { SnapshotPolicy } from '../../../src/raft/driver.ts';
import { FileStorage } from '../../../src/raft/file_storage.ts';
import { KvStateMachine, encodeKvCommand } from '../../../src/raft/kv.ts';
import { deriveSeed, seededRandom } from '../../../src/raft/prng.ts';
import { MemoryTransport } from '../../../src/raft/transport.ts';
import type { NodeId } from '../../../src/raft/types.ts';
import { GroupSync, fdatasyncAsync } from '../../../src/storage/group_sync.ts';
import { FakeScheduler } from '../../support/fake_scheduler.ts';
import { settleGroup, tickGroup, untilTicked } from '../../support/raft_settle.ts';

export const TICK_MS = 10;

/** Holds a node's fsyncs while `held`, or fails them while `failing`. */
export class SyncGate {
  held = false;
  failing = false;
  syncs = 0;
  private waiting: (() => void)[] = [];

  readonly sync = (fd: number): Promise<void> => {
    if (this.failing) return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, fdatasync'), { code: 'ENOSPC' }));
    if (!this.held) {
      this.syncs++;
      return fdatasyncAsync(fd);
    }
    return new Promise<void>((resolve, reject) =>
      this.waiting.push(() => {
        this.syncs++;
        fdatasyncAsync(fd).then(resolve, reject);
      }),
    );
  };

  /** fsyncs waiting at the gate now. */
  get waitingSyncs(): number {
    return this.waiting.length;
  }

  release(): void {
    this.held = false;
    const w = this.waiting;
    this.waiting = [];
    for (const go of w) go();
  }
}

export interface TestMember {
  id: NodeId;
  dir: string;
  gate: SyncGate;
  storage: FileStorage;
  driver: RaftDriver;
  sm: KvStateMachine;
  errors: Error[];
  up: boolean;
}

export interface DriverClusterOptions {
  snapshot?: Partial<SnapshotPolicy>;
  segmentBytes?: number;
  seed?: number;
}

export class DriverCluster {
  readonly clock = new FakeScheduler();
  readonly transport = new MemoryTransport();
  readonly members = new Map<NodeId, TestMember>();
  private readonly root: string;
  private readonly opts: DriverClusterOptions;
  private incarnation = 0;
  private writes = 0;

  private constructor(opts: DriverClusterOptions) {
    this.opts = opts;
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-raftdrv-'));
  }

  /** Founding members `ids`, bootstrapped and started. */
  static async create(ids: NodeId[], opts: DriverClusterOptions = {}): Promise<DriverCluster> {
    const c = new DriverCluster(opts);
    for (const id of ids) {
      const storage = FileStorage.open(c.dirOf(id));
      await bootstrap(storage, ids, new KvStateMachine().snapshot());
      await storage.close();
    }
    for (const id of ids) c.start(id);
    return c;
  }

  dirOf(id: NodeId): string {
    return path.join(this.root, id);
  }

  /** Opens `id`'s storage (new and empty for a joining node) and starts its driver. */
  start(id: NodeId): TestMember {
    const prev = this.members.get(id);
    if (prev?.up) throw new Error(`${id} is already up`);
    const gate = prev?.gate ?? new SyncGate();
    const errors: Error[] = [];
    const storage = FileStorage.open(this.dirOf(id), { groupSync: new GroupSync(gate.sync), segmentBytes: this.opts.segmentBytes, onError: (e) => errors.push(e) });
    const sm = new KvStateMachine();
    const driver = new RaftDriver({
      id,
      group: 'G',
      storage,
      transport: this.transport,
      scheduler: this.clock,
      stateMachine: sm,
      random: seededRandom(deriveSeed(this.opts.seed ?? 1, ++this.incarnation)),
      tickMs: TICK_MS,
      snapshot: this.opts.snapshot ?? { entries: 0, bytes: 0 },
      onError: (e) => errors.push(e),
    });
    const m: TestMember = { id, dir: this.dirOf(id), gate, storage, driver, sm, errors, up: true };
    this.members.set(id, m);
    driver.start();
    return m;
  }

  member(id: NodeId): TestMember {
    const m = this.members.get(id);
    if (!m) throw new Error(`no member ${id}`);
    return m;
  }

  /** kill -9: the driver stops at once; writes already handed to the kernel still land. */
  async kill(id: NodeId): Promise<void> {
    const m = this.member(id);
    m.up = false;
    m.driver.halt();
    m.gate.release();
    await m.storage.close();
  }

  async restart(id: NodeId): Promise<TestMember> {
    const m = this.start(id);
    await this.settle();
    return m;
  }

  up(): TestMember[] {
    return [...this.members.values()].filter((m) => m.up);
  }

  /** Delivers messages and waits for every disk write (except held ones) until nothing moves. */
  settle(): Promise<void> {
    return settleGroup(this.transport, () => this.up());
  }

  /** Moves the shared clock `n` ticks, settling after each. */
  tick(n = 1): Promise<void> {
    return tickGroup(this.clock, TICK_MS, () => this.settle(), n);
  }

  /** The member that leads and has applied its term's first entry, if any. */
  leader(): TestMember | null {
    for (const m of this.up()) if (m.driver.status().leader === m.id) return m;
    return null;
  }

  /** Ticks until a leader is ready (bounded); returns it. */
  async waitForLeader(maxTicks = 400): Promise<TestMember> {
    for (let i = 0; i < maxTicks; i++) {
      const l = this.leader();
      if (l && this.up().every((m) => m === l || m.driver.raft.term <= l.driver.raft.term)) return l;
      await this.tick();
    }
    throw new Error('no leader elected');
  }

  /** Ticks until `cond` holds (bounded). */
  until(cond: () => boolean, what: string, maxTicks = 400): Promise<void> {
    return untilTicked(cond, what, maxTicks, () => this.tick());
  }

  put(m: TestMember, key: string, value: string): Promise<number> {
    return m.driver.propose(encodeKvCommand({ op: 'put', key, value, id: `w${++this.writes}` }));
  }

  /** Puts through the leader and settles until it resolves. */
  async write(key: string, value: string): Promise<number> {
    const l = await this.waitForLeader();
    const p = this.put(l, key, value);
    let index = 0;
    let err: unknown = null;
    p.then((i) => (index = i), (e: unknown) => (err = e));
    await this.until(() => index > 0 || err !== null, `write ${key}`);
    if (err) throw err;
    return index;
  }

  async close(): Promise<void> {
    for (const m of this.up()) await this.kill(m.id);
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

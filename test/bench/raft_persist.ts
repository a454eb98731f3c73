// Raft persistence benchmark: the same RaftDriver workload over two storages, in one process.
//   node test/bench/raft_persist.ts [--groups 1,8,32] [--replicas 1,3] [--duration 3] [--window 64] [--bytes 128]
// "before": the previous FileStorage.persist, replicated here (it is gone from src/): write and
//   fdatasync on the event loop for every Ready with entries, and rewrite the hard state file
//   (temp write + fsync + rename + directory fsync) on every Ready with a hard state, commit-only
//   ones included. It answers on the next turn, so the inputs of one turn share a Ready (the best
//   a loop around a blocking persist can do).
// "after": FileStorage today: appends and fdatasyncs on libuv's threads, one shared group-commit
//   round for every group of the node, MustSync (a commit index alone is appended, not synced).
// Each group keeps `window` proposals of `bytes` bytes in flight; the figure is acknowledged
// (committed and applied) proposals per second, and fsync-family calls per acknowledged entry.
// Every replica of every group lives in this process on the same disk: with 3 replicas a
// proposal costs three replicas' writes. An internal figure, no Go comparison.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeMessage, encodeEntry, encodeHardState, encodeMessage, encodeSnapshot } from '../../src/raft/codec.ts';
import { RaftDriver, bootstrap } from '../../src/raft/driver.ts';
import type { DriverScheduler, StateMachine } from '../../src/raft/driver.ts';
import { FileStorage } from '../../src/raft/file_storage.ts';
import { deriveSeed, seededRandom } from '../../src/raft/prng.ts';
import { MemoryBackedStorage, MemoryStorage } from '../../src/raft/storage.ts';
import type { AsyncRaftStorage, LogDamage, PersistBatch } from '../../src/raft/storage.ts';
import type { Transport } from '../../src/raft/transport.ts';
import type { ConfState, Message, NodeId, Snapshot } from '../../src/raft/types.ts';
import { writeFramedFileSync } from '../../src/storage/atomic_file.ts';
import { encodeFrames } from '../../src/storage/framing.ts';
import { GroupSync, fdatasyncAsync } from '../../src/storage/group_sync.ts';

interface Flags {
  groups: number[];
  replicas: number[];
  durationMs: number;
  window: number;
  bytes: number;
}

function parseFlags(argv: string[]): Flags {
  const f: Flags = { groups: [1, 8, 32], replicas: [1, 3], durationMs: 3000, window: 64, bytes: 128 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1] ?? '';
    switch (argv[i]) {
      case '--groups':
        f.groups = v.split(',').map(Number);
        break;
      case '--replicas':
        f.replicas = v.split(',').map(Number);
        break;
      case '--duration':
        f.durationMs = Number(v) * 1000;
        break;
      case '--window':
        f.window = Number(v);
        break;
      case '--bytes':
        f.bytes = Number(v);
        break;
      default:
        throw new Error(`unknown flag ${argv[i]}`);
    }
    i++;
  }
  return f;
}

/** fsync-family calls, whoever makes them. */
const counts = { fsyncs: 0 };

/** The previous FileStorage.persist: synchronous, and the hard state file on every change. */
class BeforeStorage extends MemoryBackedStorage implements AsyncRaftStorage {
  private readonly dir: string;
  private readonly fd: number;

  constructor(dir: string, snap: Snapshot) {
    super(new MemoryStorage());
    this.dir = dir;
    fs.mkdirSync(dir, { recursive: true });
    this.mem.applySnapshot(snap);
    writeFramedFileSync(path.join(dir, 'snapshot'), encodeSnapshot(snap));
    this.fd = fs.openSync(path.join(dir, 'wal-0000000001.log'), 'a');
  }

  damage(): LogDamage | null {
    return null;
  }

  persist(batch: PersistBatch, done: (err: Error | null) => void): void {
    if (batch.entries.length > 0) {
      fs.writeSync(this.fd, encodeFrames(batch.entries.map(encodeEntry)));
      fs.fdatasyncSync(this.fd);
      counts.fsyncs++;
    }
    if (batch.hardState) {
      writeFramedFileSync(path.join(this.dir, 'hardstate'), encodeHardState(batch.hardState));
      counts.fsyncs += 2;
    }
    this.mem.persist(batch);
    // answered in the next turn, so a turn's worth of inputs queues into the next Ready: the
    // best case of a loop around the old synchronous persist
    setImmediate(() => done(null));
  }
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    return this.mem.createSnapshot(index, conf, data);
  }
  compact(index: number): void {
    this.mem.compact(index);
  }
  close(): Promise<void> {
    fs.closeSync(this.fd);
    return Promise.resolve();
  }
}

/** Delivers on the next turn, through the wire codec, like a route would (minus the socket). */
class LoopbackTransport implements Transport {
  private readonly receivers = new Map<NodeId, (m: Message) => void>();
  private queue: Uint8Array[] = [];
  private scheduled = false;

  send(m: Message): void {
    this.queue.push(encodeMessage(m));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }
  listen(id: NodeId, fn: (m: Message) => void): void {
    this.receivers.set(id, fn);
  }
  close(id: NodeId): void {
    this.receivers.delete(id);
  }
  private flush(): void {
    this.scheduled = false;
    const q = this.queue;
    this.queue = [];
    for (const b of q) {
      const m = decodeMessage(b);
      this.receivers.get(m.to)?.(m);
    }
  }
}

const realScheduler: DriverScheduler = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Counts applied entries; the state is just that count. */
class CountingMachine implements StateMachine {
  applied = 0;
  apply(): void {
    this.applied++;
  }
  snapshot(): Uint8Array {
    return new Uint8Array(0);
  }
  restore(): void {}
}

interface Result {
  mode: 'before' | 'after';
  groups: number;
  replicas: number;
  acked: number;
  seconds: number;
  fsyncs: number;
  /** entry fsyncs per group-commit round (after only): how many files share a round */
  perRound: number;
}

async function runOne(mode: 'before' | 'after', groups: number, replicas: number, flags: Flags): Promise<Result> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-raftbench-'));
  const groupSync = new GroupSync((fd) => {
    counts.fsyncs++;
    return fdatasyncAsync(fd);
  });
  const drivers: RaftDriver[][] = [];
  const fileStores: FileStorage[] = [];
  for (let g = 0; g < groups; g++) {
    const transport = new LoopbackTransport();
    const ids = Array.from({ length: replicas }, (_, r) => `g${g}r${r}`);
    const members: RaftDriver[] = [];
    for (const id of ids) {
      const dir = path.join(root, id);
      let storage: AsyncRaftStorage;
      if (mode === 'before') {
        storage = new BeforeStorage(dir, { meta: { index: 1, term: 1, conf: { voters: ids, removed: [] } }, data: new Uint8Array(0) });
      } else {
        const fsx = FileStorage.open(dir, { groupSync });
        await bootstrap(fsx, ids);
        fileStores.push(fsx);
        storage = fsx;
      }
      const d = new RaftDriver({
        id,
        group: `g${g}`,
        storage,
        transport,
        scheduler: realScheduler,
        stateMachine: new CountingMachine(),
        random: seededRandom(deriveSeed(g, members.length)),
        tickMs: 100,
        snapshot: { entries: 0, bytes: 0 },
      });
      d.start();
      members.push(d);
    }
    members[0]!.campaign();
    drivers.push(members);
  }
  const deadline = Date.now() + 10_000;
  while (drivers.some((m) => m[0]!.status().leader !== m[0]!.id)) {
    if (Date.now() > deadline) throw new Error('leaders not elected within 10 s');
    await new Promise((r) => setTimeout(r, 5));
  }

  const hardStateWrites = (): number => fileStores.reduce((n, st) => n + st.stats.hardStateWrites, 0);
  const hs0 = hardStateWrites();
  counts.fsyncs = 0;
  const payload = new Uint8Array(flags.bytes).fill(7);
  let acked = 0;
  let fsyncs = -1;
  let hs = 0;
  let rounds = 0;
  let roundSyncs = 0;
  const r0 = { ...groupSync.stats };
  const start = performance.now();
  const end = start + flags.durationMs;
  // the clock is read by the lanes: a synchronous storage never lets a timer run
  const lane = async (leader: RaftDriver): Promise<void> => {
    while (performance.now() < end) {
      await leader.propose(payload);
      if (performance.now() < end) acked++;
      else if (fsyncs < 0) {
        fsyncs = counts.fsyncs;
        hs = hardStateWrites() - hs0;
        rounds = groupSync.stats.rounds - r0.rounds;
        roundSyncs = groupSync.stats.syncs - r0.syncs;
      }
    }
  };
  await Promise.all(drivers.flatMap((m) => Array.from({ length: flags.window }, () => lane(m[0]!))));
  for (const m of drivers) for (const d of m) await d.close();
  fs.rmSync(root, { recursive: true, force: true });
  // a hard state file replacement is two fsyncs (the file and its directory)
  return { mode, groups, replicas, acked, seconds: flags.durationMs / 1000, fsyncs: fsyncs + 2 * hs, perRound: rounds > 0 ? roundSyncs / rounds : 0 };
}

function row(r: Result): string {
  const rate = r.acked / r.seconds;
  const perRound = r.mode === 'after' ? r.perRound.toFixed(1) : '-';
  return `${r.mode.padEnd(6)} ${String(r.groups).padStart(6)} ${String(r.replicas).padStart(8)} ${rate.toFixed(0).padStart(12)} ${(r.fsyncs / Math.max(1, r.acked)).toFixed(3).padStart(15)} ${perRound.padStart(14)}`;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  console.log(`raft persistence: ${flags.window} proposals of ${flags.bytes} B in flight per group, ${flags.durationMs / 1000} s per run, ${os.cpus().length} cores`);
  console.log(`${'mode'.padEnd(6)} ${'groups'.padStart(6)} ${'replicas'.padStart(8)} ${'appends/s'.padStart(12)} ${'fsyncs/entry'.padStart(15)} ${'files/round'.padStart(14)}`);
  for (const replicas of flags.replicas) {
    for (const groups of flags.groups) {
      const before = await runOne('before', groups, replicas, flags);
      console.log(row(before));
      const after = await runOne('after', groups, replicas, flags);
      console.log(`${row(after)}   x${(after.acked / after.seconds / (before.acked / before.seconds)).toFixed(2)}`);
    }
  }
}

await main();

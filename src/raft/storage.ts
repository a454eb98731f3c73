// The storage seam. The core reads through `Storage`. Writes come in two flavours:
// `RaftStorage.persist` is durable when it returns (MemoryStorage, hand-driven tests);
// `AsyncRaftStorage.persist` reports durability through a callback (FileStorage: group
// commit off the event loop), which is what the driver uses. Both compact with
// createSnapshot + compact after applying.

import { RaftError, RaftErrorCode } from './errors.ts';
import { EMPTY_DATA, entrySize, NONE } from './types.ts';
import type { ConfState, Entry, HardState, NodeId, Snapshot } from './types.ts';

export interface InitialState {
  hardState: HardState;
  confState: ConfState;
}

/** Read side used by the core. `entries` and `term` throw RaftError Compacted / Unavailable. */
export interface Storage {
  initialState(): InitialState;
  /** Entries in [lo, hi), at least one if any, at most about maxBytes. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of entry `index`; index firstIndex()-1 answers the snapshot's term. */
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  /** The latest snapshot (to send to followers that are too far behind). */
  snapshot(): Snapshot;
}

export interface PersistBatch {
  hardState: HardState | null;
  entries: Entry[];
  snapshot: Snapshot | null;
}

/**
 * What start-up found missing from a log that should have been there (a damaged or cut
 * segment): entries up to `index` (of `term`, 0 if unknown) may have been acknowledged
 * before and are gone. The node must be repaired from the leader before it votes again.
 */
export interface LogDamage {
  index: number;
  term: number;
  reason: string;
}

/** Write side with synchronous durability (memory, tests). */
export interface RaftStorage extends Storage {
  /** Persists a Ready's snapshot, then entries, then hard state; durable on return. */
  persist(batch: PersistBatch): void;
  /** Records a snapshot of the state machine at `index` (which must be applied). */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot;
  /** Discards entries up to and including `index` (must be <= the snapshot index). */
  compact(index: number): void;
  close?(): void;
}

/**
 * Write side with asynchronous durability, used by the driver. `persist` calls `done`
 * once the batch is durable as etcd's MustSync rule requires (entries, snapshot, term
 * or vote: fsynced; a commit index alone: written, not synced) and readable; `done` may
 * run before `persist` returns when nothing has to reach the disk first. On an error
 * nothing of the batch is readable and it may be retried.
 */
export interface AsyncRaftStorage extends Storage {
  persist(batch: PersistBatch, done: (err: Error | null) => void): void;
  /** Visible at once; made durable in the background, before any compaction it enables. */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot;
  /** Visible at once; files go only after the snapshot covering them is durable. */
  compact(index: number): void;
  /** Damage found when the storage was opened, or null. */
  damage(): LogDamage | null;
  /** Waits for background writes, then releases files. */
  close(): Promise<void>;
}

export function emptyHardState(): HardState {
  return { term: 0, vote: NONE, commit: 0 };
}

export function emptySnapshot(): Snapshot {
  return { meta: { index: 0, term: 0, conf: { voters: [], removed: [] } }, data: EMPTY_DATA };
}

/**
 * The snapshot every founding member starts from: index 1, term 1, the initial voters.
 * Using a snapshot (not log entries) means a node added later always receives the
 * configuration through the snapshot or the log after it.
 */
export function bootstrapSnapshot(voters: NodeId[], data: Uint8Array = EMPTY_DATA): Snapshot {
  return { meta: { index: 1, term: 1, conf: { voters: [...voters], removed: [] } }, data };
}

export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length <= 1) return ents;
  let size = entrySize(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n]!);
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

/**
 * The read side of a storage that keeps everything readable in a MemoryStorage and only adds
 * durability (FileStorage, the simulator's disk, the persistence benchmark's baseline).
 */
export abstract class MemoryBackedStorage implements Storage {
  protected readonly mem: MemoryStorage;
  constructor(mem: MemoryStorage) {
    this.mem = mem;
  }
  initialState(): InitialState {
    return this.mem.initialState();
  }
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.mem.entries(lo, hi, maxBytes);
  }
  term(index: number): number {
    return this.mem.term(index);
  }
  firstIndex(): number {
    return this.mem.firstIndex();
  }
  lastIndex(): number {
    return this.mem.lastIndex();
  }
  snapshot(): Snapshot {
    return this.mem.snapshot();
  }
  getHardState(): HardState {
    return this.mem.getHardState();
  }
}

/**
 * Entries in memory with a dummy entry at position 0 holding the snapshot's index
 * and term. Also the cache behind FileStorage.
 */
export class MemoryStorage implements RaftStorage {
  private hardState: HardState = emptyHardState();
  private snap: Snapshot = emptySnapshot();
  /** ents[0] is the dummy at the snapshot position */
  private ents: Entry[] = [{ term: 0, index: 0, type: 0, data: EMPTY_DATA }];

  static bootstrap(voters: NodeId[], data?: Uint8Array): MemoryStorage {
    const s = new MemoryStorage();
    s.applySnapshot(bootstrapSnapshot(voters, data));
    return s;
  }

  initialState(): InitialState {
    return { hardState: { ...this.hardState }, confState: this.snap.meta.conf };
  }

  getHardState(): HardState {
    return this.hardState;
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new RaftError(RaftErrorCode.Compacted, `entries: index ${lo} compacted`);
    if (hi > this.lastIndex() + 1) {
      throw new RaftError(RaftErrorCode.Unavailable, `entries: hi ${hi} beyond last ${this.lastIndex()}`);
    }
    if (this.ents.length === 1) throw new RaftError(RaftErrorCode.Unavailable, 'entries: empty log');
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  term(index: number): number {
    const offset = this.ents[0]!.index;
    if (index < offset) throw new RaftError(RaftErrorCode.Compacted, `term: index ${index} compacted`);
    if (index - offset >= this.ents.length) {
      throw new RaftError(RaftErrorCode.Unavailable, `term: index ${index} unavailable`);
    }
    return this.ents[index - offset]!.term;
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces everything with `snap` (a follower installing the leader's snapshot). */
  applySnapshot(snap: Snapshot): void {
    if (snap.meta.index <= this.snap.meta.index && this.snap.meta.index !== 0) {
      throw new RaftError(RaftErrorCode.SnapshotOutOfDate, 'applySnapshot: snapshot out of date');
    }
    this.snap = snap;
    this.ents = [{ term: snap.meta.term, index: snap.meta.index, type: 0, data: EMPTY_DATA }];
  }

  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.meta.index) {
      throw new RaftError(RaftErrorCode.SnapshotOutOfDate, 'createSnapshot: snapshot out of date');
    }
    if (index > this.lastIndex()) {
      throw new RaftError(RaftErrorCode.Unavailable, `createSnapshot: ${index} beyond last ${this.lastIndex()}`);
    }
    const offset = this.ents[0]!.index;
    this.snap = {
      meta: { index, term: this.ents[index - offset]!.term, conf: { voters: [...conf.voters], removed: [...conf.removed] } },
      data,
    };
    return this.snap;
  }

  compact(index: number): void {
    const offset = this.ents[0]!.index;
    if (index <= offset) return;
    if (index > this.lastIndex()) {
      throw new RaftError(RaftErrorCode.Unavailable, `compact: ${index} beyond last ${this.lastIndex()}`);
    }
    const i = index - offset;
    const kept: Entry[] = [{ term: this.ents[i]!.term, index, type: 0, data: EMPTY_DATA }];
    for (let k = i + 1; k < this.ents.length; k++) kept.push(this.ents[k]!);
    this.ents = kept;
  }

  /** Appends, replacing any conflicting suffix. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    if (first > entries[0]!.index) entries = entries.slice(first - entries[0]!.index);
    const offset = entries[0]!.index - this.ents[0]!.index;
    if (this.ents.length > offset) this.ents.length = offset;
    else if (this.ents.length < offset) {
      throw new RaftError(RaftErrorCode.Internal, `append: missing entries before ${entries[0]!.index}`);
    }
    for (const e of entries) this.ents.push(e);
  }

  /**
   * Fault injection (tests, simulation): a damaged disk lost every entry after `index` (never
   * below the snapshot). The commit index is cut to what is left, as FileStorage recovery does.
   */
  discardAfter(index: number): void {
    const offset = this.ents[0]!.index;
    const keep = Math.max(index, offset);
    if (keep >= this.lastIndex()) return;
    this.ents.length = keep - offset + 1;
    if (this.hardState.commit > keep) this.hardState = { ...this.hardState, commit: keep };
  }

  persist(batch: PersistBatch): void {
    if (batch.snapshot) this.applySnapshot(batch.snapshot);
    this.append(batch.entries);
    if (batch.hardState) this.setHardState(batch.hardState);
  }

  /** Deep-enough copy to model what survives a crash (entries are immutable once made). */
  clone(): MemoryStorage {
    const c = new MemoryStorage();
    c.hardState = { ...this.hardState };
    c.snap = this.snap;
    c.ents = this.ents.slice();
    return c;
  }
}

/**
 * An AsyncRaftStorage that keeps everything in memory and is "durable" at once: for groups whose
 * state is not meant to outlive the process (memory-storage consumers, as nats-server keeps
 * their Raft log in memory too).
 */
export class VolatileStorage extends MemoryBackedStorage implements AsyncRaftStorage {
  constructor() {
    super(new MemoryStorage());
  }

  persist(batch: PersistBatch, done: (err: Error | null) => void): void {
    this.mem.persist(batch);
    done(null);
  }

  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    return this.mem.createSnapshot(index, conf, data);
  }

  compact(index: number): void {
    this.mem.compact(index);
  }

  damage(): LogDamage | null {
    return null;
  }

  async close(): Promise<void> {}
}

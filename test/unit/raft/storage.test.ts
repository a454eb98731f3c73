import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeEntry, encodeHardState, encodeSnapshot } from '../../../src/raft/codec.ts';
import { RaftErrorCode } from '../../../src/raft/errors.ts';
import { FileStorage } from '../../../src/raft/file_storage.ts';
import type { FileStorageOptions } from '../../../src/raft/file_storage.ts';
import { RaftLog } from '../../../src/raft/log.ts';
import { MemoryStorage, bootstrapSnapshot } from '../../../src/raft/storage.ts';
import type { PersistBatch, Storage } from '../../../src/raft/storage.ts';
import { EntryType } from '../../../src/raft/types.ts';
import type { ConfState, Entry, Snapshot } from '../../../src/raft/types.ts';
import { writeFramedFileSync } from '../../../src/storage/atomic_file.ts';
import { encodeFrames, scanFrames } from '../../../src/storage/framing.ts';
import { GroupSync } from '../../../src/storage/group_sync.ts';
import { raftErrorCode } from './cluster.ts';
import { tempDirsPerTest } from '../../support/temp_dirs.ts';

const tmpDir = tempDirsPerTest('petrel-raft-');

function ents(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ term, index: i, type: EntryType.Normal, data: new Uint8Array([i & 0xff, term]) });
  return out;
}

function batch(entries: Entry[], hardState: PersistBatch['hardState'] = null, snapshot: Snapshot | null = null): PersistBatch {
  return { entries, hardState, snapshot };
}

function persist(s: FileStorage, b: PersistBatch): Promise<void> {
  return new Promise((resolve, reject) => s.persist(b, (err) => (err ? reject(err) : resolve())));
}

function segmentFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^wal-\d{10}\.log$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

const code = raftErrorCode;

/** The write side both storages offer, with FileStorage's asynchronous durability awaited. */
interface Writable extends Storage {
  persist(b: PersistBatch): Promise<void>;
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot;
  compact(index: number): void;
  initialState(): ReturnType<Storage['initialState']>;
  close(): Promise<void>;
}

/** Delegates reads and snapshots to `s` and awaits its durability. */
function writable(s: MemoryStorage | FileStorage, write: (b: PersistBatch) => Promise<void>, close: () => Promise<void>): Writable {
  return {
    initialState: () => s.initialState(),
    entries: (lo, hi, max) => s.entries(lo, hi, max),
    term: (i) => s.term(i),
    firstIndex: () => s.firstIndex(),
    lastIndex: () => s.lastIndex(),
    snapshot: () => s.snapshot(),
    createSnapshot: (i, c, d) => s.createSnapshot(i, c, d),
    compact: (i) => s.compact(i),
    persist: write,
    close,
  };
}

function memory(): Writable {
  const m = new MemoryStorage();
  return writable(m, (b) => Promise.resolve(m.persist(b)), () => Promise.resolve());
}

function file(): Writable {
  const f = FileStorage.open(tmpDir());
  return writable(f, (b) => persist(f, b), () => f.close());
}

// one suite, both implementations (the seam's contract)
for (const [name, make] of [
  ['MemoryStorage', memory],
  ['FileStorage', file],
] as const) {
  describe(`storage contract: ${name}`, () => {
    it('appends, reads ranges and terms, and answers out-of-range clearly', async () => {
      const s = make();
      await s.persist(batch(ents(1, 5, 1)));
      expect(s.firstIndex()).toBe(1);
      expect(s.lastIndex()).toBe(5);
      expect(s.entries(2, 4, 1e9).map((e) => e.index)).toEqual([2, 3]);
      expect(s.term(5)).toBe(1);
      expect(code(() => s.entries(3, 9, 1e9))).toBe(RaftErrorCode.Unavailable);
      expect(code(() => s.term(9))).toBe(RaftErrorCode.Unavailable);
      await s.close();
    });

    it('replaces a conflicting suffix', async () => {
      const s = make();
      await s.persist(batch(ents(1, 5, 1)));
      await s.persist(batch(ents(3, 4, 2)));
      expect(s.lastIndex()).toBe(4);
      expect(s.term(3)).toBe(2);
      expect(s.term(2)).toBe(1);
      await s.close();
    });

    it('respects the size limit but always returns one entry', async () => {
      const s = make();
      await s.persist(batch(ents(1, 5, 1)));
      expect(s.entries(1, 6, 1).length).toBe(1);
      expect(s.entries(1, 6, 60).length).toBe(2);
      await s.close();
    });

    it('snapshots and compacts', async () => {
      const s = make();
      await s.persist(batch(ents(1, 8, 1), { term: 1, vote: 'a', commit: 5 }));
      s.createSnapshot(5, { voters: ['a', 'b', 'c'], removed: [] }, new Uint8Array([9]));
      s.compact(4);
      expect(s.firstIndex()).toBe(5);
      expect(s.term(4)).toBe(1);
      expect(code(() => s.entries(3, 5, 1e9))).toBe(RaftErrorCode.Compacted);
      expect(code(() => s.createSnapshot(5, { voters: [], removed: [] }, new Uint8Array()))).toBe(RaftErrorCode.SnapshotOutOfDate);
      expect(s.snapshot().meta).toEqual({ index: 5, term: 1, conf: { voters: ['a', 'b', 'c'], removed: [] } });
      expect(s.initialState().hardState).toEqual({ term: 1, vote: 'a', commit: 5 });
      await s.close();
    });

    it('installing a snapshot discards the whole log', async () => {
      const s = make();
      await s.persist(batch(ents(1, 8, 1)));
      const snap = { ...bootstrapSnapshot(['x']), meta: { index: 20, term: 3, conf: { voters: ['x'], removed: [] } } };
      await s.persist(batch(ents(21, 22, 3), null, snap));
      expect(s.firstIndex()).toBe(21);
      expect(s.lastIndex()).toBe(22);
      expect(s.term(20)).toBe(3);
      await s.close();
    });

    it('serves the core through RaftLog', async () => {
      const s = make();
      await s.persist(batch(ents(1, 3, 1)));
      const log = new RaftLog(s, 1e9);
      log.append(ents(4, 5, 2));
      expect(log.lastIndex()).toBe(5);
      expect(log.slice(2, 6, 1e9).map((e) => e.term)).toEqual([1, 1, 2, 2]);
      expect(log.findConflictByTerm(5, 1)).toBe(3);
      await s.close();
    });
  });
}

/** A GroupSync that counts fdatasyncs and can be told to fail the next ones. */
function countingSync(): { gs: GroupSync; fails: { n: number } } {
  const fails = { n: 0 };
  const gs = new GroupSync((fd) => {
    if (fails.n > 0) {
      fails.n--;
      return Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    }
    return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  });
  return { gs, fails };
}

async function open(dir: string, opts: FileStorageOptions = {}): Promise<FileStorage> {
  return FileStorage.open(dir, opts);
}

describe('FileStorage durability', () => {
  it('recovers entries, hard state and snapshot after reopening', async () => {
    const dir = tmpDir();
    const s = await open(dir);
    await persist(s, batch(ents(1, 6, 2), { term: 2, vote: 'b', commit: 3 }));
    s.createSnapshot(3, { voters: ['a', 'b'], removed: ['z'] }, new Uint8Array([1, 2, 3]));
    await s.close();
    const r = await open(dir);
    expect(r.initialState().hardState).toEqual({ term: 2, vote: 'b', commit: 3 });
    expect(r.snapshot().meta.conf.removed).toEqual(['z']);
    expect([...r.snapshot().data]).toEqual([1, 2, 3]);
    expect(r.firstIndex()).toBe(4);
    expect(r.lastIndex()).toBe(6);
    expect(r.recovery).toMatchObject({ truncatedBytes: 0, damage: null });
    await r.close();
  });

  it('follows the MustSync rule: entries are fsynced, a commit index alone is written without a sync, term and vote go to the hard state file', async () => {
    const dir = tmpDir();
    const { gs } = countingSync();
    const s = await open(dir, { groupSync: gs });
    await persist(s, batch(ents(1, 3, 1), { term: 1, vote: 'a', commit: 0 }));
    expect(gs.stats.syncs).toBe(1);
    expect(s.stats.hardStateWrites).toBe(1);
    // commit only: answered at once, no fsync, no hard state rewrite
    let called = false;
    s.persist(batch([], { term: 1, vote: 'a', commit: 2 }), (err) => {
      expect(err).toBeNull();
      called = true;
    });
    expect(called).toBe(true);
    await s.settle();
    expect(gs.stats.syncs).toBe(1);
    expect(s.stats).toMatchObject({ hardStateWrites: 1, commitRecords: 1 });
    // a commit that rides with entries costs nothing extra
    await persist(s, batch(ents(4, 4, 1), { term: 1, vote: 'a', commit: 3 }));
    expect(gs.stats.syncs).toBe(2);
    expect(s.stats).toMatchObject({ hardStateWrites: 1, commitRecords: 2 });
    // a new term is written to the hard state file
    await persist(s, batch([], { term: 2, vote: 'b', commit: 3 }));
    expect(s.stats.hardStateWrites).toBe(2);
    await s.close();
    // the commit index comes back from the WAL's records even though the file holds an older one
    const r = await open(dir);
    expect(r.initialState().hardState).toEqual({ term: 2, vote: 'b', commit: 3 });
    await r.close();
  });

  it('batches of many groups share fsync rounds', async () => {
    const { gs } = countingSync();
    const groups = await Promise.all([1, 2, 3, 4].map(() => open(tmpDir(), { groupSync: gs })));
    await Promise.all(groups.map((g) => persist(g, batch(ents(1, 10, 1)))));
    // one fsync per file, all in the first round or two (never one round per group)
    expect(gs.stats.syncs).toBe(4);
    expect(gs.stats.rounds).toBeLessThanOrEqual(2);
    for (const g of groups) await g.close();
  });

  it('a failed fsync reports the error, keeps the batch unreadable, and a retry succeeds', async () => {
    const dir = tmpDir();
    const { gs, fails } = countingSync();
    const s = await open(dir, { groupSync: gs });
    fails.n = 1;
    await expect(persist(s, batch(ents(1, 3, 1)))).rejects.toThrow(/EIO/);
    expect(s.lastIndex()).toBe(0);
    await persist(s, batch(ents(1, 3, 1)));
    expect(s.lastIndex()).toBe(3);
    await s.close();
    expect((await open(dir)).lastIndex()).toBe(3);
  });

  it('reads a data directory written in the previous format (entries only in the WAL, hard state file per commit)', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'wal-0000000001.log'), encodeFrames(ents(1, 4, 2).map(encodeEntry)));
    writeFramedFileSync(path.join(dir, 'hardstate'), encodeHardState({ term: 2, vote: 'a', commit: 4 }));
    writeFramedFileSync(path.join(dir, 'snapshot'), encodeSnapshot(bootstrapSnapshot(['a', 'b', 'c'])));
    const s = await open(dir);
    expect(s.initialState()).toEqual({ hardState: { term: 2, vote: 'a', commit: 4 }, confState: { voters: ['a', 'b', 'c'], removed: [] } });
    expect(s.firstIndex()).toBe(2);
    expect(s.lastIndex()).toBe(4);
    expect(s.damage()).toBeNull();
    await persist(s, batch(ents(5, 5, 2), { term: 2, vote: 'a', commit: 5 }));
    await s.close();
    expect((await open(dir)).initialState().hardState.commit).toBe(5);
  });

  it('truncates a torn tail (partial last record) and keeps what came before', async () => {
    const dir = tmpDir();
    const s = await open(dir);
    await persist(s, batch(ents(1, 5, 1)));
    await s.close();
    const seg = segmentFiles(dir)[0]!;
    fs.truncateSync(seg, fs.statSync(seg).size - 3); // crash in the middle of writing record 5
    const r = await open(dir);
    expect(r.lastIndex()).toBe(4);
    expect(r.recovery.truncatedBytes).toBeGreaterThan(0);
    expect(r.damage()).toBeNull();
    // and appending after recovery works
    await persist(r, batch(ents(5, 6, 2)));
    await r.close();
    expect((await open(dir)).lastIndex()).toBe(6);
  });

  it('treats a garbled final record as torn', async () => {
    const dir = tmpDir();
    const s = await open(dir);
    await persist(s, batch(ents(1, 3, 1)));
    await s.close();
    const seg = segmentFiles(dir)[0]!;
    const buf = fs.readFileSync(seg);
    buf[buf.length - 1] ^= 0xff;
    fs.writeFileSync(seg, buf);
    expect((await open(dir)).lastIndex()).toBe(2);
  });

  it('a bit flipped in the middle is damage: the log is cut before it, the file kept aside, and the lost range reported', async () => {
    const dir = tmpDir();
    const s = await open(dir);
    await persist(s, batch(ents(1, 5, 3)));
    await s.close();
    const seg = segmentFiles(dir)[0]!;
    const buf = fs.readFileSync(seg);
    const recordBytes = buf.length / 5;
    buf[2 * recordBytes + 10] ^= 0x04; // inside record 3's payload
    fs.writeFileSync(seg, buf);
    const r = await open(dir);
    expect(r.lastIndex()).toBe(2);
    expect(r.damage()).toEqual({ index: 5, term: 3, reason: expect.stringMatching(/checksum mismatch in record at offset \d+/) });
    expect(fs.existsSync(`${seg}.damaged`)).toBe(true);
    expect(fs.statSync(seg).size).toBe(2 * recordBytes);
    // the cut log takes new entries; the next open finds nothing wrong
    await persist(r, batch(ents(3, 3, 4)));
    await r.close();
    const again = await open(dir);
    expect(again.damage()).toBeNull();
    expect(again.term(3)).toBe(4);
  });

  it('a sealed segment cut short is damage, and the segments after it are kept aside', async () => {
    const dir = tmpDir();
    const s = await open(dir, { segmentBytes: 60 });
    for (let i = 1; i <= 12; i += 2) await persist(s, batch(ents(i, i + 1, 1)));
    await s.close();
    const segs = segmentFiles(dir);
    expect(segs.length).toBeGreaterThan(2);
    let inFirst = 0;
    scanFrames(fs.readFileSync(segs[0]!), 0, () => inFirst++);
    fs.truncateSync(segs[0]!, fs.statSync(segs[0]!).size - 5);
    const r = await open(dir);
    expect(r.damage()).toMatchObject({ index: 12, term: 1 });
    expect(r.lastIndex()).toBe(inFirst - 1);
    expect(segmentFiles(dir)).toEqual([segs[0]]);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.damaged')).length).toBe(segs.length);
    await r.close();
  });

  it('a commit index beyond the last entry means entries went missing', async () => {
    const dir = tmpDir();
    const s = await open(dir);
    await persist(s, batch(ents(1, 6, 1), { term: 1, vote: 'a', commit: 6 }));
    await s.close();
    // cut exactly at a record boundary: no checksum can see it, the commit index can
    const seg = segmentFiles(dir)[0]!;
    const entryBytes = encodeFrames([encodeEntry(ents(1, 1, 1)[0]!)]).length;
    fs.truncateSync(seg, 3 * entryBytes);
    const r = await open(dir);
    expect(r.lastIndex()).toBe(3);
    expect(r.initialState().hardState.commit).toBe(3);
    expect(r.damage()).toMatchObject({ index: 6, term: 0, reason: 'commit index 6 is beyond the last entry 3' });
    await r.close();
  });

  it('an unreadable snapshot discards the log and asks for everything again', async () => {
    const dir = tmpDir();
    const s = await open(dir);
    await persist(s, batch(ents(1, 8, 2), { term: 2, vote: 'a', commit: 8 }));
    s.createSnapshot(6, { voters: ['a', 'b', 'c'], removed: [] }, new Uint8Array([7]));
    await s.close();
    const f = path.join(dir, 'snapshot');
    const buf = fs.readFileSync(f);
    buf[buf.length - 1] ^= 1;
    fs.writeFileSync(f, buf);
    const r = await open(dir);
    expect(r.damage()).toMatchObject({ index: 8, term: 2, reason: expect.stringMatching(/^snapshot unreadable/) });
    expect(r.lastIndex()).toBe(0);
    expect(r.initialState()).toEqual({ hardState: { term: 2, vote: 'a', commit: 0 }, confState: { voters: [], removed: [] } });
    expect(fs.existsSync(`${f}.damaged`)).toBe(true);
    await r.close();
  });

  it('a corrupted hard state file is reported (term and vote cannot be re-learnt safely)', async () => {
    const dir = tmpDir();
    const s = await open(dir);
    await persist(s, batch([], { term: 5, vote: 'a', commit: 0 }));
    await s.close();
    const f = path.join(dir, 'hardstate');
    const buf = fs.readFileSync(f);
    buf[buf.length - 1] ^= 1;
    fs.writeFileSync(f, buf);
    expect(code(() => FileStorage.open(dir))).toBe(RaftErrorCode.Corrupt);
  });

  it('a leftover temp file from a crash during an atomic write is ignored', async () => {
    const dir = tmpDir();
    const s = await open(dir);
    await persist(s, batch([], { term: 5, vote: 'a', commit: 0 }));
    await s.close();
    fs.writeFileSync(path.join(dir, 'hardstate.tmp'), 'half written');
    expect((await open(dir)).initialState().hardState.term).toBe(5);
    expect(fs.existsSync(path.join(dir, 'hardstate.tmp'))).toBe(false);
  });

  it('rotates segments and compaction deletes whole old ones once the snapshot is on disk', async () => {
    const dir = tmpDir();
    const s = await open(dir, { segmentBytes: 100 });
    for (let i = 1; i <= 40; i += 4) await persist(s, batch(ents(i, i + 3, 1)));
    const before = s.segmentCount();
    expect(before).toBeGreaterThan(3);
    s.createSnapshot(30, { voters: ['a'], removed: [] }, new Uint8Array());
    s.compact(30);
    await s.settle();
    expect(s.segmentCount()).toBeLessThan(before);
    await s.close();
    const r = await open(dir);
    expect(r.firstIndex()).toBe(31);
    expect(r.lastIndex()).toBe(40);
    expect(r.entries(31, 41, 1e9).map((e) => e.index)).toEqual([31, 32, 33, 34, 35, 36, 37, 38, 39, 40]);
  });

  it('a truncation written after a rotation wins on replay', async () => {
    const dir = tmpDir();
    const s = await open(dir, { segmentBytes: 50 });
    await persist(s, batch(ents(1, 6, 1)));
    await persist(s, batch(ents(3, 4, 2)));
    await s.close();
    const r = await open(dir);
    expect(r.lastIndex()).toBe(4);
    expect(r.term(4)).toBe(2);
  });
});

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RaftError, RaftErrorCode } from '../../../src/raft/errors.ts';
import { FileStorage } from '../../../src/raft/file_storage.ts';
import { RaftLog } from '../../../src/raft/log.ts';
import { MemoryStorage, bootstrapSnapshot } from '../../../src/raft/storage.ts';
import type { RaftStorage } from '../../../src/raft/storage.ts';
import { EntryType } from '../../../src/raft/types.ts';
import type { Entry } from '../../../src/raft/types.ts';
import { raftErrorCode } from './cluster.ts';

const dirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-raft-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function ents(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ term, index: i, type: EntryType.Normal, data: new Uint8Array([i & 0xff, term]) });
  return out;
}

const code = raftErrorCode;

// one suite, both implementations (the seam's contract)
const impls: [string, () => RaftStorage][] = [
  ['MemoryStorage', () => new MemoryStorage()],
  ['FileStorage', () => FileStorage.open(tmpDir())],
];

for (const [name, make] of impls) {
  describe(`storage contract: ${name}`, () => {
    it('appends, reads ranges and terms, and answers out-of-range clearly', () => {
      const s = make();
      s.persist({ hardState: null, snapshot: null, entries: ents(1, 5, 1) });
      expect(s.firstIndex()).toBe(1);
      expect(s.lastIndex()).toBe(5);
      expect(s.entries(2, 4, 1e9).map((e) => e.index)).toEqual([2, 3]);
      expect(s.term(5)).toBe(1);
      expect(code(() => s.entries(3, 9, 1e9))).toBe(RaftErrorCode.Unavailable);
      expect(code(() => s.term(9))).toBe(RaftErrorCode.Unavailable);
      s.close?.();
    });

    it('replaces a conflicting suffix', () => {
      const s = make();
      s.persist({ hardState: null, snapshot: null, entries: ents(1, 5, 1) });
      s.persist({ hardState: null, snapshot: null, entries: ents(3, 4, 2) });
      expect(s.lastIndex()).toBe(4);
      expect(s.term(3)).toBe(2);
      expect(s.term(2)).toBe(1);
      s.close?.();
    });

    it('respects the size limit but always returns one entry', () => {
      const s = make();
      s.persist({ hardState: null, snapshot: null, entries: ents(1, 5, 1) });
      expect(s.entries(1, 6, 1).length).toBe(1);
      expect(s.entries(1, 6, 60).length).toBe(2);
      s.close?.();
    });

    it('snapshots and compacts', () => {
      const s = make();
      s.persist({ hardState: { term: 1, vote: 'a', commit: 5 }, snapshot: null, entries: ents(1, 8, 1) });
      s.createSnapshot(5, { voters: ['a', 'b', 'c'], removed: [] }, new Uint8Array([9]));
      s.compact(4);
      expect(s.firstIndex()).toBe(5);
      expect(s.term(4)).toBe(1);
      expect(code(() => s.entries(3, 5, 1e9))).toBe(RaftErrorCode.Compacted);
      expect(code(() => s.createSnapshot(5, { voters: [], removed: [] }, new Uint8Array()))).toBe(RaftErrorCode.SnapshotOutOfDate);
      expect(s.snapshot().meta).toEqual({ index: 5, term: 1, conf: { voters: ['a', 'b', 'c'], removed: [] } });
      expect(s.initialState().hardState).toEqual({ term: 1, vote: 'a', commit: 5 });
      s.close?.();
    });

    it('installing a snapshot discards the whole log', () => {
      const s = make();
      s.persist({ hardState: null, snapshot: null, entries: ents(1, 8, 1) });
      s.persist({ hardState: null, snapshot: { ...bootstrapSnapshot(['x']), meta: { index: 20, term: 3, conf: { voters: ['x'], removed: [] } } }, entries: ents(21, 22, 3) });
      expect(s.firstIndex()).toBe(21);
      expect(s.lastIndex()).toBe(22);
      expect(s.term(20)).toBe(3);
      s.close?.();
    });

    it('serves the core through RaftLog', () => {
      const s = make();
      s.persist({ hardState: null, snapshot: null, entries: ents(1, 3, 1) });
      const log = new RaftLog(s, 1e9);
      log.append(ents(4, 5, 2));
      expect(log.lastIndex()).toBe(5);
      expect(log.slice(2, 6, 1e9).map((e) => e.term)).toEqual([1, 1, 2, 2]);
      expect(log.findConflictByTerm(5, 1)).toBe(3);
      s.close?.();
    });
  });
}

describe('FileStorage durability', () => {
  it('recovers entries, hard state and snapshot after reopening', () => {
    const dir = tmpDir();
    const s = FileStorage.open(dir);
    s.persist({ hardState: { term: 2, vote: 'b', commit: 3 }, snapshot: null, entries: ents(1, 6, 2) });
    s.createSnapshot(3, { voters: ['a', 'b'], removed: ['z'] }, new Uint8Array([1, 2, 3]));
    s.close();
    const r = FileStorage.open(dir);
    expect(r.initialState().hardState).toEqual({ term: 2, vote: 'b', commit: 3 });
    expect(r.snapshot().meta.conf.removed).toEqual(['z']);
    expect([...r.snapshot().data]).toEqual([1, 2, 3]);
    expect(r.firstIndex()).toBe(4);
    expect(r.lastIndex()).toBe(6);
    expect(r.recovery.truncatedBytes).toBe(0);
    r.close();
  });

  it('truncates a torn tail (partial last record) and keeps what came before', () => {
    const dir = tmpDir();
    const s = FileStorage.open(dir);
    s.persist({ hardState: null, snapshot: null, entries: ents(1, 5, 1) });
    s.close();
    const seg = path.join(dir, fs.readdirSync(dir).find((f) => f.startsWith('wal-'))!);
    const size = fs.statSync(seg).size;
    fs.truncateSync(seg, size - 3); // crash in the middle of writing record 5
    const r = FileStorage.open(dir);
    expect(r.lastIndex()).toBe(4);
    expect(r.recovery.truncatedBytes).toBeGreaterThan(0);
    // and appending after recovery works
    r.persist({ hardState: null, snapshot: null, entries: ents(5, 6, 2) });
    r.close();
    expect(FileStorage.open(dir).lastIndex()).toBe(6);
  });

  it('treats a garbled final record as torn', () => {
    const dir = tmpDir();
    const s = FileStorage.open(dir);
    s.persist({ hardState: null, snapshot: null, entries: ents(1, 3, 1) });
    s.close();
    const seg = path.join(dir, fs.readdirSync(dir).find((f) => f.startsWith('wal-'))!);
    const buf = fs.readFileSync(seg);
    buf[buf.length - 1] ^= 0xff;
    fs.writeFileSync(seg, buf);
    expect(FileStorage.open(dir).lastIndex()).toBe(2);
  });

  it('reports a corrupted record in the middle and never serves it', () => {
    const dir = tmpDir();
    const s = FileStorage.open(dir);
    s.persist({ hardState: null, snapshot: null, entries: ents(1, 5, 1) });
    s.close();
    const seg = path.join(dir, fs.readdirSync(dir).find((f) => f.startsWith('wal-'))!);
    const buf = fs.readFileSync(seg);
    buf[8 + 2] ^= 0x55; // inside the first record's payload
    fs.writeFileSync(seg, buf);
    let err: unknown;
    try {
      FileStorage.open(dir);
    } catch (e) {
      err = e;
    }
    expect((err as RaftError).code).toBe(RaftErrorCode.Corrupt);
    expect((err as RaftError).message).toMatch(/checksum mismatch in record at offset 0/);
  });

  it('a corrupted hard state file is reported', () => {
    const dir = tmpDir();
    const s = FileStorage.open(dir);
    s.persist({ hardState: { term: 5, vote: 'a', commit: 0 }, snapshot: null, entries: [] });
    s.close();
    const f = path.join(dir, 'hardstate');
    const buf = fs.readFileSync(f);
    buf[buf.length - 1] ^= 1;
    fs.writeFileSync(f, buf);
    expect(code(() => FileStorage.open(dir))).toBe(RaftErrorCode.Corrupt);
  });

  it('a leftover temp file from a crash during an atomic write is ignored', () => {
    const dir = tmpDir();
    const s = FileStorage.open(dir);
    s.persist({ hardState: { term: 5, vote: 'a', commit: 0 }, snapshot: null, entries: [] });
    s.close();
    fs.writeFileSync(path.join(dir, 'hardstate.tmp'), 'half written');
    expect(FileStorage.open(dir).initialState().hardState.term).toBe(5);
    expect(fs.existsSync(path.join(dir, 'hardstate.tmp'))).toBe(false);
  });

  it('rotates segments and compaction deletes whole old ones', () => {
    const dir = tmpDir();
    const s = FileStorage.open(dir, { segmentBytes: 100 });
    for (let i = 1; i <= 40; i += 4) s.persist({ hardState: null, snapshot: null, entries: ents(i, i + 3, 1) });
    const before = s.segmentCount();
    expect(before).toBeGreaterThan(3);
    s.createSnapshot(30, { voters: ['a'], removed: [] }, new Uint8Array());
    s.compact(30);
    expect(s.segmentCount()).toBeLessThan(before);
    s.close();
    const r = FileStorage.open(dir);
    expect(r.firstIndex()).toBe(31);
    expect(r.lastIndex()).toBe(40);
    expect(r.entries(31, 41, 1e9).map((e) => e.index)).toEqual([31, 32, 33, 34, 35, 36, 37, 38, 39, 40]);
  });

  it('a truncation written after a rotation wins on replay', () => {
    const dir = tmpDir();
    const s = FileStorage.open(dir, { segmentBytes: 50 });
    s.persist({ hardState: null, snapshot: null, entries: ents(1, 6, 1) });
    s.persist({ hardState: null, snapshot: null, entries: ents(3, 4, 2) });
    s.close();
    const r = FileStorage.open(dir);
    expect(r.lastIndex()).toBe(4);
    expect(r.term(4)).toBe(2);
  });
});

// Durable Raft storage for one group in one directory:
//   snapshot   latest snapshot (framed file), replaced atomically
//   hardstate  term, vote and commit (framed file), replaced atomically when term or vote change
//   wal-N.log  segments of frames (src/storage/framing.ts): entries, and hard-state records that
//              carry the commit index (appended with the entries, never fsynced on their own)
// Writes are asynchronous: persist() appends on libuv's threads, joins a group-commit round of
// fdatasyncs shared with every other group on the node (src/storage/group_sync.ts) and calls
// back once the batch is durable. Etcd's MustSync rule decides what waits for the disk: entries,
// a snapshot, a new term or vote; a commit index alone is written and not waited for (losing it
// in a crash only means re-learning it from the leader).
// Recovery verifies every record. A torn final record (a crash mid-write) is cut. Anything else
// that breaks the log is damage: a bad record with data after it, a damaged sealed segment, a
// commit index beyond the last entry, an unreadable snapshot. The log is cut before it, the
// damaged files are kept beside it (*.damaged), and damage() says how far the lost entries
// went, so the driver keeps the node from voting until its leader has repaired it.
// All reads are served from an in-memory MemoryStorage rebuilt at open.

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { CorruptFileError, readFramedFileSync, removeTempFilesSync, syncDir, syncDirSync, writeFramedFile } from '../storage/atomic_file.ts';
import { encodeFrames, FrameStatus, readFrame } from '../storage/framing.ts';
import type { FrameRead } from '../storage/framing.ts';
import { sharedGroupSync } from '../storage/group_sync.ts';
import type { GroupSync } from '../storage/group_sync.ts';
import { decodeHardState, decodeSnapshot, decodeWalRecord, encodeEntry, encodeHardState, encodeSnapshot } from './codec.ts';
import { RaftError, RaftErrorCode, isRaftError } from './errors.ts';
import { MemoryBackedStorage, MemoryStorage, emptyHardState } from './storage.ts';
import type { AsyncRaftStorage, LogDamage, PersistBatch } from './storage.ts';
import type { ConfState, HardState, Snapshot } from './types.ts';

/** a new segment starts past this size so compaction can delete whole files */
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const SNAPSHOT_FILE = 'snapshot';
const HARDSTATE_FILE = 'hardstate';
const DAMAGED_SUFFIX = '.damaged';
const SEGMENT_RE = /^wal-(\d{10})\.log$/;

export interface FileStorageOptions {
  segmentBytes?: number;
  /** the fsync rounds to join; default: the one shared by every group in the process */
  groupSync?: GroupSync;
  /** a background write (snapshot file, compaction, commit record) failed */
  onError?: (err: Error) => void;
}

export interface RecoveryReport {
  segments: number;
  entries: number;
  /** bytes cut from the end of the last segment (a torn write) */
  truncatedBytes: number;
  /** lost entries found at start-up; the damaged files were kept as *.damaged */
  damage: (LogDamage & { file: string; offset: number }) | null;
}

export interface FileStorageStats {
  /** appends to the WAL (each one write of one or more frames) */
  walWrites: number;
  /** fsync requests for entries (a group-commit round may serve several) */
  syncRequests: number;
  /** hard state file replacements (term or vote changed) */
  hardStateWrites: number;
  /** commit-index records appended without an fsync of their own */
  commitRecords: number;
}

interface Segment {
  seq: number;
  file: string;
  /** highest entry index ever written to it; it may be deleted once compacted past */
  maxIndex: number;
  size: number;
}

interface Lost {
  index: number;
  term: number;
}

function segmentName(seq: number): string {
  return `wal-${String(seq).padStart(10, '0')}.log`;
}

function describeFrame(r: FrameRead): string {
  switch (r.status) {
    case FrameStatus.Torn:
      return 'truncated record';
    case FrameStatus.BadLength:
      return 'implausible record length';
    default:
      return 'checksum mismatch in record';
  }
}

/** Keeps a damaged file for inspection under a name recovery never reads. */
function asideName(file: string): string {
  let name = file + DAMAGED_SUFFIX;
  for (let n = 1; fs.existsSync(name); n++) name = `${file}${DAMAGED_SUFFIX}.${n}`;
  return name;
}

/** The highest entry among the intact records of `buf` from `off` on (best effort, for damage reports). */
function maxEntryFrom(buf: Buffer, off: number, into: Lost): void {
  while (off >= 0 && off < buf.length) {
    const r = readFrame(buf, off);
    if (r.status === FrameStatus.Torn || r.status === FrameStatus.BadLength) return;
    if (r.status === FrameStatus.Ok) {
      try {
        const rec = decodeWalRecord(r.payload);
        if (rec.entry && rec.entry.index >= into.index) {
          into.index = rec.entry.index;
          into.term = rec.entry.term;
        }
      } catch {
        // undecodable: nothing learnt from it
      }
    }
    off = r.end;
  }
}

function writeAll(fd: number, buf: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (off: number): void => {
      fs.write(fd, buf, off, buf.length - off, null, (err, n) => {
        if (err) reject(err);
        else if (off + n < buf.length) step(off + n);
        else resolve();
      });
    };
    step(0);
  });
}

function ftruncateAsync(fd: number, size: number): Promise<void> {
  return new Promise((resolve, reject) => fs.ftruncate(fd, size, (err) => (err ? reject(err) : resolve())));
}

function openAppend(file: string): Promise<number> {
  return new Promise((resolve, reject) => fs.open(file, 'a', (err, fd) => (err ? reject(err) : resolve(fd))));
}

function closeAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve())));
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

export class FileStorage extends MemoryBackedStorage implements AsyncRaftStorage {
  readonly dir: string;
  readonly recovery: RecoveryReport;
  readonly stats: FileStorageStats = { walWrites: 0, syncRequests: 0, hardStateWrites: 0, commitRecords: 0 };
  private readonly segmentBytes: number;
  private readonly groupSync: GroupSync;
  private readonly onError: (err: Error) => void;
  private segments: Segment[];
  private fd = -1;
  /** appends, rotations: one at a time, in order */
  private walChain: Promise<void> = Promise.resolve();
  /** snapshot file writes and the segment deletions they allow: one at a time, in order */
  private snapChain: Promise<void> = Promise.resolve();
  /** term and vote in the hard state file */
  private fileHardState: HardState;
  /** highest commit index written anywhere */
  private writtenCommit: number;
  /** index of the snapshot the snapshot file holds (or will, once the queued writes finish) */
  private snapFileIndex: number;
  /** a failed write could not be undone: nothing more may be appended until reopened */
  private broken: Error | null = null;

  private constructor(dir: string, mem: MemoryStorage, segments: Segment[], report: RecoveryReport, fileHs: HardState, options: FileStorageOptions) {
    super(mem);
    this.dir = dir;
    this.segments = segments;
    this.recovery = report;
    this.fileHardState = fileHs;
    this.writtenCommit = mem.getHardState().commit;
    this.snapFileIndex = mem.snapshot().meta.index;
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.groupSync = options.groupSync ?? sharedGroupSync;
    this.onError = options.onError ?? (() => {});
  }

  /** Opens (creating if needed) and recovers the group stored in `dir`. */
  static open(dir: string, options: FileStorageOptions = {}): FileStorage {
    fs.mkdirSync(dir, { recursive: true });
    removeTempFilesSync(dir);
    const snapFile = path.join(dir, SNAPSHOT_FILE);
    const report: RecoveryReport = { segments: 0, entries: 0, truncatedBytes: 0, damage: null };
    const damaged = (d: LogDamage & { file: string; offset: number }): void => {
      const prev = report.damage;
      if (prev === null) report.damage = d;
      else if (d.index > prev.index) report.damage = { ...prev, index: d.index, term: d.term };
    };

    let hs = emptyHardState();
    try {
      const b = readFramedFileSync(path.join(dir, HARDSTATE_FILE));
      if (b) hs = decodeHardState(b);
    } catch (e) {
      // term and vote cannot be re-learnt safely (a second vote in one term): an operator decides
      if (e instanceof CorruptFileError) throw new RaftError(RaftErrorCode.Corrupt, e.message);
      throw e;
    }
    const fileHs = { ...hs };

    const names = fs
      .readdirSync(dir)
      .filter((f) => SEGMENT_RE.test(f))
      .sort();
    report.segments = names.length;
    const mem = new MemoryStorage();
    let snapProblem: string | null = null;
    try {
      const b = readFramedFileSync(snapFile);
      if (b) mem.applySnapshot(decodeSnapshot(b));
    } catch (e) {
      if (!(e instanceof CorruptFileError) && !isRaftError(e, RaftErrorCode.Corrupt)) throw e;
      snapProblem = (e as Error).message;
    }

    const segments: Segment[] = [];
    let commit = hs.commit;
    if (snapProblem !== null) {
      // The base of every entry is gone: keep nothing, learn everything again from the leader.
      const lost: Lost = { index: 0, term: 0 };
      for (const n of names) {
        const file = path.join(dir, n);
        maxEntryFrom(fs.readFileSync(file), 0, lost);
        fs.renameSync(file, asideName(file));
      }
      fs.renameSync(snapFile, asideName(snapFile));
      const index = Math.max(lost.index, commit, 1);
      damaged({ index, term: index === lost.index ? lost.term : 0, reason: `snapshot unreadable: ${snapProblem}`, file: snapFile, offset: 0 });
      commit = 0;
    } else {
      const snapIndex = mem.snapshot().meta.index;
      for (let s = 0; s < names.length; s++) {
        const file = path.join(dir, names[s]!);
        const isLast = s === names.length - 1;
        const buf = fs.readFileSync(file);
        const seg: Segment = { seq: Number(SEGMENT_RE.exec(names[s]!)![1]), file, maxIndex: 0, size: buf.length };
        segments.push(seg);
        let off = 0;
        let problem: string | null = null;
        /** where intact records may resume after the problem, -1 if nothing can be read past it */
        let resume = -1;
        while (off < buf.length) {
          const r = readFrame(buf, off);
          if (r.status !== FrameStatus.Ok) {
            // the last record of the last segment may be half-written by a crash; anything else is damage
            const tornTail = isLast && (r.status === FrameStatus.Torn || (r.status === FrameStatus.BadChecksum && r.end === buf.length));
            if (tornTail) {
              report.truncatedBytes += buf.length - off;
              fs.truncateSync(file, off);
              seg.size = off;
            } else {
              problem = describeFrame(r);
              resume = r.status === FrameStatus.BadChecksum ? r.end : -1;
            }
            break;
          }
          let rec;
          try {
            rec = decodeWalRecord(r.payload);
          } catch (e) {
            if (isRaftError(e, RaftErrorCode.UnknownVersion)) throw e;
            problem = `undecodable record (${(e as Error).message})`;
            resume = r.end;
            break;
          }
          if (rec.entry) {
            const e = rec.entry;
            if (e.index > snapIndex) {
              if (e.index > mem.lastIndex() + 1) {
                problem = `entry ${e.index} leaves a gap after ${mem.lastIndex()}`;
                resume = off;
                break;
              }
              mem.append([e]);
            }
            seg.maxIndex = Math.max(seg.maxIndex, e.index);
          } else {
            commit = Math.max(commit, rec.hardState.commit);
          }
          off = r.end;
        }
        if (problem === null) continue;
        // Cut the log before the damage; what follows it (here and in later segments) is kept aside.
        const lost: Lost = { index: 0, term: 0 };
        maxEntryFrom(buf, resume, lost);
        fs.copyFileSync(file, asideName(file));
        fs.truncateSync(file, off);
        seg.size = off;
        for (const later of names.slice(s + 1)) {
          const f = path.join(dir, later);
          maxEntryFrom(fs.readFileSync(f), 0, lost);
          fs.renameSync(f, asideName(f));
        }
        // at least the damaged record itself was lost, and it may have been an entry
        const index = Math.max(lost.index, mem.lastIndex() + 1);
        damaged({ index, term: index === lost.index ? lost.term : 0, reason: `${file}: ${problem} at offset ${off}`, file, offset: off });
        break;
      }
    }
    if (commit > mem.lastIndex()) {
      damaged({ index: commit, term: 0, reason: `commit index ${commit} is beyond the last entry ${mem.lastIndex()}`, file: dir, offset: 0 });
      commit = mem.lastIndex();
    }
    mem.setHardState({ term: hs.term, vote: hs.vote, commit });
    report.entries = mem.lastIndex() - mem.firstIndex() + 1;
    if (report.damage) syncDirSync(dir);
    const st = new FileStorage(dir, mem, segments, report, fileHs, options);
    st.openActiveSegment();
    return st;
  }

  private openActiveSegment(): void {
    let seg = this.segments[this.segments.length - 1];
    if (!seg) {
      // after damage the old names are taken by nothing, but keep numbering upward anyway
      const seq = 1 + Math.max(0, ...fs.readdirSync(this.dir).map((f) => Number(/^wal-(\d{10})\.log/.exec(f)?.[1] ?? 0)));
      seg = { seq, file: path.join(this.dir, segmentName(seq)), maxIndex: 0, size: 0 };
      this.segments.push(seg);
      fs.writeFileSync(seg.file, new Uint8Array(0));
      syncDirSync(this.dir);
    }
    this.fd = fs.openSync(seg.file, 'a');
  }

  // ---------------------------------------------------------------- reads: MemoryBackedStorage

  damage(): LogDamage | null {
    const d = this.recovery.damage;
    return d ? { index: d.index, term: d.term, reason: d.reason } : null;
  }

  // ---------------------------------------------------------------- writes

  persist(batch: PersistBatch, done: (err: Error | null) => void): void {
    if (this.broken) {
      done(this.broken);
      return;
    }
    const hs = batch.hardState;
    const termOrVote = hs !== null && (hs.term !== this.fileHardState.term || hs.vote !== this.fileHardState.vote);
    if (batch.snapshot === null && batch.entries.length === 0 && !termOrVote) {
      // Only the commit index moved (or nothing): no fsync to wait for.
      if (hs) {
        this.mem.setHardState(hs);
        if (hs.commit > this.writtenCommit) {
          this.writtenCommit = hs.commit;
          const record = encodeHardState(hs);
          this.stats.commitRecords++;
          this.onWal(() => this.append([record], 0));
        }
      }
      done(null);
      return;
    }
    const p = this.walChain.then(() => this.write(batch, hs, termOrVote));
    this.walChain = p.catch(() => {});
    p.then(
      () => done(null),
      (err: unknown) => done(toError(err)),
    );
  }

  private async write(batch: PersistBatch, hs: HardState | null, termOrVote: boolean): Promise<void> {
    if (this.broken) throw this.broken;
    if (batch.snapshot) {
      await this.writeSnapshotFile(batch.snapshot);
      // the whole previous log is superseded by the snapshot
      await this.rotate(true);
    }
    const payloads: Uint8Array[] = [];
    let maxIndex = 0;
    for (const e of batch.entries) {
      payloads.push(encodeEntry(e));
      maxIndex = Math.max(maxIndex, e.index);
    }
    const commitRecord = hs !== null && !termOrVote && hs.commit > this.writtenCommit;
    if (commitRecord) {
      payloads.push(encodeHardState(hs));
      this.stats.commitRecords++;
    }
    if (payloads.length > 0) await this.append(payloads, maxIndex);
    if (batch.entries.length > 0) {
      this.stats.syncRequests++;
      await this.groupSync.sync(this.fd);
    }
    if (termOrVote && hs) {
      await writeFramedFile(path.join(this.dir, HARDSTATE_FILE), encodeHardState(hs));
      this.stats.hardStateWrites++;
      this.fileHardState = { ...hs };
    }
    if (hs && hs.commit > this.writtenCommit) this.writtenCommit = hs.commit;
    // durable: make it readable
    if (batch.snapshot) this.mem.applySnapshot(batch.snapshot);
    this.mem.append(batch.entries);
    if (hs) this.mem.setHardState(hs);
    if (this.activeSegment().size >= this.segmentBytes) await this.rotate(false);
  }

  /** Appends frames to the active segment; a failed write is cut off again so no torn record stays behind. */
  private async append(payloads: Uint8Array[], maxIndex: number): Promise<void> {
    if (this.broken) throw this.broken;
    const buf = encodeFrames(payloads);
    const seg = this.activeSegment();
    const before = seg.size;
    this.stats.walWrites++;
    try {
      await writeAll(this.fd, buf);
    } catch (err) {
      try {
        await ftruncateAsync(this.fd, before);
      } catch {
        this.broken = toError(err);
      }
      throw err;
    }
    seg.size += buf.length;
    seg.maxIndex = Math.max(seg.maxIndex, maxIndex);
  }

  private activeSegment(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  /** Starts a new segment; with `dropAll` (an installed snapshot) every older one goes. */
  private async rotate(dropAll: boolean): Promise<void> {
    const last = this.activeSegment();
    const next: Segment = { seq: last.seq + 1, file: path.join(this.dir, segmentName(last.seq + 1)), maxIndex: 0, size: 0 };
    const fd = await openAppend(next.file);
    await ftruncateAsync(fd, 0);
    const oldFd = this.fd;
    const dropped = dropAll ? this.segments : [];
    this.segments = dropAll ? [next] : [...this.segments, next];
    this.fd = fd;
    await closeAsync(oldFd);
    await syncDir(this.dir);
    if (dropped.length > 0) {
      await Promise.all(dropped.map((s) => fsp.rm(s.file, { force: true })));
      await syncDir(this.dir);
    }
  }

  /** Snapshot file writes never overlap, and an older snapshot never replaces a newer one. */
  private writeSnapshotFile(snap: Snapshot): Promise<void> {
    const p = this.snapChain.then(async () => {
      if (snap.meta.index < this.snapFileIndex) return;
      await writeFramedFile(path.join(this.dir, SNAPSHOT_FILE), encodeSnapshot(snap));
      this.snapFileIndex = snap.meta.index;
    });
    this.snapChain = p.catch(() => {});
    return p;
  }

  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    const snap = this.mem.createSnapshot(index, conf, data);
    this.writeSnapshotFile(snap).catch((err: unknown) => this.onError(toError(err)));
    return snap;
  }

  /**
   * Drops entries up to `index` (which must be <= the snapshot index) from memory now, and
   * the leading segments wholly below it once the snapshot covering them is on disk (never
   * the active one: only a prefix goes, so replay order across the rest stays intact).
   */
  compact(index: number): void {
    if (index > this.mem.snapshot().meta.index) {
      throw new RaftError(RaftErrorCode.Unavailable, `compact: ${index} is beyond the snapshot`);
    }
    this.mem.compact(index);
    const p = this.snapChain.then(() => this.dropSegments(Math.min(index, this.snapFileIndex)));
    this.snapChain = p.catch((err: unknown) => this.onError(toError(err)));
  }

  private async dropSegments(upTo: number): Promise<void> {
    let drop = 0;
    while (drop < this.segments.length - 1 && this.segments[drop]!.maxIndex <= upTo) drop++;
    if (drop === 0) return;
    const dropped = this.segments.slice(0, drop);
    this.segments = this.segments.slice(drop);
    await Promise.all(dropped.map((s) => fsp.rm(s.file, { force: true })));
    await syncDir(this.dir);
  }

  private onWal(op: () => Promise<void>): void {
    const p = this.walChain.then(op);
    this.walChain = p.catch((err: unknown) => this.onError(toError(err)));
  }

  segmentCount(): number {
    return this.segments.length;
  }

  /** Resolves once every queued write (including background ones) has finished. */
  async settle(): Promise<void> {
    for (;;) {
      const wal = this.walChain;
      const snap = this.snapChain;
      await Promise.all([wal, snap]);
      if (wal === this.walChain && snap === this.snapChain) return;
    }
  }

  async close(): Promise<void> {
    await this.settle();
    if (this.fd >= 0) await closeAsync(this.fd);
    this.fd = -1;
  }
}

// Durable Raft storage for one group in one directory:
//   snapshot   latest snapshot (framed record), replaced atomically
//   hardstate  term, vote, commit (framed record), replaced atomically
//   wal-N.log  write-ahead log segments of framed entry records
// A framed record is [u32 length][u32 crc32 of payload][payload], little-endian.
// Recovery verifies every record: a torn tail (a crash mid-write) is truncated; a
// bad record with valid data after it is corruption and is reported, never applied.
// All reads are served from an in-memory MemoryStorage rebuilt at open.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { decodeEntry, decodeHardState, decodeSnapshot, encodeEntry, encodeHardState, encodeSnapshot } from './codec.ts';
import { RaftError, RaftErrorCode } from './errors.ts';
import { MemoryStorage } from './storage.ts';
import type { InitialState, PersistBatch, RaftStorage } from './storage.ts';
import type { ConfState, Entry, HardState, Snapshot } from './types.ts';

const FRAME_HEADER_BYTES = 8;
/** a new segment starts past this size so compaction can delete whole files */
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
/** refuse absurd lengths in a header: no record is near this big */
const MAX_RECORD_BYTES = 1024 * 1024 * 1024;
const SNAPSHOT_FILE = 'snapshot';
const HARDSTATE_FILE = 'hardstate';
const SEGMENT_RE = /^wal-(\d{10})\.log$/;

export interface FileStorageOptions {
  segmentBytes?: number;
}

export interface RecoveryReport {
  segments: number;
  entries: number;
  /** bytes cut from the end of the last segment (a torn write) */
  truncatedBytes: number;
}

interface Segment {
  seq: number;
  file: string;
  /** highest entry index ever written to it; it may be deleted once compacted past */
  maxIndex: number;
  size: number;
}

export function frame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(crc32(payload), 4);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

function segmentName(seq: number): string {
  return `wal-${String(seq).padStart(10, '0')}.log`;
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** write temp + fsync + rename + fsync dir: the file is either old or new, never half. */
function writeAtomic(dir: string, name: string, payload: Uint8Array): void {
  const tmp = path.join(dir, `${name}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, frame(payload));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path.join(dir, name));
  fsyncDir(dir);
}

function readFramedFile(file: string): Uint8Array | null {
  if (!fs.existsSync(file)) return null;
  const buf = fs.readFileSync(file);
  if (buf.length < FRAME_HEADER_BYTES) throw new RaftError(RaftErrorCode.Corrupt, `${file}: truncated header`);
  const len = buf.readUInt32LE(0);
  if (buf.length !== FRAME_HEADER_BYTES + len) throw new RaftError(RaftErrorCode.Corrupt, `${file}: length mismatch`);
  const payload = buf.subarray(FRAME_HEADER_BYTES);
  if (crc32(payload) !== buf.readUInt32LE(4)) throw new RaftError(RaftErrorCode.Corrupt, `${file}: checksum mismatch`);
  return payload;
}

export class FileStorage implements RaftStorage {
  readonly dir: string;
  readonly recovery: RecoveryReport;
  private readonly mem: MemoryStorage;
  private readonly segmentBytes: number;
  private segments: Segment[] = [];
  private fd = -1;

  private constructor(dir: string, mem: MemoryStorage, segments: Segment[], report: RecoveryReport, segmentBytes: number) {
    this.dir = dir;
    this.mem = mem;
    this.segments = segments;
    this.recovery = report;
    this.segmentBytes = segmentBytes;
  }

  /** Opens (creating if needed) and recovers the group stored in `dir`. */
  static open(dir: string, options: FileStorageOptions = {}): FileStorage {
    fs.mkdirSync(dir, { recursive: true });
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.tmp')) fs.rmSync(path.join(dir, f));
    const mem = new MemoryStorage();
    const snapBytes = readFramedFile(path.join(dir, SNAPSHOT_FILE));
    const snap = snapBytes ? decodeSnapshot(snapBytes) : null;
    if (snap) mem.applySnapshot(snap);
    const hsBytes = readFramedFile(path.join(dir, HARDSTATE_FILE));
    if (hsBytes) mem.setHardState(decodeHardState(hsBytes));

    const names = fs
      .readdirSync(dir)
      .filter((f) => SEGMENT_RE.test(f))
      .sort();
    const segments: Segment[] = [];
    const report: RecoveryReport = { segments: names.length, entries: 0, truncatedBytes: 0 };
    const snapIndex = snap ? snap.meta.index : 0;
    for (let s = 0; s < names.length; s++) {
      const file = path.join(dir, names[s]!);
      const isLast = s === names.length - 1;
      const buf = fs.readFileSync(file);
      const seg: Segment = { seq: Number(SEGMENT_RE.exec(names[s]!)![1]), file, maxIndex: 0, size: buf.length };
      let off = 0;
      while (off < buf.length) {
        const torn = (): void => {
          if (!isLast) throw new RaftError(RaftErrorCode.Corrupt, `${file}: truncated record at offset ${off} in a sealed segment`);
          report.truncatedBytes += buf.length - off;
          fs.truncateSync(file, off);
          seg.size = off;
        };
        if (buf.length - off < FRAME_HEADER_BYTES) {
          torn();
          break;
        }
        const len = buf.readUInt32LE(off);
        const end = off + FRAME_HEADER_BYTES + len;
        if (len > MAX_RECORD_BYTES || end > buf.length) {
          torn();
          break;
        }
        const payload = buf.subarray(off + FRAME_HEADER_BYTES, end);
        if (crc32(payload) !== buf.readUInt32LE(off + 4)) {
          // the last record of the last segment may be half-written; anything else is rot
          if (isLast && end === buf.length) {
            torn();
            break;
          }
          throw new RaftError(RaftErrorCode.Corrupt, `${file}: checksum mismatch in record at offset ${off}`);
        }
        const e = decodeEntry(payload);
        seg.maxIndex = Math.max(seg.maxIndex, e.index);
        if (e.index > snapIndex) {
          if (e.index > mem.lastIndex() + 1) {
            throw new RaftError(RaftErrorCode.Corrupt, `${file}: entry ${e.index} leaves a gap after ${mem.lastIndex()}`);
          }
          mem.append([e]);
          report.entries++;
        }
        off = end;
      }
      segments.push(seg);
    }
    const st = new FileStorage(dir, mem, segments, report, options.segmentBytes ?? DEFAULT_SEGMENT_BYTES);
    st.openActiveSegment();
    return st;
  }

  private openActiveSegment(): void {
    let seg = this.segments[this.segments.length - 1];
    if (!seg) {
      seg = { seq: 1, file: path.join(this.dir, segmentName(1)), maxIndex: 0, size: 0 };
      this.segments.push(seg);
      fs.writeFileSync(seg.file, new Uint8Array(0));
      fsyncDir(this.dir);
    }
    this.fd = fs.openSync(seg.file, 'a');
  }

  private rotate(dropAll: boolean): void {
    const last = this.segments[this.segments.length - 1]!;
    fs.closeSync(this.fd);
    const next: Segment = { seq: last.seq + 1, file: path.join(this.dir, segmentName(last.seq + 1)), maxIndex: 0, size: 0 };
    fs.writeFileSync(next.file, new Uint8Array(0));
    if (dropAll) {
      for (const s of this.segments) fs.rmSync(s.file, { force: true });
      this.segments = [];
    }
    this.segments.push(next);
    fsyncDir(this.dir);
    this.fd = fs.openSync(next.file, 'a');
  }

  // ---------------------------------------------------------------- Storage (reads)

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

  // ---------------------------------------------------------------- writes

  /** Snapshot, then entries (fsynced), then hard state (atomic); durable on return. */
  persist(batch: PersistBatch): void {
    if (batch.snapshot) {
      writeAtomic(this.dir, SNAPSHOT_FILE, encodeSnapshot(batch.snapshot));
      this.mem.applySnapshot(batch.snapshot);
      // the whole previous log is superseded by the snapshot
      this.rotate(true);
    }
    if (batch.entries.length > 0) {
      const frames: Buffer[] = [];
      let maxIndex = 0;
      for (const e of batch.entries) {
        frames.push(frame(encodeEntry(e)));
        maxIndex = Math.max(maxIndex, e.index);
      }
      const buf = Buffer.concat(frames);
      fs.writeSync(this.fd, buf);
      fs.fdatasyncSync(this.fd);
      const seg = this.segments[this.segments.length - 1]!;
      seg.size += buf.length;
      seg.maxIndex = Math.max(seg.maxIndex, maxIndex);
      this.mem.append(batch.entries);
      if (seg.size >= this.segmentBytes) this.rotate(false);
    }
    if (batch.hardState) {
      writeAtomic(this.dir, HARDSTATE_FILE, encodeHardState(batch.hardState));
      this.mem.setHardState(batch.hardState);
    }
  }

  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    const snap = this.mem.createSnapshot(index, conf, data);
    writeAtomic(this.dir, SNAPSHOT_FILE, encodeSnapshot(snap));
    return snap;
  }

  /**
   * Drops leading segments whose entries are all at or below `index` (never the active
   * one). Only a prefix goes, so replay order across the remaining segments is intact.
   */
  compact(index: number): void {
    if (index > this.mem.snapshot().meta.index) {
      throw new RaftError(RaftErrorCode.Unavailable, `compact: ${index} is beyond the snapshot`);
    }
    this.mem.compact(index);
    let drop = 0;
    while (drop < this.segments.length - 1 && this.segments[drop]!.maxIndex <= index) {
      fs.rmSync(this.segments[drop]!.file, { force: true });
      drop++;
    }
    if (drop > 0) {
      this.segments = this.segments.slice(drop);
      fsyncDir(this.dir);
    }
  }

  segmentCount(): number {
    return this.segments.length;
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

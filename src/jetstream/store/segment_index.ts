// The file store's index: segment summaries (always in memory), their offset tables (in memory
// while the cache has room, rebuilt from the file otherwise) and the per-subject table. Nothing
// here is kept per message except a dead bit, and 8 bytes in a table that can be evicted.
//
// Lookups: a sequence is a binary search over segment ranges plus one table slot; last-by-subject
// is the subject table; next-by-subject scans the subject-id column of the tables from a known
// bound, stepping over sealed segments whose subject filter (subject_bloom.ts) rules the subject
// out; a start time is a binary search over segment times, then over record times inside one
// segment. Replaying records (recovery) goes through the same add/kill operations as live writes.

import * as fs from 'node:fs';
import { decodeMsgBody, readHeader, RecordFlag, RecordType, checksumOk, type RecordHeader } from './record_codec.ts';
import { scanSegment, type SegmentScan } from './segment_scan.ts';
import { SPARSE_EVERY, Segment, type SegmentTail } from './segment.ts';
import { NO_RECORD, SegmentTable } from './segment_table.ts';
import { READ_WINDOW_BYTES, storeCache } from './store_cache.ts';
import type { SubjectFilter } from './subject_filter.ts';
import { SubjectInterner } from './subject_interner.ts';
import { SubjectBloom } from './subject_bloom.ts';
import { NO_SUBJECT, SubjectTable } from './subject_table.ts';
import { RECORD_HEADER_BYTES, type CorruptionReport, type StoredMessage, type SubjectState } from './types.ts';

/** A random read asks for this much beyond the header when the record's length is not known. */
const UNKNOWN_LENGTH_READ = 512;
/** Reads sized from the table never ask for more than this; a longer record is read twice. */
const MAX_SIZED_READ = 64 * 1024;
/**
 * Reads of a segment served through its sparse index before its table is loaded: a walk costs
 * tens of µs more than a table lookup, a table load tens of ms, so about this many reads pay it.
 */
const COLD_READS_BEFORE_TABLE = 1024;
/** A sparse-index stretch longer than this (large messages) is not walked: the table is loaded. */
const MAX_WALK_BYTES = 1024 * 1024;

export type DamageReport = Omit<CorruptionReport, 'file'>;

export interface IndexEvents {
  /** A damaged record was found (at a table load or on read). */
  damage(seg: Segment, report: DamageReport): void;
  /** Live messages were found missing and are no longer indexed: uncount them and their bytes. */
  lost(seqs: number[], bytes: number): void;
}

export interface Killed {
  subject: string;
  /** Record length, which is also the size counted against max_bytes. */
  size: number;
  seg: Segment;
  offset: number;
}

/** One scratch buffer per thread for reading whole segments; grows to the largest segment. */
let scratch = Buffer.allocUnsafe(0);

/** The segment's bytes: what is written, then the records still waiting to be written. */
function readWhole(seg: Segment): Buffer {
  const written = seg.written;
  const total = seg.pending.size > 0 ? seg.size : written;
  if (scratch.length < total) scratch = Buffer.allocUnsafe(Math.max(total, scratch.length * 2));
  let n = 0;
  if (written > 0) {
    const fd = fs.openSync(seg.path, 'r');
    try {
      while (n < written) {
        const got = fs.readSync(fd, scratch, n, written - n, n);
        if (got === 0) break;
        n += got;
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  if (n < written || total === written) return scratch.subarray(0, n);
  for (const [offset, rec] of seg.pending) rec.copy(scratch, offset);
  return scratch.subarray(0, total);
}

/**
 * Walks a segment's records by their lengths, without checksums, filling the table's offsets
 * and noting erased records; null when the walk does not end exactly at the end of the buffer or
 * meets something that is not a record header (damage: the caller scans with checksums).
 */
function walkOffsets(
  seg: Segment,
  buf: Buffer,
  table: SegmentTable,
  erased: Set<number>,
): { validLength: number; tail: SegmentTail | null; duplicates: boolean } | null {
  const n = buf.length;
  let p = 0;
  let tail: SegmentTail | null = null;
  let duplicates = false;
  while (p < n) {
    if (n - p < RECORD_HEADER_BYTES) return null;
    const length = buf.readUInt32LE(p);
    const type = buf[p + 8]!;
    if (length < RECORD_HEADER_BYTES || length > n - p || type < RecordType.Msg || type > RecordType.SeqState) return null;
    const seq = buf.readUInt32LE(p + 16) + buf.readUInt32LE(p + 20) * 0x1_0000_0000;
    if (type === RecordType.Msg && seg.contains(seq)) {
      const slot = seq - seg.first;
      if (table.offsets[slot] !== NO_RECORD) duplicates = true;
      table.set(slot, p, NO_SUBJECT);
      if ((buf[p + 9]! & RecordFlag.Erased) !== 0) erased.add(slot);
      else if (erased.size > 0) erased.delete(slot);
    }
    tail = { offset: p, length, type, seq };
    p += length;
  }
  return { validLength: n, tail, duplicates };
}

export class SegmentIndex {
  segments: Segment[] = [];
  readonly subjects = new SubjectTable();
  private readonly events: IndexEvents;
  private lastHit: Segment | null = null;
  /** Where the last record read ended, to tell a reader going forward from a random one. */
  private lastReadSeg: Segment | null = null;
  private lastReadEnd = 0;
  /** Damage already reported, so a table rebuilt after eviction does not report it again. */
  private readonly reported = new Set<string>();
  /** A wildcard scan that found nothing in [from, to]: the next scan for it may start after. */
  private noMatch: { filter: string; from: number; to: number } | null = null;
  private readonly readFds: Segment[] = [];
  private readonly interner = new SubjectInterner();

  constructor(events: IndexEvents) {
    this.events = events;
  }

  // ---------------------------------------------------------------- segments

  /** The segment whose range holds seq, or null. */
  segmentFor(seq: number): Segment | null {
    const h = this.lastHit;
    if (h !== null && h.contains(seq)) return h;
    const i = this.indexAtOrAfter(seq);
    if (i < 0) return null;
    const s = this.segments[i]!;
    if (!s.contains(seq)) return null;
    this.lastHit = s;
    return s;
  }

  /** Index of the first non-empty segment whose range ends at or after seq, or -1. */
  private indexAtOrAfter(seq: number): number {
    const i = this.firstWhere((s) => s.last >= seq);
    return i < this.segments.length ? i : -1;
  }

  /** Index of the last non-empty segment whose range starts at or before seq, or -1. */
  private indexAtOrBefore(seq: number): number {
    let i = this.firstWhere((s) => s.first > seq) - 1;
    while (i >= 0 && this.segments[i]!.first === 0) i--;
    return i;
  }

  /**
   * Index of the first non-empty segment for which `reached` holds (false, then true, in segment
   * order), or the number of segments. Empty segments have no range and are stepped over.
   */
  private firstWhere(reached: (s: Segment) => boolean): number {
    const segs = this.segments;
    let lo = 0;
    let hi = segs.length - 1;
    let found = segs.length;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      let m = mid;
      while (m <= hi && segs[m]!.first === 0) m++;
      if (m > hi) hi = mid - 1;
      else if (reached(segs[m]!)) {
        found = m;
        hi = mid - 1;
      } else lo = m + 1;
    }
    return found;
  }

  /** The segment stops being appended to; what subjects it holds is noted while its table is here. */
  seal(seg: Segment): void {
    seg.seal();
    this.noteSubjects(seg);
  }

  /** Builds a sealed segment's subject filter from its table (left unknown if a subject is). */
  private noteSubjects(seg: Segment): void {
    const t = seg.table;
    if (t === null || seg.active) return;
    // A bit per subject id rather than a Set: every replayed segment is sealed at start-up.
    const seen = new Uint8Array((this.subjects.idLimit + 7) >>> 3);
    const hashes: number[] = [];
    const sids = t.sids;
    const allLive = seg.dead === null || seg.dead.count === 0;
    for (let seq = seg.nextLive(seg.first); seq !== 0; seq = allLive ? (seq < seg.last ? seq + 1 : 0) : seg.nextLive(seq + 1)) {
      const sid = sids[seq - seg.first]!;
      if (sid === NO_SUBJECT) {
        seg.subjects = null;
        return;
      }
      if ((seen[sid >>> 3]! & (1 << (sid & 7))) !== 0) continue;
      seen[sid >>> 3]! |= 1 << (sid & 7);
      hashes.push(this.subjects.hash(sid));
    }
    seg.subjects = new SubjectBloom(hashes);
  }

  /** Whether a scan for subject `id` must look into seg (its filter cannot rule the subject out). */
  private mayHold(seg: Segment, id: number): boolean {
    return seg.subjects === null || seg.subjects.has(this.subjects.hash(id));
  }

  /** Read-ahead windows of seg went stale (its bytes changed in place). */
  forgetWindows(seg: Segment): void {
    storeCache.dropWindows(seg);
  }

  forgetSegment(seg: Segment): void {
    if (this.lastHit === seg) this.lastHit = null;
    if (this.lastReadSeg === seg) this.lastReadSeg = null;
    storeCache.dropWindows(seg);
    seg.dropTable();
    this.dropReadFd(seg);
  }

  // ---------------------------------------------------------------- liveness

  isLive(seq: number): boolean {
    return this.segmentFor(seq)?.isLive(seq) ?? false;
  }

  /** First live sequence >= from, or 0. */
  nextLive(from: number): number {
    for (let i = Math.max(0, this.indexAtOrAfter(from)); i >= 0 && i < this.segments.length; i++) {
      const s = this.segments[i]!.nextLive(from);
      if (s !== 0) return s;
    }
    return 0;
  }

  /** Last live sequence <= upTo, or 0. */
  prevLive(upTo: number): number {
    for (let i = this.indexAtOrBefore(upTo); i >= 0; i--) {
      const s = this.segments[i]!.prevLive(upTo);
      if (s !== 0) return s;
    }
    return 0;
  }

  /** Live messages at or after `from`. */
  liveFrom(from: number): number {
    let n = 0;
    for (let i = Math.max(0, this.indexAtOrAfter(from)); i >= 0 && i < this.segments.length; i++) {
      const s = this.segments[i]!;
      n += s.first >= from ? s.liveMsgs : s.liveIn(from, s.last);
    }
    return n;
  }

  /** Sequences in [first, last] that are not live messages, ascending. */
  deletedSeqs(first: number, last: number): number[] {
    const out: number[] = [];
    let next = first;
    for (const s of this.segments) {
      if (s.first === 0 || s.last < first) continue;
      if (s.first > last) break;
      for (; next < s.first && next <= last; next++) out.push(next);
      if (s.dead !== null) s.dead.collect(Math.max(first, s.first) - s.first, Math.min(last, s.last) - s.first + 1, out, s.first);
      next = Math.max(next, s.last + 1);
    }
    for (; next <= last; next++) out.push(next);
    return out;
  }

  // ---------------------------------------------------------------- tables

  /** The segment's offset table, rebuilt from the file if the cache let it go. */
  table(seg: Segment): SegmentTable {
    if (seg.table !== null) {
      storeCache.touch(seg.table);
      return seg.table;
    }
    return this.buildTable(seg);
  }

  /**
   * A segment about to get records: a new table (room for `slots`, when the caller can tell), or
   * its records so far read from the file.
   */
  ensureTable(seg: Segment, slots?: number): void {
    if (seg.table !== null) return;
    if (seg.first !== 0) {
      this.buildTable(seg);
      return;
    }
    seg.table = new SegmentTable(slots);
    storeCache.admit(seg, false);
  }

  /**
   * Rebuilds a table by reading the segment: every record's checksum is verified again, so damage
   * done after the index snapshot is found here and reported; a live message whose record is
   * damaged or missing stops being indexed.
   */
  private buildTable(seg: Segment): SegmentTable {
    return this.loadTable(seg).table;
  }

  /**
   * Builds seg's table from its file, verifying every record; also says where the intact records
   * end and which record is last there (start-up cuts the active segment at that point).
   */
  loadTable(seg: Segment, assign = false, verify = false): { table: SegmentTable; validLength: number; tail: SegmentTail | null } {
    const table = new SegmentTable(Math.max(1, seg.slots));
    const buf = readWhole(seg);
    // First the offsets: a sequence written again after a truncate has two records, the later wins.
    // Records served are checksummed when read, so a rebuild walks lengths only, unless asked to
    // verify (the active segment at start-up) or the walk does not add up, which means damage.
    const erased = new Set<number>();
    let walk = verify ? null : walkOffsets(seg, buf, table, erased);
    let scan: SegmentScan | null = null;
    let duplicates = walk?.duplicates ?? false;
    if (walk === null) {
      duplicates = false;
      table.offsets.fill(NO_RECORD);
      erased.clear();
      scan = scanSegment(buf, false);
      for (const d of scan.damage) this.reportOnce(seg, d);
      for (const { offset, header: h } of scan.records) {
        if (h.type !== RecordType.Msg || !seg.contains(h.seq)) continue;
        const slot = h.seq - seg.first;
        if (table.offsets[slot] !== NO_RECORD) duplicates = true;
        table.set(slot, offset, NO_SUBJECT);
        if ((h.flags & RecordFlag.Erased) !== 0) erased.add(slot);
        else erased.delete(slot);
      }
      const last = scan.records[scan.records.length - 1];
      walk = { validLength: scan.validLength, tail: last === undefined ? null : { offset: last.offset, length: last.header.length, type: last.header.type, seq: last.header.seq }, duplicates };
    }
    const tail = walk.tail;
    seg.sparseFromTable(table, duplicates);
    table.length = Math.max(table.length, seg.slots);
    // Then the subjects of the live ones.
    const lost: number[] = [];
    const gone: number[] = [];
    let unknown = false;
    let liveBytes = 0;
    let goneBytes = 0;
    for (let seq = seg.nextLive(seg.first); seq !== 0; seq = seg.nextLive(seq + 1)) {
      const slot = seq - seg.first;
      const offset = table.offsets[slot]!;
      if (offset === NO_RECORD) {
        lost.push(seq);
        continue;
      }
      const start = offset + RECORD_HEADER_BYTES;
      const end = start + buf.readUInt16LE(offset + 10);
      const sid = assign ? this.countRead(buf, start, end, seq) : this.idOfRead(buf, start, end);
      if (erased.has(slot)) {
        // Erased after the snapshot that still counts it; the tombstone replayed later says the same.
        gone.push(seq);
        goneBytes += buf.readUInt32LE(offset);
        if (sid !== NO_SUBJECT) this.subjects.drop(sid, seq);
        continue;
      }
      if (sid === NO_SUBJECT) unknown = true;
      table.sids[slot] = sid;
      liveBytes += buf.readUInt32LE(offset);
    }
    seg.table = table;
    storeCache.admit(seg, true);
    for (const seq of gone) {
      seg.markDead(seq);
      seg.liveMsgs--;
    }
    if (lost.length > 0 || gone.length > 0 || liveBytes + goneBytes !== seg.liveBytes) {
      for (const seq of lost) {
        // Damage found by the scan already says where; a record that is simply not there is news.
        if (scan === null || scan.damage.length === 0) this.reportOnce(seg, { offset: walk.validLength, length: 0, action: 'skipped', seq });
        seg.markDead(seq);
        seg.liveMsgs--;
      }
      const bytesLost = seg.liveBytes - liveBytes;
      seg.liveBytes = liveBytes;
      this.events.lost(lost.concat(gone), bytesLost);
    }
    // The subjects of messages that cannot be read are unknown: count every subject again.
    if (!assign && (unknown || lost.length > 0)) this.recountSubjects();
    else this.noteSubjects(seg);
    return { table, validLength: walk.validLength, tail };
  }

  /**
   * Rebuilds the subject table from the segments (every live record read again). Only needed when
   * damage hid which subjects some messages had.
   */
  private recountSubjects(): void {
    this.subjects.clear();
    this.noMatch = null;
    for (const seg of this.segments) seg.dropTable();
    for (const seg of this.segments) if (seg.first !== 0 && seg.liveMsgs > 0) this.loadTable(seg, true);
  }

  private reportOnce(seg: Segment, d: DamageReport): void {
    const key = `${seg.name}:${seg.generation}:${d.offset}:${d.seq ?? ''}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.events.damage(seg, d);
  }

  // ---------------------------------------------------------------- reading records

  /** Reads the record at `offset` (at least `want` bytes of it, all of it if its length allows). */
  readRecord(seg: Segment, offset: number, want: number): Buffer | null {
    if (offset >= seg.written) return seg.pending.get(offset) ?? null;
    const forward = this.lastReadSeg === seg && offset >= this.lastReadEnd && offset - this.lastReadEnd < READ_WINDOW_BYTES;
    this.lastReadSeg = seg;
    const head = storeCache.findWindow(seg, seg.generation, offset, RECORD_HEADER_BYTES);
    if (head !== null) {
      const length = head.readUInt32LE(0);
      const whole = storeCache.findWindow(seg, seg.generation, offset, length);
      if (whole !== null) {
        this.lastReadEnd = offset + length;
        return whole;
      }
    }
    const avail = seg.written - offset;
    let size = Math.min(avail, forward ? Math.max(want, READ_WINDOW_BYTES) : Math.max(want, RECORD_HEADER_BYTES));
    // A fresh buffer each time: records served from an older window may still be in use.
    let buf = Buffer.allocUnsafe(size);
    let n = this.pread(seg, buf, size, offset);
    if (n < RECORD_HEADER_BYTES) return null;
    const length = buf.readUInt32LE(0);
    if (length > n && length <= avail) {
      size = length;
      buf = Buffer.allocUnsafe(size);
      n = this.pread(seg, buf, size, offset);
      if (n < length) return null;
    }
    this.lastReadEnd = offset + Math.min(length, n);
    if (n > length && length >= RECORD_HEADER_BYTES) storeCache.keepWindow({ owner: seg, generation: seg.generation, start: offset, buf: buf.subarray(0, n) });
    return length >= RECORD_HEADER_BYTES && length <= n ? buf.subarray(0, length) : buf.subarray(0, n);
  }

  private pread(seg: Segment, buf: Buffer, size: number, offset: number): number {
    try {
      return fs.readSync(this.readFd(seg), buf, 0, size, offset);
    } catch {
      return 0;
    }
  }

  /** The checksummed header of the record at offset, or null if it cannot be read intact. */
  headerAt(seg: Segment, offset: number): RecordHeader | null {
    const rec = this.readRecord(seg, offset, RECORD_HEADER_BYTES + UNKNOWN_LENGTH_READ);
    if (rec === null || rec.length < RECORD_HEADER_BYTES) return null;
    const h = readHeader(rec, 0);
    if (h.length !== rec.length || !checksumOk(rec, 0, h.length)) return null;
    return h;
  }

  /** Offset of a live seq's record (loading the table), or NO_RECORD. */
  private locate(seg: Segment, seq: number): number {
    if (seg.table === null && seg.coldReads < COLD_READS_BEFORE_TABLE) {
      seg.coldReads++;
      const offset = this.walkToRecord(seg, seq);
      if (offset >= 0) return offset;
    }
    this.table(seg);
    return seg.offsetOf(seq);
  }

  /**
   * Finds seq's record in a segment whose table is not in memory by walking from the nearest
   * sparse-index entry (at most SPARSE_EVERY records); -1 when that cannot say (no entry, a
   * stretch too long, or records that do not add up), and the caller loads the table.
   */
  private walkToRecord(seg: Segment, seq: number): number {
    const slot = seq - seg.first;
    const start = seg.sparseStart(slot);
    if (start < 0) return -1;
    const next = seg.sparseStart(slot - (slot % SPARSE_EVERY) + SPARSE_EVERY);
    const end = Math.min(next < 0 ? seg.written : next, seg.written);
    if (end <= start || end - start > MAX_WALK_BYTES) return -1;
    const buf = Buffer.allocUnsafe(end - start);
    if (this.pread(seg, buf, buf.length, start) !== buf.length) return -1;
    for (let p = 0; p + RECORD_HEADER_BYTES <= buf.length; ) {
      const length = buf.readUInt32LE(p);
      if (length < RECORD_HEADER_BYTES || p + length > buf.length) return -1;
      if (buf[p + 8] === RecordType.Msg) {
        const at = buf.readUInt32LE(p + 16) + buf.readUInt32LE(p + 20) * 0x1_0000_0000;
        if (at === seq) return start + p;
        if (at > seq) return -1;
      }
      p += length;
    }
    return -1;
  }

  /**
   * A live message, verified: null when seq is not live, 'damaged' when its record fails its
   * checksum or does not say what the index says (the caller reports and drops it).
   */
  readMsg(seq: number): StoredMessage | 'damaged' | null {
    const seg = this.segmentFor(seq);
    if (seg === null || !seg.isLive(seq)) return null;
    const offset = this.locate(seg, seq);
    if (!seg.isLive(seq)) return null; // the table load found it damaged
    if (offset === NO_RECORD) return 'damaged';
    const slot = seq - seg.first;
    const want = seg.table === null ? RECORD_HEADER_BYTES + UNKNOWN_LENGTH_READ : Math.min(MAX_SIZED_READ, seg.nextOffset(slot) - offset);
    const rec = this.readRecord(seg, offset, want);
    if (rec === null || rec.length < RECORD_HEADER_BYTES) return 'damaged';
    const h = readHeader(rec, 0);
    if (h.length !== rec.length || !checksumOk(rec, 0, h.length) || h.type !== RecordType.Msg || h.seq !== seq || (h.flags & RecordFlag.Erased) !== 0) {
      return 'damaged';
    }
    const body = decodeMsgBody(rec, 0, h);
    return { seq, subject: body.subject, hdr: body.hdr, data: body.data, time: h.ts };
  }

  /** Reports a record found damaged on read (once). */
  reportRead(seq: number): void {
    const seg = this.segmentFor(seq);
    if (seg === null) return;
    const offset = seg.table !== null ? seg.offsetOf(seq) : NO_RECORD;
    const h = offset !== NO_RECORD ? this.lengthAt(seg, offset) : 0;
    this.reportOnce(seg, { offset: offset === NO_RECORD ? 0 : offset, length: h, action: 'skipped', seq });
  }

  /**
   * Length of the record at offset, for accounting: verified when the record is intact, else its
   * length field if that is plausible (a damaged payload), else 0.
   */
  private lengthAt(seg: Segment, offset: number): number {
    const h = this.headerAt(seg, offset);
    if (h !== null) return h.length;
    const rec = this.readRecord(seg, offset, RECORD_HEADER_BYTES);
    const raw = rec !== null && rec.length >= 4 ? rec.readUInt32LE(0) : 0;
    return raw >= RECORD_HEADER_BYTES && raw <= seg.size - offset ? raw : 0;
  }

  /** Time of a live message (read from its record header), or 0n if unreadable. */
  timeOf(seq: number): bigint {
    const seg = this.segmentFor(seq);
    if (seg === null) return 0n;
    if (seq === seg.first) return seg.firstTs;
    const offset = this.locate(seg, seq);
    if (offset === NO_RECORD) return 0n;
    return this.headerAt(seg, offset)?.ts ?? 0n;
  }

  /** Record length (= stored size) of a live message, or 0 if unreadable. */
  sizeOf(seq: number): number {
    const seg = this.segmentFor(seq);
    if (seg === null) return 0;
    const offset = this.locate(seg, seq);
    return offset === NO_RECORD ? 0 : this.lengthAt(seg, offset);
  }

  private readFd(seg: Segment): number {
    if (seg.readFd !== null) return seg.readFd;
    if (this.readFds.length >= MAX_READ_FDS) {
      const oldest = this.readFds.shift()!;
      if (oldest.readFd !== null) fs.closeSync(oldest.readFd);
      oldest.readFd = null;
    }
    seg.readFd = fs.openSync(seg.path, 'r');
    this.readFds.push(seg);
    return seg.readFd;
  }

  dropReadFd(seg: Segment): void {
    if (seg.readFd === null) return;
    fs.closeSync(seg.readFd);
    seg.readFd = null;
    const i = this.readFds.indexOf(seg);
    if (i >= 0) this.readFds.splice(i, 1);
  }

  // ---------------------------------------------------------------- subjects

  /** Resolved state of a subject id. */
  subjectState(id: number): SubjectState {
    return { msgs: this.subjects.count(id), first: this.subjectFirst(id), last: this.subjectLast(id) };
  }

  subjectFirst(id: number): number {
    const t = this.subjects;
    if (!t.firstStale(id)) return t.firstBound(id);
    const seq = this.scanForward(t.firstBound(id), t.lastBound(id), (sid) => sid === id, id);
    t.setFirst(id, seq);
    return seq;
  }

  subjectLast(id: number): number {
    const t = this.subjects;
    if (!t.lastStale(id)) return t.lastBound(id);
    const seq = this.scanBackward(t.lastBound(id), t.firstBound(id), id);
    t.setLast(id, seq);
    return seq;
  }

  /**
   * First live seq in [from, to] whose subject id passes `match`, or 0. `only`: the one subject id
   * `match` accepts, so segments whose subject filter rules it out are not looked into.
   */
  scanForward(from: number, to: number, match: (sid: number) => boolean, only = NO_SUBJECT): number {
    let found = 0;
    this.forEachLive(
      from,
      to,
      (seq, sid) => {
        if (!match(sid)) return false;
        found = seq;
        return true;
      },
      only,
    );
    return found;
  }

  /**
   * Calls visit(seq, subject id) for each live message in [from, to], ascending, loading tables as
   * needed; stops when visit returns true. With `only`, skips segments that cannot hold that subject.
   */
  private forEachLive(from: number, to: number, visit: (seq: number, sid: number) => boolean | void, only = NO_SUBJECT): void {
    for (let i = Math.max(0, this.indexAtOrAfter(from)); i >= 0 && i < this.segments.length; i++) {
      const seg = this.segments[i]!;
      if (seg.first === 0 || seg.liveMsgs === 0) continue;
      if (seg.first > to) break;
      if (only !== NO_SUBJECT && !this.mayHold(seg, only)) continue;
      const t = this.table(seg);
      const end = Math.min(to, seg.last);
      for (let seq = seg.nextLive(from, end); seq !== 0; seq = seg.nextLive(seq + 1, end)) if (visit(seq, t.sids[seq - seg.first]!) === true) return;
    }
  }

  private scanBackward(from: number, downTo: number, id: number): number {
    for (let i = this.indexAtOrBefore(from); i >= 0; i--) {
      const seg = this.segments[i]!;
      if (seg.first === 0 || seg.liveMsgs === 0) continue;
      if (seg.last < downTo) break;
      if (!this.mayHold(seg, id)) continue;
      const t = this.table(seg);
      for (let seq = seg.prevLive(from, downTo); seq !== 0; seq = seg.prevLive(seq - 1, downTo)) {
        if (t.sids[seq - seg.first] === id) return seq;
      }
    }
    return 0;
  }

  /** Live messages in [from, to] whose subject id passes `match` (`only`: as in scanForward). */
  private countForward(from: number, to: number, match: (sid: number) => boolean, only = NO_SUBJECT): number {
    let n = 0;
    this.forEachLive(
      from,
      to,
      (_seq, sid) => {
        if (match(sid)) n++;
      },
      only,
    );
    return n;
  }

  /** A predicate over subject ids for a wildcard filter, remembering each id's answer. */
  private idMatcher(filter: SubjectFilter): (sid: number) => boolean {
    const memo = new Map<number, boolean>();
    return (sid) => {
      let m = memo.get(sid);
      if (m === undefined) {
        m = sid !== NO_SUBJECT && filter.matches(this.subjects.name(sid));
        memo.set(sid, m);
      }
      return m;
    };
  }

  /** First live seq >= from whose subject matches, or 0. `lastSeq` bounds a wildcard walk. */
  nextMatching(filter: SubjectFilter, from: number, lastSeq: number): number {
    if (filter.all) return this.nextLive(from);
    if (filter.literal) {
      const id = this.subjects.idOf(filter.text);
      if (id === undefined) return 0;
      if (from > this.subjects.lastBound(id)) return 0;
      const first = this.subjectFirst(id);
      if (from <= first) return first;
      return this.scanForward(from, this.subjectLast(id), (sid) => sid === id, id);
    }
    const memo = this.noMatch;
    const resume = memo !== null && memo.filter === filter.text && from >= memo.from && from <= memo.to + 1;
    const start = resume ? memo.to + 1 : from;
    const seq = start > lastSeq ? 0 : this.scanForward(start, lastSeq, this.idMatcher(filter));
    this.noMatch = { filter: filter.text, from: resume ? memo.from : from, to: seq === 0 ? lastSeq : seq - 1 };
    return seq;
  }

  /** Forgets wildcard scan results: sequences above `seq` may be written again. */
  rewound(): void {
    this.noMatch = null;
  }

  /** Messages at or after `from` on subjects the filter matches (or such subjects, lastPerSubject). */
  countMatching(filter: SubjectFilter, from: number, lastPerSubject: boolean): number {
    let total = 0;
    const partial: number[] = [];
    let partialTo = 0;
    this.subjects.forEachMatch(filter, (id) => {
      if (lastPerSubject) {
        if (this.subjectLast(id) >= from) total++;
        return;
      }
      if (from > this.subjects.lastBound(id)) return;
      const first = this.subjectFirst(id);
      if (from <= first) total += this.subjects.count(id);
      else {
        const last = this.subjectLast(id);
        if (from <= last) {
          partial.push(id);
          if (last > partialTo) partialTo = last;
        }
      }
    });
    if (partial.length === 1) {
      const id = partial[0]!;
      total += this.countForward(from, partialTo, (sid) => sid === id, id);
    } else if (partial.length > 1) {
      const set = new Set(partial);
      total += this.countForward(from, partialTo, (sid) => set.has(sid));
    }
    return total;
  }

  /** Live sequences <= upTo on subjects the filter matches, ascending. */
  matchingSeqs(filter: SubjectFilter, upTo: number): number[] {
    const out: number[] = [];
    let lo = Number.MAX_SAFE_INTEGER;
    let hi = 0;
    const ids = new Set<number>();
    this.subjects.forEachMatch(filter, (id) => {
      ids.add(id);
      lo = Math.min(lo, this.subjectFirst(id));
      hi = Math.max(hi, this.subjects.lastBound(id));
    });
    if (ids.size === 0) return out;
    this.forEachLive(lo, Math.min(hi, upTo), (seq, sid) => {
      if (ids.has(sid)) out.push(seq);
    });
    return out;
  }

  /** Largest last sequence among the subjects the filter matches, or 0. */
  lastMatching(filter: SubjectFilter): number {
    let seq = 0;
    this.subjects.forEachMatch(filter, (id) => {
      const last = this.subjectLast(id);
      if (last > seq) seq = last;
    });
    return seq;
  }

  /** Total messages on subjects the filter matches. */
  countAll(filter: SubjectFilter): number {
    let n = 0;
    this.subjects.forEachMatch(filter, (id) => {
      n += this.subjects.count(id);
    });
    return n;
  }

  // ---------------------------------------------------------------- time

  /**
   * First live sequence whose time is >= ns, or 0. Times grow with sequences, as every writer
   * stamps them in order, so this is a binary search over segments, then over one segment's records.
   */
  firstAtOrAfter(ns: bigint): number {
    const segs = this.segments;
    for (let i = this.firstWhere((s) => s.lastTs >= ns); i < segs.length; i++) {
      const seg = segs[i]!;
      if (seg.first === 0 || seg.liveMsgs === 0) continue;
      const seq = this.firstInSegmentAtOrAfter(seg, ns);
      if (seq !== 0) return seq;
    }
    return 0;
  }

  private firstInSegmentAtOrAfter(seg: Segment, ns: bigint): number {
    if (seg.firstTs >= ns) return seg.nextLive(seg.first);
    const t = this.table(seg);
    // Binary search over slots with records; slots without one take their right neighbour's answer.
    let lo = 0;
    let hi = seg.slots;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      let probe = mid;
      while (probe < hi && t.offsets[probe] === NO_RECORD) probe++;
      if (probe >= hi) {
        hi = mid;
        continue;
      }
      const h = this.headerAt(seg, t.offsets[probe]!);
      if (h !== null && h.ts >= ns) hi = mid;
      else lo = probe + 1;
    }
    return lo >= seg.slots ? 0 : seg.nextLive(seg.first + lo);
  }

  // ---------------------------------------------------------------- changes

  /** Indexes a message record appended to (or found in) `seg`. */
  add(seg: Segment, seq: number, subject: string, ts: bigint, offset: number, length: number): void {
    this.ensureTable(seg);
    this.addWithId(seg, seq, this.subjects.add(subject, seq), ts, offset, length);
  }

  /**
   * add() for a record read back from a file, its subject the latin1 bytes buf[start, end): a
   * subject seen before costs neither a string nor a Map lookup.
   */
  addRead(seg: Segment, seq: number, buf: Buffer, start: number, end: number, ts: bigint, offset: number, length: number): void {
    this.ensureTable(seg);
    this.addWithId(seg, seq, this.countRead(buf, start, end, seq), ts, offset, length);
  }

  /** subjects.add() of the subject in buf[start, end). */
  private countRead(buf: Buffer, start: number, end: number, seq: number): number {
    const subject = this.interner.get(buf, start, end);
    const sid = this.interner.id;
    if (!this.subjects.holds(sid, subject)) return (this.interner.id = this.subjects.add(subject, seq));
    this.subjects.addTo(sid, seq);
    return sid;
  }

  /** The id of the subject in buf[start, end), or NO_SUBJECT. */
  private idOfRead(buf: Buffer, start: number, end: number): number {
    const subject = this.interner.get(buf, start, end);
    const sid = this.interner.id;
    if (this.subjects.holds(sid, subject)) return sid;
    return (this.interner.id = this.subjects.idOf(subject) ?? NO_SUBJECT);
  }

  /** The subject in buf[start, end), as add() and kill() take it (interned). */
  subjectAt(buf: Buffer, start: number, end: number): string {
    return this.interner.get(buf, start, end);
  }

  private addWithId(seg: Segment, seq: number, sid: number, ts: bigint, offset: number, length: number): void {
    const grew = seg.noteRecord(seq, ts, offset, length, sid);
    if (grew > 0) storeCache.resized(seg, grew);
    seg.liveMsgs++;
    seg.liveBytes += length;
  }

  /** Notes a record that is present but not a live message (an erased one found by a scan). */
  addDead(seg: Segment, seq: number, ts: bigint, offset: number, length: number): void {
    this.ensureTable(seg);
    const grew = seg.noteRecord(seq, ts, offset, length, NO_SUBJECT);
    if (grew > 0) storeCache.resized(seg, grew);
    seg.markDead(seq);
  }

  /**
   * Un-indexes a live message; null if seq is not one. `subject`/`size` come from a tombstone
   * when replaying one, which saves reading the record.
   */
  kill(seq: number, subject?: string, size?: number): Killed | null {
    const seg = this.segmentFor(seq);
    if (seg === null || !seg.isLive(seq)) return null;
    let offset = NO_RECORD;
    let name = subject;
    let id: number | undefined;
    if (name === undefined || name === '' || size === undefined || size === 0) {
      const t = this.table(seg);
      if (!seg.isLive(seq)) return null;
      const slot = seq - seg.first;
      offset = t.offsets[slot]!;
      id = t.sids[slot]!;
      name = this.subjects.name(id);
      size = offset === NO_RECORD ? 0 : this.lengthAt(seg, offset);
    } else {
      id = this.subjects.idOf(name);
      if (seg.table !== null) offset = seg.offsetOf(seq);
    }
    seg.markDead(seq);
    seg.liveMsgs--;
    seg.liveBytes -= size;
    if (id !== undefined && id !== NO_SUBJECT) this.subjects.drop(id, seq);
    return { subject: name, size, seg, offset };
  }

  /** Un-indexes every live message in [lo, hi]; returns how many and their bytes. */
  killRange(lo: number, hi: number): { msgs: number; bytes: number } {
    let msgs = 0;
    let bytes = 0;
    for (let i = Math.max(0, this.indexAtOrAfter(lo)); i >= 0 && i < this.segments.length; i++) {
      const seg = this.segments[i]!;
      if (seg.first === 0) continue;
      if (seg.first > hi) break;
      if (seg.liveMsgs === 0) continue;
      const whole = lo <= seg.first && hi >= seg.last;
      const t = this.table(seg);
      const end = Math.min(hi, seg.last);
      let segBytes = 0;
      for (let seq = seg.nextLive(lo, end); seq !== 0; seq = seg.nextLive(seq + 1, end)) {
        const slot = seq - seg.first;
        const sid = t.sids[slot]!;
        if (!whole) {
          const off = t.offsets[slot]!;
          segBytes += off === NO_RECORD ? 0 : this.lengthAt(seg, off);
        }
        seg.markDead(seq);
        seg.liveMsgs--;
        msgs++;
        if (sid !== NO_SUBJECT) this.subjects.drop(sid, seq);
      }
      if (whole) segBytes = seg.liveBytes;
      seg.liveBytes -= segBytes;
      bytes += segBytes;
    }
    return { msgs, bytes };
  }

  /** Un-indexes everything at once (purge all, reset). */
  killAll(): void {
    this.subjects.clear();
    for (const seg of this.segments) {
      seg.killAll();
    }
    this.noMatch = null;
  }
}

/** Read descriptors kept open for sealed segments; the oldest is closed beyond this. */
const MAX_READ_FDS = 64;

// One segment file of a file store and what the store keeps about it: the range of sequences
// whose message records it holds, their first and last times, live counts, which of those
// sequences are dead (a bitset), and, while the cache has room, its offset table.
//
// A segment's sequences are a contiguous range: records are appended in sequence order and a
// sequence skipped inside the range is simply dead. Ranges of successive segments ascend and
// never overlap (a truncate cuts a range before its sequences are reused), so the segment of a
// sequence is a binary search away.

import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { SeqBits } from './seq_bits.ts';
import { NO_RECORD, SegmentTable } from './segment_table.ts';
import { storeCache, type TableHolder } from './store_cache.ts';
import type { SubjectBloom } from './subject_bloom.ts';

export const SEGMENT_SUFFIX = '.seg';
/**
 * A segment always knows where every 64th slot's record starts (the sparse index: 4 bytes per 64
 * messages), so a read on a segment whose table is not in memory walks at most 64 records
 * instead of rebuilding the table from the whole file.
 */
export const SPARSE_EVERY = 64;

/** The last record of a segment, as the index snapshot records it to recognise the file. */
export interface SegmentTail {
  offset: number;
  length: number;
  type: number;
  seq: number;
}

export class Segment implements TableHolder {
  readonly id: number;
  readonly name: string;
  readonly path: string;
  /** Logical size, including records not yet written. */
  size = 0;
  /** Bytes already written to the file. */
  written = 0;
  /** Records not yet written, by offset, so reads can serve them. */
  readonly pending = new Map<number, Buffer>();
  /** Write handle: the active segment only (and a segment being erased into). */
  fh: FileHandle | null = null;
  readFd: number | null = null;
  /** Bumped when the segment is rewritten, so queued erases and read windows know they went stale. */
  generation = 0;
  deleted = false;
  /** Still being appended to: its table stays in memory. */
  active = false;

  /** First sequence of the range; 0 while the segment holds no message record. */
  first = 0;
  /** Last sequence of the range. */
  last = 0;
  /** Times of the range's first and last message records (live or not). */
  firstTs = 0n;
  lastTs = 0n;
  liveMsgs = 0;
  liveBytes = 0;
  /** Bytes of message records physically present, live or dead. */
  msgBytes = 0;
  /** Lowest and highest sequence of any message record in the file (a truncate does not shrink them). */
  recMin = 0;
  recMax = 0;
  /** Reads served without a table (through the sparse index) since the table went. */
  coldReads = 0;
  /** Being rewritten: its table must not be evicted and rebuilt from a file that is changing. */
  rewriting = false;
  /** Dead sequences of the range, by slot (seq - first); null while none is. */
  dead: SeqBits | null = null;
  table: SegmentTable | null = null;
  /** The subjects of its records, once sealed and its table seen (null: not known, look). */
  subjects: SubjectBloom | null = null;
  /** sparse[j]: offset of the first message record whose slot is >= j * SPARSE_EVERY. */
  private sparse = new Uint32Array(4);
  private sparseLength = 0;
  /** After a truncate, older records may precede the live one for a slot: only a table is sure. */
  private sparseValid = true;
  /**
   * The last record, as numbers (tailAt < 0: none): keeping the appended buffer instead would pin
   * the whole slab it was cut from for as long as the segment lives.
   */
  private tailAt = -1;
  private tailLength = 0;
  private tailType = 0;
  private tailSeq = 0;

  constructor(dir: string, id: number) {
    this.id = id;
    this.name = `${String(id).padStart(10, '0')}${SEGMENT_SUFFIX}`;
    this.path = path.join(dir, this.name);
  }

  /** The record ending at `size`, or null for an empty file. */
  get tail(): SegmentTail | null {
    if (this.tailAt < 0) return null;
    return { offset: this.tailAt, length: this.tailLength, type: this.tailType, seq: this.tailSeq };
  }

  set tail(t: SegmentTail | null) {
    this.tailAt = t === null ? -1 : t.offset;
    if (t === null) return;
    this.tailLength = t.length;
    this.tailType = t.type;
    this.tailSeq = t.seq;
  }

  /** A record was appended at `offset` (noted field by field: appends must not allocate). */
  appended(offset: number, rec: Buffer): void {
    this.tailAt = offset;
    this.tailLength = rec.length;
    this.tailType = rec[8]!;
    this.tailSeq = rec.readUInt32LE(16) + rec.readUInt32LE(20) * 0x1_0000_0000;
  }

  get pinned(): boolean {
    return this.active || this.rewriting;
  }

  /** Sequences in the range. */
  get slots(): number {
    return this.first === 0 ? 0 : this.last - this.first + 1;
  }

  contains(seq: number): boolean {
    return this.first !== 0 && seq >= this.first && seq <= this.last;
  }

  isLive(seq: number): boolean {
    return this.contains(seq) && (this.dead === null || !this.dead.has(seq - this.first));
  }

  /** Marks a sequence of the range dead; false if it already was. */
  markDead(seq: number): boolean {
    this.dead ??= new SeqBits();
    return this.dead.set(seq - this.first);
  }

  /** Makes a sequence of the range live again (its record was written again after a truncate). */
  markLive(seq: number): void {
    this.dead?.unset(seq - this.first);
  }

  /** First live sequence in [from, upTo], or 0. */
  nextLive(from: number, upTo = Number.MAX_SAFE_INTEGER): number {
    if (this.first === 0) return 0;
    const lo = Math.max(from, this.first);
    const hi = Math.min(upTo, this.last);
    if (lo > hi) return 0;
    if (this.dead === null || this.dead.count === 0) return lo;
    const slot = this.dead.nextClear(lo - this.first, hi - this.first + 1);
    return slot < 0 ? 0 : this.first + slot;
  }

  /** Last live sequence in [downTo, from], or 0. */
  prevLive(from: number, downTo = 1): number {
    if (this.first === 0) return 0;
    const hi = Math.min(from, this.last);
    const lo = Math.max(downTo, this.first);
    if (lo > hi) return 0;
    if (this.dead === null || this.dead.count === 0) return hi;
    const slot = this.dead.prevClear(hi - this.first, lo - this.first);
    return slot < 0 ? 0 : this.first + slot;
  }

  /** Live sequences in [from, to]. */
  liveIn(from: number, to: number): number {
    if (this.first === 0) return 0;
    const lo = Math.max(from, this.first);
    const hi = Math.min(to, this.last);
    if (lo > hi) return 0;
    const span = hi - lo + 1;
    return this.dead === null ? span : span - this.dead.countRange(lo - this.first, hi - this.first + 1);
  }

  /**
   * Records a message record at `offset` for `seq` (appended, or found by a scan), extending the
   * range; sequences skipped on the way are dead. Returns the bytes the table grew by.
   */
  noteRecord(seq: number, ts: bigint, offset: number, length: number, sid: number): number {
    if (this.first === 0) {
      this.first = seq;
      this.last = seq;
      this.firstTs = ts;
      this.dead = null;
    } else if (seq > this.last) {
      if (seq > this.last + 1) {
        this.dead ??= new SeqBits();
        this.dead.setRange(this.last + 1 - this.first, seq - this.first);
      }
      this.last = seq;
    } else {
      // A second record for a slot: the walk from a sparse entry could meet the older one first.
      this.markLive(seq);
      this.sparseValid = false;
    }
    this.noteSparse(seq - this.first, offset);
    this.lastTs = ts;
    this.msgBytes += length;
    if (this.recMin === 0 || seq < this.recMin) this.recMin = seq;
    if (seq > this.recMax) this.recMax = seq;
    return this.table === null ? 0 : this.table.set(seq - this.first, offset, sid);
  }

  /** Cuts the range after `seq` (a truncate), so those sequences can be written again. */
  cutAfter(seq: number): void {
    if (this.first === 0 || seq >= this.last) return;
    if (seq < this.first) {
      this.first = 0;
      this.last = 0;
      this.dead = null;
      this.table?.cut(0);
      this.sparseLength = 0;
      this.sparseValid = false;
      return;
    }
    const keep = seq - this.first + 1;
    this.last = seq;
    this.dead?.clearFrom(keep);
    this.table?.cut(keep);
    this.sparseLength = 0;
    this.sparseValid = false;
  }

  /** A record for `slot` at `offset` (slots arrive in ascending order within a segment). */
  private noteSparse(slot: number, offset: number): void {
    if (!this.sparseValid) return;
    const j = Math.floor(slot / SPARSE_EVERY);
    while (this.sparseLength <= j) {
      if (this.sparseLength === this.sparse.length) {
        const grown = new Uint32Array(this.sparse.length * 2);
        grown.set(this.sparse);
        this.sparse = grown;
      }
      this.sparse[this.sparseLength++] = offset;
    }
  }

  /** Where to start walking for `slot`'s record, or -1 if the sparse index does not cover it. */
  sparseStart(slot: number): number {
    const j = Math.floor(slot / SPARSE_EVERY);
    return this.sparseValid && j < this.sparseLength ? this.sparse[j]! : -1;
  }

  /**
   * Rebuilds the sparse index from a complete table, after a rewrite or a load that found one
   * record per slot; with older duplicates still in the file (`duplicates`), there is none.
   */
  sparseFromTable(t: SegmentTable, duplicates = false): void {
    if (duplicates) {
      this.sparseLength = 0;
      this.sparseValid = false;
      return;
    }
    this.sparseLength = 0;
    this.sparseValid = true;
    for (let slot = 0; slot < t.length; slot++) if (t.offsets[slot] !== NO_RECORD) this.noteSparse(slot, t.offsets[slot]!);
  }

  sparseSnapshot(): Uint8Array | null {
    return this.sparseValid ? new Uint8Array(this.sparse.buffer, 0, this.sparseLength * 4).slice() : null;
  }

  restoreSparse(bytes: Uint8Array | null): void {
    this.sparseValid = bytes !== null;
    if (bytes === null) {
      this.sparseLength = 0;
      return;
    }
    const copy = new Uint8Array(bytes);
    this.sparse = new Uint32Array(copy.buffer, 0, copy.length >>> 2);
    this.sparseLength = this.sparse.length;
    if (this.sparseLength === 0) this.sparse = new Uint32Array(4);
  }

  /** Every sequence of the range is dead (purge all). */
  killAll(): void {
    if (this.first !== 0 && this.liveMsgs > 0) {
      this.dead ??= new SeqBits();
      this.dead.setRange(0, this.slots);
    }
    this.liveMsgs = 0;
    this.liveBytes = 0;
  }

  /** Offset of seq's record, or NO_RECORD; the table must be loaded. */
  offsetOf(seq: number): number {
    const t = this.table!;
    const slot = seq - this.first;
    return slot >= 0 && slot < t.length ? t.offsets[slot]! : NO_RECORD;
  }

  /** Where the record after the one at `slot` starts (or the end of the segment), for sizing a read. */
  nextOffset(slot: number): number {
    const t = this.table!;
    for (let s = slot + 1; s < t.length && s < slot + 8; s++) {
      const o = t.offsets[s]!;
      if (o !== NO_RECORD) return o;
    }
    return this.size;
  }

  /** Gives up the offset table (eviction, deletion, rewrite). */
  dropTable(): void {
    storeCache.release(this);
    this.table = null;
    this.coldReads = 0;
  }

  /** The segment stops being appended to: its table becomes evictable and exactly sized. */
  seal(): void {
    this.active = false;
    if (this.table !== null) storeCache.resized(this, -this.table.shrink());
  }
}

/** Parses a segment file name; NaN when it is not one. */
export function segmentId(name: string): number {
  if (!name.endsWith(SEGMENT_SUFFIX)) return NaN;
  const id = Number.parseInt(name, 10);
  return Number.isSafeInteger(id) && id > 0 ? id : NaN;
}

// A segment's offset table: for each sequence slot of the segment (slot = seq - segment.first),
// the byte offset of its message record and the id of its subject (SubjectTable). Eight bytes a
// message, in typed arrays, held only while the process-wide cache (store_cache.ts) has room:
// a sealed segment's table is rebuilt from its file on demand.

/** No message record for this slot (a skipped sequence, or a record that was dropped). */
export const NO_RECORD = 0xffffffff;

const INITIAL_SLOTS = 1024;

export class SegmentTable {
  offsets: Uint32Array;
  sids: Uint32Array;
  /** Slots in use. */
  length = 0;
  /** Cache bookkeeping: the cache's clock when the table was last used. */
  lastUse = 0;

  constructor(capacity = INITIAL_SLOTS) {
    this.offsets = new Uint32Array(capacity).fill(NO_RECORD);
    this.sids = new Uint32Array(capacity);
  }

  get byteLength(): number {
    return this.offsets.byteLength + this.sids.byteLength;
  }

  /** Sets a slot, growing the table; returns the bytes the table grew by. */
  set(slot: number, offset: number, sid: number): number {
    let grew = 0;
    if (slot >= this.offsets.length) grew = this.grow(slot + 1);
    this.offsets[slot] = offset;
    this.sids[slot] = sid;
    if (slot >= this.length) this.length = slot + 1;
    return grew;
  }

  /** Forgets every slot from `slot` on (a truncate). */
  cut(slot: number): void {
    if (slot >= this.length) return;
    this.offsets.fill(NO_RECORD, slot, this.length);
    this.length = slot;
  }

  /** Drops unused capacity once the segment is sealed; returns the bytes given back. */
  shrink(): number {
    if (this.offsets.length === this.length) return 0;
    const before = this.byteLength;
    this.offsets = this.offsets.slice(0, this.length);
    this.sids = this.sids.slice(0, this.length);
    return before - this.byteLength;
  }

  private grow(min: number): number {
    const before = this.byteLength;
    const n = Math.max(min, this.offsets.length * 2);
    const offsets = new Uint32Array(n).fill(NO_RECORD, this.offsets.length);
    offsets.set(this.offsets);
    const sids = new Uint32Array(n);
    sids.set(this.sids);
    this.offsets = offsets;
    this.sids = sids;
    return this.byteLength - before;
  }
}

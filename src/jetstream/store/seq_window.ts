// Sequence-indexed slots for the live messages of a stream: O(1) lookup by sequence and ordered
// walks, because sequences are dense apart from deletes. Holes (undefined) are deleted or skipped
// sequences. The first and last slots are always live when the window is not empty.

/** Reclaim the dead prefix once it is this long and more than half of the array. */
const PREFIX_RECLAIM_SLOTS = 4096;

export class SeqWindow<E> {
  private slots: (E | undefined)[] = [];
  /** Sequence held by slots[0]. */
  private seqAtZero = 0;
  /** Index of the first live slot. */
  private head = 0;

  get empty(): boolean {
    return this.head >= this.slots.length;
  }

  /** First live sequence, 0 when empty. */
  get first(): number {
    return this.empty ? 0 : this.seqAtZero + this.head;
  }

  /** Last live sequence, 0 when empty. */
  get last(): number {
    return this.empty ? 0 : this.seqAtZero + this.slots.length - 1;
  }

  get(seq: number): E | undefined {
    const i = seq - this.seqAtZero;
    if (i < this.head || i >= this.slots.length) return undefined;
    return this.slots[i];
  }

  /** Adds a live entry above the current last sequence. */
  append(seq: number, entry: E): void {
    if (this.empty) {
      this.slots = [entry];
      this.seqAtZero = seq;
      this.head = 0;
      return;
    }
    const i = seq - this.seqAtZero;
    if (i < this.slots.length) throw new Error(`sequence ${seq} is not above the window's last ${this.last}`);
    while (this.slots.length < i) this.slots.push(undefined);
    this.slots.push(entry);
  }

  /** Removes a sequence; returns its entry if it was live. */
  delete(seq: number): E | undefined {
    const i = seq - this.seqAtZero;
    if (i < this.head || i >= this.slots.length) return undefined;
    const entry = this.slots[i];
    if (entry === undefined) return undefined;
    this.slots[i] = undefined;
    if (i === this.head) this.advanceHead();
    else if (i === this.slots.length - 1) this.trimTail();
    return entry;
  }

  /** First live sequence >= seq, or 0. */
  nextLive(seq: number): number {
    let i = Math.max(seq - this.seqAtZero, this.head);
    const n = this.slots.length;
    for (; i < n; i++) if (this.slots[i] !== undefined) return this.seqAtZero + i;
    return 0;
  }

  /** Last live sequence <= seq, or 0. */
  prevLive(seq: number): number {
    let i = Math.min(seq - this.seqAtZero, this.slots.length - 1);
    for (; i >= this.head; i--) if (this.slots[i] !== undefined) return this.seqAtZero + i;
    return 0;
  }

  /** Calls fn for each live entry with from <= seq <= to, in order. */
  forEach(from: number, to: number, fn: (seq: number, entry: E) => void): void {
    const lo = Math.max(from - this.seqAtZero, this.head);
    const hi = Math.min(to - this.seqAtZero, this.slots.length - 1);
    for (let i = lo; i <= hi; i++) {
      const e = this.slots[i];
      if (e !== undefined) fn(this.seqAtZero + i, e);
    }
  }

  /** Holes strictly between the first and last live sequence. */
  holes(): number[] {
    const out: number[] = [];
    for (let i = this.head; i < this.slots.length; i++) if (this.slots[i] === undefined) out.push(this.seqAtZero + i);
    return out;
  }

  clear(): void {
    this.slots = [];
    this.head = 0;
    this.seqAtZero = 0;
  }

  private advanceHead(): void {
    while (this.head < this.slots.length && this.slots[this.head] === undefined) this.head++;
    if (this.head >= this.slots.length) {
      this.clear();
    } else if (this.head >= PREFIX_RECLAIM_SLOTS && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.seqAtZero += this.head;
      this.head = 0;
    }
  }

  private trimTail(): void {
    while (this.slots.length > this.head && this.slots[this.slots.length - 1] === undefined) this.slots.pop();
    if (this.head >= this.slots.length) this.clear();
  }
}

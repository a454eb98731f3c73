// A growable bitset over slot indexes 0..n: the file store marks a segment's dead sequences
// (removed, erased, lost or never written) here, one bit per sequence, so liveness costs an
// eighth of a byte per message and needs nothing else in memory.

const POPCOUNT = new Uint8Array(256);
for (let i = 1; i < 256; i++) POPCOUNT[i] = (i & 1) + POPCOUNT[i >> 1]!;

export class SeqBits {
  private bits: Uint8Array;
  /** Bits set. */
  count = 0;

  constructor(bytes: Uint8Array | null = null, count = 0) {
    this.bits = bytes ?? new Uint8Array(16);
    this.count = count;
  }

  /** Bytes held (for memory accounting). */
  get byteLength(): number {
    return this.bits.byteLength;
  }

  has(i: number): boolean {
    const byte = i >>> 3;
    return byte < this.bits.length && (this.bits[byte]! & (1 << (i & 7))) !== 0;
  }

  /** Sets bit i; false if it was set already. */
  set(i: number): boolean {
    const byte = i >>> 3;
    if (byte >= this.bits.length) this.grow(byte + 1);
    const mask = 1 << (i & 7);
    if ((this.bits[byte]! & mask) !== 0) return false;
    this.bits[byte]! |= mask;
    this.count++;
    return true;
  }

  /** Clears bit i; false if it was clear. */
  unset(i: number): boolean {
    const byte = i >>> 3;
    if (byte >= this.bits.length) return false;
    const mask = 1 << (i & 7);
    if ((this.bits[byte]! & mask) === 0) return false;
    this.bits[byte]! &= ~mask;
    this.count--;
    return true;
  }

  /** Sets every bit in [lo, hi); returns how many were newly set. */
  setRange(lo: number, hi: number): number {
    let n = 0;
    for (let i = lo; i < hi; ) {
      if ((i & 7) === 0 && i + 8 <= hi) {
        const byte = i >>> 3;
        if (byte >= this.bits.length) this.grow(byte + 1);
        const added = 8 - POPCOUNT[this.bits[byte]!]!;
        n += added;
        this.count += added;
        this.bits[byte] = 0xff;
        i += 8;
      } else {
        if (this.set(i)) n++;
        i++;
      }
    }
    return n;
  }

  /** Clears every bit at or above `from`. */
  clearFrom(from: number): void {
    for (let i = from; i < this.bits.length * 8; ) {
      if ((i & 7) === 0) {
        const byte = i >>> 3;
        this.count -= POPCOUNT[this.bits[byte]!]!;
        this.bits[byte] = 0;
        i += 8;
      } else {
        this.unset(i);
        i++;
      }
    }
  }

  /** Bits set in [lo, hi). */
  countRange(lo: number, hi: number): number {
    if (this.count === 0 || hi <= lo) return 0;
    hi = Math.min(hi, this.bits.length * 8);
    let n = 0;
    let i = lo;
    while (i < hi && (i & 7) !== 0) if (this.has(i++)) n++;
    while (i + 8 <= hi) {
      n += POPCOUNT[this.bits[i >>> 3]!]!;
      i += 8;
    }
    while (i < hi) if (this.has(i++)) n++;
    return n;
  }

  /** First clear bit in [from, end), or -1. */
  nextClear(from: number, end: number): number {
    let i = from;
    while (i < end) {
      const byte = i >>> 3;
      if ((i & 7) === 0 && i + 8 <= end && byte < this.bits.length && this.bits[byte] === 0xff) {
        i += 8;
        continue;
      }
      if (!this.has(i)) return i;
      i++;
    }
    return -1;
  }

  /** Last clear bit in [lo, from], or -1. */
  prevClear(from: number, lo: number): number {
    for (let i = from; i >= lo; i--) {
      const byte = i >>> 3;
      if ((i & 7) === 7 && i - 7 >= lo && byte < this.bits.length && this.bits[byte] === 0xff) {
        i -= 7;
        continue;
      }
      if (!this.has(i)) return i;
    }
    return -1;
  }

  /** Set bit indexes in [lo, hi), ascending. */
  collect(lo: number, hi: number, out: number[], add: number): void {
    if (this.count === 0) return;
    hi = Math.min(hi, this.bits.length * 8);
    for (let i = lo; i < hi; i++) {
      if ((i & 7) === 0 && i + 8 <= hi && this.bits[i >>> 3] === 0) {
        i += 7;
        continue;
      }
      if (this.has(i)) out.push(i + add);
    }
  }

  /** A compact copy of the first `slots` bits, for the index snapshot. */
  snapshot(slots: number): Uint8Array {
    return this.bits.slice(0, (slots + 7) >>> 3);
  }

  private grow(minBytes: number): void {
    const next = new Uint8Array(Math.max(minBytes, this.bits.length * 2));
    next.set(this.bits);
    this.bits = next;
  }
}

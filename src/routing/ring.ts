// Single-producer / single-consumer byte ring over a SharedArrayBuffer.
//
// One routing worker writes, one reads. Records are length-prefixed and never split across
// the wrap point: when a record does not fit in the space left before the end, a wrap marker
// is written and the record starts again at offset 0. Indexes are monotonically increasing
// byte counts (mod 2^32 via Int32 wrap is avoided by resetting positions on wrap), published
// with Atomics so the reader never sees a half-written record.

/** Header layout (Int32 slots): [0] write position, [1] read position. */
const HEAD_SLOTS = 2;
const WRITE = 0;
const READ = 1;
const HEADER_BYTES = HEAD_SLOTS * 4;
/** Record prefix: u32 length of the record body. */
const LEN_BYTES = 4;
/** A length prefix of this value means "the rest of the buffer is unused, continue at 0". */
const WRAP_MARK = 0xffffffff;
/**
 * A writer that finds the ring empty this far in goes back to the start: the pages a ring
 * touches (and keeps resident) are then about its largest backlog, not its whole capacity, which
 * it would otherwise cycle through under any steady traffic. Also the bytes in flight stay warm in cache.
 */
export const EARLY_WRAP_BYTES = 64 * 1024;

export interface RingBuffers {
  sab: SharedArrayBuffer;
}

export function createRing(capacityBytes: number): RingBuffers {
  // Capacity is rounded to a multiple of 4 so length prefixes stay aligned-friendly.
  const cap = (capacityBytes + 3) & ~3;
  return { sab: new SharedArrayBuffer(HEADER_BYTES + cap) };
}

abstract class RingSide {
  protected readonly idx: Int32Array;
  protected readonly data: Buffer;
  protected readonly view: DataView;
  protected readonly cap: number;

  constructor(ring: RingBuffers) {
    this.idx = new Int32Array(ring.sab, 0, HEAD_SLOTS);
    // A Buffer view so records can be written with latin1Write / read with latin1Slice.
    this.data = Buffer.from(ring.sab, HEADER_BYTES);
    this.view = new DataView(ring.sab, HEADER_BYTES);
    this.cap = this.data.length;
  }
}

/**
 * The writing side. `reserve(n)` returns an offset into `data` where exactly `n` bytes may be
 * written, or -1 when the ring is full; `commit()` publishes everything reserved so far.
 * Callers batch many records and commit once.
 */
export class RingWriter extends RingSide {
  /** Local write cursor; published to shared memory on commit. */
  private pos: number;
  private readonly earlyWrapAt: number;

  constructor(ring: RingBuffers, earlyWrapAt = EARLY_WRAP_BYTES) {
    super(ring);
    this.pos = Atomics.load(this.idx, WRITE);
    this.earlyWrapAt = earlyWrapAt;
  }

  get bytes(): Buffer {
    return this.data;
  }

  get dataView(): DataView {
    return this.view;
  }

  /**
   * A record at the end of the buffer always leaves room for a wrap mark after it, and one byte
   * always stays free so that write === read means "empty".
   */
  reserve(n: number): number {
    const need = n + LEN_BYTES;
    if (need + LEN_BYTES >= this.cap) return -1;
    const read = Atomics.load(this.idx, READ);
    let at = this.pos;
    if (read <= at) {
      const drained = read === at && at >= this.earlyWrapAt && need < read;
      if (drained || at + need + LEN_BYTES > this.cap) {
        // Wrap to the start, which needs the reader to be strictly past the new record.
        if (need >= read) return -1;
        this.view.setUint32(at, WRAP_MARK, true);
        at = 0;
      }
    } else if (read - at - 1 < need) {
      return -1;
    }
    this.view.setUint32(at, n, true);
    this.pos = at + need;
    return at + LEN_BYTES;
  }

  commit(): void {
    Atomics.store(this.idx, WRITE, this.pos);
  }

  /** True when the reader has consumed everything committed. */
  isEmpty(): boolean {
    return Atomics.load(this.idx, READ) === Atomics.load(this.idx, WRITE);
  }
}

/** Lets a reader stop draining in the middle of a batch (its consumer is congested). */
export interface DrainGate {
  held: boolean;
}
const OPEN: DrainGate = { held: false };

/** The reading side: `drain` hands each record to a visitor as (data, offset, length). */
export class RingReader extends RingSide {
  constructor(ring: RingBuffers) {
    super(ring);
  }

  get bytes(): Buffer {
    return this.data;
  }

  get dataView(): DataView {
    return this.view;
  }

  /**
   * Visits committed records until the ring is empty, `max` records were read or a visit set
   * `gate.held`. The record bytes are only valid during the visit: the slot is released afterwards.
   */
  drain(visit: (off: number, len: number) => void, max = Infinity, gate: DrainGate = OPEN): number {
    let read = Atomics.load(this.idx, READ);
    const write = Atomics.load(this.idx, WRITE);
    let count = 0;
    while (read !== write && count < max && !gate.held) {
      let len = this.view.getUint32(read, true);
      if (len === WRAP_MARK) {
        read = 0;
        if (read === write) break;
        len = this.view.getUint32(read, true);
      }
      visit(read + LEN_BYTES, len);
      read += LEN_BYTES + len;
      count++;
    }
    Atomics.store(this.idx, READ, read);
    return count;
  }
}

/**
 * A doorbell a worker sleeps on between ring drains. Producers ring it after committing a batch;
 * the consumer waits with Atomics.waitAsync, so its event loop keeps serving sockets meanwhile.
 */
export class Doorbell {
  private readonly cell: Int32Array;

  constructor(sab: SharedArrayBuffer) {
    this.cell = new Int32Array(sab, 0, 1);
  }

  static create(): SharedArrayBuffer {
    return new SharedArrayBuffer(4);
  }

  ring(): void {
    Atomics.add(this.cell, 0, 1);
    Atomics.notify(this.cell, 0);
  }

  value(): number {
    return Atomics.load(this.cell, 0);
  }

  /** Resolves once the bell moved past `seen`. */
  wait(seen: number): Promise<unknown> | null {
    const r = Atomics.waitAsync(this.cell, 0, seen);
    return r.async ? r.value : null;
  }
}

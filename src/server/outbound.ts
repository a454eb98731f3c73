// Per-connection outbound buffer. Protocol lines and payloads are copied into slabs; the
// owning worker flushes every dirty connection once per event-loop turn. A slab region that was
// sealed or handed to the socket is never written again (we only append), so neither rolling to a
// new slab nor flushing copies bytes: a full slab's unflushed tail is kept as a view and all
// views go to the socket in one corked write (writev).

/** Slab size for ordinary traffic; bigger messages get a slab of their own size. */
const SLAB_BYTES = 64 * 1024;

export interface OutboundSink {
  write(chunk: Uint8Array): boolean;
  cork(): void;
  uncork(): void;
  /** Bytes accepted by the socket but not yet sent to the kernel. */
  readonly writableLength: number;
}

export class Outbound {
  private slab: Buffer;
  /** Start of the not-yet-flushed region in the current slab. */
  private start = 0;
  private pos = 0;
  /** Unflushed regions of earlier slabs, in order. */
  private sealed: Buffer[] = [];
  private sealedBytes = 0;
  /** The socket's own queue as of the last flush: it only changes when we write to it. */
  private sinkQueued = 0;
  dirty = false;

  constructor(initialBytes = 1024) {
    // Idle connections keep a small slab; it grows to SLAB_BYTES on first real traffic.
    this.slab = Buffer.allocUnsafe(initialBytes);
  }

  /** Makes room for `n` contiguous bytes and returns the slab to write at `offset`. */
  reserve(n: number): Buffer {
    if (this.pos + n > this.slab.length) this.roll(n);
    return this.slab;
  }

  get offset(): number {
    return this.pos;
  }

  advance(n: number): void {
    this.pos += n;
  }

  append(bytes: Uint8Array): void {
    const buf = this.reserve(bytes.length);
    buf.set(bytes, this.pos);
    this.advance(bytes.length);
  }

  /**
   * Pending bytes (ours plus the socket's as of the last flush), nats-server's `pb` for the
   * max_pending check; cheap enough to ask per delivered message.
   */
  get pending(): number {
    return this.sealedBytes + this.pos - this.start + this.sinkQueued;
  }

  /** Bytes not yet handed to the sink. */
  get unflushed(): number {
    return this.sealedBytes + this.pos - this.start;
  }

  private roll(n: number): void {
    if (this.pos > this.start) {
      this.sealed.push(this.slab.subarray(this.start, this.pos));
      this.sealedBytes += this.pos - this.start;
    }
    this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, n));
    this.start = 0;
    this.pos = 0;
  }

  /** Hands the unflushed bytes to the sink. Returns the number of bytes handed over. */
  flush(sink: OutboundSink): number {
    this.dirty = false;
    const tail = this.pos - this.start;
    if (this.sealed.length === 0) {
      if (tail > 0) {
        sink.write(this.slab.subarray(this.start, this.pos));
        this.start = this.pos;
      }
      this.sinkQueued = sink.writableLength;
      return tail;
    }
    const total = this.sealedBytes + tail;
    sink.cork();
    for (const chunk of this.sealed) sink.write(chunk);
    if (tail > 0) sink.write(this.slab.subarray(this.start, this.pos));
    sink.uncork();
    this.sealed = [];
    this.sealedBytes = 0;
    this.start = this.pos;
    this.sinkQueued = sink.writableLength;
    return total;
  }
}

// Per-connection outbound buffer. Protocol lines and payloads are copied into slabs; the
// owning worker flushes every dirty connection once per event-loop turn, handing the socket
// the bytes written since the last flush as one view. A slab region that was handed to the
// socket is never written again (we only append), so no copy is made on flush.

/** Slab size for ordinary traffic; bigger messages get a slab of their own size. */
const SLAB_BYTES = 64 * 1024;

export interface OutboundSink {
  /** Returns false when the socket's own buffer is above its high-water mark. */
  write(chunk: Uint8Array): boolean;
  /** Bytes accepted by the socket but not yet sent to the kernel. */
  readonly writableLength: number;
}

export class Outbound {
  private slab: Buffer;
  /** Start of the not-yet-flushed region in the current slab. */
  private start = 0;
  private pos = 0;
  /** Bytes queued here and in the socket: compared with max_pending. */
  private queuedBytes = 0;
  dirty = false;

  constructor(initialBytes = 1024) {
    // Idle connections keep a small slab; it grows to SLAB_BYTES on first real traffic.
    this.slab = Buffer.allocUnsafe(initialBytes);
  }

  /** Makes room for `n` contiguous bytes and returns the slab and offset to write at. */
  reserve(n: number): Buffer {
    if (this.pos + n > this.slab.length) this.roll(n);
    return this.slab;
  }

  get offset(): number {
    return this.pos;
  }

  advance(n: number): void {
    this.pos += n;
    this.queuedBytes += n;
  }

  append(bytes: Uint8Array): void {
    const buf = this.reserve(bytes.length);
    buf.set(bytes, this.pos);
    this.advance(bytes.length);
  }

  /** Pending bytes (ours plus the socket's), nats-server's `pb` for the max_pending check. */
  pending(sink: OutboundSink): number {
    return this.pos - this.start + sink.writableLength;
  }

  get totalQueued(): number {
    return this.queuedBytes;
  }

  private roll(n: number): void {
    // Whatever was not flushed yet moves to the new slab so one flush stays one write.
    const carried = this.pos - this.start;
    const size = Math.max(SLAB_BYTES, n + carried);
    const next = Buffer.allocUnsafe(size);
    if (carried > 0) this.slab.copy(next, 0, this.start, this.pos);
    this.slab = next;
    this.start = 0;
    this.pos = carried;
  }

  /** Hands the unflushed bytes to the sink. Returns the number of bytes handed over. */
  flush(sink: OutboundSink): number {
    this.dirty = false;
    const n = this.pos - this.start;
    if (n === 0) return 0;
    sink.write(this.slab.subarray(this.start, this.pos));
    this.start = this.pos;
    return n;
  }
}

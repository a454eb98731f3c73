// The load generator's byte-level pieces, kept free of sockets so they can be unit tested:
// pre-built PUB batches, the size of a delivered MSG record, and a counter that walks a stream
// of fixed-size MSG records (plus the odd control line) without parsing each message.

const CR = 13;
const LF = 10;
const M = 77; // 'M' opens every MSG record
const SEQ_BYTES = 4; // sequence numbers travel as a little-endian u32 at the start of the payload

/** Smallest payload that can carry a sequence number. */
export const MIN_SEQ_PAYLOAD = SEQ_BYTES;

export function pubHeader(subject: string, size: number, reply?: string): string {
  return reply ? `PUB ${subject} ${reply} ${size}\r\n` : `PUB ${subject} ${size}\r\n`;
}

/** Length of one `MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n` record. */
export function msgRecordBytes(subject: string, sid: string, size: number, reply?: string): number {
  const head = reply ? `MSG ${subject} ${sid} ${reply} ${size}\r\n` : `MSG ${subject} ${sid} ${size}\r\n`;
  return Buffer.byteLength(head) + size + 2;
}

/** Where the payload starts inside one delivered MSG record. */
export function msgPayloadOffset(subject: string, sid: string, size: number, reply?: string): number {
  return msgRecordBytes(subject, sid, size, reply) - size - 2;
}

/**
 * A buffer of `count` identical PUB records. The payload is filled with 'x' so a publisher can
 * write the same buffer again and again; `stampSeqs` overwrites the first payload bytes when
 * every message must be told apart.
 */
export interface PubBatch {
  buf: Buffer;
  count: number;
  recordBytes: number;
  payloadOffset: number;
}

export function buildPubBatch(subject: string, size: number, count: number, reply?: string): PubBatch {
  const head = Buffer.from(pubHeader(subject, size, reply), 'latin1');
  const recordBytes = head.length + size + 2;
  const buf = Buffer.allocUnsafe(recordBytes * count);
  for (let i = 0; i < count; i++) {
    const at = i * recordBytes;
    head.copy(buf, at);
    buf.fill(0x78, at + head.length, at + head.length + size);
    buf[at + head.length + size] = CR;
    buf[at + head.length + size + 1] = LF;
  }
  return { buf, count, recordBytes, payloadOffset: head.length };
}

/** Number the records of `batch.buf` firstSeq, firstSeq+1, … (needs payload ≥ 4 bytes). */
export function stampSeqs(batch: PubBatch, firstSeq: number): void {
  const { buf, count, recordBytes, payloadOffset } = batch;
  for (let i = 0, at = payloadOffset; i < count; i++, at += recordBytes) buf.writeUInt32LE((firstSeq + i) >>> 0, at);
}

/** Records the counter could not make sense of stop counting; the reason says why. */
export interface CounterFault {
  reason: string;
  offset: number;
}

/**
 * Counts fixed-size MSG records in a byte stream that arrives in arbitrary chunks. A record is
 * stepped over by length: only its first byte ('M') and last byte ('\n') are checked, which is
 * enough to notice a wrong record size at once. Control lines between records (PING, PONG,
 * +OK, -ERR) are recognised by their first byte not being 'M' and handed to `onControl`.
 * With `seqOffset` set, the u32 at that offset of every record is read (even when split across
 * chunks) and handed to `onSeq`.
 */
export class RecordCounter {
  readonly recordBytes: number;
  records = 0;
  fault: CounterFault | null = null;
  private readonly seqOffset: number;
  private readonly onSeq: ((seq: number) => void) | null;
  private readonly onControl: (line: string) => void;
  private pos = 0; // bytes of the current record seen so far
  private seq = 0;
  private streamOffset = 0;
  private control: number[] | null = null; // bytes of a control line split across chunks

  constructor(
    recordBytes: number,
    opts: { seqOffset?: number; onSeq?: (seq: number) => void; onControl?: (line: string) => void } = {},
  ) {
    if (recordBytes < 3) throw new RangeError('a MSG record is at least 3 bytes');
    this.recordBytes = recordBytes;
    this.seqOffset = opts.onSeq ? (opts.seqOffset ?? -1) : -1;
    if (opts.onSeq && (this.seqOffset < 0 || this.seqOffset + SEQ_BYTES > recordBytes - 2)) {
      throw new RangeError('seqOffset must point at 4 payload bytes inside the record');
    }
    this.onSeq = opts.onSeq ?? null;
    this.onControl = opts.onControl ?? (() => {});
  }

  push(chunk: Uint8Array): void {
    const n = chunk.length;
    const size = this.recordBytes;
    const seqAt = this.seqOffset;
    let i = 0;
    while (i < n && this.fault === null) {
      if (this.pos === 0 && (this.control !== null || chunk[i] !== M)) {
        i = this.readControl(chunk, i);
        continue;
      }
      const take = Math.min(n - i, size - this.pos);
      if (seqAt >= 0) {
        // Gather whichever of the 4 sequence bytes fall inside [pos, pos + take).
        const from = Math.max(seqAt, this.pos);
        const to = Math.min(seqAt + SEQ_BYTES, this.pos + take);
        for (let k = from; k < to; k++) this.seq |= chunk[i + k - this.pos]! << (8 * (k - seqAt));
      }
      this.pos += take;
      i += take;
      if (this.pos === size) {
        if (chunk[i - 1] !== LF) {
          this.fault = { reason: 'record does not end with \\n: wrong record size?', offset: this.streamOffset + i - 1 };
          break;
        }
        this.pos = 0;
        this.records++;
        if (seqAt >= 0) {
          this.onSeq!(this.seq >>> 0);
          this.seq = 0;
        }
      }
    }
    this.streamOffset += n;
  }

  private readControl(chunk: Uint8Array, start: number): number {
    const line = this.control ?? [];
    let i = start;
    while (i < chunk.length) {
      const b = chunk[i++]!;
      if (b === LF) {
        this.control = null;
        const text = String.fromCharCode(...line).replace(/\r$/, '');
        if (!/^(PING|PONG|\+OK|-ERR|INFO)/.test(text)) {
          this.fault = { reason: `unexpected line between records: ${JSON.stringify(text.slice(0, 80))}`, offset: this.streamOffset + start };
        } else {
          this.onControl(text);
        }
        return i;
      }
      line.push(b);
      if (line.length > 64 * 1024) {
        this.fault = { reason: 'control line longer than 64 KiB', offset: this.streamOffset + start };
        return chunk.length;
      }
    }
    this.control = line;
    return i;
  }
}

/** Tallies how often each sequence number arrived, for exactly-once checks. */
export class SeqTally {
  private counts = new Uint8Array(1 << 20);
  maxSeq = -1;

  add(seq: number): void {
    if (seq >= this.counts.length) {
      let size = this.counts.length;
      while (size <= seq) size *= 2;
      const bigger = new Uint8Array(size);
      bigger.set(this.counts);
      this.counts = bigger;
    }
    const c = this.counts[seq]!;
    if (c < 255) this.counts[seq] = c + 1;
    if (seq > this.maxSeq) this.maxSeq = seq;
  }

  /** Against sequence numbers 0 … sent-1: how many never came, came more than once, or were never sent. */
  check(sent: number): { missing: number; duplicated: number; unexpected: number } {
    let missing = 0;
    let duplicated = 0;
    let unexpected = 0;
    const limit = Math.max(sent, this.maxSeq + 1);
    for (let s = 0; s < limit; s++) {
      const c = s < this.counts.length ? this.counts[s]! : 0;
      if (s >= sent) {
        if (c > 0) unexpected++;
      } else if (c === 0) missing++;
      else if (c > 1) duplicated++;
    }
    return { missing, duplicated, unexpected };
  }
}

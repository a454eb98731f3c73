// Segment record format. Every record carries its length and a CRC-32 so recovery can verify it,
// cut a torn tail and step over a damaged record:
//
//   0  u32  length of the whole record, bytes
//   4  u32  CRC-32 of bytes [8, length)
//   8  u8   type (RecordType)
//   9  u8   flags (RecordFlag)
//  10  u16  subject length
//  12  u32  header length
//  16  u64  sequence (Delete: the removed sequence; SeqState: the first sequence)
//  24  i64  time, ns (SeqState: the last time)
//  32  subject (latin1), header, payload (SeqState: u64 last sequence)
// All integers little-endian.
//
// A Delete record names the removed message's subject (as its subject) and the removed record's
// length (in the header-length field), so replaying it needs no read of the message it removes.
// Older Delete records carry neither (both 0) and are still read.

import { crc32Range } from './crc32.ts';
import { RECORD_HEADER_BYTES } from './types.ts';

export const RecordType = {
  Msg: 1,
  Delete: 2,
  SeqState: 3,
} as const;

export const RecordFlag = {
  /** The header is present (possibly empty); absent means null. */
  HasHdr: 1,
  /** The message was erased: header and payload are zeros, and it is not a message any more. */
  Erased: 2,
} as const;

const SEQ_STATE_BODY_BYTES = 8;

// Buffer's BigInt readers and writers convert through BigInt arithmetic (~50 ns each); a typed
// array over 8 scratch bytes moves a 64-bit value in a few ns. Sequences are below 2^53.
const SCRATCH_I64 = new BigInt64Array(1);
const SCRATCH_U64 = new BigUint64Array(SCRATCH_I64.buffer);
const SCRATCH_BYTES = new Uint8Array(SCRATCH_I64.buffer);

function writeI64(buf: Buffer, off: number, v: bigint): void {
  SCRATCH_I64[0] = v;
  buf.set(SCRATCH_BYTES, off);
}

/** Copies the 8 bytes at `off` into the scratch, for reading through its typed views. */
function loadScratch(buf: Buffer, off: number): void {
  for (let i = 0; i < 8; i++) SCRATCH_BYTES[i] = buf[off + i]!;
}

function readI64(buf: Buffer, off: number): bigint {
  loadScratch(buf, off);
  return SCRATCH_I64[0]!;
}

function writeSeq(buf: Buffer, off: number, seq: number): void {
  const hi = Math.floor(seq / 0x1_0000_0000);
  buf[off] = seq;
  buf[off + 1] = seq >>> 8;
  buf[off + 2] = seq >>> 16;
  buf[off + 3] = seq >>> 24;
  buf[off + 4] = hi;
  buf[off + 5] = hi >>> 8;
  buf[off + 6] = hi >>> 16;
  buf[off + 7] = hi >>> 24;
}

function readSeq(buf: Buffer, off: number): number {
  const lo = (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16)) + buf[off + 3]! * 0x100_0000;
  const hi = (buf[off + 4]! | (buf[off + 5]! << 8) | (buf[off + 6]! << 16)) + buf[off + 7]! * 0x100_0000;
  if (hi >= 0x20_0000) {
    // Past 2^53: not a sequence we wrote; let the slow path say what it is.
    loadScratch(buf, off);
    return Number(SCRATCH_U64[0]!);
  }
  return hi * 0x1_0000_0000 + lo;
}

export interface RecordHeader {
  length: number;
  type: number;
  flags: number;
  subjectLength: number;
  hdrLength: number;
  seq: number;
  ts: bigint;
}

/**
 * Records are cut from slabs of the store's own rather than Node's buffer pool. A slab this big is
 * above glibc's mmap threshold (fixed at 128 KiB by bin/nats-server), so it is mapped on its own
 * and unmapped once its records are written and collected; pool slabs (64 KiB) come from the
 * thread's heap and, freed in whatever order the collector finds them, leave that heap at its
 * high-water mark after a burst of writes (~10 MB measured). Nothing may keep a record buffer
 * after it is written: it would keep its whole slab.
 */
const SLAB_BYTES = 256 * 1024;
/** A record bigger than this gets a buffer of its own. */
const OWN_BUFFER_BYTES = SLAB_BYTES / 4;
let slab = Buffer.allocUnsafeSlow(0);
let slabUsed = 0;

/** A buffer for one record, `length` bytes. */
export function recordBuffer(length: number): Buffer {
  if (length > OWN_BUFFER_BYTES) return Buffer.allocUnsafeSlow(length);
  if (slabUsed + length > slab.length) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabUsed = 0;
  }
  const buf = slab.subarray(slabUsed, slabUsed + length);
  slabUsed = (slabUsed + length + 7) & ~7;
  return buf;
}

export function msgRecordLength(subjectLength: number, hdrLength: number, dataLength: number): number {
  return RECORD_HEADER_BYTES + subjectLength + hdrLength + dataLength;
}

export function encodeMsg(seq: number, subject: string, hdr: Uint8Array | null, data: Uint8Array, ts: bigint): Buffer {
  const hdrLength = hdr === null ? 0 : hdr.length;
  const length = msgRecordLength(subject.length, hdrLength, data.length);
  const buf = recordBuffer(length);
  writeHeader(buf, length, RecordType.Msg, hdr === null ? 0 : RecordFlag.HasHdr, subject.length, hdrLength, seq, ts);
  let p = RECORD_HEADER_BYTES;
  p += buf.write(subject, p, 'latin1');
  if (hdr !== null) {
    buf.set(hdr, p);
    p += hdrLength;
  }
  buf.set(data, p);
  seal(buf);
  return buf;
}

/** A tombstone for `seq`, naming the removed message's subject and record length. */
export function encodeDelete(seq: number, subject = '', removedLength = 0): Buffer {
  const length = RECORD_HEADER_BYTES + subject.length;
  const buf = recordBuffer(length);
  writeHeader(buf, length, RecordType.Delete, 0, subject.length, removedLength, seq, 0n);
  if (subject.length > 0) buf.write(subject, RECORD_HEADER_BYTES, 'latin1');
  seal(buf);
  return buf;
}

export function encodeSeqState(firstSeq: number, lastSeq: number, lastTime: bigint): Buffer {
  const length = RECORD_HEADER_BYTES + SEQ_STATE_BODY_BYTES;
  const buf = recordBuffer(length);
  writeHeader(buf, length, RecordType.SeqState, 0, 0, 0, firstSeq, lastTime);
  writeSeq(buf, RECORD_HEADER_BYTES, lastSeq);
  seal(buf);
  return buf;
}

/** Turns a message record into an erased one in place: zeroed header and payload, fresh CRC. */
export function eraseInPlace(rec: Buffer): void {
  const h = readHeader(rec, 0);
  rec.fill(0, RECORD_HEADER_BYTES + h.subjectLength, h.length);
  rec.writeUInt8(h.flags | RecordFlag.Erased, 9);
  seal(rec);
}

export function readHeader(buf: Buffer, off: number): RecordHeader {
  return readHeaderInto(buf, off, { length: 0, type: 0, flags: 0, subjectLength: 0, hdrLength: 0, seq: 0, ts: 0n });
}

/**
 * readHeader into an existing object, for scans that visit a million records. Without `time` the
 * timestamp is left as it was: a BigInt made per record is most of a replay's garbage, and a
 * replay needs the times of only a few records (recordTime).
 */
export function readHeaderInto(buf: Buffer, off: number, h: RecordHeader, time = true): RecordHeader {
  if (off + RECORD_HEADER_BYTES > buf.length) throw new RangeError(`record header at ${off} beyond ${buf.length} bytes`);
  h.length = u32(buf, off);
  h.type = buf[off + 8]!;
  h.flags = buf[off + 9]!;
  h.subjectLength = buf[off + 10]! | (buf[off + 11]! << 8);
  h.hdrLength = u32(buf, off + 12);
  h.seq = readSeq(buf, off + 16);
  if (time) h.ts = recordTime(buf, off);
  return h;
}

/** The timestamp of the record at `off` (its header's ts). */
export function recordTime(buf: Buffer, off: number): bigint {
  return readI64(buf, off + 24);
}

/** The stored length field, or 0 if fewer than 4 bytes remain. */
export function lengthAt(buf: Buffer, off: number): number {
  return off + 4 <= buf.length ? u32(buf, off) : 0;
}

/** True if the record at off has a plausible length and its CRC matches. */
export function checksumOk(buf: Buffer, off: number, length: number): boolean {
  if (length < RECORD_HEADER_BYTES || off + length > buf.length) return false;
  return crc32Range(buf, off + 8, off + length) === u32(buf, off + 4);
}

/**
 * buf.readUInt32LE without its bounds check (callers check): a scan reads a few per record, and
 * the Buffer method, not inlined there, measured ~5% of a start-up's replay.
 */
function u32(buf: Uint8Array, off: number): number {
  return (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
}

/** A checksummed record whose fields do not fit together (a bug or a forged record). */
export function wellFormed(h: RecordHeader): boolean {
  switch (h.type) {
    case RecordType.Msg:
      return RECORD_HEADER_BYTES + h.subjectLength + h.hdrLength <= h.length && h.subjectLength > 0;
    case RecordType.Delete:
      return h.length === RECORD_HEADER_BYTES + h.subjectLength;
    case RecordType.SeqState:
      return h.length === RECORD_HEADER_BYTES + SEQ_STATE_BODY_BYTES;
    default:
      return false;
  }
}

export function seqStateLastSeq(buf: Buffer, off: number): number {
  return readSeq(buf, off + RECORD_HEADER_BYTES);
}

/** The subject of a Msg or Delete record (latin1; '' for an old-style Delete). */
export function recordSubject(buf: Buffer, off: number, h: RecordHeader): string {
  return buf.toString('latin1', off + RECORD_HEADER_BYTES, off + RECORD_HEADER_BYTES + h.subjectLength);
}

export function decodeMsgBody(
  buf: Buffer,
  off: number,
  h: RecordHeader,
): { subject: string; hdr: Uint8Array | null; data: Uint8Array } {
  const subjectStart = off + RECORD_HEADER_BYTES;
  const hdrStart = subjectStart + h.subjectLength;
  const dataStart = hdrStart + h.hdrLength;
  return {
    subject: buf.toString('latin1', subjectStart, hdrStart),
    hdr: (h.flags & RecordFlag.HasHdr) !== 0 ? buf.subarray(hdrStart, dataStart) : null,
    data: buf.subarray(dataStart, off + h.length),
  };
}

function writeHeader(
  buf: Buffer,
  length: number,
  type: number,
  flags: number,
  subjectLength: number,
  hdrLength: number,
  seq: number,
  ts: bigint,
): void {
  buf.writeUInt32LE(length, 0);
  buf.writeUInt8(type, 8);
  buf.writeUInt8(flags, 9);
  buf.writeUInt16LE(subjectLength, 10);
  buf.writeUInt32LE(hdrLength, 12);
  writeSeq(buf, 16, seq);
  writeI64(buf, 24, ts);
}

function seal(buf: Buffer): void {
  buf.writeUInt32LE(crc32Range(buf, 8, buf.length), 4);
}

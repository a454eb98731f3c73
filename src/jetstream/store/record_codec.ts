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

import { crc32 } from 'node:zlib';
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

export interface RecordHeader {
  length: number;
  type: number;
  flags: number;
  subjectLength: number;
  hdrLength: number;
  seq: number;
  ts: bigint;
}

export function msgRecordLength(subjectLength: number, hdrLength: number, dataLength: number): number {
  return RECORD_HEADER_BYTES + subjectLength + hdrLength + dataLength;
}

export function encodeMsg(seq: number, subject: string, hdr: Uint8Array | null, data: Uint8Array, ts: bigint): Buffer {
  const hdrLength = hdr === null ? 0 : hdr.length;
  const length = msgRecordLength(subject.length, hdrLength, data.length);
  const buf = Buffer.allocUnsafe(length);
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

export function encodeDelete(seq: number): Buffer {
  const buf = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  writeHeader(buf, RECORD_HEADER_BYTES, RecordType.Delete, 0, 0, 0, seq, 0n);
  seal(buf);
  return buf;
}

export function encodeSeqState(firstSeq: number, lastSeq: number, lastTime: bigint): Buffer {
  const length = RECORD_HEADER_BYTES + SEQ_STATE_BODY_BYTES;
  const buf = Buffer.allocUnsafe(length);
  writeHeader(buf, length, RecordType.SeqState, 0, 0, 0, firstSeq, lastTime);
  buf.writeBigUInt64LE(BigInt(lastSeq), RECORD_HEADER_BYTES);
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
  return {
    length: buf.readUInt32LE(off),
    type: buf.readUInt8(off + 8),
    flags: buf.readUInt8(off + 9),
    subjectLength: buf.readUInt16LE(off + 10),
    hdrLength: buf.readUInt32LE(off + 12),
    seq: Number(buf.readBigUInt64LE(off + 16)),
    ts: buf.readBigInt64LE(off + 24),
  };
}

/** The stored length field, or 0 if fewer than 4 bytes remain. */
export function lengthAt(buf: Buffer, off: number): number {
  return off + 4 <= buf.length ? buf.readUInt32LE(off) : 0;
}

/** True if the record at off has a plausible length and its CRC matches. */
export function checksumOk(buf: Buffer, off: number, length: number): boolean {
  if (length < RECORD_HEADER_BYTES || off + length > buf.length) return false;
  return crc32(buf.subarray(off + 8, off + length)) === buf.readUInt32LE(off + 4);
}

/** A checksummed record whose fields do not fit together (a bug or a forged record). */
export function wellFormed(h: RecordHeader): boolean {
  switch (h.type) {
    case RecordType.Msg:
      return RECORD_HEADER_BYTES + h.subjectLength + h.hdrLength <= h.length && h.subjectLength > 0;
    case RecordType.Delete:
      return h.length === RECORD_HEADER_BYTES;
    case RecordType.SeqState:
      return h.length === RECORD_HEADER_BYTES + SEQ_STATE_BODY_BYTES;
    default:
      return false;
  }
}

export function seqStateLastSeq(buf: Buffer, off: number): number {
  return Number(buf.readBigUInt64LE(off + RECORD_HEADER_BYTES));
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
  buf.writeBigUInt64LE(BigInt(seq), 16);
  buf.writeBigInt64LE(ts, 24);
}

function seal(buf: Buffer): void {
  buf.writeUInt32LE(crc32(buf.subarray(8)), 4);
}

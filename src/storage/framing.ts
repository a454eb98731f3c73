// Checksummed framing of records on disk, shared by every file format that must detect damage:
//   frame = [u32 payload length][u32 CRC-32 of the payload][payload], little-endian.
// A reader tells a torn frame (it runs past the end of what was read: a crash mid-write) from a
// damaged one (implausible length, checksum mismatch); what to do about each is the caller's call.
// A framed file is one frame filling the whole file, optionally after a 4-byte magic.

import { crc32 } from 'node:zlib';

export const FRAME_HEADER_BYTES = 8;
/** No record comes near this; a larger length field is damage, never a reason to allocate. */
export const MAX_FRAME_PAYLOAD_BYTES = 1024 * 1024 * 1024;
/** Framed files may start with a magic of exactly this many latin1 characters. */
export const MAGIC_BYTES = 4;

export const FrameStatus = {
  Ok: 'ok',
  /** fewer bytes than the header or the length announce: a write cut short */
  Torn: 'torn',
  /** the length field is beyond any record's size */
  BadLength: 'bad-length',
  /** the payload does not match its checksum */
  BadChecksum: 'bad-checksum',
} as const;
export type FrameStatus = (typeof FrameStatus)[keyof typeof FrameStatus];

export interface FrameRead {
  status: FrameStatus;
  /** the payload (a view into the buffer) when status is Ok, else empty */
  payload: Uint8Array;
  /** offset just past this frame when its length is plausible (Ok, BadChecksum), else the buffer's end */
  end: number;
}

const EMPTY = new Uint8Array(0);

export function frameSize(payloadBytes: number): number {
  return FRAME_HEADER_BYTES + payloadBytes;
}

/** Writes one frame into `out` at `off`; returns the offset after it. */
export function writeFrame(out: Buffer, off: number, payload: Uint8Array): number {
  out.writeUInt32LE(payload.length, off);
  out.writeUInt32LE(crc32(payload), off + 4);
  out.set(payload, off + FRAME_HEADER_BYTES);
  return off + FRAME_HEADER_BYTES + payload.length;
}

export function encodeFrame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(frameSize(payload.length));
  writeFrame(out, 0, payload);
  return out;
}

/** Many frames in one buffer, so a batch is one write. */
export function encodeFrames(payloads: readonly Uint8Array[]): Buffer {
  let size = 0;
  for (const p of payloads) size += frameSize(p.length);
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  for (const p of payloads) off = writeFrame(out, off, p);
  return out;
}

/** Reads the frame at `off` (which must be < buf.length). */
export function readFrame(buf: Buffer, off: number, maxPayloadBytes = MAX_FRAME_PAYLOAD_BYTES): FrameRead {
  if (buf.length - off < FRAME_HEADER_BYTES) return { status: FrameStatus.Torn, payload: EMPTY, end: buf.length };
  const len = buf.readUInt32LE(off);
  if (len > maxPayloadBytes) return { status: FrameStatus.BadLength, payload: EMPTY, end: buf.length };
  const end = off + FRAME_HEADER_BYTES + len;
  if (end > buf.length) return { status: FrameStatus.Torn, payload: EMPTY, end: buf.length };
  const payload = buf.subarray(off + FRAME_HEADER_BYTES, end);
  if (crc32(payload) !== buf.readUInt32LE(off + 4)) return { status: FrameStatus.BadChecksum, payload: EMPTY, end };
  return { status: FrameStatus.Ok, payload, end };
}

export interface FrameScan {
  /** offset just past the last good frame of the unbroken run from the start */
  goodEnd: number;
  /** why the run stopped, or null when it reached the end of the buffer */
  stop: FrameRead | null;
}

/** Visits good frames from `off` until the end or the first bad one. */
export function scanFrames(buf: Buffer, off: number, visit: (payload: Uint8Array, at: number) => void): FrameScan {
  while (off < buf.length) {
    const r = readFrame(buf, off);
    if (r.status !== FrameStatus.Ok) return { goodEnd: off, stop: r };
    visit(r.payload, off);
    off = r.end;
  }
  return { goodEnd: off, stop: null };
}

/** A file holding exactly one frame, after an optional magic. */
export function encodeFramedFile(payload: Uint8Array, magic?: string): Buffer {
  const m = magic === undefined ? 0 : MAGIC_BYTES;
  const out = Buffer.allocUnsafe(m + frameSize(payload.length));
  if (magic !== undefined) out.write(checkMagic(magic), 0, 'latin1');
  writeFrame(out, m, payload);
  return out;
}

export type FramedFileRead = { payload: Uint8Array; error: null } | { payload: null; error: string };

/** The payload of a framed file's bytes, or why they are not one (bad header, length or checksum). */
export function decodeFramedFile(buf: Buffer, magic?: string): FramedFileRead {
  let off = 0;
  if (magic !== undefined) {
    if (buf.length < MAGIC_BYTES || buf.toString('latin1', 0, MAGIC_BYTES) !== checkMagic(magic)) {
      return { payload: null, error: 'bad header' };
    }
    off = MAGIC_BYTES;
  }
  if (buf.length - off < FRAME_HEADER_BYTES) return { payload: null, error: 'truncated header' };
  const r = readFrame(buf, off);
  if (r.status === FrameStatus.BadChecksum) return { payload: null, error: 'checksum mismatch' };
  if (r.status !== FrameStatus.Ok || r.end !== buf.length) return { payload: null, error: 'length mismatch' };
  return { payload: r.payload, error: null };
}

function checkMagic(magic: string): string {
  if (magic.length !== MAGIC_BYTES) throw new Error(`magic must be ${MAGIC_BYTES} latin1 characters`);
  return magic;
}

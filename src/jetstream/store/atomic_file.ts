// Small files that must never be seen half-written: stream configs, consumer state. Written to a
// temporary file, fsynced, renamed over the target, and the directory fsynced so the rename lasts.
// The checksummed variant frames the payload so a damaged file is detected, not misread.

import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { StoreError, StoreErrorCode } from './errors.ts';

export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await fsp.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
  const dir = await fsp.open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Frame: magic (4 bytes), u32 payload length, u32 CRC-32 of the payload, payload. Little-endian. */
const FRAME_HEADER_BYTES = 12;

export async function writeChecksummedFile(file: string, magic: string, payload: Uint8Array): Promise<void> {
  await writeFileAtomic(file, frame(magic, payload));
}

/**
 * The payload, or null when the file does not exist. Throws StoreError CORRUPT when the magic,
 * length or checksum do not match.
 */
export async function readChecksummedFile(file: string, magic: string): Promise<Uint8Array | null> {
  let buf: Buffer;
  try {
    buf = await fsp.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return unframe(buf, magic, file);
}

export function frame(magic: string, payload: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  buf.write(magicOf(magic), 0, 'latin1');
  buf.writeUInt32LE(payload.length, 4);
  buf.writeUInt32LE(crc32(payload), 8);
  buf.set(payload, FRAME_HEADER_BYTES);
  return buf;
}

export function unframe(buf: Buffer, magic: string, what = 'file'): Uint8Array {
  if (buf.length < FRAME_HEADER_BYTES || buf.toString('latin1', 0, 4) !== magicOf(magic)) {
    throw new StoreError(StoreErrorCode.Corrupt, `${what}: bad header`);
  }
  const length = buf.readUInt32LE(4);
  if (FRAME_HEADER_BYTES + length !== buf.length) throw new StoreError(StoreErrorCode.Corrupt, `${what}: bad length`);
  const payload = buf.subarray(FRAME_HEADER_BYTES);
  if (crc32(payload) !== buf.readUInt32LE(8)) throw new StoreError(StoreErrorCode.Corrupt, `${what}: checksum mismatch`);
  return payload;
}

function magicOf(magic: string): string {
  if (magic.length !== 4) throw new Error('magic must be 4 latin1 characters');
  return magic;
}

// Files that must never be seen half-written (hard state, snapshots, configs, consumer state):
// written to `<file>.tmp`, fsynced, renamed over the target, and the directory fsynced so the
// rename itself survives a power loss. A reader sees the old content or the new, never a mix.
// The framed variants add a length and a CRC-32 (framing.ts), so rot is detected, not misread.
// Sync variants are for start-up and for rare writes whose caller must not continue before they
// are durable; everything on a hot path uses the async ones (libuv threads, off the event loop).

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { decodeFramedFile, encodeFramedFile } from './framing.ts';

export const TEMP_SUFFIX = '.tmp';

/** A framed file exists but its bytes are not one intact frame. */
export class CorruptFileError extends Error {
  readonly file: string;
  readonly reason: string;
  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.name = 'CorruptFileError';
    this.file = file;
    this.reason = reason;
  }
}

export function syncDirSync(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function replaceFileSync(file: string, data: Uint8Array | string): void {
  const tmp = file + TEMP_SUFFIX;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  syncDirSync(path.dirname(file));
}

export async function replaceFile(file: string, data: Uint8Array | string): Promise<void> {
  await fsp.rename(await writeTempFile(file, data), file);
  await syncDir(path.dirname(file));
}

/**
 * The first half of replaceFile: `data` written to `file`.tmp and fsynced; returns that path. For
 * a caller whose rename must be one synchronous step with an in-memory swap (renameSync, then
 * syncDir), so nothing reads the new file with the old state in between.
 */
export async function writeTempFile(file: string, data: Uint8Array | string): Promise<string> {
  const tmp = file + TEMP_SUFFIX;
  const fh = await fsp.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return tmp;
}

/** Removes temp files left by a crash during a replace (the target still holds the old content). */
export function removeTempFilesSync(dir: string): void {
  for (const f of fs.readdirSync(dir)) if (f.endsWith(TEMP_SUFFIX)) fs.rmSync(path.join(dir, f), { force: true });
}

export function writeFramedFileSync(file: string, payload: Uint8Array, magic?: string): void {
  replaceFileSync(file, encodeFramedFile(payload, magic));
}

export function writeFramedFile(file: string, payload: Uint8Array, magic?: string): Promise<void> {
  return replaceFile(file, encodeFramedFile(payload, magic));
}

/** The payload, or null when the file does not exist; throws CorruptFileError when damaged. */
export function readFramedFileSync(file: string, magic?: string): Uint8Array | null {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return unframeOrThrow(file, buf, magic);
}

export async function readFramedFile(file: string, magic?: string): Promise<Uint8Array | null> {
  let buf: Buffer;
  try {
    buf = await fsp.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return unframeOrThrow(file, buf, magic);
}

function unframeOrThrow(file: string, buf: Buffer, magic: string | undefined): Uint8Array {
  const r = decodeFramedFile(buf, magic);
  if (r.error !== null) throw new CorruptFileError(file, r.error);
  return r.payload;
}

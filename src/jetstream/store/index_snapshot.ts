// The file store's index snapshot (`msgs/index.db`): segment summaries with their dead bits, the
// per-subject table and the sequence bookkeeping, as of a moment when every segment file held
// exactly the records the index had seen. Written atomically in a checksummed frame at clean
// shutdown, periodically, and after space reclamation changed the files.
//
// It is an accelerator, never the truth: start-up uses it only if its checksum holds and every
// segment it lists still ends where it says (same length, same last record); then only records
// after it are read. Anything else — missing, damaged, stale beyond repair — means a full scan,
// with the reason logged.

import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Packr, unpack } from 'msgpackr';
import { readFramedFile, writeFramedFile } from '../../storage/atomic_file.ts';
import type { SegmentTail } from './segment.ts';
import type { SubjectTableSnapshot } from './subject_table.ts';
import type { CorruptionReport } from './types.ts';

export const SNAPSHOT_FILE = 'index.db';
const SNAPSHOT_MAGIC = 'PIDX';
const SNAPSHOT_VERSION = 3;

export interface SegmentSummary {
  id: number;
  /** File length the summary describes. */
  size: number;
  tail: SegmentTail | null;
  first: number;
  last: number;
  firstTs: bigint;
  lastTs: bigint;
  liveMsgs: number;
  liveBytes: number;
  msgBytes: number;
  recMin: number;
  recMax: number;
  dead: Uint8Array | null;
  deadCount: number;
  /** The sparse offset index (segment.ts), little-endian u32s; null when not trustworthy. */
  sparse: Uint8Array | null;
}

export interface IndexSnapshot {
  firstSeq: number;
  lastSeq: number;
  lastTime: bigint;
  msgs: number;
  bytes: number;
  segments: SegmentSummary[];
  subjects: SubjectTableSnapshot;
  corrupt: CorruptionReport[];
}

/**
 * msgpackr's default encoding (no records), on an instance of our own because of its output
 * buffer: one per thread, shared by every Packr, which grows by 4x steps to fit the largest
 * output and is kept for the next one. A snapshot of a stream with many subjects is megabytes
 * (~20 bytes a subject), so left alone that buffer would hold ~4x the largest snapshot for good.
 */
const packr = new Packr({ useRecords: false });
/** A snapshot bigger than this is encoded into a buffer of its own, sized from the snapshot. */
const OWN_BUFFER_BYTES = 64 * 1024;
/** What msgpackr gets back after such a snapshot (its own starting size). */
const SMALL_BUFFER_BYTES = 8192;

/** About the encoded size of a snapshot: its blocks, plus room for the fixed fields. */
function encodedSizeHint(s: IndexSnapshot): number {
  const t = s.subjects;
  let n = 1024 + t.names.length + t.counts.length + t.firsts.length + t.lasts.length + t.stale.length + s.corrupt.length * 256;
  for (const seg of s.segments) n += 256 + (seg.dead?.length ?? 0) + (seg.sparse?.length ?? 0);
  return n;
}

export function encodeSnapshot(s: IndexSnapshot): Buffer {
  const hint = encodedSizeHint(s);
  if (hint <= OWN_BUFFER_BYTES) return packr.pack({ v: SNAPSHOT_VERSION, ...s });
  // The result is a view of the buffer it was written to: it stays valid after msgpackr moves on.
  packr.useBuffer(Buffer.allocUnsafeSlow(hint));
  const out = packr.pack({ v: SNAPSHOT_VERSION, ...s });
  packr.useBuffer(Buffer.allocUnsafeSlow(SMALL_BUFFER_BYTES));
  return out;
}

/** The snapshot in `msgsDir`, null when there is none; throws (with the reason) when it is unusable. */
export async function readSnapshot(msgsDir: string): Promise<IndexSnapshot | null> {
  const raw = await readFramedFile(path.join(msgsDir, SNAPSHOT_FILE), SNAPSHOT_MAGIC);
  if (raw === null) return null;
  const o = unpack(raw) as { v?: unknown } & IndexSnapshot;
  if (o.v !== SNAPSHOT_VERSION) throw new Error(`unknown index snapshot version ${String(o.v)}`);
  if (!Array.isArray(o.segments) || typeof o.subjects !== 'object' || typeof o.lastTime !== 'bigint') {
    throw new Error('index snapshot is malformed');
  }
  const t = o.subjects;
  const n = t.names.length === 0 ? 0 : t.names.split('\n').length;
  if (t.counts.length !== n * 4 || t.firsts.length !== n * 8 || t.lasts.length !== n * 8 || t.stale.length !== n) {
    throw new Error('index snapshot: subject table blocks disagree');
  }
  return o;
}

export async function writeSnapshot(msgsDir: string, bytes: Uint8Array): Promise<void> {
  await writeFramedFile(path.join(msgsDir, SNAPSHOT_FILE), bytes, SNAPSHOT_MAGIC);
}

export async function removeSnapshot(msgsDir: string): Promise<void> {
  await fsp.rm(path.join(msgsDir, SNAPSHOT_FILE), { force: true });
}

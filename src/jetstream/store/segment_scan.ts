// Start-up verification of one segment file: walk its records, check every CRC, and decide where
// the good data ends. A record cut short at the end of the newest segment is a torn write from a
// crash (never acknowledged) and is cut off silently. A record whose CRC fails is damage: it is
// skipped when its length field is still credible (the next record, or the end of file, starts
// where it says), otherwise the file is cut there and the loss is reported.

import { COMBINE_MAX_BYTES, crc32Combine, crc32Range } from './crc32.ts';
import { checksumOk, lengthAt, readHeader, readHeaderInto, wellFormed, type RecordHeader } from './record_codec.ts';
import { RECORD_HEADER_BYTES } from './types.ts';

/** About this many bytes of records are checked at once (checkRun); the run stays in the CPU cache. */
const RUN_BYTES = 256 * 1024;

export interface ScannedRecord {
  offset: number;
  header: RecordHeader;
}

export interface SegmentScan {
  records: ScannedRecord[];
  /** Bytes worth keeping: the file should be truncated to this length. */
  validLength: number;
  /** Bytes of a torn tail that was cut off (newest segment only). */
  tornTailBytes: number;
  damage: Array<{ offset: number; length: number; action: 'skipped' | 'truncated'; seq?: number }>;
}

/**
 * Takes the good records of a scan. One object for every scan of a kind (not a closure per scan),
 * so that the call in the scan's loop always has the same target: a new one would throw away the
 * loop's optimised code at every segment.
 */
export interface RecordVisitor {
  visitRecord(offset: number, header: RecordHeader): void;
}

/** The visitor of a scan that collects its records. */
class Collector implements RecordVisitor {
  readonly records: ScannedRecord[] = [];

  visitRecord(offset: number, header: RecordHeader): void {
    this.records.push({ offset, header: { ...header } });
  }
}

/**
 * Scans `buf` (a whole segment file) from `from`, a record boundary. With `visitor`, each good
 * record is handed to it (one header object, reused) instead of being collected; with `times`
 * false, that header's ts is not decoded (the visitor reads the times it needs with recordTime).
 */
export function scanSegment(buf: Buffer, newest: boolean, from = 0, visitor?: RecordVisitor, times = true): SegmentScan {
  const collector = visitor === undefined ? new Collector() : null;
  const v = visitor ?? collector!;
  const scratch: RecordHeader = { length: 0, type: 0, flags: 0, subjectLength: 0, hdrLength: 0, seq: 0, ts: 0n };
  const damage: SegmentScan['damage'] = [];
  const size = buf.length;
  let p = from;
  let tornTailBytes = 0;
  // Records ending by `checkedTo` passed checkRun; those before `singlyTo` are in a run that did
  // not, and are checked one by one, to find which.
  const run = { end: 0, ok: false };
  let checkedTo = from;
  let singlyTo = from;
  while (p < size) {
    const length = lengthAt(buf, p);
    const remaining = size - p;
    // A crash can leave a partial record, or a file extended with zeros, after the last good one.
    if (remaining < RECORD_HEADER_BYTES || length > remaining || (newest && allZero(buf, p))) {
      if (newest) {
        tornTailBytes = remaining;
      } else {
        damage.push({ offset: p, length: remaining, action: 'truncated' });
      }
      break;
    }
    if (p >= checkedTo && p >= singlyTo) {
      checkRun(buf, p, run);
      if (run.ok) checkedTo = run.end;
      else singlyTo = run.end;
    }
    if (p < checkedTo) {
      p = visitRun(buf, p, checkedTo, v, scratch, times);
      if (p === checkedTo) continue;
    } else if (!checksumOk(buf, p, length)) {
      const next = p + length;
      const credible = length >= RECORD_HEADER_BYTES && (next === size || checksumOk(buf, next, lengthAt(buf, next)));
      if (!credible) {
        damage.push({ offset: p, length: remaining, action: 'truncated' });
        break;
      }
      damage.push({ offset: p, length, action: 'skipped', seq: readHeader(buf, p).seq });
      p = next;
      continue;
    }
    // A record whose checksum holds, checked alone or where visitRun stopped at it.
    const header = readHeaderInto(buf, p, scratch, times);
    if (wellFormed(header)) v.visitRecord(p, header);
    else damage.push({ offset: p, length: header.length, action: 'skipped', seq: header.seq });
    p += header.length;
  }
  const validLength = damage.length > 0 && damage[damage.length - 1]!.action === 'truncated'
    ? damage[damage.length - 1]!.offset
    : size - tornTailBytes;
  return { records: collector?.records ?? [], validLength, tornTailBytes, damage };
}

/**
 * Hands the records of [p, end), a run checkRun passed, to the visitor; returns where it stopped:
 * `end`, or a record whose fields do not fit together. Kept apart from scanSegment so that this
 * loop, where start-up spends its time, ends in nothing but a return: code first reached after a
 * loop was optimised (the loop's end, at the end of a segment) would throw that code away.
 */
function visitRun(buf: Buffer, p: number, end: number, visitor: RecordVisitor, scratch: RecordHeader, times: boolean): number {
  while (p < end) {
    const header = readHeaderInto(buf, p, scratch, times);
    if (!wellFormed(header)) return p;
    visitor.visitRecord(p, header);
    p += header.length;
  }
  return p;
}

/**
 * Checks the checksums of the whole records from `start` on, about RUN_BYTES of them, at once: a
 * CRC-32 of the run follows from each record's 8 header bytes and the checksum stored there
 * (crc32Combine, a few table lookups a record), and must equal one native CRC-32 of the run's
 * bytes. A record whose body does not match its checksum changes the native CRC and not the
 * other, and the difference cannot vanish: the error of one record is multiplied by a power of x,
 * invertible mod P. Errors in several records could cancel only by a 2^-32 chance, the same odds
 * as one record's own check. Sets run.end (where the walk of whole records stopped) and run.ok;
 * when not ok, the caller checks those records one by one.
 */
function checkRun(buf: Buffer, start: number, run: { end: number; ok: boolean }): void {
  const size = buf.length;
  const stop = Math.min(size, start + RUN_BYTES);
  let expected = 0;
  let p = start;
  while (p < stop && size - p >= RECORD_HEADER_BYTES) {
    const length = lengthAt(buf, p);
    if (length < RECORD_HEADER_BYTES || length > size - p || length - 8 > COMBINE_MAX_BYTES) break;
    expected = crc32Combine(crc32Range(buf, p, p + 8, expected), buf.readUInt32LE(p + 4), length - 8);
    p += length;
  }
  run.end = p;
  run.ok = p > start && crc32Range(buf, start, p) === expected;
}

function allZero(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

// Start-up verification of one segment file: walk its records, check every CRC, and decide where
// the good data ends. A record cut short at the end of the newest segment is a torn write from a
// crash (never acknowledged) and is cut off silently. A record whose CRC fails is damage: it is
// skipped when its length field is still credible (the next record, or the end of file, starts
// where it says), otherwise the file is cut there and the loss is reported.

import { checksumOk, lengthAt, readHeader, readHeaderInto, wellFormed, type RecordHeader } from './record_codec.ts';
import { RECORD_HEADER_BYTES } from './types.ts';

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
 * Scans `buf` (a whole segment file) from `from`, a record boundary. With `visit`, each good
 * record is handed to it (one header object, reused) instead of being collected.
 */
export function scanSegment(buf: Buffer, newest: boolean, from = 0, visit?: (offset: number, header: RecordHeader) => void): SegmentScan {
  const records: ScannedRecord[] = [];
  const scratch: RecordHeader = { length: 0, type: 0, flags: 0, subjectLength: 0, hdrLength: 0, seq: 0, ts: 0n };
  const damage: SegmentScan['damage'] = [];
  const size = buf.length;
  let p = from;
  let tornTailBytes = 0;
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
    if (checksumOk(buf, p, length)) {
      const header = visit === undefined ? readHeader(buf, p) : readHeaderInto(buf, p, scratch);
      if (!wellFormed(header)) damage.push({ offset: p, length, action: 'skipped', seq: header.seq });
      else if (visit === undefined) records.push({ offset: p, header });
      else visit(p, header);
      p += length;
      continue;
    }
    const next = p + length;
    const credible = length >= RECORD_HEADER_BYTES && (next === size || checksumOk(buf, next, lengthAt(buf, next)));
    if (!credible) {
      damage.push({ offset: p, length: remaining, action: 'truncated' });
      break;
    }
    damage.push({ offset: p, length, action: 'skipped', seq: readHeader(buf, p).seq });
    p = next;
  }
  const validLength = damage.length > 0 && damage[damage.length - 1]!.action === 'truncated'
    ? damage[damage.length - 1]!.offset
    : size - tornTailBytes;
  return { records, validLength, tornTailBytes, damage };
}

function allZero(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

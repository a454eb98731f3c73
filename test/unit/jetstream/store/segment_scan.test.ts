// The start-up scan checks the checksums of runs of records at once (one native CRC a run, the
// expected value combined from the records' stored checksums). Whatever the damage, it must hand
// over exactly the records whose own checksum holds, and cut or report the rest as a scan checking
// each record alone would.
import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMBINE_MAX_BYTES, crc32Combine, crc32Range } from '../../../../src/jetstream/store/crc32.ts';
import { checksumOk, encodeDelete, encodeMsg, lengthAt } from '../../../../src/jetstream/store/record_codec.ts';
import { scanSegment } from '../../../../src/jetstream/store/segment_scan.ts';

/** Records of many sizes, far more than one run (256 KiB) of them, and a few too big to combine. */
function segment(n: number, bigAt: number[] = []): { buf: Buffer; offsets: number[] } {
  const recs: Buffer[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (let i = 1; i <= n; i++) {
    const size = bigAt.includes(i) ? COMBINE_MAX_BYTES + 100 : 60 + ((i * 37) % 300);
    const rec = i % 50 === 0 ? encodeDelete(i - 1, `s.${i % 7}`, 90) : encodeMsg(i, `s.${i % 7}`, i % 3 === 0 ? Buffer.from('h') : null, Buffer.alloc(size, i & 0xff), BigInt(i));
    recs.push(Buffer.from(rec));
    offsets.push(at);
    at += rec.length;
  }
  return { buf: Buffer.concat(recs), offsets };
}

/**
 * What a scan checking every record alone does, for damage that leaves every length field intact:
 * keeps the good records, steps over a bad one when the record after it is good (or there is none),
 * and cuts the file at one followed by another bad one (its length can no longer be trusted).
 */
function checkedSingly(buf: Buffer, offsets: number[]): { kept: number[]; skipped: number[]; cutAt: number } {
  const good = (i: number): boolean => checksumOk(buf, offsets[i]!, lengthAt(buf, offsets[i]!));
  const kept: number[] = [];
  const skipped: number[] = [];
  for (let i = 0; i < offsets.length; i++) {
    if (good(i)) kept.push(offsets[i]!);
    else if (i + 1 === offsets.length || good(i + 1)) skipped.push(offsets[i]!);
    else return { kept, skipped, cutAt: offsets[i]! };
  }
  return { kept, skipped, cutAt: buf.length };
}

function visited(buf: Buffer, newest = false): { offsets: number[]; scan: ReturnType<typeof scanSegment> } {
  const offsets: number[] = [];
  const scan = scanSegment(buf, newest, 0, { visitRecord: (o) => offsets.push(o) });
  return { offsets, scan };
}

describe('CRC-32 combination', () => {
  it('agrees with zlib on concatenations, from empty to the longest second part', () => {
    const a = Buffer.from('a record header and more');
    for (const n of [0, 1, 7, 8, 255, 4096, 100_003, COMBINE_MAX_BYTES]) {
      const b = Buffer.alloc(n, 0x5a);
      for (let i = 0; i < n; i += 997) b[i] = i & 0xff;
      expect(crc32Combine(zlibCrc32(a), zlibCrc32(b), n), `n=${n}`).toBe(zlibCrc32(Buffer.concat([a, b])));
    }
    for (const n of [8, 100, 5000]) {
      const b = Buffer.alloc(n, 7);
      expect(crc32Range(b, 0, n, zlibCrc32(a)), `continued over ${n}`).toBe(zlibCrc32(Buffer.concat([a, b])));
    }
  });

  it('stays right for lengths asked for over and over (exact tables), mixed with others of the same slot', () => {
    const a = Buffer.from('abc');
    const lengths = [162, 170, 162, 178, 162, 9, 162];
    const bodies = new Map(lengths.map((n) => [n, Buffer.alloc(n, n & 0xff)]));
    for (let round = 0; round < 200; round++) {
      const n = round % 50 < 40 ? 162 : lengths[round % lengths.length]!;
      const b = bodies.get(n)!;
      expect(crc32Combine(zlibCrc32(a), zlibCrc32(b), n), `round ${round}`).toBe(zlibCrc32(Buffer.concat([a, b])));
    }
  });
});

describe('segment scan', () => {
  const { buf: clean, offsets } = segment(4000, [1501]);

  it('hands over every record of an intact segment, across runs and a record too big to combine', () => {
    expect(clean.length).toBeGreaterThan(4 * 256 * 1024);
    const { offsets: seen, scan } = visited(clean);
    expect(seen).toEqual(offsets);
    expect(scan.damage).toEqual([]);
    expect(scan.validLength).toBe(clean.length);
  });

  it('hands over exactly the records whose own checksum holds, wherever bytes are flipped', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(offsets.length - 1), fc.integer({ min: 4, max: 400 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }),
        (flips) => {
          const buf = Buffer.from(clean);
          for (const [rec, at, xor] of flips) {
            // Bytes past the length field: the stored checksum, the header or the body.
            const o = offsets[rec]!;
            const end = rec + 1 < offsets.length ? offsets[rec + 1]! : buf.length;
            buf[o + 4 + (at % (end - o - 4))]! ^= xor;
          }
          const want = checkedSingly(buf, offsets);
          const { offsets: seen, scan } = visited(buf);
          expect(seen).toEqual(want.kept);
          expect(scan.damage.filter((d) => d.action === 'skipped').map((d) => d.offset)).toEqual(want.skipped);
          expect(scan.validLength).toBe(want.cutAt);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('two damaged records in one run are both found, every other record handed over', () => {
    const buf = Buffer.from(clean);
    buf[offsets[10]! + 40]! ^= 0x01;
    buf[offsets[12]! + 40]! ^= 0x01;
    const { offsets: seen, scan } = visited(buf);
    expect(scan.damage.map((d) => d.offset)).toEqual([offsets[10], offsets[12]]);
    expect(seen).toEqual(offsets.filter((_, i) => i !== 10 && i !== 12));
  });

  it('a damaged record too big to combine is found', () => {
    const buf = Buffer.from(clean);
    buf[offsets[1500]! + 1000]! ^= 0x80;
    const { scan } = visited(buf);
    expect(scan.damage).toEqual([expect.objectContaining({ offset: offsets[1500], action: 'skipped', seq: 1501 })]);
  });

  it('cuts a torn tail of the newest segment after many runs, and truncates at a length that is not credible', () => {
    const cutAt = offsets[3000]! + 17;
    const torn = visited(clean.subarray(0, cutAt), true);
    expect(torn.offsets).toEqual(offsets.slice(0, 3000));
    expect(torn.scan).toMatchObject({ tornTailBytes: 17, validLength: offsets[3000], damage: [] });

    const buf = Buffer.from(clean);
    buf.writeUInt32LE(buf.readUInt32LE(offsets[2000]!) + 3, offsets[2000]!);
    const bad = visited(buf);
    expect(bad.offsets).toEqual(offsets.slice(0, 2000));
    expect(bad.scan.damage).toEqual([{ offset: offsets[2000], length: buf.length - offsets[2000]!, action: 'truncated' }]);
    expect(bad.scan.validLength).toBe(offsets[2000]);
  });
});

// CRC-32 (the zlib polynomial, so records written with zlib's crc32 still verify) over a range of
// a buffer without making a view of it. Records are small: a call into zlib costs more than the
// checksum of a 200-byte record, so small ranges are summed here (slice-by-16) and large ones by
// zlib, which is faster per byte.

import { crc32 as zlibCrc32 } from 'node:zlib';

/** Below this, the table loop beats the call into zlib. */
const ZLIB_FROM_BYTES = 2048;

// Slice-by-16: 16 table lookups per 16 bytes, one loop round; measured ~12% faster than
// slice-by-8 on 170-byte records (0.16 vs 0.18 µs each).
const TABLE = new Int32Array(256 * 16);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[i] = c;
}
for (let i = 0; i < 256; i++) {
  for (let t = 1; t < 16; t++) TABLE[t * 256 + i] = (TABLE[(t - 1) * 256 + i]! >>> 8) ^ TABLE[TABLE[(t - 1) * 256 + i]! & 0xff]!;
}

export function crc32Range(buf: Uint8Array, start: number, end: number): number {
  if (end - start >= ZLIB_FROM_BYTES) return zlibCrc32(buf.subarray(start, end));
  const t = TABLE;
  let c = -1;
  let i = start;
  for (; i + 16 <= end; i += 16) {
    c ^= buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
    c =
      t[3840 + (c & 0xff)]! ^
      t[3584 + ((c >>> 8) & 0xff)]! ^
      t[3328 + ((c >>> 16) & 0xff)]! ^
      t[3072 + (c >>> 24)]! ^
      t[2816 + buf[i + 4]!]! ^
      t[2560 + buf[i + 5]!]! ^
      t[2304 + buf[i + 6]!]! ^
      t[2048 + buf[i + 7]!]! ^
      t[1792 + buf[i + 8]!]! ^
      t[1536 + buf[i + 9]!]! ^
      t[1280 + buf[i + 10]!]! ^
      t[1024 + buf[i + 11]!]! ^
      t[768 + buf[i + 12]!]! ^
      t[512 + buf[i + 13]!]! ^
      t[256 + buf[i + 14]!]! ^
      t[buf[i + 15]!]!;
  }
  for (; i < end; i++) c = t[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// ---- combining checksums
//
// CRC-32 is linear: crc(A‖B) = crc(A)·x^(8|B|) mod P  ⊕  crc(B) (zlib's crc32_combine). So the
// checksum of a run of records follows from each record's stored checksum and its 8 header
// bytes, without reading its body; comparing that with one native CRC of the whole run checks
// every record of it at once (record_codec.ts, verifiedRun).

/** The polynomial, reflected: bit 31 is x^0. */
const POLY = 0xedb88320;
/** Multiplying by x^(8·2^i) mod P (shifting a CRC over 2^i zero bytes) is linear: 4 tables of 256. */
const SHIFT_BITS = 20;
/** shiftTables[i]: the 4 tables for 2^i bytes, built when first needed (a stream's records use a few). */
const shiftTables: Array<Int32Array | undefined> = new Array(SHIFT_BITS);

/** a·b mod P, both reflected (zlib's multmodp). */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if ((a & m) !== 0) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

function shiftTable(i: number): Int32Array {
  // Shifting over 2^i bytes multiplies by x^(2^(i+3)): square x^1 i+3 times.
  let x2k = 0x40000000;
  for (let k = 0; k < i + 3; k++) x2k = multModP(x2k, x2k);
  const images = new Int32Array(32);
  for (let k = 0; k < 32; k++) images[k] = multModP(x2k, (1 << k) >>> 0);
  const t = new Int32Array(1024);
  for (let j = 0; j < 4; j++) {
    // By linearity: entry b = entry (b without its lowest bit) ⊕ the image of that bit.
    for (let b = 1; b < 256; b++) t[j * 256 + b] = t[j * 256 + (b & (b - 1))]! ^ images[8 * j + 31 - Math.clz32(b & -b)]!;
  }
  return (shiftTables[i] = t);
}

/** crc·x^(8n) mod P: the CRC `crc` carried over n more zero bytes (n < 2^SHIFT_BITS). */
function shiftBytes(crc: number, n: number): number {
  for (let i = 0; n !== 0; i++, n >>>= 1) {
    if ((n & 1) === 0) continue;
    const t = shiftTables[i] ?? shiftTable(i);
    crc = t[crc & 0xff]! ^ t[256 + ((crc >>> 8) & 0xff)]! ^ t[512 + ((crc >>> 16) & 0xff)]! ^ t[768 + (crc >>> 24)]!;
  }
  return crc >>> 0;
}

/** Longest second part crc32Combine takes. */
export const COMBINE_MAX_BYTES = 2 ** SHIFT_BITS - 1;

/** crc(A‖B) from crc(A), crc(B) and |B| (≤ COMBINE_MAX_BYTES). */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (shiftBytes(crcA, lengthB) ^ crcB) >>> 0;
}

/** crc(A‖buf[start, end)) from crc(A): the checksum continued over more bytes. */
export function crc32Continue(crc: number, buf: Uint8Array, start: number, end: number): number {
  const t = TABLE;
  let c = ~crc;
  for (let i = start; i < end; i++) c = t[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** One native CRC-32 of buf[start, end) (fast per byte; a call costs what ~2 KB of the loop does). */
export function crc32Native(buf: Uint8Array, start: number, end: number): number {
  return zlibCrc32(buf.subarray(start, end));
}

// CRC-32 (the zlib polynomial, so records written with zlib's crc32 still verify) over a range of
// a buffer without making a view of it. Records are small: a call into zlib costs more than the
// checksum of a 200-byte record, so small ranges are summed here (slice-by-8) and large ones by
// zlib, which is faster per byte.

import { crc32 as zlibCrc32 } from 'node:zlib';

/** Below this, the table loop beats the call into zlib. */
const ZLIB_FROM_BYTES = 2048;

const TABLE = new Int32Array(256 * 8);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[i] = c;
}
for (let i = 0; i < 256; i++) {
  for (let t = 1; t < 8; t++) TABLE[t * 256 + i] = (TABLE[(t - 1) * 256 + i]! >>> 8) ^ TABLE[TABLE[(t - 1) * 256 + i]! & 0xff]!;
}

export function crc32Range(buf: Uint8Array, start: number, end: number): number {
  if (end - start >= ZLIB_FROM_BYTES) return zlibCrc32(buf.subarray(start, end));
  const t = TABLE;
  let c = -1;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    c ^= buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
    c =
      t[1792 + (c & 0xff)]! ^
      t[1536 + ((c >>> 8) & 0xff)]! ^
      t[1280 + ((c >>> 16) & 0xff)]! ^
      t[1024 + (c >>> 24)]! ^
      t[768 + buf[i + 4]!]! ^
      t[512 + buf[i + 5]!]! ^
      t[256 + buf[i + 6]!]! ^
      t[buf[i + 7]!]!;
  }
  for (; i < end; i++) c = t[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// Byte constants and allocation-free integer helpers shared by the protocol
// parsers and encoders. Everything here works on Uint8Array indexes so the hot
// path never builds strings.

export const Byte = {
  TAB: 0x09,
  LF: 0x0a,
  FF: 0x0c,
  CR: 0x0d,
  SPACE: 0x20,
  PLUS: 0x2b, // '+'
  MINUS: 0x2d, // '-'
  DOT: 0x2e, // '.'
  ZERO: 0x30,
  NINE: 0x39,
  STAR: 0x2a, // '*'
  GT: 0x3e, // '>'
  QUOTE: 0x27, // "'"
  // ASCII letters are compared after folding to upper case with `& ~0x20`.
  CASE_FOLD_MASK: 0xdf,
} as const;

/** nats-server reads at most 9 decimal digits for a size (999,999,999 bytes). */
export const MAX_SIZE_DIGITS = 9;

/** Length of the CRLF that ends every control line and every payload. */
export const CRLF_LENGTH = 2;

/**
 * Parse a non-negative decimal size from `buf[start, end)`.
 * Returns -1 when empty, longer than {@link MAX_SIZE_DIGITS} digits, or when a
 * non-digit is present — the same contract as nats-server's parseSize, so a
 * huge number cannot overflow into a bogus positive size.
 */
export function parseSize(buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  if (len <= 0 || len > MAX_SIZE_DIGITS) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i]! - Byte.ZERO;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** Number of decimal digits needed to print a non-negative integer. */
export function decimalLength(n: number): number {
  if (n < 10) return 1;
  if (n < 100) return 2;
  if (n < 1000) return 3;
  if (n < 10000) return 4;
  if (n < 100000) return 5;
  if (n < 1000000) return 6;
  if (n < 10000000) return 7;
  if (n < 100000000) return 8;
  if (n < 1000000000) return 9;
  return String(n).length;
}

/** Largest integer `| 0` arithmetic keeps exact. */
const INT32_MAX = 0x7fffffff;

/** Write a non-negative integer in decimal at `offset`; returns the new offset. */
export function writeDecimal(buf: Uint8Array, offset: number, n: number): number {
  // Sizes are mostly small: one or two digits take no loop and no division.
  if (n < 10) {
    buf[offset] = Byte.ZERO + n;
    return offset + 1;
  }
  if (n < 100) {
    const tens = (n * 0.1) | 0;
    buf[offset] = Byte.ZERO + tens;
    buf[offset + 1] = Byte.ZERO + (n - tens * 10);
    return offset + 2;
  }
  const end = offset + decimalLength(n);
  let i = end;
  if (n <= INT32_MAX) {
    // Small-integer arithmetic: `| 0` truncates without Math.floor's float path.
    do {
      const q = (n / 10) | 0;
      buf[--i] = Byte.ZERO + (n - q * 10);
      n = q;
    } while (n > 0);
    return end;
  }
  do {
    buf[--i] = Byte.ZERO + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  return end;
}

/**
 * Up to this many bytes a JS loop copies faster than `Uint8Array.prototype.set` (measured on
 * Node 26: a loop costs ~1 ns a byte, set() ~14 ns whatever the size), e.g. for sids.
 */
export const SMALL_COPY_BYTES = 8;

/**
 * Up to this many chars a charCodeAt loop writes a latin1 string faster than Buffer's native
 * latin1Write (~25 ns a call on Node 26); typical subjects sit around this size.
 */
const SMALL_STRING_CHARS = 16;

type Latin1Writer = (this: Uint8Array, s: string, offset: number, length: number) => number;
// Like latin1Slice below: undocumented, long-stable, and works on any Uint8Array.
const latin1Write = (Buffer.prototype as unknown as { latin1Write?: Latin1Writer }).latin1Write;

/**
 * Write a latin1 string (one char = one byte, the server's in-memory form of a
 * subject) at `offset`; returns the new offset. The caller has made room.
 */
export function writeLatin1(buf: Uint8Array, offset: number, s: string): number {
  const n = s.length;
  if (n > SMALL_STRING_CHARS && latin1Write !== undefined) {
    latin1Write.call(buf, s, offset, n);
    return offset + n;
  }
  for (let i = 0; i < n; i++) buf[offset + i] = s.charCodeAt(i);
  return offset + n;
}

/** Copy `src` to `buf` at `offset`, by loop when small; returns the new offset. */
export function writeBytes(buf: Uint8Array, offset: number, src: Uint8Array): number {
  const n = src.length;
  if (n > SMALL_COPY_BYTES) {
    buf.set(src, offset);
  } else {
    for (let i = 0; i < n; i++) buf[offset + i] = src[i]!;
  }
  return offset + n;
}

/** Copy bytes or a latin1 string at `offset`; returns the new offset. */
export function writeBytesOrLatin1(buf: Uint8Array, offset: number, v: Uint8Array | string): number {
  if (typeof v === 'string') return writeLatin1(buf, offset, v);
  return writeBytes(buf, offset, v);
}

/** Encode an ASCII/latin1 string to bytes (cold paths: constants, error lines). */
export function latin1Bytes(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, 'latin1'));
}

/** True for the bytes nats-server treats as argument separators inside a control line. */
export function isArgSpace(b: number): boolean {
  return b === Byte.SPACE || b === Byte.TAB;
}

type Latin1Slicer = (this: Uint8Array, start: number, end: number) => string;
// Node's Buffer has an undocumented but long-stable latin1Slice that decodes any
// Uint8Array without wrapping it in a Buffer first.
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: Latin1Slicer }).latin1Slice;

/** Decode bytes one char per byte (byte-faithful for UTF-8 content). */
export function latin1String(b: Uint8Array, start = 0, end = b.length): string {
  if (latin1Slice !== undefined) return latin1Slice.call(b, start, end);
  return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('latin1');
}

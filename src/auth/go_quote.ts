// Go's `%q` for a byte string, because nats-server's permission errors quote the subject
// with it and clients may compare the text. Subjects here are latin1 strings (one char per
// byte); bytes that form valid printable UTF-8 are kept as they are, everything else is
// escaped the way strconv.Quote does.

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

const SHORT_ESCAPES: Record<number, string> = {
  0x07: '\\a',
  0x08: '\\b',
  0x0c: '\\f',
  0x0a: '\\n',
  0x0d: '\\r',
  0x09: '\\t',
  0x0b: '\\v',
  0x22: '\\"',
  0x5c: '\\\\',
};

function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, '0');
}

/** Length of the valid UTF-8 sequence starting at `i` and its code point, or null. */
function decodeUtf8(bytes: string, i: number): { length: number; codePoint: number } | null {
  const b0 = bytes.charCodeAt(i);
  let length: number;
  let codePoint: number;
  let min: number;
  if (b0 >= 0xc2 && b0 <= 0xdf) [length, codePoint, min] = [2, b0 & 0x1f, 0x80];
  else if (b0 >= 0xe0 && b0 <= 0xef) [length, codePoint, min] = [3, b0 & 0x0f, 0x800];
  else if (b0 >= 0xf0 && b0 <= 0xf4) [length, codePoint, min] = [4, b0 & 0x07, 0x10000];
  else return null;
  if (i + length > bytes.length) return null;
  for (let k = 1; k < length; k++) {
    const b = bytes.charCodeAt(i + k);
    if ((b & 0xc0) !== 0x80) return null;
    codePoint = (codePoint << 6) | (b & 0x3f);
  }
  if (codePoint < min || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) return null;
  return { length, codePoint };
}

export function goQuote(bytes: string): string {
  let out = '"';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes.charCodeAt(i);
    if (b < 0x80) {
      const short = SHORT_ESCAPES[b];
      if (short !== undefined) out += short;
      else if (b < 0x20 || b === 0x7f) out += `\\x${hex(b, 2)}`;
      else out += bytes[i];
      i++;
      continue;
    }
    const rune = decodeUtf8(bytes, i);
    if (rune === null) {
      out += `\\x${hex(b & 0xff, 2)}`;
      i++;
      continue;
    }
    if (PRINTABLE.test(String.fromCodePoint(rune.codePoint))) out += bytes.slice(i, i + rune.length);
    else if (rune.codePoint < 0x10000) out += `\\u${hex(rune.codePoint, 4)}`;
    else out += `\\U${hex(rune.codePoint, 8)}`;
    i += rune.length;
  }
  return out + '"';
}

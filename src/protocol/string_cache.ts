// Publishers mostly repeat subjects (and a route its account): the last string decoded is reused
// when the bytes match, which saves a string allocation per message.

import { latin1String } from './bytes.ts';

/** Longest string the cache keeps. */
const CACHED_BYTES = 64;

export class LastString {
  private readonly bytes = new Uint8Array(CACHED_BYTES);
  private length = -1;
  private value = '';

  /** `src[start, end)` as a latin1 string, the previous one when the bytes are the same. */
  get(src: Uint8Array, start: number, end: number): string {
    const n = end - start;
    const last = this.bytes;
    if (n === this.length) {
      let i = 0;
      while (i < n && last[i] === src[start + i]) i++;
      if (i === n) return this.value;
    }
    const s = latin1String(src, start, end);
    if (n <= last.length) {
      for (let i = 0; i < n; i++) last[i] = src[start + i]!;
      this.length = n;
      this.value = s;
    }
    return s;
  }
}

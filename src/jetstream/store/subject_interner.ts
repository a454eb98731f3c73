// Subjects read back from segment files (recovery, table rebuilds) repeat: a stream has far fewer
// subjects than messages. Decoding each into a new string costs an allocation and, for every Map
// lookup after it, a fresh hash. This direct-mapped cache hands back the same string for the same
// bytes, so reading a million records makes a few thousand strings.

const SLOTS = 4096;

export class SubjectInterner {
  private readonly hashes = new Int32Array(SLOTS);
  private readonly strings: Array<string | undefined> = new Array(SLOTS);

  /** The latin1 string of buf[start, end). */
  get(buf: Uint8Array, start: number, end: number): string {
    let h = 0x811c9dc5 | 0;
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    const slot = (h ^ (h >>> 16)) & (SLOTS - 1);
    const cached = this.strings[slot];
    if (cached !== undefined && this.hashes[slot] === h && cached.length === end - start && sameLatin1(cached, buf, start)) return cached;
    const s = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('latin1', start, end);
    this.hashes[slot] = h;
    this.strings[slot] = s;
    return s;
  }
}

function sameLatin1(s: string, buf: Uint8Array, start: number): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== buf[start + i]) return false;
  return true;
}

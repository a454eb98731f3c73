// Subjects read back from segment files (recovery, table rebuilds) repeat: a stream has far fewer
// subjects than messages. Decoding each into a new string costs an allocation and, for every Map
// lookup after it, a fresh hash. This cache hands back the same string for the same bytes, so
// reading a million records makes a few thousand strings, and it remembers the subject-table id
// each string was last given, so a repeat skips the Map lookup as well.
//
// Open addressing that grows to keep probes short: a direct-mapped table of a fixed size thrashes
// as soon as two frequent subjects share a slot (measured: 1,000 subjects in 4,096 slots missed
// about one record in ten, each miss a buffer view, a string and a Map lookup). Past MAX_SLOTS it
// starts over rather than growing, so a stream of mostly unique subjects (KV keys) holds no more
// than that.

import { NO_SUBJECT } from './subject_table.ts';

const MIN_SLOTS = 256;
const MAX_SLOTS = 16384;

export class SubjectInterner {
  private hashes = new Int32Array(MIN_SLOTS);
  private strings: Array<string | undefined> = new Array(MIN_SLOTS);
  private ids = new Uint32Array(MIN_SLOTS).fill(NO_SUBJECT);
  private used = 0;
  /** Slot of the string get() returned last. */
  private slot = 0;

  /** The latin1 string of buf[start, end). */
  get(buf: Uint8Array, start: number, end: number): string {
    let h = 0x811c9dc5 | 0;
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    const mask = this.hashes.length - 1;
    let i = (h ^ (h >>> 15)) & mask;
    for (;;) {
      const s = this.strings[i];
      if (s === undefined) break;
      if (this.hashes[i] === h && s.length === end - start && sameLatin1(s, buf, start)) {
        this.slot = i;
        return s;
      }
      i = (i + 1) & mask;
    }
    const s = latin1(buf, start, end);
    if ((this.used + 1) * 2 > this.hashes.length) {
      this.resize(this.hashes.length < MAX_SLOTS ? this.hashes.length * 2 : this.hashes.length);
      i = this.freeSlot(h);
    }
    this.hashes[i] = h;
    this.strings[i] = s;
    this.ids[i] = NO_SUBJECT;
    this.used++;
    this.slot = i;
    return s;
  }

  /** The subject-table id last noted for the string get() returned last, or NO_SUBJECT. */
  get id(): number {
    return this.ids[this.slot]!;
  }

  set id(id: number) {
    this.ids[this.slot] = id;
  }

  private freeSlot(h: number): number {
    const mask = this.hashes.length - 1;
    let i = (h ^ (h >>> 15)) & mask;
    while (this.strings[i] !== undefined) i = (i + 1) & mask;
    return i;
  }

  /** Grows to `slots`, keeping what is cached; at the cap (same size) it starts over instead. */
  private resize(slots: number): void {
    const { hashes, strings, ids } = this;
    this.hashes = new Int32Array(slots);
    this.strings = new Array(slots);
    this.ids = new Uint32Array(slots).fill(NO_SUBJECT);
    this.used = 0;
    if (slots === hashes.length) return;
    for (let j = 0; j < hashes.length; j++) {
      const s = strings[j];
      if (s === undefined) continue;
      const i = this.freeSlot(hashes[j]!);
      this.hashes[i] = hashes[j]!;
      this.strings[i] = s;
      this.ids[i] = ids[j]!;
      this.used++;
    }
  }
}

function latin1(buf: Uint8Array, start: number, end: number): string {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return b.toString('latin1', start, end);
}

function sameLatin1(s: string, buf: Uint8Array, start: number): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== buf[start + i]) return false;
  return true;
}

// The file store's per-subject state: for every subject with live messages, its count and its
// first and last sequence — never the sequences themselves. Each subject gets a small integer id
// (reused once the subject has no messages left), so segment tables can name a message's
// subject in four bytes. State lives in typed arrays indexed by id; a subject costs its Map entry
// and its string plus 25 bytes, whatever the number of its messages.
//
// When a subject's first (or last) message goes, the next one is not known without looking; the
// old value stays as a bound and the entry is marked stale, to be resolved by whoever next needs
// it (the segment index scans from the bound). A subject with one message left needs no scan.

import { subjectHash } from './subject_bloom.ts';
import type { SubjectFilter } from './subject_filter.ts';

export const NO_SUBJECT = 0xffffffff;

const FIRST_STALE = 1;
const LAST_STALE = 2;

/**
 * The table as a few flat blocks (a million subjects encode in one pass): the subjects joined by
 * newlines (a subject has no whitespace), and per subject, in that order, its count (u32), first
 * and last sequence (f64) and stale flags (u8), all little-endian.
 */
export interface SubjectTableSnapshot {
  names: string;
  counts: Uint8Array;
  firsts: Uint8Array;
  lasts: Uint8Array;
  stale: Uint8Array;
}

function bytesOf(a: Uint32Array | Float64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export class SubjectTable {
  private readonly ids = new Map<string, number>();
  private names: Array<string | undefined> = [];
  private counts = new Uint32Array(64);
  private firsts = new Float64Array(64);
  private lasts = new Float64Array(64);
  private flags = new Uint8Array(64);
  /** subjectHash of each subject, for the segments' subject filters (subject_bloom.ts). */
  private hashes = new Uint32Array(64);
  private readonly free: number[] = [];
  private lastName = '';
  private lastId = 0;

  get size(): number {
    return this.ids.size;
  }

  /** Bytes held by the typed arrays (strings and the Map come on top). */
  get byteLength(): number {
    return this.counts.byteLength + this.firsts.byteLength + this.lasts.byteLength + this.flags.byteLength + this.hashes.byteLength;
  }

  /** Every id in use is below this. */
  get idLimit(): number {
    return this.names.length;
  }

  idOf(subject: string): number | undefined {
    // A writer asks about the same subject several times per message (limits, then the add):
    // answer repeats without hashing a fresh string again.
    if (subject === this.lastName && this.names[this.lastId] === subject) return this.lastId;
    const id = this.ids.get(subject);
    if (id !== undefined) {
      this.lastName = subject;
      this.lastId = id;
    }
    return id;
  }

  name(id: number): string {
    return this.names[id]!;
  }

  count(id: number): number {
    return this.counts[id]!;
  }

  hash(id: number): number {
    return this.hashes[id]!;
  }

  /** First sequence, or a lower bound of it when firstStale(id). */
  firstBound(id: number): number {
    return this.firsts[id]!;
  }

  /** Last sequence, or an upper bound of it when lastStale(id). */
  lastBound(id: number): number {
    return this.lasts[id]!;
  }

  firstStale(id: number): boolean {
    return (this.flags[id]! & FIRST_STALE) !== 0;
  }

  lastStale(id: number): boolean {
    return (this.flags[id]! & LAST_STALE) !== 0;
  }

  setFirst(id: number, seq: number): void {
    this.firsts[id] = seq;
    this.flags[id]! &= ~FIRST_STALE;
  }

  setLast(id: number, seq: number): void {
    this.lasts[id] = seq;
    this.flags[id]! &= ~LAST_STALE;
  }

  /** Counts a new newest message on the subject; returns its id. */
  add(subject: string, seq: number): number {
    let id = this.idOf(subject);
    if (id === undefined) {
      id = this.allocate(subject);
      this.firsts[id] = seq;
    }
    this.addTo(id, seq);
    return id;
  }

  /** add() for a subject whose id is known (`holds(id, subject)`). */
  addTo(id: number, seq: number): void {
    this.counts[id]!++;
    this.lasts[id] = seq;
    this.flags[id]! &= ~LAST_STALE;
  }

  /** Whether `id` is the id of `subject` now (ids are reused once a subject has no messages). */
  holds(id: number, subject: string): boolean {
    return id < this.names.length && this.names[id] === subject;
  }

  /** Uncounts one message of the subject; the subject goes when it has none left. */
  drop(id: number, seq: number): void {
    const left = --this.counts[id]!;
    if (left === 0) {
      this.ids.delete(this.names[id]!);
      this.names[id] = undefined;
      this.flags[id] = 0;
      this.free.push(id);
      return;
    }
    if (left === 1) {
      // Two were left, so the one that goes is one end and the survivor is the other, if known.
      if (!this.lastStale(id) && seq !== this.lasts[id]) {
        this.setFirst(id, this.lasts[id]!);
        return;
      }
      if (!this.firstStale(id) && seq !== this.firsts[id]) {
        this.setLast(id, this.firsts[id]!);
        return;
      }
    }
    if (seq === this.firsts[id]) this.flags[id]! |= FIRST_STALE;
    if (seq === this.lasts[id]) this.flags[id]! |= LAST_STALE;
  }

  /** Every message of every subject with a sequence below `floor` went: tighten the bounds. */
  raiseFirstBound(id: number, floor: number): void {
    if (this.firsts[id]! < floor) {
      this.firsts[id] = floor;
      this.flags[id]! |= FIRST_STALE;
    }
  }

  clear(): void {
    this.lastName = '';
    this.ids.clear();
    this.names = [];
    this.free.length = 0;
    this.counts = new Uint32Array(64);
    this.firsts = new Float64Array(64);
    this.lasts = new Float64Array(64);
    this.flags = new Uint8Array(64);
    this.hashes = new Uint32Array(64);
  }

  /** Calls fn for each subject the filter matches (a literal filter is one lookup). */
  forEachMatch(filter: SubjectFilter, fn: (id: number, subject: string) => void): void {
    if (filter.literal) {
      const id = this.ids.get(filter.text);
      if (id !== undefined) fn(id, filter.text);
      return;
    }
    for (const [subject, id] of this.ids) if (filter.all || filter.matches(subject)) fn(id, subject);
  }

  snapshot(): SubjectTableSnapshot {
    const n = this.ids.size;
    const names: string[] = new Array(n);
    const counts = new Uint32Array(n);
    const firsts = new Float64Array(n);
    const lasts = new Float64Array(n);
    const stale = new Uint8Array(n);
    let i = 0;
    for (const [subject, id] of this.ids) {
      names[i] = subject;
      counts[i] = this.counts[id]!;
      firsts[i] = this.firsts[id]!;
      lasts[i] = this.lasts[id]!;
      stale[i] = this.flags[id]!;
      i++;
    }
    return { names: names.join('\n'), counts: bytesOf(counts), firsts: bytesOf(firsts), lasts: bytesOf(lasts), stale };
  }

  restore(s: SubjectTableSnapshot): void {
    this.clear();
    if (s.names.length === 0) return;
    const names = s.names.split('\n');
    // Copies: the decoded blocks may not be aligned for typed-array views.
    const counts = new Uint32Array(new Uint8Array(s.counts).buffer);
    const firsts = new Float64Array(new Uint8Array(s.firsts).buffer);
    const lasts = new Float64Array(new Uint8Array(s.lasts).buffer);
    for (let i = 0; i < names.length; i++) {
      const id = this.allocate(names[i]!);
      this.counts[id] = counts[i]!;
      this.firsts[id] = firsts[i]!;
      this.lasts[id] = lasts[i]!;
      this.flags[id] = s.stale[i]! & (FIRST_STALE | LAST_STALE);
    }
  }

  private allocate(subject: string): number {
    let id = this.free.pop();
    if (id === undefined) {
      id = this.names.length;
      this.names.push(undefined);
      if (id >= this.counts.length) this.grow();
    }
    this.ids.set(subject, id);
    this.names[id] = subject;
    this.counts[id] = 0;
    this.flags[id] = 0;
    this.hashes[id] = subjectHash(subject);
    return id;
  }

  private grow(): void {
    const n = this.counts.length * 2;
    const counts = new Uint32Array(n);
    counts.set(this.counts);
    const firsts = new Float64Array(n);
    firsts.set(this.firsts);
    const lasts = new Float64Array(n);
    lasts.set(this.lasts);
    const flags = new Uint8Array(n);
    flags.set(this.flags);
    const hashes = new Uint32Array(n);
    hashes.set(this.hashes);
    this.hashes = hashes;
    this.counts = counts;
    this.firsts = firsts;
    this.lasts = lasts;
    this.flags = flags;
  }
}

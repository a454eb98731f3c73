// The file store's per-subject state: for every subject with live messages, its count and its
// first and last sequence — never the sequences themselves. Each subject gets a small integer id
// (reused once the subject has no messages left), so segment tables can name a message's
// subject in four bytes. State lives in typed arrays indexed by id; a subject costs its Map entry
// and its string plus 21 bytes, whatever the number of its messages.
//
// When a subject's first (or last) message goes, the next one is not known without looking; the
// old value stays as a bound and the entry is marked stale, to be resolved by whoever next needs
// it (the segment index scans from the bound). A subject with one message left needs no scan.

import type { SubjectFilter } from './subject_filter.ts';

export const NO_SUBJECT = 0xffffffff;

const FIRST_STALE = 1;
const LAST_STALE = 2;

export interface SubjectTableSnapshot {
  names: string[];
  counts: number[];
  firsts: number[];
  lasts: number[];
  stale: number[];
}

export class SubjectTable {
  private readonly ids = new Map<string, number>();
  private names: Array<string | undefined> = [];
  private counts = new Uint32Array(64);
  private firsts = new Float64Array(64);
  private lasts = new Float64Array(64);
  private flags = new Uint8Array(64);
  private readonly free: number[] = [];

  get size(): number {
    return this.ids.size;
  }

  /** Bytes held by the typed arrays (strings and the Map come on top). */
  get byteLength(): number {
    return this.counts.byteLength + this.firsts.byteLength + this.lasts.byteLength + this.flags.byteLength;
  }

  idOf(subject: string): number | undefined {
    return this.ids.get(subject);
  }

  name(id: number): string {
    return this.names[id]!;
  }

  count(id: number): number {
    return this.counts[id]!;
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
    let id = this.ids.get(subject);
    if (id === undefined) {
      id = this.allocate(subject);
      this.firsts[id] = seq;
    }
    this.counts[id]!++;
    this.lasts[id] = seq;
    this.flags[id]! &= ~LAST_STALE;
    return id;
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
    this.ids.clear();
    this.names = [];
    this.free.length = 0;
    this.counts = new Uint32Array(64);
    this.firsts = new Float64Array(64);
    this.lasts = new Float64Array(64);
    this.flags = new Uint8Array(64);
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
    const out: SubjectTableSnapshot = { names: [], counts: [], firsts: [], lasts: [], stale: [] };
    for (const [subject, id] of this.ids) {
      out.names.push(subject);
      out.counts.push(this.counts[id]!);
      out.firsts.push(this.firsts[id]!);
      out.lasts.push(this.lasts[id]!);
      out.stale.push(this.flags[id]!);
    }
    return out;
  }

  restore(s: SubjectTableSnapshot): void {
    this.clear();
    for (let i = 0; i < s.names.length; i++) {
      const id = this.allocate(s.names[i]!);
      this.counts[id] = s.counts[i]!;
      this.firsts[id] = s.firsts[i]!;
      this.lasts[id] = s.lasts[i]!;
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
    this.counts = counts;
    this.firsts = firsts;
    this.lasts = lasts;
    this.flags = flags;
  }
}

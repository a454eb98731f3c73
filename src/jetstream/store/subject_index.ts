// Per-subject index: for each subject, its live sequences in ascending order. It answers
// last-by-subject, next-by-subject, per-subject limits, subject state and pending counts exactly,
// without walking the whole stream.

import type { SubjectState } from './types.ts';
import type { SubjectFilter } from './subject_filter.ts';

/** Reclaim a list's dead prefix once it is this long and more than half of the array. */
const PREFIX_RECLAIM_ITEMS = 1024;

/** Ascending sequences, cheap to append at the end and to drop from the front. */
export class SeqList {
  private seqs: number[] = [];
  private head = 0;

  get count(): number {
    return this.seqs.length - this.head;
  }

  get first(): number {
    return this.seqs[this.head] ?? 0;
  }

  get last(): number {
    return this.count > 0 ? this.seqs[this.seqs.length - 1]! : 0;
  }

  push(seq: number): void {
    this.seqs.push(seq);
  }

  remove(seq: number): boolean {
    if (this.count === 0) return false;
    if (seq === this.seqs[this.head]) {
      this.head++;
      if (this.head >= PREFIX_RECLAIM_ITEMS && this.head * 2 > this.seqs.length) {
        this.seqs = this.seqs.slice(this.head);
        this.head = 0;
      }
      return true;
    }
    if (seq === this.last) {
      this.seqs.pop();
      return true;
    }
    const i = this.lowerBound(seq);
    if (i >= this.seqs.length || this.seqs[i] !== seq) return false;
    this.seqs.splice(i, 1);
    return true;
  }

  /** First sequence >= seq, or 0. */
  firstFrom(seq: number): number {
    return this.seqs[this.lowerBound(seq)] ?? 0;
  }

  /** How many sequences are >= seq. */
  countFrom(seq: number): number {
    return this.seqs.length - this.lowerBound(seq);
  }

  /** A copy of the sequences, oldest first. */
  toArray(): number[] {
    return this.seqs.slice(this.head);
  }

  private lowerBound(seq: number): number {
    let lo = this.head;
    let hi = this.seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqs[mid]! < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export class SubjectIndex {
  private readonly bySubject = new Map<string, SeqList>();

  get size(): number {
    return this.bySubject.size;
  }

  get(subject: string): SeqList | undefined {
    return this.bySubject.get(subject);
  }

  add(subject: string, seq: number): SeqList {
    let list = this.bySubject.get(subject);
    if (list === undefined) {
      list = new SeqList();
      this.bySubject.set(subject, list);
    }
    list.push(seq);
    return list;
  }

  remove(subject: string, seq: number): void {
    const list = this.bySubject.get(subject);
    if (list === undefined) return;
    list.remove(seq);
    if (list.count === 0) this.bySubject.delete(subject);
  }

  clear(): void {
    this.bySubject.clear();
  }

  /** Calls fn for every subject the filter matches. */
  forEachMatch(filter: SubjectFilter, fn: (subject: string, list: SeqList) => void): void {
    if (filter.literal) {
      const list = this.bySubject.get(filter.text);
      if (list !== undefined) fn(filter.text, list);
      return;
    }
    for (const [subject, list] of this.bySubject) if (filter.matches(subject)) fn(subject, list);
  }

  state(list: SeqList): SubjectState {
    return { msgs: list.count, first: list.first, last: list.last };
  }
}

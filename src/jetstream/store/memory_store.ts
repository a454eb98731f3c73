// The memory store: every message is an object holding its bytes, in a sequence window, with a
// per-subject list of sequences. Nothing to make durable.

import { IndexedStore, type ReleaseKind } from './indexed_store.ts';
import { SeqWindow } from './seq_window.ts';
import type { SubjectFilter } from './subject_filter.ts';
import { SubjectIndex } from './subject_index.ts';
import { UNLIMITED, type StoreLimits, type StoredMessage, type SubjectState } from './types.ts';

interface MemoryEntry {
  subject: string;
  ts: bigint;
  /** Bytes counted against max_bytes. */
  size: number;
  hdr: Uint8Array | null;
  data: Uint8Array;
}

const DONE: Promise<void> = Promise.resolve();

export class MemoryStore extends IndexedStore {
  readonly kind = 'memory' as const;
  private readonly window = new SeqWindow<MemoryEntry>();
  private readonly subjects = new SubjectIndex();

  constructor(limits: StoreLimits = UNLIMITED) {
    super(limits);
  }

  flush(): Promise<void> {
    return DONE;
  }

  close(): Promise<void> {
    this.closed = true;
    return DONE;
  }

  delete(): Promise<void> {
    this.closed = true;
    this.window.clear();
    this.subjects.clear();
    return DONE;
  }

  // ---- index ----

  protected isLive(seq: number): boolean {
    return this.window.get(seq) !== undefined;
  }

  protected nextLive(from: number): number {
    return this.window.nextLive(from);
  }

  protected prevLive(upTo: number): number {
    return this.window.prevLive(upTo);
  }

  protected timeOf(seq: number): bigint {
    return this.window.get(seq)?.ts ?? 0n;
  }

  protected sizeOf(seq: number): number {
    return this.window.get(seq)?.size ?? 0;
  }

  protected deletedSeqs(first: number, last: number): number[] {
    const deleted = this.window.holes();
    // Sequences skipped after the last live message are deleted too.
    for (let s = Math.max(this.window.last + 1, first); s <= last; s++) deleted.push(s);
    return deleted;
  }

  protected numSubjects(): number {
    return this.subjects.size;
  }

  protected subjectCount(subject: string): number {
    return this.subjects.get(subject)?.count ?? 0;
  }

  protected subjectFirst(subject: string): number {
    return this.subjects.get(subject)?.first ?? 0;
  }

  protected subjectsOver(max: number): string[] {
    const out: string[] = [];
    this.subjects.forEachMatch(this.filterFor('>'), (s, list) => {
      if (list.count > max) out.push(s);
    });
    return out;
  }

  protected subjectStates(filter: SubjectFilter): Map<string, SubjectState> {
    const out = new Map<string, SubjectState>();
    this.subjects.forEachMatch(filter, (subject, list) => out.set(subject, this.subjects.state(list)));
    return out;
  }

  protected countAllMatching(filter: SubjectFilter): number {
    let total = 0;
    this.subjects.forEachMatch(filter, (_s, list) => {
      total += list.count;
    });
    return total;
  }

  protected matchingSeqs(filter: SubjectFilter, upTo: number): number[] {
    const out: number[] = [];
    if (filter.all) {
      if (!this.window.empty) this.window.forEach(this.window.first, upTo, (seq) => out.push(seq));
      return out;
    }
    this.subjects.forEachMatch(filter, (_s, list) => {
      for (const seq of list.toArray()) if (seq <= upTo) out.push(seq);
    });
    return filter.literal ? out : out.sort((a, b) => a - b);
  }

  protected nextMatching(filter: SubjectFilter, from: number): number {
    if (filter.all) return this.window.nextLive(from);
    if (filter.literal) return this.subjects.get(filter.text)?.firstFrom(from) ?? 0;
    // Walk the stream when the range is short compared with the number of subjects, else ask each subject.
    if (this.lastSeq - from < this.subjects.size * 4) {
      for (let seq = this.window.nextLive(from); seq !== 0; seq = this.window.nextLive(seq + 1)) {
        if (filter.matches(this.window.get(seq)!.subject)) return seq;
      }
      return 0;
    }
    let best = 0;
    this.subjects.forEachMatch(filter, (_s, list) => {
      const seq = list.firstFrom(from);
      if (seq !== 0 && (best === 0 || seq < best)) best = seq;
    });
    return best;
  }

  protected lastMatching(filter: SubjectFilter): number {
    let seq = 0;
    this.subjects.forEachMatch(filter, (_s, list) => {
      if (list.last > seq) seq = list.last;
    });
    return seq;
  }

  protected countMatching(filter: SubjectFilter, from: number, lastPerSubject: boolean): number {
    let total = 0;
    this.subjects.forEachMatch(filter, (_s, list) => {
      if (lastPerSubject) {
        if (list.last >= from) total++;
      } else {
        total += list.countFrom(from);
      }
    });
    return total;
  }

  /** Times grow with sequences (writers stamp them in order): a binary search over live messages. */
  protected firstAtOrAfter(timeNs: bigint): number {
    let lo = this.window.first;
    let hi = this.window.last;
    let found = 0;
    while (lo !== 0 && lo <= hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const seq = this.window.nextLive(mid);
      if (seq === 0 || seq > hi) hi = mid - 1;
      else if (this.window.get(seq)!.ts >= timeNs) {
        found = seq;
        hi = mid - 1;
      } else lo = seq + 1;
    }
    return found;
  }

  // ---- storage ----

  protected persistMsg(seq: number, subject: string, hdr: Uint8Array | null, data: Uint8Array, ts: bigint, size: number): void {
    // Copies: callers reuse their read buffers.
    this.window.append(seq, { subject, ts, size, hdr: hdr === null ? null : new Uint8Array(hdr), data: new Uint8Array(data) });
    this.subjects.add(subject, seq);
  }

  protected readMsg(seq: number): StoredMessage {
    const e = this.window.get(seq)!;
    return { seq, subject: e.subject, hdr: e.hdr, data: e.data, time: e.ts };
  }

  protected removeMsg(seq: number, how: ReleaseKind): number {
    const entry = this.window.delete(seq);
    if (entry === undefined) return -1;
    this.subjects.remove(entry.subject, seq);
    if (how === 'erase') {
      entry.hdr?.fill(0);
      entry.data.fill(0);
    }
    return entry.size;
  }

  protected removeRange(lo: number, hi: number): { msgs: number; bytes: number } {
    let msgs = 0;
    let bytes = 0;
    for (let seq = this.window.nextLive(lo); seq !== 0 && seq <= hi; seq = this.window.nextLive(seq + 1)) {
      const entry = this.window.delete(seq)!;
      this.subjects.remove(entry.subject, seq);
      msgs++;
      bytes += entry.size;
    }
    return { msgs, bytes };
  }

  protected removeAll(): void {
    this.window.clear();
    this.subjects.clear();
  }

  protected cutAfter(_seq: number): void {}

  protected persistSequenceState(): void {}

  protected commit(): Promise<void> {
    return DONE;
  }
}

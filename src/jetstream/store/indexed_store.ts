// The store logic both implementations share: sequence bookkeeping, the per-subject index,
// retention limits, purge/compact/truncate, pending counts and filtered loads, all following
// nats-server's memstore semantics. Subclasses only decide where message bytes live (memory or
// segment files) and how a change is made durable, through the hooks at the bottom.

import { StoreError, StoreErrorCode } from './errors.ts';
import { SeqWindow } from './seq_window.ts';
import { SubjectFilter } from './subject_filter.ts';
import { SubjectIndex, type SeqList } from './subject_index.ts';
import {
  UNLIMITED,
  storedMsgSize,
  type PurgeOptions,
  type StoreLimits,
  type StoreOptions,
  type StoredMessage,
  type StreamState,
  type StreamStore,
  type SubjectState,
} from './types.ts';

/** What the index keeps for every live message. */
export interface IndexEntry {
  subject: string;
  ts: bigint;
  /** Bytes counted against max_bytes. */
  size: number;
}

/**
 * Why an entry left the index: 'remove' and 'erase' are single deletes that must be persisted;
 * 'bulk' is part of a purge/compact/truncate persisted by one sequence-state record; 'lost' is a
 * record found damaged on read, which recovery will find damaged again.
 */
export type ReleaseKind = 'remove' | 'erase' | 'bulk' | 'lost';

/** Subjects are stored with a 16-bit length. */
const MAX_SUBJECT_BYTES = 0xffff;

export abstract class IndexedStore<E extends IndexEntry> implements StreamStore {
  abstract readonly kind: 'memory' | 'file';

  protected readonly window = new SeqWindow<E>();
  protected readonly subjects = new SubjectIndex();
  protected lim: StoreLimits;
  protected msgs = 0;
  protected bytes = 0;
  protected firstSeq = 0;
  protected firstTime = 0n;
  protected lastSeq = 0;
  protected lastTime = 0n;
  protected closed = false;
  private cachedFilter: SubjectFilter = new SubjectFilter('>');

  constructor(limits: StoreLimits = UNLIMITED) {
    this.lim = { ...limits };
  }

  // ---- writes ----

  store(subject: string, hdr: Uint8Array | null, data: Uint8Array, timeNs: bigint): Promise<{ seq: number; ts: bigint }> {
    return this.storeAt(0, subject, hdr, data, timeNs);
  }

  storeAt(
    seq: number,
    subject: string,
    hdr: Uint8Array | null,
    data: Uint8Array,
    timeNs: bigint,
    opts?: StoreOptions,
  ): Promise<{ seq: number; ts: bigint }> {
    let stored: number;
    try {
      stored = this.storeNow(seq, subject, hdr, data, timeNs, opts?.discardNewCheck ?? true);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.commit().then(() => ({ seq: stored, ts: timeNs }));
  }

  skipMsg(seq = 0): number {
    this.skipMsgs(seq, 1);
    return this.lastSeq;
  }

  skipMsgs(seq: number, num: number): void {
    this.assertOpen();
    if (seq === 0) seq = this.lastSeq + 1;
    else if (seq !== this.lastSeq + 1) throw new StoreError(StoreErrorCode.SequenceMismatch);
    if (num <= 0) return;
    this.lastSeq = seq + num - 1;
    if (this.msgs === 0) {
      this.firstSeq = this.lastSeq + 1;
      this.firstTime = 0n;
    }
    this.persistSequenceState();
  }

  remove(seq: number, erase = false): boolean {
    this.assertOpen();
    return this.removeOne(seq, erase ? 'erase' : 'remove');
  }

  purge(opts: PurgeOptions = {}): number {
    this.assertOpen();
    const subject = opts.subject ?? '';
    const upTo = opts.seq ?? 0;
    const keep = opts.keep ?? 0;
    // "Up to but not including 1" purges nothing.
    if (upTo === 1) return 0;
    if (subject === '' || subject === '>') {
      if (keep === 0 && upTo === 0) return this.purgeAll();
      if (upTo > 1) return this.compact(upTo);
    }
    const filter = this.filterFor(subject === '' ? '>' : subject);
    let total = 0;
    this.subjects.forEachMatch(filter, (_s, list) => {
      total += list.count;
    });
    if (total === 0) return 0;
    let maxPurge = 0;
    if (keep > 0) {
      if (keep >= total) return 0;
      maxPurge = total - keep;
    }
    const last = upTo >= 1 ? upTo - 1 : this.lastSeq;
    let purged = 0;
    for (const seq of this.matchingSeqs(filter)) {
      if (seq > last) break;
      if (this.removeOne(seq, 'remove')) {
        purged++;
        if (maxPurge > 0 && purged >= maxPurge) break;
      }
    }
    return purged;
  }

  compact(seq: number): number {
    this.assertOpen();
    if (seq === 0) return this.purgeAll();
    if (this.firstSeq > seq) return 0;
    let purged = 0;
    if (seq <= this.lastSeq) {
      while (!this.window.empty && this.window.first < seq) {
        this.dropBulk(this.window.first);
        purged++;
      }
      this.refreshFirst();
    } else {
      purged = this.msgs;
      this.clearAll();
      this.firstSeq = seq;
      this.lastSeq = seq - 1;
    }
    this.persistSequenceState();
    return purged;
  }

  truncate(seq: number): void {
    this.assertOpen();
    if (seq === 0) {
      this.clearAll();
      this.firstSeq = 0;
      this.lastSeq = 0;
      this.lastTime = 0n;
      this.persistSequenceState();
      return;
    }
    if (seq >= this.lastSeq) return;
    const kept = this.window.get(seq);
    const lastTime = kept !== undefined ? kept.ts : this.lastTime;
    while (!this.window.empty && this.window.last > seq) this.dropBulk(this.window.last);
    this.lastSeq = seq;
    this.lastTime = lastTime;
    this.refreshFirst();
    this.persistSequenceState();
  }

  expire(nowNs: bigint): number {
    this.assertOpen();
    if (this.lim.maxAgeNs <= 0n) return 0;
    const oldestAllowed = nowNs - this.lim.maxAgeNs;
    let removed = 0;
    while (!this.window.empty) {
      const seq = this.window.first;
      if (this.window.get(seq)!.ts > oldestAllowed) break;
      this.removeOne(seq, 'remove');
      removed++;
    }
    return removed;
  }

  nextExpiry(): bigint | null {
    if (this.lim.maxAgeNs <= 0n || this.msgs === 0) return null;
    return this.firstTime + this.lim.maxAgeNs;
  }

  limits(): StoreLimits {
    return { ...this.lim };
  }

  updateLimits(l: StoreLimits): void {
    this.assertOpen();
    const previousPerSubject = this.lim.maxMsgsPerSubject;
    this.lim = { ...l };
    this.enforceMsgAndByteLimits();
    const perSubject = l.maxMsgsPerSubject;
    if (perSubject > 0 && (previousPerSubject <= 0 || perSubject < previousPerSubject)) {
      const over: SeqList[] = [];
      this.subjects.forEachMatch(this.filterFor('>'), (_s, list) => {
        if (list.count > perSubject) over.push(list);
      });
      for (const list of over) this.enforcePerSubject(list);
    }
  }

  // ---- reads ----

  load(seq: number): StoredMessage | null {
    const entry = this.window.get(seq);
    if (entry === undefined) return null;
    const body = this.readMsg(seq, entry);
    if (body === null) {
      // Damaged on disk: report it (the subclass did) and stop indexing it, so it is never served.
      this.removeOne(seq, 'lost');
      return null;
    }
    return { seq, subject: entry.subject, hdr: body.hdr, data: body.data, time: entry.ts };
  }

  loadNext(subjectFilter: string, fromSeq: number): StoredMessage | null {
    const filter = this.filterFor(subjectFilter);
    let from = Math.max(fromSeq, this.firstSeq, 1);
    for (;;) {
      if (this.msgs === 0 || from > this.lastSeq) return null;
      const seq = this.nextMatching(filter, from);
      if (seq === 0) return null;
      const msg = this.load(seq);
      if (msg !== null) return msg;
      from = seq + 1;
    }
  }

  loadLast(subjectFilter: string): StoredMessage | null {
    const filter = this.filterFor(subjectFilter);
    for (;;) {
      let seq = 0;
      if (filter.all) seq = this.window.last;
      else
        this.subjects.forEachMatch(filter, (_s, list) => {
          if (list.last > seq) seq = list.last;
        });
      if (seq === 0) return null;
      // A damaged record is dropped from the index by load(), so the next round finds an older one.
      const msg = this.load(seq);
      if (msg !== null) return msg;
    }
  }

  numPending(filter: string, fromSeq: number, lastPerSubject: boolean): number {
    const f = this.filterFor(filter);
    const from = Math.max(fromSeq, this.firstSeq);
    if (this.msgs === 0 || from > this.lastSeq) return 0;
    if (f.all && from <= this.firstSeq) return lastPerSubject ? this.subjects.size : this.msgs;
    let total = 0;
    this.subjects.forEachMatch(f, (_s, list) => {
      if (lastPerSubject) {
        if (list.last >= from) total++;
      } else {
        total += list.countFrom(from);
      }
    });
    return total;
  }

  subjectsState(filter: string): Map<string, SubjectState> {
    const out = new Map<string, SubjectState>();
    this.subjects.forEachMatch(this.filterFor(filter), (subject, list) => {
      out.set(subject, this.subjects.state(list));
    });
    return out;
  }

  state(): StreamState {
    const numDeleted = this.msgs > 0 ? this.lastSeq - this.firstSeq + 1 - this.msgs : 0;
    const state: StreamState = {
      msgs: this.msgs,
      bytes: this.bytes,
      firstSeq: this.firstSeq,
      firstTime: this.firstTime,
      lastSeq: this.lastSeq,
      lastTime: this.lastTime,
      numSubjects: this.subjects.size,
      numDeleted,
    };
    if (numDeleted > 0) {
      const deleted = this.window.holes();
      // Sequences skipped after the last live message are deleted too.
      for (let s = this.window.last + 1; s <= this.lastSeq; s++) deleted.push(s);
      state.deleted = deleted;
    }
    return state;
  }

  abstract flush(): Promise<void>;
  abstract close(): Promise<void>;
  abstract delete(): Promise<void>;

  // ---- hooks for the storage behind the index ----

  /** Keeps the message's bytes (memory: a copy; file: a record) and returns its index entry. */
  protected abstract persistMsg(
    seq: number,
    subject: string,
    hdr: Uint8Array | null,
    data: Uint8Array,
    ts: bigint,
    size: number,
  ): E;
  /** The message's bytes, or null if they are damaged. */
  protected abstract readMsg(seq: number, entry: E): { hdr: Uint8Array | null; data: Uint8Array } | null;
  /** The entry has left the index. */
  protected abstract released(seq: number, entry: E, how: ReleaseKind): void;
  /** first/last sequence and last time changed other than by storing or removing one message. */
  protected abstract persistSequenceState(): void;
  /** Resolves once every change made so far is durable. */
  protected abstract commit(): Promise<void>;

  // ---- shared internals ----

  protected assertOpen(): void {
    if (this.closed) throw new StoreError(StoreErrorCode.Closed);
  }

  /** Rebuilds the index from recovered entries (ascending seq) and the recovered sequence state. */
  protected rebuild(entries: Array<[number, E]>, lastSeq: number, lastTime: bigint, floor: number): void {
    this.window.clear();
    this.subjects.clear();
    this.msgs = 0;
    this.bytes = 0;
    for (const [seq, entry] of entries) {
      this.window.append(seq, entry);
      this.subjects.add(entry.subject, seq);
      this.msgs++;
      this.bytes += entry.size;
    }
    this.lastSeq = lastSeq;
    this.lastTime = lastTime;
    if (this.msgs > 0) {
      this.refreshFirst();
    } else {
      this.firstSeq = lastSeq === 0 && floor === 0 ? 0 : lastSeq + 1;
      this.firstTime = 0n;
    }
  }

  private storeNow(
    seq: number,
    subject: string,
    hdr: Uint8Array | null,
    data: Uint8Array,
    ts: bigint,
    discardNewCheck: boolean,
  ): number {
    this.assertOpen();
    if (subject.length === 0 || subject.length > MAX_SUBJECT_BYTES) throw new StoreError(StoreErrorCode.BadSubject);
    const l = this.lim;
    const hdrLength = hdr === null ? 0 : hdr.length;
    if (l.maxMsgSize > 0 && hdrLength + data.length > l.maxMsgSize) throw new StoreError(StoreErrorCode.MsgTooLarge);
    const size = storedMsgSize(subject.length, hdrLength, data.length);
    const existing = this.subjects.get(subject);
    const atSubjectLimit = l.maxMsgsPerSubject > 0 && existing !== undefined && existing.count >= l.maxMsgsPerSubject;
    if (discardNewCheck && l.discard === 'new') {
      if (atSubjectLimit && l.discardNewPerSubject) throw new StoreError(StoreErrorCode.MaxMsgsPerSubject);
      // At a subject's limit the new message replaces that subject's oldest, so totals do not grow.
      if (l.maxMsgs > 0 && this.msgs >= l.maxMsgs && !atSubjectLimit) throw new StoreError(StoreErrorCode.MaxMsgs);
      if (l.maxBytes > 0 && this.bytes + size > l.maxBytes) {
        if (!atSubjectLimit) throw new StoreError(StoreErrorCode.MaxBytes);
        const oldest = this.window.get(existing.first);
        if (oldest === undefined || oldest.size < size) throw new StoreError(StoreErrorCode.MaxBytes);
      }
    }
    if (seq === 0) seq = this.lastSeq + 1;
    else if (seq !== this.lastSeq + 1) throw new StoreError(StoreErrorCode.SequenceMismatch);

    const entry = this.persistMsg(seq, subject, hdr, data, ts, size);
    this.window.append(seq, entry);
    const list = this.subjects.add(subject, seq);
    if (this.msgs === 0) {
      this.firstSeq = seq;
      this.firstTime = ts;
    }
    this.msgs++;
    this.bytes += size;
    this.lastSeq = seq;
    this.lastTime = ts;
    if (l.maxMsgsPerSubject > 0 && list.count > l.maxMsgsPerSubject) this.enforcePerSubject(list);
    this.enforceMsgAndByteLimits();
    return seq;
  }

  private enforcePerSubject(list: SeqList): void {
    const max = this.lim.maxMsgsPerSubject;
    while (list.count > max) if (!this.removeOne(list.first, 'remove')) break;
  }

  private enforceMsgAndByteLimits(): void {
    const l = this.lim;
    if (l.discard !== 'old') return;
    while (l.maxMsgs > 0 && this.msgs > l.maxMsgs) this.removeOne(this.window.first, 'remove');
    while (l.maxBytes > 0 && this.bytes > l.maxBytes) this.removeOne(this.window.first, 'remove');
  }

  private removeOne(seq: number, how: ReleaseKind): boolean {
    const entry = this.window.delete(seq);
    if (entry === undefined) return false;
    this.msgs--;
    this.bytes -= entry.size;
    this.subjects.remove(entry.subject, seq);
    if (seq === this.firstSeq) this.refreshFirst();
    this.released(seq, entry, how);
    return true;
  }

  /** Removes one message as part of a bulk change; the caller fixes first/last and persists. */
  private dropBulk(seq: number): void {
    const entry = this.window.delete(seq)!;
    this.msgs--;
    this.bytes -= entry.size;
    this.subjects.remove(entry.subject, seq);
    this.released(seq, entry, 'bulk');
  }

  private purgeAll(): number {
    const purged = this.msgs;
    this.clearAll();
    this.firstSeq = this.lastSeq + 1;
    this.persistSequenceState();
    return purged;
  }

  private clearAll(): void {
    if (!this.window.empty) this.window.forEach(this.window.first, this.window.last, (seq, e) => this.released(seq, e, 'bulk'));
    this.window.clear();
    this.subjects.clear();
    this.msgs = 0;
    this.bytes = 0;
    this.firstTime = 0n;
  }

  private refreshFirst(): void {
    if (this.window.empty) {
      this.firstSeq = this.lastSeq + 1;
      this.firstTime = 0n;
    } else {
      this.firstSeq = this.window.first;
      this.firstTime = this.window.get(this.firstSeq)!.ts;
    }
  }

  private filterFor(text: string): SubjectFilter {
    if (this.cachedFilter.text !== text) this.cachedFilter = new SubjectFilter(text);
    return this.cachedFilter;
  }

  /** First live sequence >= from whose subject matches, or 0. */
  private nextMatching(filter: SubjectFilter, from: number): number {
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

  /** Matching live sequences, ascending (a snapshot: safe to remove while iterating). */
  private matchingSeqs(filter: SubjectFilter): number[] {
    if (filter.literal) return this.subjects.get(filter.text)?.toArray() ?? [];
    const out: number[] = [];
    if (filter.all) {
      if (!this.window.empty) this.window.forEach(this.window.first, this.window.last, (seq) => out.push(seq));
      return out;
    }
    this.subjects.forEachMatch(filter, (_s, list) => {
      for (const seq of list.toArray()) out.push(seq);
    });
    return out.sort((a, b) => a - b);
  }
}

// The store logic both implementations share: sequence bookkeeping, retention limits,
// purge/compact/truncate/expire, pending counts and filtered loads, all following nats-server's
// memstore semantics. Subclasses decide how messages are indexed and where their bytes live
// (memory: an object per message; file: segment summaries and evictable offset tables), through
// the index and storage hooks at the bottom.

import { StoreError, StoreErrorCode } from './errors.ts';
import { SubjectFilter } from './subject_filter.ts';
import {
  UNLIMITED,
  storedMsgSize,
  type PurgeOptions,
  type StateOptions,
  type StoreLimits,
  type StoreOptions,
  type StoredMessage,
  type StreamState,
  type StreamStore,
  type SubjectState,
} from './types.ts';

/**
 * Why a message left the index: 'remove' and 'erase' are single deletes that must be persisted;
 * 'lost' is a record found damaged on read, which recovery will find damaged again.
 */
export type ReleaseKind = 'remove' | 'erase' | 'lost';

/** Subjects are stored with a 16-bit length. */
const MAX_SUBJECT_BYTES = 0xffff;

export abstract class IndexedStore implements StreamStore {
  abstract readonly kind: 'memory' | 'file';

  protected lim: StoreLimits;
  protected msgs = 0;
  protected bytes = 0;
  protected firstSeq = 0;
  protected lastSeq = 0;
  protected lastTime = 0n;
  protected closed = false;
  /** Time of the first message; null until asked for after the first message changed. */
  private firstTimeKnown: bigint | null = 0n;
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

  storeInBatch(seq: number, subject: string, hdr: Uint8Array | null, data: Uint8Array, timeNs: bigint, opts?: StoreOptions): Promise<void> {
    this.storeNow(seq, subject, hdr, data, timeNs, opts?.discardNewCheck ?? true);
    return this.commit();
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
      this.firstTimeKnown = 0n;
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
    const total = this.countAllMatching(filter);
    if (total === 0) return 0;
    let maxPurge = 0;
    if (keep > 0) {
      if (keep >= total) return 0;
      maxPurge = total - keep;
    }
    const last = upTo >= 1 ? upTo - 1 : this.lastSeq;
    let purged = 0;
    for (const seq of this.matchingSeqs(filter, last)) {
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
      purged = this.dropRange(this.firstSeq, seq - 1);
      this.refreshFirst(seq);
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
      this.cutAfter(0);
      this.persistSequenceState();
      return;
    }
    if (seq >= this.lastSeq) return;
    const lastTime = this.isLive(seq) ? this.timeOf(seq) : this.lastTime;
    this.dropRange(seq + 1, this.lastSeq);
    this.cutAfter(seq);
    this.lastSeq = seq;
    this.lastTime = lastTime;
    if (this.msgs === 0 || !this.isLive(this.firstSeq)) this.refreshFirst(this.firstSeq);
    this.persistSequenceState();
  }

  expire(nowNs: bigint): number {
    this.assertOpen();
    if (this.lim.maxAgeNs <= 0n || this.msgs === 0) return 0;
    // Messages are stored in time order: everything before the first young one goes.
    const young = this.firstAtOrAfter(nowNs - this.lim.maxAgeNs + 1n);
    const to = young === 0 ? this.lastSeq : young - 1;
    if (to < this.firstSeq) return 0;
    const removed = this.dropRange(this.firstSeq, to);
    this.refreshFirst(to + 1);
    this.persistSequenceState();
    return removed;
  }

  nextExpiry(): bigint | null {
    if (this.lim.maxAgeNs <= 0n || this.msgs === 0) return null;
    return this.firstTime() + this.lim.maxAgeNs;
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
      for (const subject of this.subjectsOver(perSubject)) this.enforcePerSubject(subject);
    }
  }

  // ---- reads ----

  load(seq: number): StoredMessage | null {
    if (!this.isLive(seq)) return null;
    const msg = this.readMsg(seq);
    if (msg === null) {
      // Damaged on disk: reported by the subclass; stop indexing it, so it is never served.
      this.removeOne(seq, 'lost');
      return null;
    }
    return msg;
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
      if (this.msgs === 0) return null;
      const seq = filter.all ? this.prevLive(this.lastSeq) : this.lastMatching(filter);
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
    if (f.all && from <= this.firstSeq) return lastPerSubject ? this.numSubjects() : this.msgs;
    return this.countMatching(f, from, lastPerSubject);
  }

  subjectsState(filter: string): Map<string, SubjectState> {
    return this.subjectStates(this.filterFor(filter));
  }

  msgsOnSubject(subject: string): number {
    return this.subjectCount(subject);
  }

  storedMsgs(): number {
    return this.msgs;
  }

  storedBytes(): number {
    return this.bytes;
  }

  /** First sequence stored at or after `timeNs` (nats-server GetSeqFromTime): lastSeq + 1 if none. */
  seqForTime(timeNs: bigint): number {
    if (this.msgs === 0) return this.lastSeq + 1;
    return this.firstAtOrAfter(timeNs) || this.lastSeq + 1;
  }

  state(opts: StateOptions = {}): StreamState {
    const numDeleted = this.msgs > 0 ? this.lastSeq - this.firstSeq + 1 - this.msgs : 0;
    const state: StreamState = {
      msgs: this.msgs,
      bytes: this.bytes,
      firstSeq: this.firstSeq,
      firstTime: this.msgs > 0 ? this.firstTime() : 0n,
      lastSeq: this.lastSeq,
      lastTime: this.lastTime,
      numSubjects: this.numSubjects(),
      numDeleted,
    };
    if (opts.deleted && numDeleted > 0) state.deleted = this.deletedSeqs(this.firstSeq, this.lastSeq);
    return state;
  }

  abstract flush(): Promise<void>;
  abstract close(): Promise<void>;
  abstract delete(): Promise<void>;

  // ---- the index, as the shared logic needs it ----

  protected abstract isLive(seq: number): boolean;
  /** First live sequence >= from, or 0. */
  protected abstract nextLive(from: number): number;
  /** Last live sequence <= upTo, or 0. */
  protected abstract prevLive(upTo: number): number;
  protected abstract timeOf(seq: number): bigint;
  protected abstract sizeOf(seq: number): number;
  /** Sequences in [first, last] that are not live, ascending. */
  protected abstract deletedSeqs(first: number, last: number): number[];
  protected abstract numSubjects(): number;
  protected abstract subjectCount(subject: string): number;
  /** First live sequence on the subject, 0 if none. */
  protected abstract subjectFirst(subject: string): number;
  /** Subjects holding more than `max` messages. */
  protected abstract subjectsOver(max: number): string[];
  protected abstract subjectStates(filter: SubjectFilter): Map<string, SubjectState>;
  protected abstract countAllMatching(filter: SubjectFilter): number;
  /** Live sequences <= upTo on matching subjects, ascending (a copy: safe to remove while iterating). */
  protected abstract matchingSeqs(filter: SubjectFilter, upTo: number): number[];
  /** First live sequence >= from whose subject matches, or 0. */
  protected abstract nextMatching(filter: SubjectFilter, from: number): number;
  /** Last live sequence whose subject matches (a wildcard or literal filter), or 0. */
  protected abstract lastMatching(filter: SubjectFilter): number;
  /** numPending past the shortcuts: messages >= from on matching subjects (or such subjects). */
  protected abstract countMatching(filter: SubjectFilter, from: number, lastPerSubject: boolean): number;
  /** First live sequence whose time is >= timeNs, or 0. */
  protected abstract firstAtOrAfter(timeNs: bigint): number;

  // ---- storage hooks ----

  /** Keeps the message (memory: a copy; file: a record) and indexes it at seq. */
  protected abstract persistMsg(seq: number, subject: string, hdr: Uint8Array | null, data: Uint8Array, ts: bigint, size: number): void;
  /** The live message at seq, or null if its bytes are damaged (the subclass reports it). */
  protected abstract readMsg(seq: number): StoredMessage | null;
  /** Un-indexes (and, by `how`, persists the removal of) a live message; its size, or -1 if not live. */
  protected abstract removeMsg(seq: number, how: ReleaseKind): number;
  /** Un-indexes every live message in [lo, hi] as part of a bulk change persisted by persistSequenceState. */
  protected abstract removeRange(lo: number, hi: number): { msgs: number; bytes: number };
  protected abstract removeAll(): void;
  /** Sequences above seq will be written again (truncate). */
  protected abstract cutAfter(seq: number): void;
  /** first/last sequence and last time changed other than by storing or removing one message. */
  protected abstract persistSequenceState(): void;
  /** Resolves once every change made so far is durable. */
  protected abstract commit(): Promise<void>;

  // ---- shared internals ----

  protected assertOpen(): void {
    if (this.closed) throw new StoreError(StoreErrorCode.Closed);
  }

  /** Recovery sets the bookkeeping it rebuilt. */
  protected restoreCounters(c: { msgs: number; bytes: number; firstSeq: number; lastSeq: number; lastTime: bigint }): void {
    this.msgs = c.msgs;
    this.bytes = c.bytes;
    this.firstSeq = c.firstSeq;
    this.lastSeq = c.lastSeq;
    this.lastTime = c.lastTime;
    this.firstTimeKnown = null;
  }

  /** Live messages were found missing outside removeOne (the index already dropped them). */
  protected accountLoss(seqs: number[], bytes: number): void {
    this.msgs -= seqs.length;
    this.bytes -= bytes;
    if (seqs.includes(this.firstSeq) || !this.isLive(this.firstSeq)) this.refreshFirst(this.firstSeq);
  }

  private firstTime(): bigint {
    if (this.firstTimeKnown === null) this.firstTimeKnown = this.msgs > 0 ? this.timeOf(this.firstSeq) : 0n;
    return this.firstTimeKnown;
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
    const perSubjectLimited = l.maxMsgsPerSubject > 0;
    const subjectMsgs = perSubjectLimited || (discardNewCheck && l.discard === 'new') ? this.subjectCount(subject) : 0;
    const atSubjectLimit = perSubjectLimited && subjectMsgs >= l.maxMsgsPerSubject;
    if (discardNewCheck && l.discard === 'new') {
      if (atSubjectLimit && l.discardNewPerSubject) throw new StoreError(StoreErrorCode.MaxMsgsPerSubject);
      // At a subject's limit the new message replaces that subject's oldest, so totals do not grow.
      if (l.maxMsgs > 0 && this.msgs >= l.maxMsgs && !atSubjectLimit) throw new StoreError(StoreErrorCode.MaxMsgs);
      if (l.maxBytes > 0 && this.bytes + size > l.maxBytes) {
        if (!atSubjectLimit) throw new StoreError(StoreErrorCode.MaxBytes);
        const oldest = this.subjectFirst(subject);
        if (oldest === 0 || this.sizeOf(oldest) < size) throw new StoreError(StoreErrorCode.MaxBytes);
      }
    }
    if (seq === 0) seq = this.lastSeq + 1;
    else if (seq !== this.lastSeq + 1) throw new StoreError(StoreErrorCode.SequenceMismatch);

    this.persistMsg(seq, subject, hdr, data, ts, size);
    if (this.msgs === 0) {
      this.firstSeq = seq;
      this.firstTimeKnown = ts;
    }
    this.msgs++;
    this.bytes += size;
    this.lastSeq = seq;
    this.lastTime = ts;
    if (perSubjectLimited && subjectMsgs + 1 > l.maxMsgsPerSubject) this.enforcePerSubject(subject);
    this.enforceMsgAndByteLimits();
    return seq;
  }

  private enforcePerSubject(subject: string): void {
    const max = this.lim.maxMsgsPerSubject;
    while (this.subjectCount(subject) > max) {
      const first = this.subjectFirst(subject);
      if (first === 0 || !this.removeOne(first, 'remove')) break;
    }
  }

  private enforceMsgAndByteLimits(): void {
    const l = this.lim;
    if (l.discard !== 'old') return;
    while (l.maxMsgs > 0 && this.msgs > l.maxMsgs) this.removeOne(this.firstSeq, 'remove');
    while (l.maxBytes > 0 && this.bytes > l.maxBytes) this.removeOne(this.firstSeq, 'remove');
  }

  private removeOne(seq: number, how: ReleaseKind): boolean {
    const size = this.removeMsg(seq, how);
    if (size < 0) return false;
    this.msgs--;
    this.bytes -= size;
    if (seq === this.firstSeq) this.refreshFirst(seq);
    return true;
  }

  /** Removes [lo, hi] as one bulk change; the caller fixes first/last and persists. */
  private dropRange(lo: number, hi: number): number {
    if (hi < lo) return 0;
    const { msgs, bytes } = this.removeRange(lo, hi);
    this.msgs -= msgs;
    this.bytes -= bytes;
    return msgs;
  }

  private purgeAll(): number {
    const purged = this.msgs;
    this.clearAll();
    this.firstSeq = this.lastSeq + 1;
    this.persistSequenceState();
    return purged;
  }

  private clearAll(): void {
    this.removeAll();
    this.msgs = 0;
    this.bytes = 0;
    this.firstTimeKnown = 0n;
  }

  /** The first live sequence is now at or after `from`. */
  private refreshFirst(from: number): void {
    const first = this.msgs > 0 ? this.nextLive(from) : 0;
    if (first === 0) {
      this.firstSeq = this.lastSeq + 1;
      this.firstTimeKnown = 0n;
    } else {
      this.firstSeq = first;
      this.firstTimeKnown = null;
    }
  }

  protected filterFor(text: string): SubjectFilter {
    if (this.cachedFilter.text !== text) this.cachedFilter = new SubjectFilter(text);
    return this.cachedFilter;
  }
}

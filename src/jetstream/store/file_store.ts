// The file store: a directory per stream holding append-only segment files (`msgs/<id>.seg`) of
// checksummed records (see record_codec.ts), indexed by segment summaries, evictable offset tables
// and a per-subject table (segment_index.ts) — nothing per message beyond a dead bit.
//
// Durability: every change appends a record to an in-memory batch; one I/O loop writes each batch
// with one positional write per segment and one fdatasync, then resolves everything that waited on
// it (group commit). With syncIntervalMs > 0 writes still happen at once but the fsync runs on an
// interval and store() does not wait for it (an opt-in, as in nats-server's sync_interval).
//
// Removes are tombstone records naming the subject and size of what they remove; removing the
// first message (limits, acks of a work queue), purge, compact, truncate, expiry and skips are one
// sequence-state record per batch. Space comes back by deleting the oldest segment once it holds no
// live message, and by rewriting a sealed segment that is mostly dead messages. Both first append
// a sequence-state checkpoint so no sequence bookkeeping is lost with the dropped records.
//
// Start-up: the index snapshot (index_snapshot.ts), when it agrees with the files, restores the
// index and only records written after it are read; otherwise every segment is read. A segment
// deleted by space reclamation is unlinked only after a snapshot that no longer lists it is
// durable, so a trusted snapshot never names a missing file.

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { TEMP_SUFFIX, syncDir, writeTempFile } from '../../storage/atomic_file.ts';
import { StoreError, StoreErrorCode } from './errors.ts';
import { IndexedStore, type ReleaseKind } from './indexed_store.ts';
import { encodeSnapshot, readSnapshot, writeSnapshot, type IndexSnapshot, type SegmentSummary } from './index_snapshot.ts';
import {
  RecordFlag,
  RecordType,
  checksumOk,
  encodeDelete,
  encodeMsg,
  encodeSeqState,
  eraseInPlace,
  readHeader,
  recordTime,
  seqStateLastSeq,
  type RecordHeader,
} from './record_codec.ts';
import { SeqBits } from './seq_bits.ts';
import { Segment, segmentId } from './segment.ts';
import { SegmentIndex } from './segment_index.ts';
import { scanSegment, type SegmentScan } from './segment_scan.ts';
import { RangeReader, type FileRange } from './range_reader.ts';
import { NO_RECORD } from './segment_table.ts';
import type { SubjectFilter } from './subject_filter.ts';
import {
  RECORD_HEADER_BYTES,
  UNLIMITED,
  type CorruptionReport,
  type StateOptions,
  type StoreLimits,
  type StoredMessage,
  type StreamState,
  type SubjectState,
} from './types.ts';

/** Roll to a new segment beyond this size; big enough to amortise files, small enough to reclaim. */
export const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024;
/** Write the index snapshot after this long with changes... */
export const DEFAULT_SNAPSHOT_INTERVAL_MS = 10_000;
/** ...or once this much was appended since the last one: bounds what a crash makes start-up read. */
export const DEFAULT_SNAPSHOT_BYTES = 32 * 1024 * 1024;
/**
 * Snapshots never take more than 1/50 of the store's time: a stream with a million subjects
 * (tens of ms to encode) is snapshotted at most every few seconds, one with a few at once.
 * Until then a reclaimed segment's file stays and a rewritten one makes a crash read everything.
 */
const SNAPSHOT_COST_SHARE = 50;
/** Rewrite a sealed segment once at least this fraction of its bytes are dead messages. */
const REWRITE_DEAD_FRACTION = 0.5;
/** A skip this long inside the active segment starts a new one instead of a long run of dead slots. */
const MAX_GAP_SLOTS = 65_536;
const MSGS_DIR = 'msgs';
/**
 * A last segment bigger than this that the snapshot vouched for is sealed at start-up and new
 * records go to a fresh one, instead of reading all of it to verify it first (verifyActive): a
 * few ms of reading at most, whatever the segment size, and at most one such seal per start.
 */
const VERIFY_ACTIVE_MAX_BYTES = 1024 * 1024;

export interface FileStoreOptions {
  /** The stream's directory; created if missing. */
  dir: string;
  limits?: StoreLimits;
  /** Segment roll size, bytes. */
  segmentBytes?: number;
  /** > 0: lazy durability, fsync every this many ms and resolve store() without waiting. */
  syncIntervalMs?: number;
  /** Called for each damaged record found at start-up or on read. */
  onCorruption?: (report: CorruptionReport) => void;
  /** The data fsync; injectable so tests can count group commits. Default: fh.datasync(). */
  sync?: (fh: FileHandle) => Promise<void>;
  /** Index snapshot after this many ms with changes; 0 = only at close and after reclamation. */
  snapshotIntervalMs?: number;
  /** Index snapshot once this many bytes were appended since the last one; 0 = no such trigger. */
  snapshotBytes?: number;
  /**
   * Snapshots are at least this many times the last one's encoding time apart (default
   * SNAPSHOT_COST_SHARE); 0 = no such gap, so tests see snapshots at once whatever the load.
   */
  snapshotCostShare?: number;
  /**
   * Also read and verify, at start-up, the records a trusted index snapshot vouches for (otherwise
   * they are checked only when read). For a replica: damage it finds at start-up it can fetch again
   * from its group; found on a later read, the record could only be skipped.
   */
  verifyRecords?: boolean;
}

export interface RecoveryReport {
  tornTailBytes: number;
  corrupt: CorruptionReport[];
  /** 'snapshot': the index snapshot was trusted and only later records were read. */
  index: 'snapshot' | 'full-scan';
  /** Why there was a full scan although a snapshot file existed (missing, damaged, stale...). */
  snapshotRejected?: string;
  /** Segment bytes read and verified at start-up. */
  scannedBytes: number;
  /** Of those, bytes written after the trusted snapshot (a crash, or a snapshot not yet due). */
  afterSnapshotBytes: number;
  /** Bytes the snapshot vouched for, read again to verify their records (verifyRecords). */
  verifiedBytes: number;
  segments: number;
}

type IoOp =
  /** Consecutive records for one segment, the first at `offset`. */
  | { kind: 'append'; seg: Segment; offset: number; bufs: Buffer[] }
  | { kind: 'erase'; seg: Segment; offset: number; seq: number; generation: number }
  /** floor: first sequence of the checkpoint written just before; records below it are dead on replay. */
  | { kind: 'gc'; floor: number };

interface PendingSnapshot {
  bytes: Buffer;
  /** Segments dropped by reclamation before the capture: unlinked once the snapshot is durable. */
  unlink: Segment[];
}

interface Batch {
  ops: IoOp[];
  sync: boolean;
  snapshot: PendingSnapshot | null;
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Counters rebuilt while records are replayed at start-up. */
interface Replay {
  msgs: number;
  bytes: number;
  lastSeq: number;
  lastTime: bigint;
  floor: number;
}

/** A range being applied: its bytes (from file offset `from` on) and the last record seen. */
interface RangeReplay {
  seg: Segment;
  buf: Buffer;
  from: number;
  replay: Replay;
  tailAt: number;
  tailLength: number;
  tailType: number;
  tailSeq: number;
  /**
   * Offsets (in buf) of the records whose times the range leaves behind: the segment's last
   * message record and the replay's last one. Read once the range is applied, not per record.
   */
  segLastTsAt: number;
  lastTimeAt: number;
}

/** Records of a segment start-up reads and applies: bytes [from, to) of its file. */
interface ReplayRange {
  seg: Segment;
  from: number;
  to: number;
  /** The newest segment: a torn tail there is cut silently. */
  newest: boolean;
  /** Not in the index yet: added just before its records are applied. */
  add: boolean;
}

function rangeOf(r: ReplayRange): FileRange {
  return { path: r.seg.path, from: r.from, to: r.to };
}

const DONE: Promise<void> = Promise.resolve();

export class FileStore extends IndexedStore {
  readonly kind = 'file' as const;
  readonly dir: string;
  readonly recovery: RecoveryReport;

  private readonly msgsDir: string;
  private readonly segmentBytes: number;
  private readonly lazySync: boolean;
  private readonly snapshotIntervalMs: number;
  private readonly snapshotBytes: number;
  private readonly snapshotCostShare: number;
  private readonly verifyRecords: boolean;
  private readonly onCorruption: ((r: CorruptionReport) => void) | undefined;
  private readonly syncData: (fh: FileHandle) => Promise<void>;
  private readonly corrupt: CorruptionReport[] = [];
  private readonly index: SegmentIndex;
  private active!: Segment;
  private current: Batch | null = null;
  private ioRunning = false;
  private ioKicked = false;
  private readonly unsynced = new Set<Segment>();
  private gcWanted = false;
  private failure: unknown = null;
  private syncTimer: NodeJS.Timeout | null = null;
  /** The first message was removed and no sequence-state record says so yet. */
  private floorDirty = false;
  /** Reclaimed segments waiting for a snapshot that no longer lists them. */
  private unlinkLater: Segment[] = [];
  private snapshotDue = false;
  private changedSinceSnapshot = false;
  private bytesSinceSnapshot = 0;
  private lastSnapshotAt = Date.now();
  private snapshotTimer: NodeJS.Timeout | null = null;
  /** Snapshots are at least this far apart (SNAPSHOT_COST_SHARE × the time the last took to encode). */
  private snapshotGapMs = 0;
  private skipFinalSnapshot = false;
  /** While records are replayed at start-up, losses found on the way are uncounted here. */
  private replaying: Replay | null = null;
  /** The range whose records scanSegment is handing to visitRecord. */
  private ranging: RangeReplay | null = null;

  private constructor(opts: FileStoreOptions) {
    super(opts.limits ?? UNLIMITED);
    this.dir = opts.dir;
    this.msgsDir = path.join(opts.dir, MSGS_DIR);
    this.segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.lazySync = (opts.syncIntervalMs ?? 0) > 0;
    this.snapshotIntervalMs = opts.snapshotIntervalMs ?? DEFAULT_SNAPSHOT_INTERVAL_MS;
    this.snapshotBytes = opts.snapshotBytes ?? DEFAULT_SNAPSHOT_BYTES;
    this.snapshotCostShare = opts.snapshotCostShare ?? SNAPSHOT_COST_SHARE;
    this.verifyRecords = opts.verifyRecords ?? false;
    this.onCorruption = opts.onCorruption;
    this.syncData = opts.sync ?? ((fh) => fh.datasync());
    this.recovery = { tornTailBytes: 0, corrupt: [], index: 'full-scan', scannedBytes: 0, afterSnapshotBytes: 0, verifiedBytes: 0, segments: 0 };
    this.index = new SegmentIndex({
      damage: (seg, d) => this.report({ file: seg.name, ...d }),
      lost: (seqs, bytes) => {
        if (this.replaying === null) this.accountLoss(seqs, bytes);
        else {
          this.replaying.msgs -= seqs.length;
          this.replaying.bytes -= bytes;
        }
      },
    });
  }

  /** Opens (recovering) or creates the store in opts.dir. */
  static async open(opts: FileStoreOptions): Promise<FileStore> {
    const store = new FileStore(opts);
    await store.recover();
    if (store.lazySync) {
      store.syncTimer = setInterval(() => store.requestLazySync(), opts.syncIntervalMs);
      store.syncTimer.unref();
    }
    return store;
  }

  override state(opts: StateOptions = {}): StreamState {
    const s = super.state(opts);
    if (this.corrupt.length > 0) s.corrupt = this.corrupt.slice();
    return s;
  }

  /** Segment file names currently in use, oldest first (for tests and monitoring). */
  segmentFiles(): string[] {
    return this.index.segments.map((s) => s.name);
  }

  flush(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.current === null && this.unsynced.size === 0 && !this.ioRunning) return DONE;
    const batch = this.batch();
    batch.sync = true;
    return batch.promise;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      if (this.syncTimer !== null) clearInterval(this.syncTimer);
      if (this.snapshotTimer !== null) clearTimeout(this.snapshotTimer);
      while (this.ioRunning || this.current !== null) await this.flush().catch(() => undefined);
      if (this.failure === null && !this.skipFinalSnapshot) {
        await this.persistSnapshot(this.captureSnapshot()).catch(() => undefined);
      }
      for (const seg of this.index.segments) await this.closeSegmentHandles(seg);
    }
  }

  async delete(): Promise<void> {
    this.skipFinalSnapshot = true;
    await this.close().catch(() => undefined);
    await fsp.rm(this.dir, { recursive: true, force: true });
  }

  // ---- the index ----

  protected isLive(seq: number): boolean {
    return this.index.isLive(seq);
  }

  protected nextLive(from: number): number {
    return this.index.nextLive(from);
  }

  protected prevLive(upTo: number): number {
    return this.index.prevLive(upTo);
  }

  protected timeOf(seq: number): bigint {
    return this.index.timeOf(seq);
  }

  protected sizeOf(seq: number): number {
    return this.index.sizeOf(seq);
  }

  protected deletedSeqs(first: number, last: number): number[] {
    return this.index.deletedSeqs(first, last);
  }

  protected numSubjects(): number {
    return this.index.subjects.size;
  }

  protected subjectCount(subject: string): number {
    const id = this.index.subjects.idOf(subject);
    return id === undefined ? 0 : this.index.subjects.count(id);
  }

  protected subjectFirst(subject: string): number {
    const id = this.index.subjects.idOf(subject);
    return id === undefined ? 0 : this.index.subjectFirst(id);
  }

  protected subjectsOver(max: number): string[] {
    const out: string[] = [];
    this.index.subjects.forEachMatch(this.filterFor('>'), (id, subject) => {
      if (this.index.subjects.count(id) > max) out.push(subject);
    });
    return out;
  }

  protected subjectStates(filter: SubjectFilter): Map<string, SubjectState> {
    const ids: Array<[string, number]> = [];
    this.index.subjects.forEachMatch(filter, (id, subject) => ids.push([subject, id]));
    const out = new Map<string, SubjectState>();
    for (const [subject, id] of ids) out.set(subject, this.index.subjectState(id));
    return out;
  }

  protected countAllMatching(filter: SubjectFilter): number {
    return this.index.countAll(filter);
  }

  protected matchingSeqs(filter: SubjectFilter, upTo: number): number[] {
    return this.index.matchingSeqs(filter, upTo);
  }

  protected nextMatching(filter: SubjectFilter, from: number): number {
    return this.index.nextMatching(filter, from, this.lastSeq);
  }

  protected lastMatching(filter: SubjectFilter): number {
    return this.index.lastMatching(filter);
  }

  protected countMatching(filter: SubjectFilter, from: number, lastPerSubject: boolean): number {
    if (filter.all && !lastPerSubject) return this.index.liveFrom(from);
    return this.index.countMatching(filter, from, lastPerSubject);
  }

  protected firstAtOrAfter(timeNs: bigint): number {
    return this.index.firstAtOrAfter(timeNs);
  }

  // ---- storage ----

  protected persistMsg(seq: number, subject: string, hdr: Uint8Array | null, data: Uint8Array, ts: bigint, _size: number): void {
    const buf = encodeMsg(seq, subject, hdr, data, ts);
    if (this.active.first !== 0 && seq - this.active.last > MAX_GAP_SLOTS) this.roll();
    const { seg, offset } = this.append(buf);
    this.index.add(seg, seq, subject, ts, offset, buf.length);
  }

  protected readMsg(seq: number): StoredMessage | null {
    const msg = this.index.readMsg(seq);
    if (msg === 'damaged') {
      this.index.reportRead(seq);
      return null;
    }
    return msg;
  }

  protected removeMsg(seq: number, how: ReleaseKind): number {
    const wasFirst = seq === this.firstSeq;
    const k = this.index.kill(seq);
    if (k === null) return -1;
    if (k.seg !== this.active) this.gcWanted = true;
    if (how === 'lost') return k.size;
    if (how === 'erase') {
      this.append(encodeDelete(seq, k.subject, k.size));
      if (k.offset !== NO_RECORD) this.batch().ops.push({ kind: 'erase', seg: k.seg, offset: k.offset, seq, generation: k.seg.generation });
    } else if (wasFirst) {
      // The new first sequence goes into one sequence-state record for the whole batch.
      this.floorDirty = true;
      this.batch();
    } else {
      this.append(encodeDelete(seq, k.subject, k.size));
    }
    return k.size;
  }

  protected removeRange(lo: number, hi: number): { msgs: number; bytes: number } {
    this.gcWanted = true;
    return this.index.killRange(lo, hi);
  }

  protected removeAll(): void {
    this.gcWanted = true;
    this.index.killAll();
  }

  protected cutAfter(seq: number): void {
    for (const seg of this.index.segments) seg.cutAfter(seq);
    this.index.rewound();
  }

  protected persistSequenceState(): void {
    // An emptied store starts a fresh segment so every older one can be deleted whole.
    if (this.msgs === 0 && this.active.msgBytes > 0) this.roll();
    this.appendSequenceState();
    this.gcWanted = true;
  }

  protected commit(): Promise<void> {
    if (this.failure !== null) {
      // Shared with callers that may not wait (storeInBatch): the failure is kept in this.failure.
      const failed = Promise.reject(this.failure);
      failed.catch(() => undefined);
      return failed;
    }
    if (this.lazySync) return DONE;
    const batch = this.batch();
    batch.sync = true;
    return batch.promise;
  }

  // ---- appends and the I/O loop ----

  private appendSequenceState(): void {
    this.floorDirty = false;
    this.append(encodeSeqState(this.firstSeq, this.lastSeq, this.lastTime));
  }

  private append(buf: Buffer): { seg: Segment; offset: number } {
    if (this.active.size > 0 && this.active.size + buf.length > this.segmentBytes) this.roll();
    const seg = this.active;
    const offset = seg.size;
    seg.size += buf.length;
    seg.pending.set(offset, buf);
    seg.appended(offset, buf);
    const ops = this.batch().ops;
    const last = ops[ops.length - 1];
    if (last !== undefined && last.kind === 'append' && last.seg === seg) last.bufs.push(buf);
    else ops.push({ kind: 'append', seg, offset, bufs: [buf] });
    this.changedSinceSnapshot = true;
    this.bytesSinceSnapshot += buf.length;
    return { seg, offset };
  }

  private roll(): void {
    const old = this.active;
    const seg = new Segment(this.msgsDir, old.id + 1);
    this.index.seal(old);
    seg.active = true;
    this.index.segments.push(seg);
    this.active = seg;
  }

  private batch(): Batch {
    if (this.current === null) {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // Nobody may be waiting on this batch (lazy mode); a failure is kept in this.failure instead.
      promise.catch(() => undefined);
      this.current = { ops: [], sync: false, snapshot: null, promise, resolve, reject };
      this.kick();
    }
    return this.current;
  }

  /** Takes the batch to write: the pending sequence state goes in, and a snapshot if one is due. */
  private takeBatch(): Batch {
    if (this.floorDirty) this.appendSequenceState();
    const batch = this.current!;
    this.current = null;
    if (this.snapshotWanted() && !batch.ops.some((op) => op.kind === 'gc')) batch.snapshot = this.captureSnapshot();
    return batch;
  }

  private kick(): void {
    if (this.ioRunning || this.ioKicked) return;
    this.ioKicked = true;
    // setImmediate, not a microtask: every store() issued in this turn joins the same batch.
    setImmediate(() => {
      this.ioKicked = false;
      void this.runIo();
    });
  }

  private requestLazySync(): void {
    if (this.closed || (this.unsynced.size === 0 && this.current === null)) return;
    this.batch().sync = true;
  }

  private async runIo(): Promise<void> {
    if (this.ioRunning) return;
    this.ioRunning = true;
    try {
      while (this.current !== null) {
        const batch = this.takeBatch();
        try {
          if (this.failure !== null) throw this.failure;
          await this.execute(batch.ops);
          if (batch.sync || batch.snapshot !== null) await this.syncUnsynced();
          batch.resolve();
        } catch (err) {
          this.failure ??= new StoreError(StoreErrorCode.WriteFailed, String(err), { cause: err });
          batch.reject(this.failure);
        }
        if (batch.snapshot !== null && this.failure === null) await this.persistSnapshot(batch.snapshot).catch(() => undefined);
        if (this.gcWanted && this.failure === null && !this.closed) this.planGc();
      }
    } finally {
      this.ioRunning = false;
    }
    this.scheduleSnapshot();
  }

  private async execute(ops: IoOp[]): Promise<void> {
    for (const op of ops) {
      if (op.kind === 'append') await this.writeAppends(op);
      else if (op.kind === 'erase') await this.eraseRecord(op);
      else {
        await this.syncUnsynced();
        await this.collectGarbage(op.floor);
      }
    }
  }

  private async writeAppends(op: Extract<IoOp, { kind: 'append' }>): Promise<void> {
    const { seg, bufs, offset: at } = op;
    if (seg.deleted) return;
    if (seg.fh === null) {
      // 'w+' only for a brand-new file: it truncates.
      const created = seg.written === 0;
      seg.fh = await fsp.open(seg.path, created ? 'w+' : 'r+');
      if (created) await syncDir(this.msgsDir);
    }
    let total = 0;
    for (const b of bufs) total += b.length;
    // One gathered write, no copy; libuv already loops over partial writes and IOV_MAX.
    let done = bufs.length === 1 ? 0 : (await seg.fh.writev(bufs, at)).bytesWritten;
    if (done < total) {
      const data = bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs);
      while (done < total) {
        const { bytesWritten } = await seg.fh.write(data, done, total - done, at + done);
        done += bytesWritten;
      }
    }
    seg.written = at + total;
    let o = at;
    for (const b of bufs) {
      seg.pending.delete(o);
      o += b.length;
    }
    this.unsynced.add(seg);
  }

  private async syncUnsynced(): Promise<void> {
    for (const seg of this.unsynced) {
      if (seg.fh !== null && !seg.deleted) {
        await this.syncData(seg.fh);
        // A sealed segment is not written again once its queued records are out: release the handle.
        if (seg !== this.active && seg.pending.size === 0) {
          await seg.fh.close();
          seg.fh = null;
        }
      }
    }
    this.unsynced.clear();
  }

  private async eraseRecord(op: Extract<IoOp, { kind: 'erase' }>): Promise<void> {
    const seg = op.seg;
    // A rewrite since the erase was queued dropped the (already dead) record with its bytes.
    if (seg.deleted || seg.generation !== op.generation) return;
    const rec = this.index.readRecord(seg, op.offset, RECORD_HEADER_BYTES);
    if (rec === null || rec.length < RECORD_HEADER_BYTES || !checksumOk(rec, 0, rec.readUInt32LE(0))) return;
    const copy = Buffer.from(rec);
    eraseInPlace(copy);
    const fh = seg.fh ?? (await fsp.open(seg.path, 'r+'));
    await fh.write(copy, 0, copy.length, op.offset);
    this.index.forgetWindows(seg);
    if (seg.fh === null) {
      await this.syncData(fh);
      await fh.close();
    } else {
      this.unsynced.add(seg);
    }
  }

  private async closeSegmentHandles(seg: Segment): Promise<void> {
    this.index.forgetSegment(seg);
    if (seg.fh !== null) {
      await seg.fh.close();
      seg.fh = null;
    }
  }

  // ---- the index snapshot ----

  private snapshotWanted(): boolean {
    if (Date.now() - this.lastSnapshotAt < this.snapshotGapMs) return false;
    if (this.snapshotDue) return true;
    if (!this.changedSinceSnapshot) return false;
    if (this.snapshotBytes > 0 && this.bytesSinceSnapshot >= this.snapshotBytes) return true;
    return this.snapshotIntervalMs > 0 && Date.now() - this.lastSnapshotAt >= this.snapshotIntervalMs;
  }

  /** An idle store with unsnapshotted changes gets its snapshot after the interval anyway. */
  private scheduleSnapshot(): void {
    if (this.closed || this.snapshotTimer !== null || this.failure !== null) return;
    if (!this.snapshotDue && !(this.changedSinceSnapshot && this.snapshotIntervalMs > 0)) return;
    const since = Date.now() - this.lastSnapshotAt;
    const wait = Math.max(0, (this.snapshotDue ? this.snapshotGapMs : this.snapshotIntervalMs) - since);
    this.snapshotTimer = setTimeout(() => {
      this.snapshotTimer = null;
      if (this.closed) return;
      this.snapshotDue = true;
      this.batch();
    }, wait);
    this.snapshotTimer.unref();
  }

  /** The index as of now; every segment's recorded size is what it will be once queued writes are done. */
  private captureSnapshot(): PendingSnapshot {
    const segments: SegmentSummary[] = this.index.segments.map((s) => ({
      id: s.id,
      size: s.size,
      tail: s.tail,
      first: s.first,
      last: s.last,
      firstTs: s.firstTs,
      lastTs: s.lastTs,
      liveMsgs: s.liveMsgs,
      liveBytes: s.liveBytes,
      msgBytes: s.msgBytes,
      recMin: s.recMin,
      recMax: s.recMax,
      dead: s.dead === null || s.dead.count === 0 ? null : s.dead.snapshot(s.slots),
      deadCount: s.dead?.count ?? 0,
      sparse: s.sparseSnapshot(),
    }));
    const snap: IndexSnapshot = {
      firstSeq: this.firstSeq,
      lastSeq: this.lastSeq,
      lastTime: this.lastTime,
      msgs: this.msgs,
      bytes: this.bytes,
      segments,
      subjects: this.index.subjects.snapshot(),
      corrupt: this.corrupt,
    };
    const started = performance.now();
    const bytes = encodeSnapshot(snap);
    this.snapshotGapMs = this.snapshotCostShare * (performance.now() - started);
    this.snapshotDue = false;
    this.changedSinceSnapshot = false;
    this.bytesSinceSnapshot = 0;
    this.lastSnapshotAt = Date.now();
    return { bytes, unlink: this.unlinkLater.splice(0) };
  }

  private async persistSnapshot(p: PendingSnapshot): Promise<void> {
    try {
      await writeSnapshot(this.msgsDir, p.bytes);
    } catch (err) {
      // Without this snapshot the reclaimed segments are still listed by the previous one: keep them.
      this.unlinkLater.unshift(...p.unlink);
      throw err;
    }
    if (p.unlink.length === 0) return;
    for (const seg of p.unlink) await fsp.rm(seg.path, { force: true });
    await syncDir(this.msgsDir);
  }

  // ---- space reclamation ----

  /** Decides, synchronously and in order with other changes, whether any sealed segment can go. */
  private planGc(): void {
    this.gcWanted = false;
    if (!this.index.segments.some((s) => this.gcAction(s) !== null)) return;
    // The checkpoint carries first/last sequence and last time past the records about to vanish.
    this.appendSequenceState();
    this.batch().ops.push({ kind: 'gc', floor: this.firstSeq });
  }

  private gcAction(seg: Segment): 'delete' | 'rewrite' | null {
    if (seg.active || seg.deleted || seg.pending.size > 0) return null;
    if (seg.liveMsgs === 0 && seg === this.index.segments[0]) return 'delete';
    const dead = seg.msgBytes - seg.liveBytes;
    if (dead > 0 && dead >= seg.size * REWRITE_DEAD_FRACTION) return 'rewrite';
    return null;
  }

  private async collectGarbage(floor: number): Promise<void> {
    const segs = this.index.segments;
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i]!;
      const action = this.gcAction(seg);
      if (action === 'delete') {
        this.dropSegment(seg);
        i = -1; // the next segment may now be the oldest
      } else if (action === 'rewrite') {
        await this.rewriteSegment(seg, floor);
      }
    }
  }

  /** Takes an empty oldest segment out of the index; its file goes once a snapshot no longer lists it. */
  private dropSegment(seg: Segment): void {
    seg.deleted = true;
    this.index.segments = this.index.segments.filter((s) => s !== seg);
    this.unsynced.delete(seg);
    this.index.forgetSegment(seg);
    if (seg.fh !== null) {
      void seg.fh.close().catch(() => undefined);
      seg.fh = null;
    }
    this.unlinkLater.push(seg);
    this.snapshotDue = true;
    this.changedSinceSnapshot = true;
  }

  /** Rewrites a sealed segment without its dead messages; every other record is kept in order. */
  private async rewriteSegment(seg: Segment, floor: number): Promise<void> {
    seg.rewriting = true;
    try {
      const buf = await fsp.readFile(seg.path);
      const table = this.index.table(seg);
      const earlier = this.index.segments.filter((s) => s.id < seg.id);
      const kept: Buffer[] = [];
      const moved: Array<[number, number]> = [];
      let size = 0;
      let msgBytes = 0;
      let tail: Segment['tail'] = null;
      for (const { offset, header } of scanSegment(buf, false).records) {
        const rec = buf.subarray(offset, offset + header.length);
        if (header.type === RecordType.Msg) {
          if (!seg.isLive(header.seq) || table.offsets[header.seq - seg.first] !== offset) continue;
          moved.push([header.seq - seg.first, size]);
          msgBytes += header.length;
        } else if (header.type === RecordType.Delete) {
          // A tombstone matters only while an older segment may still hold that sequence's record, and
          // not below the checkpoint's floor (firstSeq may have moved on since: use the persisted one).
          const s = header.seq;
          if (s < floor || !earlier.some((e) => e.recMin !== 0 && s >= e.recMin && s <= e.recMax)) continue;
        }
        tail = { offset: size, length: header.length, type: header.type, seq: header.seq };
        kept.push(rec);
        size += rec.length;
      }
      const tmp = await writeTempFile(seg.path, Buffer.concat(kept));
      // The rename and the swap to the new layout are one synchronous step: a read in between
      // would open the new file with the old offsets.
      fs.renameSync(tmp, seg.path);
      this.index.dropReadFd(seg);
      this.index.forgetWindows(seg);
      seg.generation++;
      table.offsets.fill(NO_RECORD);
      for (const [slot, offset] of moved) table.offsets[slot] = offset;
      seg.sparseFromTable(table);
      seg.size = size;
      seg.written = size;
      seg.msgBytes = msgBytes;
      seg.tail = tail;
      this.snapshotDue = true;
      this.changedSinceSnapshot = true;
      await syncDir(this.msgsDir);
    } finally {
      seg.rewriting = false;
    }
  }

  // ---- recovery ----

  private async recover(): Promise<void> {
    await fsp.mkdir(this.msgsDir, { recursive: true });
    const names = await fsp.readdir(this.msgsDir);
    for (const n of names) if (n.endsWith(TEMP_SUFFIX)) await fsp.rm(path.join(this.msgsDir, n), { force: true });
    const ids = names.map(segmentId).filter((n) => !Number.isNaN(n)).sort((a, b) => a - b);
    const replay: Replay = { msgs: 0, bytes: 0, lastSeq: 0, lastTime: 0n, floor: 0 };
    let snap: IndexSnapshot | null = null;
    try {
      snap = await readSnapshot(this.msgsDir);
      if (snap !== null) {
        const why = this.checkSnapshot(snap, ids);
        if (why !== null) {
          this.recovery.snapshotRejected = why;
          snap = null;
        }
      }
    } catch (err) {
      this.recovery.snapshotRejected = err instanceof Error ? err.message : String(err);
      snap = null;
    }
    this.replaying = replay;
    try {
      if (snap !== null) await this.recoverFromSnapshot(snap, ids, replay);
      else await this.recoverByScan(ids, replay);
      if (snap !== null && this.verifyRecords) await this.verifySnapshotted(snap);
    } finally {
      this.replaying = null;
    }

    const segs = this.index.segments;
    const last = segs[segs.length - 1];
    // No table: nothing was replayed into it, so it would have to be read whole to be verified.
    if (last === undefined || (last.table === null && last.written > VERIFY_ACTIVE_MAX_BYTES)) {
      segs.push(new Segment(this.msgsDir, (last?.id ?? 0) + 1));
    }
    this.active = segs[segs.length - 1]!;
    for (const s of segs) if (s !== this.active) this.index.seal(s);
    this.active.active = true;
    const created = this.active.size === 0;
    this.active.fh = await fsp.open(this.active.path, created ? 'w+' : 'r+');
    // A new file's directory entry must be durable before records in it are acknowledged.
    if (created) await syncDir(this.msgsDir);
    this.recovery.segments = segs.length;
    const firstSeq = replay.msgs > 0 ? this.index.nextLive(1) : replay.lastSeq === 0 && replay.floor === 0 ? 0 : replay.lastSeq + 1;
    this.restoreCounters({ msgs: replay.msgs, bytes: replay.bytes, firstSeq, lastSeq: replay.lastSeq, lastTime: replay.lastTime });
    if (snap !== null) await this.verifyActive();
    if (segs.some((s) => this.gcAction(s) !== null)) this.gcWanted = true;
    // Records the snapshot did not cover were read to rebuild the index: a fresh snapshot soon keeps
    // the next start quick. Verifying the active segment a trusted snapshot covers changes nothing
    // it says (a cut there marks one due itself), so a clean restart writes none.
    if (snap === null ? this.recovery.scannedBytes > 0 : this.recovery.afterSnapshotBytes > 0) this.snapshotDue = true;
    this.lastSnapshotAt = Date.now();
    if (this.snapshotDue || this.gcWanted) this.batch();
  }

  /**
   * The segment new records go to is read and verified in full even when the snapshot was trusted
   * (it is small: a bigger one was sealed): appending after damage would bury it. Damage is
   * reported; a record whose length cannot be trusted cuts the file there, as a full scan would.
   */
  private async verifyActive(): Promise<void> {
    const seg = this.active;
    if (seg.written === 0 || seg.table !== null) return;
    const { validLength, tail } = this.index.loadTable(seg, false, true);
    this.recovery.scannedBytes += seg.written;
    if (validLength >= seg.written) return;
    await this.active.fh!.truncate(validLength);
    await this.syncData(this.active.fh!);
    seg.size = seg.written = validLength;
    seg.tail = tail;
    this.snapshotDue = true;
  }

  /**
   * Null when the snapshot agrees with the segment files, else why not. Synchronous calls: two
   * per segment, at start-up, where awaiting each would cost more than the call.
   */
  private checkSnapshot(snap: IndexSnapshot, ids: number[]): string | null {
    const present = new Set(ids);
    const listed = snap.segments;
    const head = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
    for (let i = 0; i < listed.length; i++) {
      const s = listed[i]!;
      const name = new Segment(this.msgsDir, s.id);
      if (!present.has(s.id)) return `segment ${name.name} is missing`;
      const fd = fs.openSync(name.path, 'r');
      try {
        const size = fs.fstatSync(fd).size;
        const last = i === listed.length - 1;
        if (size < s.size || (!last && size !== s.size)) return `segment ${name.name} is ${size} bytes, the snapshot recorded ${s.size}`;
        if (s.tail === null) {
          if (s.size !== 0) return `segment ${name.name}: no last record in the snapshot`;
          continue;
        }
        if (s.tail.offset + s.tail.length !== s.size) return `segment ${name.name}: inconsistent tail in the snapshot`;
        if (fs.readSync(fd, head, 0, RECORD_HEADER_BYTES, s.tail.offset) < RECORD_HEADER_BYTES) return `segment ${name.name}: last record unreadable`;
        const h = readHeader(head, 0);
        if (h.length !== s.tail.length || h.type !== s.tail.type || h.seq !== s.tail.seq) {
          return `segment ${name.name} does not end with the record the snapshot recorded`;
        }
      } finally {
        fs.closeSync(fd);
      }
    }
    return null;
  }

  private async recoverFromSnapshot(snap: IndexSnapshot, ids: number[], replay: Replay): Promise<void> {
    this.recovery.index = 'snapshot';
    // What was written after the snapshot is known from file sizes alone: its first read runs
    // while the index is restored from the snapshot.
    const lastListed = snap.segments[snap.segments.length - 1];
    const maxListed = lastListed?.id ?? 0;
    const newer = await this.wholeSegments(ids.filter((id) => id > maxListed));
    let tail: FileRange | null = null;
    if (lastListed !== undefined) {
      const file = new Segment(this.msgsDir, lastListed.id).path;
      const size = (await fsp.stat(file)).size;
      if (size > lastListed.size) tail = { path: file, from: lastListed.size, to: size };
    }
    const reads = new RangeReader([...(tail === null ? [] : [tail]), ...newer.map(rangeOf)]);
    const listed = new Set<number>();
    for (const s of snap.segments) {
      const seg = new Segment(this.msgsDir, s.id);
      seg.size = seg.written = s.size;
      seg.tail = s.tail;
      seg.first = s.first;
      seg.last = s.last;
      seg.firstTs = s.firstTs;
      seg.lastTs = s.lastTs;
      seg.liveMsgs = s.liveMsgs;
      seg.liveBytes = s.liveBytes;
      seg.msgBytes = s.msgBytes;
      seg.recMin = s.recMin;
      seg.recMax = s.recMax;
      seg.dead = s.dead === null ? null : new SeqBits(new Uint8Array(s.dead), s.deadCount);
      seg.restoreSparse(s.sparse);
      this.index.segments.push(seg);
      listed.add(s.id);
    }
    this.index.subjects.restore(snap.subjects);
    this.corrupt.push(...snap.corrupt);
    replay.msgs = snap.msgs;
    replay.bytes = snap.bytes;
    replay.lastSeq = snap.lastSeq;
    replay.lastTime = snap.lastTime;
    replay.floor = snap.firstSeq;
    // Reclaimed before the snapshot, not yet unlinked when the process stopped.
    for (const id of ids) if (id < maxListed && !listed.has(id)) await fsp.rm(new Segment(this.msgsDir, id).path, { force: true });
    const scannedBefore = this.recovery.scannedBytes;
    const ranges: ReplayRange[] = [];
    if (tail !== null) ranges.push({ seg: this.index.segments[this.index.segments.length - 1]!, from: tail.from, to: tail.to, newest: newer.length === 0, add: false });
    ranges.push(...newer);
    await this.replayRanges(ranges, replay, reads);
    this.recovery.afterSnapshotBytes = this.recovery.scannedBytes - scannedBefore;
  }

  /**
   * Reads every record a trusted snapshot vouched for and verifies it (verifyRecords). Damage is
   * reported, nothing is cut: the caller drops it and fetches it again. A damaged header's sequence
   * is reported only when it lies between those of the good records around it; otherwise the bit
   * may have hit the sequence itself, and a report without one makes the caller drop everything.
   */
  private async verifySnapshotted(snap: IndexSnapshot): Promise<void> {
    const listed = snap.segments.filter((s) => s.size > 0);
    const reads = new RangeReader(listed.map((s) => ({ path: new Segment(this.msgsDir, s.id).path, from: 0, to: s.size })));
    for (const s of listed) {
      const name = new Segment(this.msgsDir, s.id);
      const buf = await reads.take();
      this.recovery.verifiedBytes += buf.length;
      const offsets: number[] = [];
      const seqs: number[] = [];
      const scan = scanSegment(buf, false, 0, {
        visitRecord(offset, h) {
          if (h.type !== RecordType.Msg) return;
          offsets.push(offset);
          seqs.push(h.seq);
        },
      });
      for (const d of scan.damage) {
        let i = 0;
        while (i < offsets.length && offsets[i]! < d.offset) i++;
        const below = i > 0 ? seqs[i - 1]! : s.first - 1;
        const above = i < seqs.length ? seqs[i]! : s.last + 1;
        const { seq, ...rest } = d;
        const credible = seq !== undefined && seq > below && seq < above;
        this.report({ file: name.name, ...rest, ...(credible ? { seq } : {}) }, true);
      }
    }
  }

  private async recoverByScan(ids: number[], replay: Replay): Promise<void> {
    this.recovery.index = 'full-scan';
    await this.replayRanges(await this.wholeSegments(ids), replay);
  }

  /** Ranges covering the whole files of segments `ids` (ascending, the last one newest). */
  private async wholeSegments(ids: number[]): Promise<ReplayRange[]> {
    const segs = ids.map((id) => new Segment(this.msgsDir, id));
    const sizes = await Promise.all(segs.map(async (seg) => (await fsp.stat(seg.path)).size));
    return segs.map((seg, i) => ({ seg, from: 0, to: sizes[i]!, newest: i === segs.length - 1, add: true }));
  }

  /**
   * Applies the records of each range in order, the next one read while one is applied (`reads`,
   * when given, reads these ranges).
   */
  private async replayRanges(ranges: ReplayRange[], replay: Replay, reads = new RangeReader(ranges.map(rangeOf))): Promise<void> {
    for (const r of ranges) {
      if (r.add) this.index.segments.push(r.seg);
      await this.replaySegment(r.seg, await reads.take(), r.from, r.newest, replay);
    }
  }

  /**
   * Applies the records of `buf`, bytes of seg's file from offset `from` on, verifying each, to the
   * index in order. A torn tail of the newest segment is cut; other damage is reported (and cut if
   * not skippable).
   */
  private async replaySegment(seg: Segment, buf: Buffer, from: number, newest: boolean, replay: Replay): Promise<void> {
    // Offsets below are relative to the buffer, which starts at file offset `from`.
    this.recovery.scannedBytes += buf.length;
    // Pinned while replayed: its table is being built and must not be evicted half way.
    seg.active = true;
    seg.size = seg.written = from;
    if (seg.first !== 0 && seg.table === null) this.index.table(seg);
    // A stream's messages are mostly alike in size: the first one says about how many fit.
    else if (seg.first === 0 && buf.length >= RECORD_HEADER_BYTES && buf[8] === RecordType.Msg) {
      this.index.ensureTable(seg, Math.ceil(buf.length / Math.max(RECORD_HEADER_BYTES, buf.readUInt32LE(0))) + 1);
    }
    const r: RangeReplay = { seg, buf, from, replay, tailAt: -1, tailLength: 0, tailType: 0, tailSeq: 0, segLastTsAt: -1, lastTimeAt: -1 };
    this.ranging = r;
    let scan: SegmentScan;
    try {
      scan = scanSegment(buf, newest, 0, this, false);
    } finally {
      this.ranging = null;
    }
    if (r.segLastTsAt >= 0) seg.lastTs = recordTime(buf, r.segLastTsAt);
    if (r.lastTimeAt >= 0) replay.lastTime = recordTime(buf, r.lastTimeAt);
    this.recovery.tornTailBytes += scan.tornTailBytes;
    for (const d of scan.damage) this.report({ file: seg.name, ...d, offset: from + d.offset }, true);
    if (scan.validLength < buf.length) {
      const fh = await fsp.open(seg.path, 'r+');
      await fh.truncate(from + scan.validLength);
      await this.syncData(fh);
      await fh.close();
    }
    if (r.tailAt >= 0) seg.tail = { offset: r.tailAt, length: r.tailLength, type: r.tailType, seq: r.tailSeq };
    seg.size = seg.written = from + scan.validLength;
    if (seg.size === 0) seg.tail = null;
    seg.active = false;
  }

  /**
   * Applies one record of the range being replayed: scanSegment's visitor at start-up, called
   * from replaySegment only (the store itself is the visitor so the call has one target always).
   * `h.ts` is not decoded: the one time noting a record needs now is a segment's first; the last
   * times are read once the range is done (segLastTsAt, lastTimeAt).
   */
  visitRecord(rel: number, h: RecordHeader): void {
    const r = this.ranging!;
    const { seg, buf, from, replay } = r;
    const offset = from + rel;
    seg.size = seg.written = offset + h.length;
    r.tailAt = offset;
    r.tailLength = h.length;
    r.tailType = h.type;
    r.tailSeq = h.seq;
    if (h.type === RecordType.Msg) {
      // A second record for a live sequence: the later one is the message.
      if (h.seq <= replay.lastSeq && this.index.isLive(h.seq)) this.uncount(this.index.kill(h.seq), replay);
      // Only a segment's first record sets a time when noted (its firstTs); its lastTs is set below.
      const ts = seg.first === 0 ? recordTime(buf, rel) : 0n;
      if ((h.flags & RecordFlag.Erased) !== 0) {
        this.index.addDead(seg, h.seq, ts, offset, h.length);
      } else {
        const s = rel + RECORD_HEADER_BYTES;
        this.index.addRead(seg, h.seq, buf, s, s + h.subjectLength, ts, offset, h.length);
        replay.msgs++;
        replay.bytes += h.length;
      }
      r.segLastTsAt = rel;
      if (h.seq > replay.lastSeq) {
        replay.lastSeq = h.seq;
        r.lastTimeAt = rel;
      }
    } else if (h.type === RecordType.Delete) {
      const named = h.subjectLength > 0 ? this.index.subjectAt(buf, rel + RECORD_HEADER_BYTES, rel + h.length) : undefined;
      this.uncount(this.index.kill(h.seq, named, h.hdrLength > 0 ? h.hdrLength : undefined), replay);
    } else {
      this.replaySequenceState(buf, rel, h, replay);
      r.lastTimeAt = rel;
    }
  }

  private replaySequenceState(buf: Buffer, offset: number, h: RecordHeader, replay: Replay): void {
    const floor = h.seq;
    const lastSeq = seqStateLastSeq(buf, offset);
    if (replay.msgs > 0 && floor > 1) {
      const k = this.index.killRange(1, floor - 1);
      replay.msgs -= k.msgs;
      replay.bytes -= k.bytes;
    }
    if (lastSeq < replay.lastSeq) {
      if (replay.msgs > 0) {
        const k = this.index.killRange(lastSeq + 1, Number.MAX_SAFE_INTEGER);
        replay.msgs -= k.msgs;
        replay.bytes -= k.bytes;
      }
      for (const seg of this.index.segments) seg.cutAfter(lastSeq);
    }
    replay.floor = floor;
    replay.lastSeq = lastSeq;
  }

  private uncount(k: { size: number } | null, replay: Replay): void {
    if (k === null) return;
    replay.msgs--;
    replay.bytes -= k.size;
  }

  private report(r: CorruptionReport, atStartup = false): void {
    this.corrupt.push(r);
    if (atStartup) this.recovery.corrupt.push(r);
    this.onCorruption?.(r);
  }
}

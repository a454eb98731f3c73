// The file store: a directory per stream holding append-only segment files (`msgs/<id>.seg`) of
// checksummed records (see record_codec.ts). The index (seq -> segment, offset) and the
// per-subject index live in memory and are rebuilt at start-up by replaying every segment in order.
//
// Durability: every change appends a record to an in-memory batch; one I/O loop writes each batch
// with one positional write per segment and one fdatasync, then resolves everything that waited on
// it (group commit). With syncIntervalMs > 0 writes still happen at once but the fsync runs on an
// interval and store() does not wait for it (an opt-in, as in nats-server's sync_interval).
//
// Removes are tombstone records; purge, compact, truncate and skips are one sequence-state record.
// Space comes back by deleting the oldest segment once it holds no live message, and by rewriting a
// sealed segment that is mostly dead messages. Both first append a sequence-state checkpoint so no
// sequence bookkeeping is lost with the dropped records.

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { StoreError, StoreErrorCode } from './errors.ts';
import { IndexedStore, type IndexEntry, type ReleaseKind } from './indexed_store.ts';
import {
  RecordFlag,
  RecordType,
  checksumOk,
  decodeMsgBody,
  encodeDelete,
  encodeMsg,
  encodeSeqState,
  eraseInPlace,
  readHeader,
  seqStateLastSeq,
} from './record_codec.ts';
import { scanSegment } from './segment_scan.ts';
import { RECORD_HEADER_BYTES, UNLIMITED, type CorruptionReport, type StoreLimits, type StreamState } from './types.ts';

/** Roll to a new segment beyond this size; big enough to amortise files, small enough to reclaim. */
export const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024;
/** Rewrite a sealed segment once at least this fraction of its bytes are dead messages. */
const REWRITE_DEAD_FRACTION = 0.5;
/**
 * Bytes read at once when a reader goes forward through a segment. Consumers read in sequence
 * order, which is file order, so one read serves the next ~2,000 small messages instead of one
 * pread each. A read that does not follow the previous one (a KV get, a direct get) reads only
 * its record.
 */
const READ_WINDOW_BYTES = 256 * 1024;
/** Read-ahead windows kept for the whole process (all streams): bounds their memory at 4 MiB. */
const READ_WINDOWS = 16;

interface ReadWindow {
  seg: Segment;
  generation: number;
  start: number;
  buf: Buffer;
}

/** The most recent read-ahead windows of every file store, newest first. */
const readWindows: ReadWindow[] = [];

function findWindow(seg: Segment, offset: number, length: number): Buffer | null {
  for (const w of readWindows) {
    if (w.seg === seg && w.generation === seg.generation && offset >= w.start && offset + length <= w.start + w.buf.length) {
      return w.buf.subarray(offset - w.start, offset - w.start + length);
    }
  }
  return null;
}

function keepWindow(w: ReadWindow): void {
  readWindows.unshift(w);
  if (readWindows.length > READ_WINDOWS) readWindows.pop();
}

function dropWindows(seg: Segment): void {
  for (let i = readWindows.length - 1; i >= 0; i--) if (readWindows[i]!.seg === seg) readWindows.splice(i, 1);
}
/** Read descriptors kept open for sealed segments; the oldest is closed beyond this. */
const MAX_READ_FDS = 64;
const SEGMENT_SUFFIX = '.seg';
const MSGS_DIR = 'msgs';

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
}

export interface RecoveryReport {
  tornTailBytes: number;
  corrupt: CorruptionReport[];
}

class Segment {
  readonly id: number;
  readonly name: string;
  readonly path: string;
  /** Logical size, including records not yet written. */
  size = 0;
  /** Bytes already written to the file. */
  written = 0;
  /** Records not yet written, by offset, so reads can serve them. */
  readonly pending = new Map<number, Buffer>();
  /** Write handle: the active segment only (and a segment being erased into). */
  fh: FileHandle | null = null;
  readFd: number | null = null;
  liveMsgs = 0;
  liveBytes = 0;
  /** Bytes of message records physically present, live or dead. */
  msgBytes = 0;
  minMsgSeq = Number.MAX_SAFE_INTEGER;
  maxMsgSeq = 0;
  /** Bumped when the segment is rewritten, so queued erases know their offsets went stale. */
  generation = 0;
  deleted = false;

  constructor(dir: string, id: number) {
    this.id = id;
    this.name = `${String(id).padStart(10, '0')}${SEGMENT_SUFFIX}`;
    this.path = path.join(dir, this.name);
  }

  noteMsg(seq: number, length: number): void {
    this.msgBytes += length;
    if (seq < this.minMsgSeq) this.minMsgSeq = seq;
    if (seq > this.maxMsgSeq) this.maxMsgSeq = seq;
  }
}

interface FileEntry extends IndexEntry {
  seg: Segment;
  offset: number;
  length: number;
}

type IoOp =
  | { kind: 'append'; seg: Segment; offset: number; buf: Buffer }
  | { kind: 'erase'; entry: FileEntry; generation: number }
  /** floor: first sequence of the checkpoint written just before; records below it are dead on replay. */
  | { kind: 'gc'; floor: number };

interface Batch {
  ops: IoOp[];
  sync: boolean;
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const DONE: Promise<void> = Promise.resolve();

export class FileStore extends IndexedStore<FileEntry> {
  readonly kind = 'file' as const;
  readonly dir: string;
  readonly recovery: RecoveryReport;

  private readonly msgsDir: string;
  private readonly segmentBytes: number;
  private readonly lazySync: boolean;
  private readonly onCorruption: ((r: CorruptionReport) => void) | undefined;
  private readonly syncData: (fh: FileHandle) => Promise<void>;
  private readonly corrupt: CorruptionReport[] = [];
  private segments: Segment[] = [];
  private active!: Segment;
  private current: Batch | null = null;
  private ioRunning = false;
  private ioKicked = false;
  private readonly unsynced = new Set<Segment>();
  private gcWanted = false;
  private failure: unknown = null;
  private syncTimer: NodeJS.Timeout | null = null;
  private readonly readFds: Segment[] = [];
  /** Where the last record read ended, to tell a reader going forward from a random one. */
  private lastReadSeg: Segment | null = null;
  private lastReadEnd = 0;

  private constructor(opts: FileStoreOptions) {
    super(opts.limits ?? UNLIMITED);
    this.dir = opts.dir;
    this.msgsDir = path.join(opts.dir, MSGS_DIR);
    this.segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.lazySync = (opts.syncIntervalMs ?? 0) > 0;
    this.onCorruption = opts.onCorruption;
    this.syncData = opts.sync ?? ((fh) => fh.datasync());
    this.recovery = { tornTailBytes: 0, corrupt: [] };
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

  override state(): StreamState {
    const s = super.state();
    if (this.corrupt.length > 0) s.corrupt = this.corrupt.slice();
    return s;
  }

  /** Segment file names currently in use, oldest first (for tests and monitoring). */
  segmentFiles(): string[] {
    return this.segments.map((s) => s.name);
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
      while (this.ioRunning || this.current !== null) await this.flush().catch(() => undefined);
      for (const seg of this.segments) await this.closeSegmentHandles(seg);
    }
  }

  async delete(): Promise<void> {
    await this.close().catch(() => undefined);
    await fsp.rm(this.dir, { recursive: true, force: true });
  }

  // ---- engine hooks ----

  protected persistMsg(seq: number, subject: string, hdr: Uint8Array | null, data: Uint8Array, ts: bigint, size: number): FileEntry {
    const buf = encodeMsg(seq, subject, hdr, data, ts);
    const { seg, offset } = this.append(buf);
    seg.noteMsg(seq, buf.length);
    seg.liveMsgs++;
    seg.liveBytes += buf.length;
    return { subject, ts, size, seg, offset, length: buf.length };
  }

  protected readMsg(seq: number, entry: FileEntry): { hdr: Uint8Array | null; data: Uint8Array } | null {
    const rec = this.readRecord(entry);
    if (rec !== null && checksumOk(rec, 0, entry.length)) {
      const h = readHeader(rec, 0);
      if (h.type === RecordType.Msg && h.seq === seq && (h.flags & RecordFlag.Erased) === 0) {
        const body = decodeMsgBody(rec, 0, h);
        return { hdr: body.hdr, data: body.data };
      }
    }
    this.report({ file: entry.seg.name, offset: entry.offset, length: entry.length, action: 'skipped', seq });
    return null;
  }

  protected released(seq: number, entry: FileEntry, how: ReleaseKind): void {
    const seg = entry.seg;
    seg.liveMsgs--;
    seg.liveBytes -= entry.length;
    if (seg !== this.active) this.gcWanted = true;
    if (how === 'remove') this.append(encodeDelete(seq));
    else if (how === 'erase') this.batch().ops.push({ kind: 'erase', entry, generation: seg.generation });
  }

  protected persistSequenceState(): void {
    // An emptied store starts a fresh segment so every older one can be deleted whole.
    if (this.msgs === 0 && this.active.msgBytes > 0) this.roll();
    this.append(encodeSeqState(this.firstSeq, this.lastSeq, this.lastTime));
    this.gcWanted = true;
  }

  protected commit(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.lazySync) return DONE;
    const batch = this.batch();
    batch.sync = true;
    return batch.promise;
  }

  // ---- appends and the I/O loop ----

  private append(buf: Buffer): { seg: Segment; offset: number } {
    if (this.active.size > 0 && this.active.size + buf.length > this.segmentBytes) this.roll();
    const seg = this.active;
    const offset = seg.size;
    seg.size += buf.length;
    seg.pending.set(offset, buf);
    this.batch().ops.push({ kind: 'append', seg, offset, buf });
    return { seg, offset };
  }

  private roll(): void {
    const seg = new Segment(this.msgsDir, this.active.id + 1);
    this.segments.push(seg);
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
      this.current = { ops: [], sync: false, promise, resolve, reject };
      this.kick();
    }
    return this.current;
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
        const batch = this.current;
        this.current = null;
        try {
          if (this.failure !== null) throw this.failure;
          await this.execute(batch.ops);
          if (batch.sync) await this.syncUnsynced();
          batch.resolve();
        } catch (err) {
          this.failure ??= new StoreError(StoreErrorCode.WriteFailed, String(err), { cause: err });
          batch.reject(this.failure);
        }
        if (this.gcWanted && this.failure === null && !this.closed) this.planGc();
      }
    } finally {
      this.ioRunning = false;
    }
  }

  private async execute(ops: IoOp[]): Promise<void> {
    let i = 0;
    while (i < ops.length) {
      const op = ops[i]!;
      if (op.kind === 'append') {
        // Coalesce consecutive appends to one segment into one write.
        let j = i + 1;
        while (j < ops.length) {
          const next = ops[j]!;
          if (next.kind !== 'append' || next.seg !== op.seg) break;
          j++;
        }
        await this.writeAppends(op.seg, ops.slice(i, j) as Array<Extract<IoOp, { kind: 'append' }>>);
        i = j;
      } else if (op.kind === 'erase') {
        await this.eraseRecord(op.entry, op.generation);
        i++;
      } else {
        await this.syncUnsynced();
        await this.collectGarbage(op.floor);
        i++;
      }
    }
  }

  private async writeAppends(seg: Segment, appends: Array<Extract<IoOp, { kind: 'append' }>>): Promise<void> {
    if (seg.deleted) return;
    if (seg.fh === null) {
      // 'w+' only for a brand-new file: it truncates.
      const created = seg.written === 0;
      seg.fh = await fsp.open(seg.path, created ? 'w+' : 'r+');
      if (created) await syncDir(this.msgsDir);
    }
    const bufs = appends.map((a) => a.buf);
    let total = 0;
    for (const b of bufs) total += b.length;
    const at = appends[0]!.offset;
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
    for (const a of appends) seg.pending.delete(a.offset);
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

  private async eraseRecord(entry: FileEntry, generation: number): Promise<void> {
    const seg = entry.seg;
    // A rewrite since the erase was queued dropped the (already dead) record with its bytes.
    if (seg.deleted || seg.generation !== generation) return;
    const rec = this.readRecord(entry);
    if (rec === null || !checksumOk(rec, 0, entry.length)) return;
    const copy = Buffer.from(rec);
    eraseInPlace(copy);
    const fh = seg.fh ?? (await fsp.open(seg.path, 'r+'));
    await fh.write(copy, 0, copy.length, entry.offset);
    dropWindows(seg);
    if (seg.fh === null) {
      await this.syncData(fh);
      await fh.close();
    } else {
      this.unsynced.add(seg);
    }
  }

  // ---- reads ----

  private readRecord(entry: FileEntry): Buffer | null {
    const seg = entry.seg;
    const { offset, length } = entry;
    if (offset >= seg.written) return seg.pending.get(offset) ?? null;
    // Served records are still checksummed one by one by the caller.
    const forward = this.lastReadSeg === seg && offset >= this.lastReadEnd && offset - this.lastReadEnd < READ_WINDOW_BYTES;
    this.lastReadSeg = seg;
    this.lastReadEnd = offset + length;
    const cached = findWindow(seg, offset, length);
    if (cached !== null) return cached;
    // Never past what is written: a window must not hold bytes a later append puts there.
    const size = forward ? Math.max(length, Math.min(READ_WINDOW_BYTES, seg.written - offset)) : length;
    // A fresh buffer each time: records served from an older window may still be in use.
    const buf = Buffer.allocUnsafe(size);
    let n: number;
    try {
      n = fs.readSync(this.readFd(seg), buf, 0, size, offset);
    } catch {
      return null;
    }
    if (n < length) return null;
    if (size > length) keepWindow({ seg, generation: seg.generation, start: offset, buf: buf.subarray(0, n) });
    return buf.subarray(0, length);
  }

  private readFd(seg: Segment): number {
    if (seg.readFd !== null) return seg.readFd;
    if (this.readFds.length >= MAX_READ_FDS) {
      const oldest = this.readFds.shift()!;
      if (oldest.readFd !== null) fs.closeSync(oldest.readFd);
      oldest.readFd = null;
    }
    seg.readFd = fs.openSync(seg.path, 'r');
    this.readFds.push(seg);
    return seg.readFd;
  }

  private dropReadFd(seg: Segment): void {
    if (seg.readFd === null) return;
    fs.closeSync(seg.readFd);
    seg.readFd = null;
    const i = this.readFds.indexOf(seg);
    if (i >= 0) this.readFds.splice(i, 1);
  }

  private async closeSegmentHandles(seg: Segment): Promise<void> {
    dropWindows(seg);
    this.dropReadFd(seg);
    if (seg.fh !== null) {
      await seg.fh.close();
      seg.fh = null;
    }
  }

  // ---- space reclamation ----

  /** Decides, synchronously and in order with other changes, whether any sealed segment can go. */
  private planGc(): void {
    this.gcWanted = false;
    if (!this.segments.some((s) => this.gcAction(s) !== null)) return;
    // The checkpoint carries first/last sequence and last time past the records about to vanish.
    this.append(encodeSeqState(this.firstSeq, this.lastSeq, this.lastTime));
    this.batch().ops.push({ kind: 'gc', floor: this.firstSeq });
  }

  private gcAction(seg: Segment): 'delete' | 'rewrite' | null {
    if (seg === this.active || seg.deleted || seg.pending.size > 0) return null;
    if (seg.liveMsgs === 0 && seg === this.segments[0]) return 'delete';
    const dead = seg.msgBytes - seg.liveBytes;
    if (dead > 0 && dead >= seg.size * REWRITE_DEAD_FRACTION) return 'rewrite';
    return null;
  }

  private async collectGarbage(floor: number): Promise<void> {
    for (let i = 0; i < this.segments.length; i++) {
      const seg = this.segments[i]!;
      const action = this.gcAction(seg);
      if (action === 'delete') {
        await this.deleteSegment(seg);
        i = -1; // the next segment may now be the oldest
      } else if (action === 'rewrite') {
        await this.rewriteSegment(seg, floor);
      }
    }
  }

  private async deleteSegment(seg: Segment): Promise<void> {
    seg.deleted = true;
    this.segments = this.segments.filter((s) => s !== seg);
    this.unsynced.delete(seg);
    await this.closeSegmentHandles(seg);
    await fsp.unlink(seg.path);
    await syncDir(this.msgsDir);
  }

  /** Rewrites a sealed segment without its dead messages; every other record is kept in order. */
  private async rewriteSegment(seg: Segment, floor: number): Promise<void> {
    const buf = await fsp.readFile(seg.path);
    seg.generation++;
    const earlier = this.segments.filter((s) => s.id < seg.id);
    const kept: Buffer[] = [];
    const moved: Array<[FileEntry, number]> = [];
    let size = 0;
    let msgBytes = 0;
    let minMsgSeq = Number.MAX_SAFE_INTEGER;
    let maxMsgSeq = 0;
    for (const { offset, header } of scanSegment(buf, false).records) {
      const rec = buf.subarray(offset, offset + header.length);
      if (header.type === RecordType.Msg) {
        const entry = this.window.get(header.seq);
        if (entry === undefined || entry.seg !== seg || entry.offset !== offset) continue;
        moved.push([entry, size]);
        msgBytes += header.length;
        minMsgSeq = Math.min(minMsgSeq, header.seq);
        maxMsgSeq = Math.max(maxMsgSeq, header.seq);
      } else if (header.type === RecordType.Delete) {
        // A tombstone matters only while an older segment may still hold that sequence's record, and
        // not below the checkpoint's floor (firstSeq may have moved on since: use the persisted one).
        const s = header.seq;
        if (s < floor || !earlier.some((e) => s >= e.minMsgSeq && s <= e.maxMsgSeq)) continue;
      }
      kept.push(rec);
      size += rec.length;
    }
    const tmp = `${seg.path}.tmp`;
    const fh = await fsp.open(tmp, 'w');
    try {
      const data = Buffer.concat(kept);
      if (data.length > 0) await fh.write(data, 0, data.length, 0);
      await this.syncData(fh);
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, seg.path);
    await syncDir(this.msgsDir);
    // Swap to the new layout in one synchronous step, so reads see old or new, never a mix.
    this.dropReadFd(seg);
    for (const [entry, offset] of moved) entry.offset = offset;
    seg.size = size;
    seg.written = size;
    seg.msgBytes = msgBytes;
    seg.minMsgSeq = minMsgSeq;
    seg.maxMsgSeq = maxMsgSeq;
  }

  // ---- recovery ----

  private async recover(): Promise<void> {
    await fsp.mkdir(this.msgsDir, { recursive: true });
    const ids = (await fsp.readdir(this.msgsDir))
      .filter((n) => n.endsWith(SEGMENT_SUFFIX))
      .map((n) => Number.parseInt(n, 10))
      .filter((n) => Number.isSafeInteger(n) && n > 0)
      .sort((a, b) => a - b);
    const live = new Map<number, FileEntry>();
    let lastSeq = 0;
    let lastTime = 0n;
    let floor = 0;
    let minLive = Number.MAX_SAFE_INTEGER;
    let maxLive = 0;
    for (let i = 0; i < ids.length; i++) {
      const seg = new Segment(this.msgsDir, ids[i]!);
      const buf = await fsp.readFile(seg.path);
      const scan = scanSegment(buf, i === ids.length - 1);
      this.recovery.tornTailBytes += scan.tornTailBytes;
      for (const d of scan.damage) this.report({ file: seg.name, ...d }, true);
      if (scan.validLength < buf.length) {
        const fh = await fsp.open(seg.path, 'r+');
        await fh.truncate(scan.validLength);
        await this.syncData(fh);
        await fh.close();
      }
      seg.size = seg.written = scan.validLength;
      for (const { offset, header: h } of scan.records) {
        if (h.type === RecordType.Msg) {
          seg.noteMsg(h.seq, h.length);
          if (h.seq > lastSeq) {
            lastSeq = h.seq;
            lastTime = h.ts;
          }
          if ((h.flags & RecordFlag.Erased) !== 0) {
            live.delete(h.seq);
            continue;
          }
          const subjectStart = offset + RECORD_HEADER_BYTES;
          const subject = buf.toString('latin1', subjectStart, subjectStart + h.subjectLength);
          const size = h.length; // == storedMsgSize(subject, hdr, data)
          live.set(h.seq, { subject, ts: h.ts, size, seg, offset, length: h.length });
          if (h.seq < minLive) minLive = h.seq;
          if (h.seq > maxLive) maxLive = h.seq;
        } else if (h.type === RecordType.Delete) {
          live.delete(h.seq);
        } else {
          floor = h.seq;
          lastSeq = seqStateLastSeq(buf, offset);
          lastTime = h.ts;
          if (floor > minLive || lastSeq < maxLive) {
            minLive = Number.MAX_SAFE_INTEGER;
            maxLive = 0;
            for (const s of [...live.keys()]) {
              if (s < floor || s > lastSeq) live.delete(s);
              else {
                if (s < minLive) minLive = s;
                if (s > maxLive) maxLive = s;
              }
            }
          }
        }
      }
      this.segments.push(seg);
    }
    const entries = [...live.entries()].sort((a, b) => a[0] - b[0]);
    for (const [, e] of entries) {
      e.seg.liveMsgs++;
      e.seg.liveBytes += e.length;
    }
    this.rebuild(entries, lastSeq, lastTime, floor);
    if (this.segments.length === 0) this.segments.push(new Segment(this.msgsDir, 1));
    this.active = this.segments[this.segments.length - 1]!;
    this.active.fh = await fsp.open(this.active.path, this.active.size > 0 ? 'r+' : 'w+');
    if (this.segments.some((s) => this.gcAction(s) !== null)) this.gcWanted = true;
  }

  private report(r: CorruptionReport, atStartup = false): void {
    this.corrupt.push(r);
    if (atStartup) this.recovery.corrupt.push(r);
    this.onCorruption?.(r);
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

// One stream: takes messages published on its subjects, checks them (expected-* headers, dedup,
// size, rollup permission), stores them, and acknowledges each publish only once its store write
// is durable. Keeps retention (limits / interest / workqueue), max age expiry, purges and deletes,
// mirrors and sources within this server and from other JetStream domains (external_feed.ts),
// republish, and the info nats-server reports.
//
// Every decision about a message is made synchronously when it arrives, against state that already
// includes the messages accepted before it (the store updates its index at once and only the fsync
// is asynchronous), so concurrent publishes are checked in arrival order while their fsyncs share
// one group commit.

import * as path from 'node:path';
import { parseHeaders } from '../protocol/headers.ts';
import { subjectMatches } from '../routing/subjects.ts';
import type { BusSubscription } from './bus.ts';
import type { ApiError, ConsumerForStream, JsContext, Retention, StreamChange, StreamForConsumers } from './seams.ts';
import { StoreError, StoreErrorCode, UNLIMITED } from './store/index.ts';
import { writeFramedFile } from '../storage/atomic_file.ts';
import type { CorruptionReport, StoreLimits, StoredMessage, StreamStore } from './store/index.ts';
import { JS_ERR, streamRollupFailed, streamStoreFailed, streamWrongLastMsgId, streamWrongLastSequence } from './errors.ts';
import { appendHeaders, removeHeadersWithPrefix } from './header_block.ts';
import { rfc3339Nano, parseRfc3339 } from './json_time.ts';
import { streamConfigJson, type StreamConfig, type StreamSourceConfig } from './stream_config.ts';
import { SubjectTransform } from './subject_transform.ts';
import { ExternalFeed } from './external_feed.ts';

export const HDR = {
  MSG_ID: 'Nats-Msg-Id',
  EXPECTED_STREAM: 'Nats-Expected-Stream',
  EXPECTED_LAST_SEQ: 'Nats-Expected-Last-Sequence',
  EXPECTED_LAST_SUBJ_SEQ: 'Nats-Expected-Last-Subject-Sequence',
  EXPECTED_LAST_SUBJ_SEQ_SUBJ: 'Nats-Expected-Last-Subject-Sequence-Subject',
  EXPECTED_LAST_MSG_ID: 'Nats-Expected-Last-Msg-Id',
  ROLLUP: 'Nats-Rollup',
  STREAM_SOURCE: 'Nats-Stream-Source',
  STREAM: 'Nats-Stream',
  SEQUENCE: 'Nats-Sequence',
  TIME_STAMP: 'Nats-Time-Stamp',
  SUBJECT: 'Nats-Subject',
  LAST_SEQUENCE: 'Nats-Last-Sequence',
  MSG_SIZE: 'Nats-Msg-Size',
} as const;

/** nats-server stores header blocks with a 16-bit length. */
const MAX_HEADER_BYTES = 0xffff;
/** Meta file holding the stream's config and creation time, next to its message segments. */
export const STREAM_META_FILE = 'meta.json';
export const STREAM_META_MAGIC = 'SCFG';
/** Consumer state lives under the stream directory, as nats-server's `obs/`. */
export const CONSUMER_DIR = 'obs';
/** Fire the expiry timer this much after the oldest message's deadline, so one timer run removes it. */
const EXPIRY_SLACK_MS = 1;
/** How far back recovery looks for the last copied sequence of each source. */
const SOURCE_RECOVERY_SCAN_LIMIT = 100_000;

export interface StreamEnv {
  readonly ctx: JsContext;
  readonly serverName: string;
  /** Other streams on this server (mirror and source origins). */
  lookupStream(name: string): Stream | undefined;
  /** Number of consumers the consumer engine has on this stream. */
  consumerCount(stream: string): number;
  /** Server-wide resource check before storing (nats-server's limitsExceeded). */
  resourcesExceeded(storage: 'file' | 'memory'): boolean;
}

export interface StreamOptions {
  env: StreamEnv;
  cfg: StreamConfig;
  store: StreamStore;
  /** Creation time, ns since the epoch. */
  created: bigint;
  /** The stream's directory (file storage), or null for memory streams. */
  dir: string | null;
  /** Damage the store found while recovering. */
  corruption?: readonly CorruptionReport[];
}

/** Outcome of offering a message to the stream. */
type Accepted =
  | { kind: 'error'; error: ApiError }
  /** Stored (or skipped for lack of interest); `ready` settles when durable, rejecting with an ApiError or nothing to send. */
  | { kind: 'stored'; seq: number; ready: Promise<void> }
  | { kind: 'duplicate'; seq: number; ready: Promise<void> };

interface DedupEntry {
  seq: number;
  tsMs: number;
  ready: Promise<void>;
}

export interface MsgGetRequest {
  seq?: number;
  last_by_subj?: string;
  next_by_subj?: string;
}

export interface PurgeRequest {
  filter?: string;
  seq?: number;
  keep?: number;
}

/** Limits the store enforces; max_msg_size is checked here so the error matches nats-server. */
export function storeLimitsFor(cfg: StreamConfig): StoreLimits {
  return {
    ...UNLIMITED,
    maxMsgs: cfg.max_msgs,
    maxBytes: cfg.max_bytes,
    maxAgeNs: BigInt(cfg.max_age),
    maxMsgsPerSubject: cfg.max_msgs_per_subject,
    discard: cfg.discard,
    discardNewPerSubject: cfg.discard_new_per_subject,
  };
}

/** The nats-server publish-ack error for a store refusal (ErrMaxMsgs etc. keep their texts). */
function storeRefusal(err: unknown): ApiError | null {
  if (!(err instanceof StoreError)) return null;
  switch (err.code) {
    case StoreErrorCode.MaxMsgs:
      return streamStoreFailed('maximum messages exceeded');
    case StoreErrorCode.MaxBytes:
      return streamStoreFailed('maximum bytes exceeded');
    case StoreErrorCode.MaxMsgsPerSubject:
      return streamStoreFailed('maximum messages per subject exceeded');
    case StoreErrorCode.MsgTooLarge:
      return streamStoreFailed('message too large');
    case StoreErrorCode.BadSubject:
      return streamStoreFailed('invalid subject');
    case StoreErrorCode.Closed:
      return streamStoreFailed('store is closed');
    default:
      return null;
  }
}

/** `{"stream":…[,"domain":…],"seq":` — the part of a publish ack that is the same for every message. */
function ackPrefix(stream: string, domain: string | undefined): Buffer {
  let s = `{"stream":${JSON.stringify(stream)}`;
  if (domain) s += `,"domain":${JSON.stringify(domain)}`;
  return Buffer.from(`${s},"seq":`, 'utf8');
}

const DUPLICATE_TAIL = Buffer.from(',"duplicate":true}');

/** The publish ack; built from bytes because every stored message sends one. */
function ackBody(prefix: Buffer, seq: number, duplicate: boolean): Buffer {
  let digits = 1;
  for (let v = seq; v >= 10; v = Math.floor(v / 10)) digits++;
  const tail = duplicate ? DUPLICATE_TAIL.length : 1;
  const buf = Buffer.allocUnsafe(prefix.length + digits + tail);
  prefix.copy(buf, 0);
  let v = seq;
  for (let i = prefix.length + digits - 1; i >= prefix.length; i--) {
    buf[i] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
  if (duplicate) DUPLICATE_TAIL.copy(buf, prefix.length + digits);
  else buf[prefix.length + digits] = 125; // }
  return buf;
}

function ackErrorBody(stream: string, error: ApiError): Buffer {
  return Buffer.from(JSON.stringify({ error, stream, seq: 0 }));
}

/** Follows an origin stream for a mirror or one source, copying its messages in order. */
class OriginFollower {
  readonly spec: StreamSourceConfig;
  readonly kind: 'mirror' | 'source';
  /** Next origin sequence to look at. */
  nextSeq: number;
  lastActiveMs = 0;
  private readonly owner: Stream;
  private readonly filter: string;
  private readonly transforms: SubjectTransform[];
  private origin: Stream | null = null;
  private stopListening: (() => void) | null = null;
  private running = false;
  private again = false;
  private stopped = false;
  private feed: ExternalFeed | null = null;

  constructor(owner: Stream, spec: StreamSourceConfig, kind: 'mirror' | 'source', nextSeq: number) {
    this.owner = owner;
    this.spec = spec;
    this.kind = kind;
    this.nextSeq = Math.max(1, nextSeq);
    this.filter = spec.filter_subject || '>';
    this.transforms = (spec.subject_transforms ?? []).flatMap((t) => SubjectTransform.create(t.src, t.dest) ?? []);
  }

  get originName(): string {
    return this.spec.name;
  }

  lag(): number {
    if (this.feed !== null) return this.feed.lag();
    if (this.origin === null) return 0;
    return Math.max(0, this.origin.lastSequence() - (this.nextSeq - 1));
  }

  attach(origin: Stream): void {
    if (this.stopped || this.origin === origin) return;
    this.detach();
    this.origin = origin;
    if (this.nextSeq === 1 && this.spec.opt_start_time) this.nextSeq = this.seqForStartTime(origin, this.spec.opt_start_time);
    this.stopListening = origin.onChange((ev) => {
      if (ev.kind === 'append') this.kick();
      else if (ev.kind === 'delete') this.detach();
    });
    this.kick();
  }

  detach(): void {
    this.stopListening?.();
    this.stopListening = null;
    this.origin = null;
  }

  stop(): void {
    this.stopped = true;
    this.feed?.stop();
    this.detach();
  }

  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.run().finally(() => {
      this.running = false;
    });
  }

  private async run(): Promise<void> {
    do {
      this.again = false;
      const origin = this.origin;
      while (origin !== null && this.origin === origin && !this.stopped) {
        const last = origin.lastSequence();
        if (this.nextSeq > last) break;
        const msg = origin.store.loadNext(this.filter, this.nextSeq);
        if (msg === null || msg.seq > last) {
          // Nothing more that matches: a mirror still consumes the sequences to stay aligned.
          if (this.kind === 'mirror') this.owner.mirrorSkipTo(last);
          this.nextSeq = last + 1;
          break;
        }
        try {
          await this.copy(msg);
        } catch (err) {
          this.owner.logSourceError(this, err);
          return;
        }
        this.nextSeq = msg.seq + 1;
        this.lastActiveMs = this.owner.now();
      }
    } while (this.again && !this.stopped);
  }

  /** Copies one origin message: a mirror keeps its sequence, a source goes through the stream's checks. */
  copy(msg: StoredMessage): Promise<void> {
    if (this.kind === 'mirror') return this.owner.mirrorStore(msg);
    return this.owner.sourceStore(this.sourceSubject(msg.subject), this.sourceHeader(msg), msg.data);
  }

  get streamName(): string {
    return this.owner.name;
  }

  /** An origin in another JetStream domain (`external`) feeds this follower instead of a local stream. */
  feedFrom(ctx: JsContext): void {
    this.feed = new ExternalFeed(this, ctx);
    this.feed.start();
  }

  private sourceSubject(subject: string): string {
    for (const t of this.transforms) {
      const out = t.apply(subject);
      if (out !== null) return out;
    }
    return subject;
  }

  private sourceHeader(msg: StoredMessage): Buffer {
    const hdr = removeHeadersWithPrefix(msg.hdr, ['Nats-Expected-', `${HDR.STREAM_SOURCE}:`]);
    return appendHeaders(hdr, [[HDR.STREAM_SOURCE, `${this.spec.name} ${msg.seq} ${this.filter} > ${msg.subject}`]]);
  }

  private seqForStartTime(origin: Stream, time: string): number {
    const ns = parseRfc3339(time);
    if (ns === null) return 1;
    return origin.store.seqForTime(ns);
  }
}

export class Stream implements StreamForConsumers {
  readonly store: StreamStore;
  readonly consumerDir: string | null;
  readonly dir: string | null;
  readonly created: bigint;

  private cfg: StreamConfig;
  private readonly env: StreamEnv;
  private readonly ctx: JsContext;
  private readonly listeners = new Set<(ev: StreamChange) => void>();
  private readonly consumers = new Map<string, ConsumerForStream>();
  private readonly dedup = new Map<string, DedupEntry>();
  /** The dedup window is read back from the store on first need, as nats-server does (ddloaded). */
  private dedupLoaded = false;
  private ackPrefixBytes: Buffer | null = null;
  private readonly corruption: CorruptionReport[];
  private subs: BusSubscription[] = [];
  private expiryTimer: unknown = null;
  private lastSeq: number;
  private lastMsgId = '';
  private republish: SubjectTransform | null = null;
  private inputTransform: SubjectTransform | null = null;
  private followers: OriginFollower[] = [];
  private closed = false;

  constructor(opts: StreamOptions) {
    this.env = opts.env;
    this.ctx = opts.env.ctx;
    this.cfg = structuredClone(opts.cfg);
    this.store = opts.store;
    this.created = opts.created;
    this.dir = opts.dir;
    this.consumerDir = opts.dir === null ? null : path.join(opts.dir, CONSUMER_DIR);
    this.corruption = [...(opts.corruption ?? [])];
    this.lastSeq = this.store.state().lastSeq;
    this.applyTransforms();
  }

  // ---- StreamForConsumers ----

  get name(): string {
    return this.cfg.name;
  }

  get retention(): Retention {
    return this.cfg.retention;
  }

  get subjects(): readonly string[] {
    return this.cfg.subjects;
  }

  config(): StreamConfig {
    return this.cfg;
  }

  configJson(): Record<string, unknown> {
    return streamConfigJson(this.cfg);
  }

  onChange(listener: (ev: StreamChange) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  registerConsumer(c: ConsumerForStream): void {
    this.consumers.set(c.name, c);
  }

  unregisterConsumer(name: string): void {
    if (!this.consumers.delete(name)) return;
    // Messages only this consumer was holding on to are no longer needed (nats-server checkInterestState).
    if (this.cfg.retention === 'interest' && !this.closed) this.sweepInterest();
  }

  consumerDone(consumerName: string, seq: number): void {
    if (this.closed || this.cfg.retention === 'limits') return;
    if (this.cfg.retention === 'workqueue') {
      this.removeForRetention(seq);
      return;
    }
    if (!this.consumers.has(consumerName) && this.consumers.size > 0) return;
    let subject: string | null = null;
    for (const c of this.consumers.values()) {
      if (c.filters.length > 0) {
        if (subject === null) {
          const m = this.store.load(seq);
          if (m === null) return;
          subject = m.subject;
        }
        if (!c.filters.some((f) => subjectMatches(subject!, f))) continue;
      }
      if (!c.isDone(seq)) return;
    }
    this.removeForRetention(seq);
  }

  // ---- lifecycle ----

  /** Subscribes to the stream's subjects, starts expiry, mirrors and sources. */
  start(): void {
    // Reading the window back can mean loading every recent message: only a Msg-Id asks for it.
    this.dedupLoaded = this.store.state().msgs === 0;
    this.subscribe();
    this.expireNow();
    this.startFollowers();
  }

  /** Stops taking messages and timers; closes the store (its data stays). */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    for (const f of this.followers) f.stop();
    this.followers = [];
    if (this.expiryTimer !== null) this.ctx.scheduler.clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    await this.store.close();
  }

  /** Stops and removes the stream's data; tells listeners it is gone. */
  async destroy(): Promise<void> {
    this.unsubscribe();
    this.emit({ kind: 'delete' });
    this.closed = true;
    for (const f of this.followers) f.stop();
    this.followers = [];
    if (this.expiryTimer !== null) this.ctx.scheduler.clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    await this.store.delete();
  }

  /** Applies an already validated config update. */
  update(next: StreamConfig): void {
    const prev = this.cfg;
    this.cfg = structuredClone(next);
    this.store.updateLimits(storeLimitsFor(this.cfg));
    this.applyTransforms();
    if (JSON.stringify(prev.subjects) !== JSON.stringify(next.subjects)) {
      this.unsubscribe();
      this.subscribe();
    }
    if (JSON.stringify(prev.sources ?? []) !== JSON.stringify(next.sources ?? []) || (prev.mirror && !next.mirror)) {
      for (const f of this.followers) f.stop();
      this.followers = [];
      this.startFollowers();
    }
    this.lastSeq = this.store.state().lastSeq;
    this.scheduleExpiry();
    this.emit({ kind: 'purge', firstSeq: this.store.state().firstSeq });
  }

  /** Writes config and creation time next to the data (file streams), atomically. */
  async saveMeta(): Promise<void> {
    if (this.dir === null) return;
    const meta = { config: streamConfigJson(this.cfg), created: this.created.toString() };
    await writeFramedFile(path.join(this.dir, STREAM_META_FILE), Buffer.from(JSON.stringify(meta)), STREAM_META_MAGIC);
  }

  /** Origins appear and disappear as streams are created and deleted. */
  originAvailable(origin: Stream): void {
    for (const f of this.followers) if (f.originName === origin.name && f.spec.external === undefined) f.attach(origin);
  }

  isSourcing(name: string): boolean {
    return this.followers.some((f) => f.originName === name);
  }

  lastSequence(): number {
    return this.lastSeq;
  }

  now(): number {
    return this.ctx.scheduler.now();
  }

  // ---- publish path ----

  private readonly onInbound = (subject: string, reply: string | null, hdr: Uint8Array | null, data: Uint8Array): void => {
    if (this.closed) return;
    const res = this.accept(subject, hdr, data, false);
    const respond = reply !== null && reply.length > 0 && !this.cfg.no_ack;
    if (res.kind === 'error') {
      if (respond) this.ctx.bus.publish(reply, null, null, ackErrorBody(this.cfg.name, res.error));
      return;
    }
    const duplicate = res.kind === 'duplicate';
    res.ready.then(
      () => {
        if (respond) {
          this.ackPrefixBytes ??= ackPrefix(this.cfg.name, this.ctx.domain);
          this.ctx.bus.publish(reply, null, null, ackBody(this.ackPrefixBytes, res.seq, duplicate));
        }
      },
      (err: unknown) => {
        if (respond && err !== undefined && err !== null && typeof err === 'object' && 'err_code' in err) {
          this.ctx.bus.publish(reply, null, null, ackErrorBody(this.cfg.name, err as ApiError));
        }
      },
    );
  };

  /**
   * Checks and stores one message (nats-server processJetStreamMsg, single server). `sourced`
   * messages come from this stream's sources and skip the publisher-facing checks.
   */
  private accept(subject: string, hdr: Uint8Array | null, data: Uint8Array, sourced: boolean): Accepted {
    const cfg = this.cfg;
    if (cfg.sealed) return { kind: 'error', error: JS_ERR.STREAM_SEALED };
    if (this.inputTransform !== null) subject = this.inputTransform.apply(subject) ?? subject;
    let msgId = '';
    let rollup = '';
    if (hdr !== null && hdr.length > 0) {
      const headers = parseHeaders(hdr)?.headers;
      const get = (k: string): string | undefined => headers?.get(k)?.[0];
      if (!sourced) {
        const expStream = get(HDR.EXPECTED_STREAM);
        if (expStream !== undefined && expStream !== '' && expStream !== cfg.name) return { kind: 'error', error: JS_ERR.STREAM_NOT_MATCH };
        const expSubjSeq = get(HDR.EXPECTED_LAST_SUBJ_SEQ);
        const expSubjSeqSubj = get(HDR.EXPECTED_LAST_SUBJ_SEQ_SUBJ);
        if (expSubjSeq !== undefined && expSubjSeq !== '') {
          const want = parseSeq(expSubjSeq);
          const last = this.store.loadLast(expSubjSeqSubj || subject)?.seq ?? 0;
          if (want === null || want !== last) return { kind: 'error', error: streamWrongLastSequence(last) };
        } else if (expSubjSeqSubj !== undefined && expSubjSeqSubj !== '') {
          return { kind: 'error', error: JS_ERR.STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_INVALID };
        }
        const expLast = get(HDR.EXPECTED_LAST_SEQ);
        if (expLast !== undefined && expLast !== '' && parseSeq(expLast) !== this.lastSeq) {
          return { kind: 'error', error: streamWrongLastSequence(this.lastSeq) };
        }
      }
      msgId = get(HDR.MSG_ID) ?? '';
      if (msgId !== '' && cfg.mirror === undefined) {
        const dup = this.findDuplicate(msgId);
        if (dup !== undefined) return { kind: 'duplicate', seq: dup.seq, ready: dup.ready };
      }
      const expLastId = get(HDR.EXPECTED_LAST_MSG_ID);
      if (!sourced && expLastId !== undefined && expLastId !== '') this.loadDedup();
      if (!sourced && expLastId !== undefined && expLastId !== '' && expLastId !== this.lastMsgId) {
        return { kind: 'error', error: streamWrongLastMsgId(this.lastMsgId) };
      }
      rollup = get(HDR.ROLLUP) ?? '';
      if (rollup !== '') {
        if (!sourced && !(cfg.allow_rollup_hdrs && !cfg.deny_purge)) return { kind: 'error', error: streamRollupFailed('rollup not permitted') };
        if (rollup !== 'sub' && rollup !== 'all') {
          if (!sourced) return { kind: 'error', error: streamRollupFailed(`rollup value invalid: ${JSON.stringify(rollup)}`) };
          rollup = '';
        }
      }
    }
    const hdrLength = hdr?.length ?? 0;
    if (cfg.max_msg_size >= 0 && hdrLength + data.length > cfg.max_msg_size) return { kind: 'error', error: JS_ERR.MESSAGE_EXCEEDS_MAXIMUM };
    if (hdrLength > MAX_HEADER_BYTES) return { kind: 'error', error: JS_ERR.STREAM_HEADER_EXCEEDS_MAXIMUM };
    if (this.env.resourcesExceeded(cfg.storage)) return { kind: 'error', error: JS_ERR.INSUFFICIENT_RESOURCES };

    const ts = this.ctx.scheduler.nowNs();
    const expected = this.lastSeq + 1;
    if (cfg.retention === 'interest' && !this.hasInterest(subject)) {
      // Nobody would ever consume it: the sequence is used, the message is not kept (SkipMsgNoInterest).
      this.store.skipMsg(expected);
      const skipped = this.store.flush();
      this.noteStored(expected, msgId, ts, skipped);
      return { kind: 'stored', seq: expected, ready: skipped };
    }
    // Republish carries the previous sequence on the subject (gap detection for light clients).
    const prevOnSubject = this.republish !== null ? (this.store.loadLast(subject)?.seq ?? 0) : 0;
    const pending = this.store.storeAt(expected, subject, hdr, data, ts);
    // The bus views are only valid during this call; republish happens after the fsync.
    const republishHdr = this.republish !== null && hdr !== null ? Buffer.from(hdr) : null;
    const republishData = this.republish !== null ? Buffer.from(data) : null;
    if (!this.lastSeqIs(expected)) {
      // Refused synchronously (discard new limits): the promise carries the reason.
      const ready = pending.then(
        () => undefined,
        (err: unknown) => {
          throw storeRefusal(err) ?? streamStoreFailed(String((err as Error)?.message ?? err));
        },
      );
      return { kind: 'stored', seq: 0, ready };
    }
    const ready = pending.then(
      () => {
        this.emit({ kind: 'append', seq: expected, subject });
        if (republishData !== null) this.doRepublish(expected, subject, republishHdr, republishData, ts, prevOnSubject);
      },
      (err: unknown) => {
        this.ctx.logger.error({ stream: cfg.name, seq: expected, err: String(err) }, 'JetStream failed to store a msg');
        throw null; // nats-server does not answer a publish whose write failed
      },
    );
    this.noteStored(expected, msgId, ts, ready);
    if (rollup === 'sub') this.purgeInternal({ filter: subject, keep: 1 });
    else if (rollup === 'all') this.purgeInternal({ keep: 1 });
    this.scheduleExpiry();
    return { kind: 'stored', seq: expected, ready };
  }

  /** Whether the store's last sequence is `seq` (probing with a zero-length skip, which changes nothing). */
  private lastSeqIs(seq: number): boolean {
    try {
      this.store.skipMsgs(seq + 1, 0);
      return true;
    } catch {
      return false;
    }
  }

  private noteStored(seq: number, msgId: string, ts: bigint, ready: Promise<void>): void {
    this.lastSeq = seq;
    this.lastMsgId = msgId;
    if (msgId !== '' && this.cfg.duplicate_window > 0 && this.dedupLoaded) {
      this.dedup.delete(msgId);
      this.dedup.set(msgId, { seq, tsMs: Number(ts / 1_000_000n), ready: ready.catch(() => undefined) });
    }
  }

  private findDuplicate(msgId: string): DedupEntry | undefined {
    this.loadDedup();
    // Entries are in arrival order, so expired ones are at the front.
    const horizon = this.ctx.scheduler.now() - this.cfg.duplicate_window / 1_000_000;
    for (const [id, e] of this.dedup) {
      if (e.tsMs >= horizon) break;
      this.dedup.delete(id);
    }
    return this.dedup.get(msgId);
  }

  /** Recovers the dedup window from the newest stored messages (nats-server rebuildDedupe). */
  private loadDedup(): void {
    if (this.dedupLoaded) return;
    this.dedupLoaded = true;
    this.dedup.clear();
    this.lastMsgId = '';
    const st = this.store.state();
    if (st.msgs === 0) return;
    const last = this.store.load(st.lastSeq);
    if (last?.hdr) this.lastMsgId = headerOf(last.hdr, HDR.MSG_ID) ?? '';
    if (this.cfg.duplicate_window <= 0) return;
    const horizonNs = this.ctx.scheduler.nowNs() - BigInt(this.cfg.duplicate_window);
    // Oldest first: the map's order is arrival order, which expiry relies on.
    for (let m = this.store.loadNext('>', this.store.seqForTime(horizonNs)); m !== null; m = this.store.loadNext('>', m.seq + 1)) {
      const id = m.hdr ? headerOf(m.hdr, HDR.MSG_ID) : null;
      if (id && !this.dedup.has(id)) this.dedup.set(id, { seq: m.seq, tsMs: Number(m.time / 1_000_000n), ready: Promise.resolve() });
    }
  }

  private hasInterest(subject: string): boolean {
    for (const c of this.consumers.values()) {
      if (c.filters.length === 0 || c.filters.some((f) => subjectMatches(subject, f))) return true;
    }
    return false;
  }

  private doRepublish(seq: number, subject: string, hdr: Uint8Array | null, data: Uint8Array, ts: bigint, prevOnSubject: number): void {
    const rp = this.cfg.republish;
    if (this.republish === null || rp === undefined) return;
    const dest = this.republish.apply(subject);
    if (dest === null) return;
    const entries: Array<[string, string]> = [
      [HDR.STREAM, this.cfg.name],
      [HDR.SUBJECT, subject],
      [HDR.SEQUENCE, String(seq)],
      [HDR.TIME_STAMP, rfc3339Nano(ts)],
      [HDR.LAST_SEQUENCE, String(prevOnSubject)],
    ];
    if (rp.headers_only) entries.push([HDR.MSG_SIZE, String(data.length)]);
    this.ctx.bus.publish(dest, null, appendHeaders(hdr, entries), rp.headers_only ? new Uint8Array(0) : data);
  }

  // ---- mirror and sources ----

  /** Stores an origin message at the origin's sequence (mirrors keep sequences). */
  async mirrorStore(msg: StoredMessage): Promise<void> {
    if (this.closed) throw new StoreError(StoreErrorCode.Closed);
    if (msg.seq <= this.lastSeq) return;
    if (msg.seq > this.lastSeq + 1) this.store.skipMsgs(this.lastSeq + 1, msg.seq - this.lastSeq - 1);
    const p = this.store.storeAt(msg.seq, msg.subject, msg.hdr, msg.data, msg.time, { discardNewCheck: false });
    this.lastSeq = msg.seq;
    const msgId = msg.hdr ? (headerOf(msg.hdr, HDR.MSG_ID) ?? '') : '';
    this.lastMsgId = msgId;
    await p;
    this.emit({ kind: 'append', seq: msg.seq, subject: msg.subject });
    this.scheduleExpiry();
  }

  /** A mirror consumes origin sequences that hold nothing for it. */
  mirrorSkipTo(lastSeq: number): void {
    if (this.closed || lastSeq <= this.lastSeq) return;
    this.store.skipMsgs(this.lastSeq + 1, lastSeq - this.lastSeq);
    this.lastSeq = lastSeq;
  }

  /** Appends a sourced message through the normal checks (dedup, limits). */
  async sourceStore(subject: string, hdr: Uint8Array, data: Uint8Array): Promise<void> {
    if (this.closed) throw new StoreError(StoreErrorCode.Closed);
    const res = this.accept(subject, hdr, data, true);
    if (res.kind === 'error') {
      this.ctx.logger.warn({ stream: this.cfg.name, error: res.error.description }, 'JetStream sourced message refused');
      return;
    }
    await res.ready.catch(() => undefined);
  }

  logSourceError(f: OriginFollower, err: unknown): void {
    if (this.closed) return;
    this.ctx.logger.error({ stream: this.cfg.name, origin: f.originName, err: String(err) }, `JetStream ${f.kind} copy failed`);
  }

  private startFollowers(): void {
    const cfg = this.cfg;
    if (cfg.mirror !== undefined) {
      const start = Math.max(this.lastSeq + 1, cfg.mirror.opt_start_seq ?? 1);
      this.followers.push(new OriginFollower(this, cfg.mirror, 'mirror', this.lastSeq > 0 ? this.lastSeq + 1 : start));
    }
    const sources = cfg.sources ?? [];
    if (sources.length > 0) {
      const resume = this.lastSourcedSequences();
      for (const s of sources) {
        const done = resume.get(s.name);
        this.followers.push(new OriginFollower(this, s, 'source', done !== undefined ? done + 1 : (s.opt_start_seq ?? 1)));
      }
    }
    for (const f of this.followers) {
      if (f.spec.external !== undefined) {
        f.feedFrom(this.ctx);
        continue;
      }
      const origin = this.env.lookupStream(f.originName);
      if (origin !== undefined) f.attach(origin);
    }
  }

  /** The last origin sequence copied from each source, read back from the Nats-Stream-Source headers. */
  private lastSourcedSequences(): Map<string, number> {
    const out = new Map<string, number>();
    const wanted = new Set((this.cfg.sources ?? []).map((s) => s.name));
    const st = this.store.state();
    let scanned = 0;
    for (let seq = st.lastSeq; seq >= st.firstSeq && seq > 0 && out.size < wanted.size; seq--) {
      if (++scanned > SOURCE_RECOVERY_SCAN_LIMIT) break;
      const m = this.store.load(seq);
      const h = m?.hdr ? headerOf(m.hdr, HDR.STREAM_SOURCE) : null;
      if (!h) continue;
      const [name, seqText] = h.split(' ');
      const n = Number(seqText);
      if (name !== undefined && wanted.has(name) && !out.has(name) && Number.isInteger(n)) out.set(name, n);
    }
    return out;
  }

  // ---- API operations ----

  /** STREAM.PURGE (nats-server PurgeEx semantics); returns the number purged. */
  purge(req: PurgeRequest): number {
    return this.purgeInternal(req);
  }

  private purgeInternal(req: PurgeRequest): number {
    const purged = this.store.purge({
      ...(req.filter ? { subject: req.filter } : {}),
      ...(req.seq ? { seq: req.seq } : {}),
      ...(req.keep ? { keep: req.keep } : {}),
    });
    const st = this.store.state();
    if (st.lastSeq > this.lastSeq) this.lastSeq = st.lastSeq;
    this.emit({ kind: 'purge', firstSeq: st.firstSeq });
    return purged;
  }

  /** STREAM.MSG.DELETE: false when there is no such message. */
  deleteMsg(seq: number, noErase: boolean): boolean {
    const removed = this.store.remove(seq, !noErase);
    if (removed) this.emit({ kind: 'remove', seq });
    return removed;
  }

  /** STREAM.MSG.GET / direct get lookup. */
  getMsg(req: MsgGetRequest): StoredMessage | null {
    const seq = req.seq ?? 0;
    if (req.next_by_subj) return this.store.loadNext(req.next_by_subj, seq);
    if (seq > 0) return this.store.load(seq);
    if (req.last_by_subj) return this.store.loadLast(req.last_by_subj);
    return null;
  }

  /** Damage reports from recovery and from reads since. */
  corruptionReports(): CorruptionReport[] {
    const seen = new Set(this.corruption.map((c) => `${c.file}:${c.offset}`));
    for (const c of this.store.state().corrupt ?? []) {
      const key = `${c.file}:${c.offset}`;
      if (!seen.has(key)) {
        seen.add(key);
        this.corruption.push(c);
      }
    }
    return this.corruption;
  }

  /** The `state` object of stream info (nats-server StreamState JSON). */
  stateJson(opts: { subjectsFilter?: string; deletedDetails?: boolean } = {}): Record<string, unknown> {
    const st = this.store.state({ deleted: opts.deletedDetails === true });
    const o: Record<string, unknown> = {
      messages: st.msgs,
      bytes: st.bytes,
      first_seq: st.firstSeq,
      first_ts: rfc3339Nano(st.firstTime),
      last_seq: st.lastSeq,
      last_ts: rfc3339Nano(st.lastTime),
    };
    if (st.numSubjects > 0) o['num_subjects'] = st.numSubjects;
    if (opts.subjectsFilter) {
      const subjects: Record<string, number> = {};
      let any = false;
      for (const [s, ss] of this.store.subjectsState(opts.subjectsFilter)) {
        subjects[s] = ss.msgs;
        any = true;
      }
      if (any) o['subjects'] = subjects;
    }
    if (st.numDeleted > 0) o['num_deleted'] = st.numDeleted;
    if (opts.deletedDetails && st.deleted && st.deleted.length > 0) o['deleted'] = st.deleted;
    const corrupt = this.corruptionReports();
    const lostSeqs = corrupt.flatMap((c) => (c.seq !== undefined ? [c.seq] : []));
    if (corrupt.length > 0) o['lost'] = { msgs: lostSeqs, bytes: corrupt.reduce((n, c) => n + c.length, 0) };
    o['consumer_count'] = this.env.consumerCount(this.cfg.name);
    return o;
  }

  /** nats-server StreamInfo JSON (+ Petrel's `corruption` list when the store found damage). */
  info(opts: { subjectsFilter?: string; deletedDetails?: boolean } = {}): Record<string, unknown> {
    const o: Record<string, unknown> = {
      config: this.configJson(),
      created: rfc3339Nano(this.created),
      state: this.stateJson(opts),
    };
    if (this.ctx.domain) o['domain'] = this.ctx.domain;
    o['cluster'] = { leader: this.env.serverName };
    const mirror = this.followers.find((f) => f.kind === 'mirror');
    if (mirror !== undefined) o['mirror'] = this.followerInfo(mirror);
    const sources = this.followers.filter((f) => f.kind === 'source');
    if (sources.length > 0) o['sources'] = sources.map((f) => this.followerInfo(f));
    o['ts'] = rfc3339Nano(this.ctx.scheduler.nowNs());
    if (this.cfg.compression !== 'none') o['compression_note'] = 'compression accepted; messages are stored uncompressed';
    const corrupt = this.corruptionReports();
    if (corrupt.length > 0) o['corruption'] = corrupt.map((c) => ({ ...c }));
    return o;
  }

  private followerInfo(f: OriginFollower): Record<string, unknown> {
    const o: Record<string, unknown> = {
      name: f.originName,
      lag: f.lag(),
      active: f.lastActiveMs === 0 ? -1 : Math.max(0, this.now() - f.lastActiveMs) * 1_000_000,
    };
    if (f.spec.filter_subject) o['filter_subject'] = f.spec.filter_subject;
    if (f.spec.subject_transforms) o['subject_transforms'] = f.spec.subject_transforms;
    if (f.spec.external) o['external'] = f.spec.external;
    else if (this.env.lookupStream(f.originName) === undefined) {
      o['error'] = JS_ERR.STREAM_NOT_FOUND;
    }
    return o;
  }

  // ---- internals ----

  private subscribe(): void {
    // A sealed stream keeps listening so publishers hear "invalid operation on sealed stream".
    if (this.cfg.mirror !== undefined) return;
    for (const subject of this.cfg.subjects) this.subs.push(this.ctx.bus.subscribe(subject, null, this.onInbound));
  }

  private unsubscribe(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs = [];
  }

  private applyTransforms(): void {
    const rp = this.cfg.republish;
    this.republish = rp === undefined ? null : SubjectTransform.create(rp.src ?? '>', rp.dest);
    const st = this.cfg.subject_transform;
    this.inputTransform = st === undefined ? null : SubjectTransform.create(st.src, st.dest);
  }

  private emit(ev: StreamChange): void {
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch (err) {
        this.ctx.logger.error({ stream: this.cfg.name, err: String(err) }, 'JetStream stream change listener failed');
      }
    }
  }

  private removeForRetention(seq: number): void {
    if (this.store.remove(seq, false)) this.emit({ kind: 'remove', seq });
  }

  private sweepInterest(): void {
    if (this.consumers.size === 0) {
      this.purgeInternal({});
      return;
    }
    const removable: number[] = [];
    for (let m = this.store.loadNext('>', 0); m !== null; m = this.store.loadNext('>', m.seq + 1)) {
      let needed = false;
      for (const c of this.consumers.values()) {
        if (c.filters.length > 0 && !c.filters.some((f) => subjectMatches(m!.subject, f))) continue;
        if (!c.isDone(m.seq)) {
          needed = true;
          break;
        }
      }
      if (!needed) removable.push(m.seq);
    }
    for (const seq of removable) this.removeForRetention(seq);
  }

  private expireNow(): void {
    if (this.closed || this.cfg.max_age <= 0) return;
    const removed = this.store.expire(this.ctx.scheduler.nowNs());
    if (removed > 0) this.emit({ kind: 'purge', firstSeq: this.store.state().firstSeq });
    this.scheduleExpiry();
  }

  private scheduleExpiry(): void {
    if (this.closed || this.expiryTimer !== null || this.cfg.max_age <= 0) return;
    const next = this.store.nextExpiry();
    if (next === null) return;
    const delayMs = Math.max(0, Number((next - this.ctx.scheduler.nowNs()) / 1_000_000n)) + EXPIRY_SLACK_MS;
    this.expiryTimer = this.ctx.scheduler.setTimeout(() => {
      this.expiryTimer = null;
      this.expireNow();
    }, delayMs);
  }
}

function parseSeq(text: string): number | null {
  if (!/^\d+$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

function headerOf(block: Uint8Array, key: string): string | null {
  return parseHeaders(block)?.headers.get(key)?.[0] ?? null;
}

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
import { subjectIsLiteral, subjectMatches } from '../routing/subjects.ts';
import type { BusSubscription } from './bus.ts';
import type { ApiError, ConsumerForStream, JsContext, Retention, StreamChange, StreamForConsumers } from './seams.ts';
import { StoreError, StoreErrorCode, UNLIMITED, storedMsgSize } from './store/index.ts';
import { writeFramedFile } from '../storage/atomic_file.ts';
import type { CorruptionReport, StoreLimits, StoredMessage, StreamStore } from './store/index.ts';
import { JS_ERR, isApiError, streamRollupFailed, streamStoreFailed, streamWrongLastMsgId, streamWrongLastSequence } from './errors.ts';
import { isRaftError, RaftErrorCode } from '../raft/errors.ts';
import { appendHeaders, removeHeadersWithPrefix } from './header_block.ts';
import { rfc3339Nano, parseRfc3339 } from './json_time.ts';
import { streamConfigFromJson, streamConfigJson, type StreamConfig, type StreamSourceConfig } from './stream_config.ts';
import { Rollup, type MsgOp, type StreamOp } from './stream_entry.ts';
import { SubjectTransform } from './subject_transform.ts';
import { ExternalFeed } from './external_feed.ts';
import { BusOrigin, OriginMissing, REMOTE_ORIGIN_POLL_MS, localOrigin, type Origin } from './origin.ts';

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
  /** Clustered: a mirror or source whose origin has no replica here reads it over the bus. */
  readonly remoteOrigins?: boolean;
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


/** The leader's verdict on a publish. */
type Checked =
  | { kind: 'error'; error: ApiError }
  /** `stored` settles true once the original is in the stream, false if it never got there. */
  | { kind: 'duplicate'; seq: number; stored: Promise<boolean> }
  /** Must wait until the leader's in-flight removals have applied (a compare-and-set). */
  | { kind: 'wait' }
  | { kind: 'op'; op: MsgOp; size: number };

/** What applying an operation did. `ready` settles once the store has it durably (a single server acks then). */
export interface ApplyResult {
  seq: number;
  ready: Promise<void>;
  purged?: number;
  removed?: boolean;
  /** A batch of messages: what applying each did, in order. */
  each?: ApplyResult[];
}

/** The Raft group a replicated stream belongs to (src/jetstream/cluster/stream_group.ts). */
export interface StreamReplicator {
  /** Resolves once the operation is committed and applied here, with what applying it returned. */
  propose(op: StreamOp): Promise<ApplyResult>;
  /**
   * Whether this replica leads right now. The stream's leading flag follows the group's leader
   * change events; between Raft learning of a newer leader and that event, this says no.
   */
  leaderNow(): boolean;
  /** The `cluster` object of stream info (nats-server ClusterInfo). */
  clusterInfo(): Record<string, unknown>;
}

const RESOLVED: Promise<void> = Promise.resolve();
const STORED: Promise<boolean> = Promise.resolve(true);
const EMPTY = new Uint8Array(0);
/** A replicated apply stores what the leader decided: the store does not refuse it again. */
const NO_DISCARD_CHECK = { discardNewCheck: false } as const;

/** A single server's stored message until its group commit is durable. */
interface DurableWait {
  seq: number;
  subject: string;
  /** Copies, only when the stream republishes. */
  hdr: Uint8Array | null;
  data: Uint8Array;
  ts: bigint;
  prevOnSubject: number;
  reply: string | null;
}

/** The operation with its own copies of the message bytes (the bus's views live for one call). */
function ownedMsgOp(op: MsgOp): MsgOp {
  return { ...op, hdr: op.hdr === null ? null : Buffer.from(op.hdr), data: Buffer.from(op.data) };
}
/** The longest stream info waits for the leader's in-flight removals to apply (ms, polled). */
const SETTLE_WAIT_MS = 1_000;
/** A replicated stream proposes the messages of one turn as one entry, up to these bounds. */
const MAX_BATCH_MSGS = 1024;
const MAX_BATCH_BYTES = 512 * 1024;

/**
 * A proposal that failed after it entered the log (leadership lost, the group closed or timed out)
 * may still commit under the next leader: the publisher gets no answer (its request times out,
 * outcome unknown), as from nats-server, never an error that says the message was not stored.
 */
function mayStillCommit(err: unknown): boolean {
  return isRaftError(err, RaftErrorCode.LeadershipLost) || isRaftError(err, RaftErrorCode.Closed) || isRaftError(err, RaftErrorCode.Timeout);
}

/** A failed proposal as the publisher hears it. */
function toApiError(err: unknown): ApiError | null {
  if (isApiError(err)) return err;
  if (isRaftError(err, RaftErrorCode.StorageFailed)) return streamStoreFailed(`storage failed: ${err.message}`);
  if (isRaftError(err)) return JS_ERR.CLUSTER_NOT_AVAILABLE;
  return null;
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
  /** A remote origin answered that it does not exist. */
  missing = false;
  private readonly owner: Stream;
  private readonly filter: string;
  private readonly transforms: SubjectTransform[];
  private origin: Origin | null = null;
  private stopListening: (() => void) | null = null;
  private pollTimer: unknown = null;
  private startTimeDone = false;
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

  get attached(): boolean {
    return this.origin !== null;
  }

  lag(): number {
    if (this.feed !== null) return this.feed.lag();
    if (this.origin === null) return 0;
    const last = this.origin.lastSequence();
    return Number.isFinite(last) ? Math.max(0, last - (this.nextSeq - 1)) : 0;
  }

  attach(origin: Origin): void {
    if (this.stopped || this.origin === origin) return;
    this.detach();
    this.origin = origin;
    this.stopListening = origin.watch(
      () => this.kick(),
      () => this.detach(),
    );
    this.kick();
  }

  detach(): void {
    this.stopListening?.();
    this.stopListening = null;
    this.origin = null;
    if (this.pollTimer !== null) this.owner.cancelLater(this.pollTimer);
    this.pollTimer = null;
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

  /** A remote origin had nothing new (or did not answer): ask again in a moment. */
  private poll(): void {
    if (this.stopped || this.origin === null || this.pollTimer !== null) return;
    this.pollTimer = this.owner.later(() => {
      this.pollTimer = null;
      this.kick();
    }, REMOTE_ORIGIN_POLL_MS);
  }

  private async run(): Promise<void> {
    do {
      this.again = false;
      const origin = this.origin;
      try {
        if (origin !== null && !this.startTimeDone && this.nextSeq === 1 && this.spec.opt_start_time) {
          const ns = parseRfc3339(this.spec.opt_start_time);
          if (ns !== null) this.nextSeq = await origin.seqForTime(ns);
        }
        this.startTimeDone = true;
        while (origin !== null && this.origin === origin && !this.stopped) {
          const last = origin.lastSequence();
          if (this.nextSeq > last) break;
          const found = origin.next(this.filter, this.nextSeq);
          const msg = found instanceof Promise ? await found : found;
          this.missing = false;
          if (this.origin !== origin || this.stopped) return;
          if (msg === null || msg.seq > last) {
            if (origin.polled) {
              this.poll();
              break;
            }
            // Nothing more that matches: a mirror still consumes the sequences to stay aligned.
            if (this.kind === 'mirror') this.owner.mirrorSkipTo(last);
            this.nextSeq = last + 1;
            break;
          }
          await this.copy(msg);
          this.nextSeq = msg.seq + 1;
          this.lastActiveMs = this.owner.now();
        }
      } catch (err) {
        if (err instanceof OriginMissing) this.missing = true;
        else this.owner.logSourceError(this, err);
        if (origin?.polled) this.poll();
        return;
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
  /** Msg-Ids of applied messages within the duplicate window, oldest first. */
  private readonly dedup = new Map<string, { seq: number; tsMs: number }>();
  /**
   * The dedup window is read back from the store on first need, as nats-server does (ddloaded):
   * after a restart only a Msg-Id asks for it. A replica keeps it from its log and snapshots.
   */
  private dedupLoaded = true;
  private ackPrefixBytes: Buffer | null = null;
  private readonly corruption: CorruptionReport[];
  /** Damage already repaired, by file and offset (not reported again). */
  private readonly repaired = new Set<string>();
  private subs: BusSubscription[] = [];
  private expiryTimer: unknown = null;
  /** Applied state: the last sequence and Msg-Id the store reflects. */
  private lastSeq: number;
  private lastMsgId = '';
  private republish: SubjectTransform | null = null;
  private inputTransform: SubjectTransform | null = null;
  private followers: OriginFollower[] = [];
  private closed = false;

  /** Set when the stream is one replica of a Raft group (cluster); null on a single server. */
  private replicator: StreamReplicator | null = null;
  /** Whether this replica takes publishes and runs timers, mirrors and sources (always on a single server). */
  private leading = false;
  // The leader's view: applied state plus its operations still on their way through Raft.
  private projSeq: number;
  private projMsgId = '';
  private projTs = 0n;
  private readonly inflight = new Map<number, { subject: string; size: number }>();
  private inflightBytes = 0;
  /** Latest in-flight sequence per subject (expected-last-subject-sequence checks). */
  private readonly inflightBySubject = new Map<string, number>();
  /** Non-message operations (and rollups) in flight: a compare-and-set waits for them to apply. */
  private inflightBarriers = 0;
  /** Msg-Ids whose message is not yet durable (or committed): duplicates are answered when it is. */
  private readonly pendingIds = new Map<string, { seq: number; stored: Promise<boolean> }>();
  /** Publishes waiting for in-flight barriers, in arrival order. */
  private readonly waiting: Array<{ subject: string; reply: string | null; hdr: Uint8Array | null; data: Uint8Array }> = [];
  private drainQueued = false;
  /** Retention removals collected in this turn (replicated streams propose them together). */
  private retire: number[] = [];
  /** Single server: the messages waiting for the group commit in progress (afterCommit). */
  private durableWait: { committed: Promise<void>; done: Promise<void>; msgs: DurableWait[] } | null = null;
  /** Messages checked in this turn, not yet proposed (replicated streams). */
  private batch: { ops: MsgOp[]; waiters: Array<{ resolve: (r: ApplyResult) => void; reject: (e: unknown) => void }>; bytes: number } | null = null;

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
    this.projSeq = this.lastSeq;
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
    if (this.cfg.retention === 'interest' && !this.closed && this.leading) this.sweepInterest();
  }

  consumerDone(consumerName: string, seq: number): void {
    if (this.closed || this.cfg.retention === 'limits' || !this.leading) return;
    if (this.cfg.retention === 'workqueue') {
      this.removeForRetention(seq);
      return;
    }
    if (!this.consumers.has(consumerName) && this.consumers.size > 0) return;
    // A replicated stream may have consumers whose replicas live elsewhere: it keeps what they might need.
    if (this.replicator !== null && this.consumers.size < this.env.consumerCount(this.cfg.name)) return;
    if (!this.neededBySomeConsumer(seq)) this.removeForRetention(seq);
  }

  private neededBySomeConsumer(seq: number): boolean {
    let subject: string | null = null;
    for (const c of this.consumers.values()) {
      if (c.filters.length > 0) {
        if (subject === null) {
          const m = this.store.load(seq);
          if (m === null) return false;
          subject = m.subject;
        }
        if (!c.filters.some((f) => subjectMatches(subject!, f))) continue;
      }
      if (!c.isDone(seq)) return true;
    }
    return false;
  }

  // ---- lifecycle ----

  /** Single server: subscribes to the stream's subjects, starts expiry, mirrors and sources. */
  start(): void {
    // Reading the window back can mean loading every recent message: only a Msg-Id asks for it.
    this.lastMsgId = this.lastStoredMsgId();
    this.dedup.clear();
    this.dedupLoaded = this.store.state().msgs === 0;
    this.setLeader(true);
  }

  /**
   * Makes this stream one replica of a Raft group: operations go through `r`, and the group
   * says when this replica leads (setLeader).
   */
  replicate(r: StreamReplicator): void {
    this.replicator = r;
  }

  get isReplicated(): boolean {
    return this.replicator !== null;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Publishes are decided here: open, the leader, and (replicated) still the group's leader. */
  private leadsNow(): boolean {
    return !this.closed && this.leading && (this.replicator === null || this.replicator.leaderNow());
  }

  /**
   * Leadership came or went: the leader subscribes to the stream's subjects and runs expiry,
   * mirrors and sources; a follower only applies what the leader decided.
   */
  setLeader(leading: boolean): void {
    if (this.closed || leading === this.leading) return;
    this.leading = leading;
    this.resetProjection();
    if (leading) {
      this.subscribe();
      this.expireNow();
      this.startFollowers();
      if (this.cfg.retention !== 'limits' && this.replicator !== null && this.consumers.size > 0) this.sweepInterest();
    } else {
      this.unsubscribe();
      this.stopFollowers();
      if (this.expiryTimer !== null) this.ctx.scheduler.clearTimeout(this.expiryTimer);
      this.expiryTimer = null;
      this.waiting.length = 0;
    }
  }

  /** Stops taking messages and timers; closes the store (its data stays). */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.setLeader(false);
    this.closed = true;
    await this.store.close();
  }

  /** Stops and removes the stream's data; tells listeners it is gone. */
  async destroy(): Promise<void> {
    this.setLeader(false);
    this.emit({ kind: 'delete' });
    this.closed = true;
    await this.store.delete();
  }

  /** Applies an already validated config update (a single server; a replica applies it as an operation). */
  update(next: StreamConfig): void {
    const prev = this.cfg;
    this.cfg = structuredClone(next);
    this.store.updateLimits(storeLimitsFor(this.cfg));
    this.applyTransforms();
    if (this.leading && JSON.stringify(prev.subjects) !== JSON.stringify(next.subjects)) {
      this.unsubscribe();
      this.subscribe();
    }
    if (this.leading && (JSON.stringify(prev.sources ?? []) !== JSON.stringify(next.sources ?? []) || (prev.mirror && !next.mirror))) {
      this.stopFollowers();
      this.startFollowers();
    }
    this.lastSeq = this.store.state().lastSeq;
    if (this.leading) {
      this.projSeq = Math.max(this.projSeq, this.lastSeq);
      this.scheduleExpiry();
    }
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
    for (const f of this.followers) if (f.originName === origin.name && f.spec.external === undefined) f.attach(localOrigin(origin));
  }

  isSourcing(name: string): boolean {
    return (this.cfg.mirror?.name === name && this.cfg.mirror.external === undefined) || (this.cfg.sources ?? []).some((s) => s.name === name && s.external === undefined);
  }

  lastSequence(): number {
    return this.lastSeq;
  }

  now(): number {
    return this.ctx.scheduler.now();
  }

  /** Runs `fn` after `ms` on the engine's scheduler (mirror and source polling). */
  later(fn: () => void, ms: number): unknown {
    return this.ctx.scheduler.setTimeout(fn, ms);
  }

  cancelLater(handle: unknown): void {
    this.ctx.scheduler.clearTimeout(handle);
  }

  // ---- publish path: the leader checks, every replica applies ----

  private readonly onInbound = (subject: string, reply: string | null, hdr: Uint8Array | null, data: Uint8Array): void => {
    if (!this.leadsNow()) return;
    if (this.waiting.length > 0) {
      // Someone ahead waits for in-flight operations to apply: keep the arrival order.
      this.waiting.push({ subject, reply, hdr: hdr === null ? null : Buffer.from(hdr), data: Buffer.from(data) });
      return;
    }
    this.process(subject, reply, hdr, data);
  };

  private process(subject: string, reply: string | null, hdr: Uint8Array | null, data: Uint8Array): void {
    const res = this.check(subject, hdr, data, false);
    const respond = reply !== null && reply.length > 0 && !this.cfg.no_ack;
    switch (res.kind) {
      case 'wait':
        this.waiting.push({ subject, reply, hdr: hdr === null ? null : Buffer.from(hdr), data: Buffer.from(data) });
        return;
      case 'error':
        if (respond) this.ctx.bus.publish(reply, null, null, ackErrorBody(this.cfg.name, res.error));
        return;
      case 'duplicate':
        // A retry of a message still in flight is acknowledged only if the original is stored: a
        // deposed leader's proposal fails (and may never commit), and the client must retry again.
        void res.stored.then((stored) => {
          if (stored && respond) this.sendAck(reply, res.seq, true);
        });
        return;
      case 'op': {
        if (this.replicator === null && res.op.msgId === '' && !res.op.skip) {
          this.storeHere(res.op, respond ? reply : null);
          return;
        }
        const done = this.submitMsg(res.op, res.size);
        done.then(
          (r) => {
            if (respond) this.sendAck(reply, r.seq, false);
          },
          (err: unknown) => {
            if (respond && isApiError(err)) this.ctx.bus.publish(reply, null, null, ackErrorBody(this.cfg.name, err));
          },
        );
        return;
      }
    }
  }

  private sendAck(reply: string, seq: number, duplicate: boolean): void {
    this.ackPrefixBytes ??= ackPrefix(this.cfg.name, this.ctx.domain);
    this.ctx.bus.publish(reply, null, null, ackBody(this.ackPrefixBytes, seq, duplicate));
  }

  /**
   * The leader's decision about one message (nats-server processJetStreamMsg's checks), against
   * the applied state plus its in-flight operations. `sourced` messages come from this stream's
   * sources and skip the publisher-facing checks.
   */
  private check(subject: string, hdr: Uint8Array | null, data: Uint8Array, sourced: boolean): Checked {
    const cfg = this.cfg;
    if (cfg.sealed) return { kind: 'error', error: JS_ERR.STREAM_SEALED };
    if (this.inputTransform !== null) subject = this.inputTransform.apply(subject) ?? subject;
    let msgId = '';
    let rollup: Rollup = Rollup.None;
    if (hdr !== null && hdr.length > 0) {
      const headers = parseHeaders(hdr)?.headers;
      const get = (k: string): string | undefined => headers?.get(k)?.[0];
      const expSubjSeq = sourced ? undefined : get(HDR.EXPECTED_LAST_SUBJ_SEQ);
      const expLast = sourced ? undefined : get(HDR.EXPECTED_LAST_SEQ);
      const expLastId = sourced ? undefined : get(HDR.EXPECTED_LAST_MSG_ID);
      const rollupText = get(HDR.ROLLUP) ?? '';
      const compares = !!expSubjSeq || !!expLast || !!expLastId || rollupText !== '';
      // A compare-and-set is decided against committed state: wait for removals and purges in flight.
      if (compares && this.inflightBarriers > 0) return { kind: 'wait' };
      if (!sourced) {
        const expStream = get(HDR.EXPECTED_STREAM);
        if (expStream !== undefined && expStream !== '' && expStream !== cfg.name) return { kind: 'error', error: JS_ERR.STREAM_NOT_MATCH };
        const expSubjSeqSubj = get(HDR.EXPECTED_LAST_SUBJ_SEQ_SUBJ);
        if (expSubjSeq !== undefined && expSubjSeq !== '') {
          const want = parseSeq(expSubjSeq);
          const last = this.lastOnSubject(expSubjSeqSubj || subject);
          if (want === null || want !== last) return { kind: 'error', error: streamWrongLastSequence(last) };
        } else if (expSubjSeqSubj !== undefined && expSubjSeqSubj !== '') {
          return { kind: 'error', error: JS_ERR.STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_INVALID };
        }
        if (expLast !== undefined && expLast !== '' && parseSeq(expLast) !== this.projSeq) {
          return { kind: 'error', error: streamWrongLastSequence(this.projSeq) };
        }
      }
      msgId = get(HDR.MSG_ID) ?? '';
      if (msgId !== '' && cfg.mirror === undefined) {
        const dup = this.findDuplicate(msgId);
        if (dup !== undefined) return { kind: 'duplicate', seq: dup.seq, stored: dup.stored };
      }
      if (!sourced && expLastId !== undefined && expLastId !== '' && expLastId !== this.projMsgId) {
        return { kind: 'error', error: streamWrongLastMsgId(this.projMsgId) };
      }
      if (rollupText !== '') {
        if (!sourced && !(cfg.allow_rollup_hdrs && !cfg.deny_purge)) return { kind: 'error', error: streamRollupFailed('rollup not permitted') };
        if (rollupText === 'sub') rollup = Rollup.Subject;
        else if (rollupText === 'all') rollup = Rollup.All;
        else if (!sourced) return { kind: 'error', error: streamRollupFailed(`rollup value invalid: ${JSON.stringify(rollupText)}`) };
      }
    }
    const hdrLength = hdr?.length ?? 0;
    if (cfg.max_msg_size >= 0 && hdrLength + data.length > cfg.max_msg_size) return { kind: 'error', error: JS_ERR.MESSAGE_EXCEEDS_MAXIMUM };
    if (hdrLength > MAX_HEADER_BYTES) return { kind: 'error', error: JS_ERR.STREAM_HEADER_EXCEEDS_MAXIMUM };
    if (subject.length === 0) return { kind: 'error', error: streamStoreFailed('invalid subject') };
    if (this.env.resourcesExceeded(cfg.storage)) return { kind: 'error', error: JS_ERR.INSUFFICIENT_RESOURCES };
    const size = storedMsgSize(subject.length, hdrLength, data.length);
    const refused = this.discardNewRefusal(subject, size);
    if (refused !== null) return { kind: 'error', error: refused };

    // Time only moves forward within a stream, whoever leads and whatever its clock says.
    let ts = this.ctx.scheduler.nowNs();
    if (ts <= this.projTs) ts = this.projTs + 1n;
    const skip = cfg.retention === 'interest' && !this.hasInterest(subject);
    // The bus views are only valid during this call: whoever keeps the operation longer copies them.
    const op: MsgOp = {
      op: 'msg',
      seq: this.projSeq + 1,
      subject,
      hdr: hdr === null || hdr.length === 0 ? null : hdr,
      data,
      ts,
      msgId,
      rollup,
      // Nobody would ever consume it: the sequence is used, the message is not kept (SkipMsgNoInterest).
      skip,
    };
    return { kind: 'op', op, size };
  }

  /** The last sequence on `filter` as the leader sees it (in-flight messages included). */
  private lastOnSubject(filter: string): number {
    let last = this.store.loadLast(filter)?.seq ?? 0;
    if (this.inflightBySubject.size > 0) {
      const exact = this.inflightBySubject.get(filter);
      if (exact !== undefined) last = Math.max(last, exact);
      else if (!subjectIsLiteral(filter)) for (const [s, seq] of this.inflightBySubject) if (seq > last && subjectMatches(s, filter)) last = seq;
    }
    return last;
  }

  /** Discard-new limits decided by the leader, counting its in-flight messages (nats-server's ErrMaxMsgs etc.). */
  private discardNewRefusal(subject: string, size: number): ApiError | null {
    const cfg = this.cfg;
    if (cfg.discard !== 'new') return null;
    const overMsgs = cfg.max_msgs > 0 && this.store.storedMsgs() + this.inflight.size >= cfg.max_msgs;
    const overBytes = cfg.max_bytes > 0 && this.store.storedBytes() + this.inflightBytes + size > cfg.max_bytes;
    const perSubjectMatters = cfg.discard_new_per_subject || overMsgs || overBytes;
    // A KV put (per-subject limit, no totals reached) is decided without counting its subject.
    if (!perSubjectMatters || cfg.max_msgs_per_subject <= 0) {
      if (overMsgs) return streamStoreFailed('maximum messages exceeded');
      if (overBytes) return streamStoreFailed('maximum bytes exceeded');
      return null;
    }
    let onSubject = this.store.msgsOnSubject(subject);
    for (const f of this.inflight.values()) if (f.subject === subject) onSubject++;
    // At its subject's limit the message replaces that subject's oldest, so totals do not grow.
    if (onSubject >= cfg.max_msgs_per_subject) {
      return cfg.discard_new_per_subject ? streamStoreFailed('maximum messages per subject exceeded') : null;
    }
    if (overMsgs) return streamStoreFailed('maximum messages exceeded');
    if (overBytes) return streamStoreFailed('maximum bytes exceeded');
    return null;
  }

  /**
   * A checked message on a single server, the common case (no message id, kept): stored at once;
   * it is announced and `reply` acknowledged with the rest of its group commit, with no promise
   * of its own.
   */
  private storeHere(op: MsgOp, reply: string | null): void {
    const r = this.applyHere(op, reply);
    if (r.seq === 0) {
      // Refused by the store: the publisher learns why, if it asked for an answer.
      r.ready.then(undefined, (err: unknown) => {
        if (reply !== null && isApiError(err)) this.ctx.bus.publish(reply, null, null, ackErrorBody(this.cfg.name, err));
      });
    }
  }

  /**
   * Applies a checked message on a single server. A message the store refuses leaves its sequence
   * and message id free, as on nats-server (a replicated stream's replicas skip it alike instead).
   */
  private applyHere(op: MsgOp, reply: string | null): ApplyResult {
    this.project(op);
    const r = this.applyMsg(op, reply);
    if (r.seq === 0) {
      // Neither its sequence nor its message id was stored: later checks compare with the last stored.
      this.projSeq = this.lastSeq;
      this.projMsgId = this.lastMsgId;
    }
    return r;
  }

  /** The leader's view moves on to a message it sends on (checks of later ones count it). */
  private project(op: MsgOp): void {
    this.projSeq = op.seq;
    this.projTs = op.ts;
    this.projMsgId = op.msgId;
  }

  /** Sends a checked message on: applied at once on a single server, proposed to the group when replicated. */
  private submitMsg(op: MsgOp, size: number): Promise<ApplyResult> {
    let done: Promise<ApplyResult>;
    if (this.replicator === null) {
      const r = this.applyHere(op, null);
      done = r.ready.then(() => r);
    } else {
      this.project(op);
      // Proposed at the end of the turn: the bus views would be gone by then.
      op = ownedMsgOp(op);
      this.inflight.set(op.seq, { subject: op.subject, size });
      this.inflightBytes += size;
      this.inflightBySubject.set(op.subject, op.seq);
      if (op.rollup !== Rollup.None) this.inflightBarriers++;
      done = new Promise<ApplyResult>((resolve, reject) => this.batchMsg(op, size, resolve, reject));
    }
    if (op.msgId !== '' && this.cfg.duplicate_window > 0) {
      const stored = done.then(
        () => true,
        () => false,
      );
      this.pendingIds.set(op.msgId, { seq: op.seq, stored });
      void stored.then(() => {
        if (this.pendingIds.get(op.msgId)?.seq === op.seq) this.pendingIds.delete(op.msgId);
      });
    }
    return done;
  }

  /**
   * Collects the messages checked in this turn: they go to the group as one entry (one
   * proposal, one log record, one apply), flushed at the end of the turn or when it is full.
   */
  private batchMsg(op: MsgOp, size: number, resolve: (r: ApplyResult) => void, reject: (e: unknown) => void): void {
    let b = this.batch;
    if (b === null) {
      b = this.batch = { ops: [], waiters: [], bytes: 0 };
      queueMicrotask(this.flushBatch);
    }
    b.ops.push(op);
    b.waiters.push({ resolve, reject });
    b.bytes += size;
    if (b.ops.length >= MAX_BATCH_MSGS || b.bytes >= MAX_BATCH_BYTES) this.flushBatch();
  }

  private readonly flushBatch = (): void => {
    const b = this.batch;
    if (b === null || this.replicator === null) return;
    this.batch = null;
    const op: StreamOp = b.ops.length === 1 ? b.ops[0]! : { op: 'msgs', msgs: b.ops };
    this.replicator.propose(op).then(
      (r) => {
        const each = r.each;
        for (let i = 0; i < b.waiters.length; i++) b.waiters[i]!.resolve(each?.[i] ?? r);
      },
      (err: unknown) => {
        const apiErr = mayStillCommit(err) ? err : toApiError(err);
        for (let i = 0; i < b.ops.length; i++) {
          const m = b.ops[i]!;
          this.settleInflight(m.seq, m.subject);
          if (m.rollup !== Rollup.None) this.barrierDone();
          b.waiters[i]!.reject(apiErr);
        }
      },
    );
  };

  /** Any other operation from the leader: applied at once on a single server, proposed when replicated. */
  private submit(op: StreamOp): Promise<ApplyResult> {
    if (this.replicator === null) {
      const r = this.applyOp(op);
      return Promise.resolve(r);
    }
    // Messages checked before this operation go first.
    this.flushBatch();
    this.inflightBarriers++;
    return this.replicator.propose(op).catch((err: unknown) => {
      this.barrierDone();
      throw toApiError(err);
    });
  }

  private settleInflight(seq: number, subject: string): void {
    const f = this.inflight.get(seq);
    if (f === undefined) return;
    this.inflight.delete(seq);
    this.inflightBytes -= f.size;
    if (this.inflightBySubject.get(subject) === seq) this.inflightBySubject.delete(subject);
  }

  private barrierDone(): void {
    if (this.inflightBarriers > 0) this.inflightBarriers--;
    if (this.inflightBarriers === 0 && this.waiting.length > 0 && !this.drainQueued) {
      this.drainQueued = true;
      queueMicrotask(() => {
        this.drainQueued = false;
        this.drainWaiting();
      });
    }
  }

  private drainWaiting(): void {
    while (this.waiting.length > 0 && this.leadsNow()) {
      const w = this.waiting[0]!;
      const res = this.check(w.subject, w.hdr, w.data, false);
      if (res.kind === 'wait') return;
      this.waiting.shift();
      this.process(w.subject, w.reply, w.hdr, w.data);
    }
  }

  private resetProjection(): void {
    this.projSeq = this.lastSeq;
    this.projMsgId = this.lastMsgId;
    this.projTs = this.store.state().lastTime;
    this.inflight.clear();
    this.inflightBytes = 0;
    this.inflightBySubject.clear();
    this.inflightBarriers = 0;
    this.pendingIds.clear();
  }

  /**
   * Applies one operation: every replica, in log order, synchronously and with no clock or other
   * input than the operation (a single server applies the leader's operation at once). An
   * operation the store already reflects (a restart replaying the log) changes nothing again.
   */
  applyOp(o: StreamOp): ApplyResult {
    if (this.closed) return { seq: 0, ready: RESOLVED };
    switch (o.op) {
      case 'msg':
        return this.applyMsg(o, null);
      case 'msgs': {
        const each = o.msgs.map((m) => this.applyMsg(m, null));
        return { seq: each.length > 0 ? each[each.length - 1]!.seq : 0, ready: RESOLVED, each };
      }
      case 'purge': {
        const purged = this.store.purge({ ...(o.filter ? { subject: o.filter } : {}), seq: o.upTo });
        this.afterRemoval();
        return this.applied({ seq: 0, ready: this.store.flush(), purged });
      }
      case 'del': {
        const removed = this.store.remove(o.seq, o.erase);
        if (removed) this.emit({ kind: 'remove', seq: o.seq });
        return this.applied({ seq: o.seq, ready: this.store.flush(), removed });
      }
      case 'rm': {
        for (const seq of o.seqs) if (this.store.remove(seq, false)) this.emit({ kind: 'remove', seq });
        return this.applied({ seq: 0, ready: RESOLVED });
      }
      case 'expire': {
        const removed = this.store.expire(o.ts);
        if (removed > 0) this.emit({ kind: 'purge', firstSeq: this.store.state().firstSeq });
        if (this.leading) this.scheduleExpiry();
        return this.applied({ seq: 0, ready: RESOLVED });
      }
      case 'config': {
        const cfg = streamConfigFromJson(o.config);
        if (!isApiError(cfg)) this.update(cfg);
        return this.applied({ seq: 0, ready: RESOLVED });
      }
      case 'skip': {
        if (o.lastSeq > this.lastSeq) {
          this.store.skipMsgs(this.lastSeq + 1, o.lastSeq - this.lastSeq);
          this.lastSeq = o.lastSeq;
        }
        return this.applied({ seq: o.lastSeq, ready: RESOLVED });
      }
    }
  }

  /** A non-message operation applied: on the leader it no longer holds back compare-and-sets. */
  private applied(r: ApplyResult): ApplyResult {
    if (this.leading && this.replicator !== null) this.barrierDone();
    return r;
  }

  /** `reply` (single server only): acknowledged once the message is durable. */
  private applyMsg(o: MsgOp, reply: string | null): ApplyResult {
    if (o.seq <= this.lastSeq) {
      // Already in the store (the log replayed over a store that had it).
      this.noteMsgId(o);
      if (this.leading) this.settleInflight(o.seq, o.subject);
      return { seq: o.seq, ready: RESOLVED };
    }
    if (o.seq > this.lastSeq + 1) {
      // Sequences the leader consumed without a message here (a mirror's gaps, a refused message).
      this.store.skipMsgs(this.lastSeq + 1, o.seq - this.lastSeq - 1);
      this.lastSeq = o.seq - 1;
    }
    let ready: Promise<void>;
    let prevOnSubject = 0;
    if (o.skip) {
      this.store.skipMsg(o.seq);
      ready = this.store.flush();
    } else {
      // Republish carries the previous sequence on the subject (gap detection for light clients).
      if (this.republish !== null) prevOnSubject = this.store.loadLast(o.subject)?.seq ?? 0;
      try {
        ready = this.store.storeInBatch(o.seq, o.subject, o.hdr, o.data, o.ts, NO_DISCARD_CHECK);
      } catch (err) {
        // Refused (a closed store, a subject the store cannot hold): nothing changed.
        return { seq: 0, ready: Promise.reject(storeRefusal(err) ?? streamStoreFailed(String((err as Error)?.message ?? err))) };
      }
    }
    this.lastSeq = o.seq;
    this.lastMsgId = o.msgId;
    // Only once stored: a refused message's id is neither a duplicate nor the last id later.
    this.noteMsgId(o);
    if (this.leading) this.settleInflight(o.seq, o.subject);
    if (o.rollup === Rollup.Subject) this.store.purge({ subject: o.subject, seq: o.seq });
    else if (o.rollup === Rollup.All) this.store.purge({ seq: o.seq });
    if (o.rollup !== Rollup.None) {
      this.afterRemoval();
      if (this.leading && this.replicator !== null) this.barrierDone();
    }
    if (!o.skip) {
      if (this.replicator !== null) {
        // Committed on a quorum already: consumers may deliver it now.
        this.announce(o.seq, o.subject, o.hdr, o.data, o.ts, prevOnSubject);
      } else {
        // The store's views outlive this call only for a republish.
        const keep = this.republish !== null;
        ready = this.afterCommit(ready, {
          seq: o.seq,
          subject: o.subject,
          hdr: keep && o.hdr !== null ? Buffer.from(o.hdr) : null,
          data: keep ? Buffer.from(o.data) : EMPTY,
          ts: o.ts,
          prevOnSubject,
          reply,
        });
      }
    }
    if (this.leading) this.scheduleExpiry();
    return { seq: o.seq, ready };
  }

  /** A stored message made known: consumers wake, and the leader republishes it if configured. */
  private announce(seq: number, subject: string, hdr: Uint8Array | null, data: Uint8Array, ts: bigint, prevOnSubject: number): void {
    this.emit({ kind: 'append', seq, subject });
    if (this.leading && this.republish !== null) this.doRepublish(seq, subject, hdr, data, ts, prevOnSubject);
  }

  /**
   * Queues a single server's stored message behind its group commit: one continuation per commit,
   * not per message, announces and acknowledges them in order. Resolves with the commit (rejects
   * with null if the write failed: nats-server does not answer a publish whose write failed).
   */
  private afterCommit(committed: Promise<void>, m: DurableWait): Promise<void> {
    let w = this.durableWait;
    if (w === null || w.committed !== committed) {
      const msgs: DurableWait[] = [];
      const done = committed.then(
        () => {
          if (this.durableWait?.msgs === msgs) this.durableWait = null;
          for (const d of msgs) {
            this.announce(d.seq, d.subject, d.hdr, d.data, d.ts, d.prevOnSubject);
            if (d.reply !== null) this.sendAck(d.reply, d.seq, false);
          }
        },
        (err: unknown) => {
          if (this.durableWait?.msgs === msgs) this.durableWait = null;
          const first = msgs[0]?.seq;
          const last = msgs[msgs.length - 1]?.seq;
          this.ctx.logger.error({ stream: this.cfg.name, first, last, err: String(err) }, 'JetStream failed to store msgs');
          throw null;
        },
      );
      // Nobody may wait on it but the acknowledgements inside.
      done.catch(() => undefined);
      w = this.durableWait = { committed, done, msgs };
    }
    w.msgs.push(m);
    return w.done;
  }

  private afterRemoval(): void {
    const st = this.store.state();
    if (st.lastSeq > this.lastSeq) this.lastSeq = st.lastSeq;
    if (this.lastSeq > this.projSeq) this.projSeq = this.lastSeq;
    this.emit({ kind: 'purge', firstSeq: st.firstSeq });
  }

  /** Enters an applied message's id into the duplicate window. */
  private noteMsgId(o: MsgOp): void {
    if (o.msgId === '' || this.cfg.duplicate_window <= 0 || !this.dedupLoaded) return;
    this.dedup.delete(o.msgId);
    this.dedup.set(o.msgId, { seq: o.seq, tsMs: Number(o.ts / 1_000_000n) });
  }

  private findDuplicate(msgId: string): { seq: number; stored: Promise<boolean> } | undefined {
    const pending = this.pendingIds.get(msgId);
    if (pending !== undefined) return pending;
    this.loadDedup();
    // Entries are in arrival order, so expired ones are at the front.
    const horizon = this.ctx.scheduler.now() - this.cfg.duplicate_window / 1_000_000;
    for (const [id, e] of this.dedup) {
      if (e.tsMs >= horizon) break;
      this.dedup.delete(id);
    }
    const e = this.dedup.get(msgId);
    return e === undefined ? undefined : { seq: e.seq, stored: STORED };
  }

  /** The Msg-Id of the last stored message ('' when none). */
  private lastStoredMsgId(): string {
    const st = this.store.state();
    if (st.msgs === 0) return '';
    const last = this.store.load(st.lastSeq);
    return last?.hdr ? (headerOf(last.hdr, HDR.MSG_ID) ?? '') : '';
  }

  /** Recovers the dedup window from the newest stored messages (nats-server rebuildDedupe). */
  private loadDedup(): void {
    if (this.dedupLoaded) return;
    this.dedupLoaded = true;
    this.dedup.clear();
    if (this.store.state().msgs === 0 || this.cfg.duplicate_window <= 0) return;
    const horizonNs = this.ctx.scheduler.nowNs() - BigInt(this.cfg.duplicate_window);
    // Oldest first: the map's order is arrival order, which expiry relies on.
    for (let m = this.store.loadNext('>', this.store.seqForTime(horizonNs)); m !== null; m = this.store.loadNext('>', m.seq + 1)) {
      const id = m.hdr ? headerOf(m.hdr, HDR.MSG_ID) : null;
      if (id && !this.dedup.has(id)) this.dedup.set(id, { seq: m.seq, tsMs: Number(m.time / 1_000_000n) });
    }
  }

  private hasInterest(subject: string): boolean {
    // A replicated stream counts consumers whose replicas live elsewhere as interested.
    if (this.replicator !== null && this.consumers.size < this.env.consumerCount(this.cfg.name)) return true;
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

  // ---- mirror and sources (run by the leader) ----

  /** Stores an origin message at the origin's sequence (mirrors keep sequences). */
  async mirrorStore(msg: StoredMessage): Promise<void> {
    if (this.closed || !this.leading) throw new StoreError(StoreErrorCode.Closed);
    if (msg.seq <= this.projSeq) return;
    const msgId = msg.hdr ? (headerOf(msg.hdr, HDR.MSG_ID) ?? '') : '';
    const op: MsgOp = { op: 'msg', seq: msg.seq, subject: msg.subject, hdr: msg.hdr, data: msg.data, ts: msg.time, msgId, rollup: Rollup.None, skip: false };
    const size = storedMsgSize(msg.subject.length, msg.hdr?.length ?? 0, msg.data.length);
    await this.submitMsg(op, size);
  }

  /** A mirror consumes origin sequences that hold nothing for it. */
  mirrorSkipTo(lastSeq: number): void {
    if (this.closed || !this.leading || lastSeq <= this.projSeq) return;
    this.projSeq = lastSeq;
    void this.submit({ op: 'skip', lastSeq }).catch((err: unknown) => this.logSourceFailure('mirror', err));
  }

  /** Appends a sourced message through the normal checks (dedup, limits). */
  async sourceStore(subject: string, hdr: Uint8Array, data: Uint8Array): Promise<void> {
    if (this.closed || !this.leading) throw new StoreError(StoreErrorCode.Closed);
    let res = this.check(subject, hdr, data, true);
    while (res.kind === 'wait') {
      await new Promise((r) => setTimeout(r, 1));
      if (this.closed || !this.leading) throw new StoreError(StoreErrorCode.Closed);
      res = this.check(subject, hdr, data, true);
    }
    if (res.kind === 'error') {
      this.ctx.logger.warn({ stream: this.cfg.name, error: res.error.description }, 'JetStream sourced message refused');
      return;
    }
    if (res.kind === 'duplicate') {
      await res.stored;
      return;
    }
    await this.submitMsg(res.op, res.size).catch(() => undefined);
  }

  logSourceError(f: OriginFollower, err: unknown): void {
    this.logSourceFailure(f.kind, err);
  }

  private logSourceFailure(kind: string, err: unknown): void {
    if (this.closed) return;
    this.ctx.logger.error({ stream: this.cfg.name, err: String((err as Error)?.message ?? err) }, `JetStream ${kind} copy failed`);
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
      const local = this.env.lookupStream(f.originName);
      // In a cluster an origin without a replica here is read from its leader over the bus.
      if (local !== undefined) f.attach(localOrigin(local));
      else if (this.env.remoteOrigins) f.attach(new BusOrigin(this.ctx, f.originName));
    }
  }

  private stopFollowers(): void {
    for (const f of this.followers) f.stop();
    this.followers = [];
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

  // ---- API operations (on the leader) ----

  /** STREAM.PURGE (nats-server PurgeEx semantics); resolves with the number purged. */
  async purge(req: PurgeRequest): Promise<number> {
    if (this.replicator === null) return this.purgeInternal(req);
    // Bound the purge now, so publishes accepted after it are not purged; then, once what was
    // accepted before it has applied, turn `keep` into that bound too (the operation must
    // mean the same thing whenever it is applied again).
    let upTo = this.projSeq + 1;
    if (req.seq && req.seq < upTo) upTo = req.seq;
    const filter = req.filter ?? '';
    if (req.keep) {
      await this.settled(upTo - 1);
      const matching: number[] = [];
      for (let m = this.store.loadNext(filter || '>', 0); m !== null && m.seq < upTo; m = this.store.loadNext(filter || '>', m.seq + 1)) matching.push(m.seq);
      if (matching.length <= req.keep) return 0;
      upTo = matching[matching.length - req.keep]!;
    }
    const r = await this.submit({ op: 'purge', filter, upTo });
    return r.purged ?? 0;
  }

  private purgeInternal(req: PurgeRequest): number {
    const purged = this.store.purge({
      ...(req.filter ? { subject: req.filter } : {}),
      ...(req.seq ? { seq: req.seq } : {}),
      ...(req.keep ? { keep: req.keep } : {}),
    });
    this.afterRemoval();
    return purged;
  }

  /** STREAM.MSG.DELETE: false when there is no such message. */
  async deleteMsg(seq: number, noErase: boolean): Promise<boolean> {
    if (this.replicator === null) {
      const removed = this.store.remove(seq, !noErase);
      if (removed) this.emit({ kind: 'remove', seq });
      return removed;
    }
    if (seq > this.projSeq) return false;
    await this.settled(seq);
    if (this.store.load(seq) === null) return false;
    const r = await this.submit({ op: 'del', seq, erase: !noErase });
    return r.removed === true;
  }

  /** No removal or purge this leader decided is still on its way through Raft. */
  get isSettled(): boolean {
    return this.retire.length === 0 && this.inflightBarriers === 0;
  }

  /** Resolves once isSettled (or after a second: an answer late by a little beats none). */
  async whenSettled(): Promise<void> {
    for (let waited = 0; !this.isSettled && this.leading && !this.closed && waited < SETTLE_WAIT_MS; waited++) await new Promise((r) => setTimeout(r, 1));
  }

  /** Resolves once the applied state reaches `seq` (the leader's own in-flight messages below it applied). */
  private async settled(seq: number): Promise<void> {
    while (this.lastSeq < seq && this.leading && !this.closed) await new Promise((r) => setTimeout(r, 1));
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
    const seen = new Set([...this.corruption.map((c) => `${c.file}:${c.offset}`), ...this.repaired]);
    for (const c of this.store.state().corrupt ?? []) {
      const key = `${c.file}:${c.offset}`;
      if (!seen.has(key)) {
        seen.add(key);
        this.corruption.push(c);
      }
    }
    return this.corruption;
  }

  /** The damage reported so far was repaired (a replica refetched it): stop reporting it. */
  forgetCorruption(): void {
    for (const c of this.corruptionReports()) this.repaired.add(`${c.file}:${c.offset}`);
    this.corruption.length = 0;
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
    o['cluster'] = this.replicator !== null ? this.replicator.clusterInfo() : { leader: this.env.serverName };
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
    else if (f.missing || (!f.attached && this.env.lookupStream(f.originName) === undefined)) {
      o['error'] = JS_ERR.STREAM_NOT_FOUND;
    }
    return o;
  }

  // ---- replicated state beyond the store (Raft snapshots) ----

  /** What a snapshot of this replica carries besides the store: the dedup window and the last Msg-Id. */
  replicaState(): { lastMsgId: string; dedup: Array<[string, number, number]> } {
    this.loadDedup();
    return { lastMsgId: this.lastMsgId, dedup: [...this.dedup].map(([id, e]) => [id, e.seq, e.tsMs]) };
  }

  restoreReplicaState(s: { lastMsgId: string; dedup: Array<[string, number, number]> }): void {
    this.lastMsgId = s.lastMsgId;
    this.dedup.clear();
    this.dedupLoaded = true;
    for (const [id, seq, tsMs] of s.dedup) this.dedup.set(id, { seq, tsMs });
    this.lastSeq = this.store.state().lastSeq;
    this.resetProjection();
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
    if (this.replicator === null) {
      if (this.store.remove(seq, false)) this.emit({ kind: 'remove', seq });
      return;
    }
    // Replicated: removals are operations too, so every replica keeps the same messages.
    this.retire.push(seq);
    if (this.retire.length > 1) return;
    queueMicrotask(() => {
      const seqs = this.retire;
      this.retire = [];
      if (seqs.length > 0 && this.leading) void this.submit({ op: 'rm', seqs }).catch(() => undefined);
    });
  }

  private sweepInterest(): void {
    if (this.consumers.size === 0 && this.replicator === null) {
      this.purgeInternal({});
      return;
    }
    if (this.replicator !== null && this.consumers.size < this.env.consumerCount(this.cfg.name)) return;
    const removable: number[] = [];
    for (let m = this.store.loadNext('>', 0); m !== null; m = this.store.loadNext('>', m.seq + 1)) {
      if (!this.neededBySomeConsumer(m.seq)) removable.push(m.seq);
    }
    for (const seq of removable) this.removeForRetention(seq);
  }

  private expireNow(): void {
    if (this.closed || this.cfg.max_age <= 0 || !this.leading) return;
    if (this.replicator !== null) {
      void this.submit({ op: 'expire', ts: this.ctx.scheduler.nowNs() }).catch(() => this.scheduleExpiry());
      return;
    }
    const removed = this.store.expire(this.ctx.scheduler.nowNs());
    if (removed > 0) this.emit({ kind: 'purge', firstSeq: this.store.state().firstSeq });
    this.scheduleExpiry();
  }

  private scheduleExpiry(): void {
    if (this.closed || this.expiryTimer !== null || this.cfg.max_age <= 0 || !this.leading) return;
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

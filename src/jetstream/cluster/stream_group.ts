// One replica of a replicated stream: the local Stream (its store is the state machine) inside a
// Raft group with the stream's other peers. The leader's checked operations are proposed here and
// resolve once committed (fsynced on a quorum) and applied locally; every replica applies them in
// log order. The store is synced lazily: the Raft log is what makes an operation durable, and a
// snapshot is recorded only after the store has flushed everything it describes.
//
// A snapshot describes the stream (sequences, deletions, dedup window, config) but carries no
// messages: a replica whose store is behind one fetches the missing messages from the leader in
// batches that fit max_payload (pull-based catch-up), applies the log entries that arrived in the
// meantime, and until then neither leads nor campaigns.

import { Packr } from 'msgpackr';
import type { Logger } from '../../log.ts';
import { RaftDriver, bootstrap, type DriverOptions, type StateMachine } from '../../raft/driver.ts';
import { RaftError, RaftErrorCode } from '../../raft/errors.ts';
import { FileStorage, type FileStorageOptions } from '../../raft/file_storage.ts';
import { groupRandom } from '../../raft/prng.ts';
import type { Entry, NodeId, Snapshot } from '../../raft/types.ts';
import { EntryType, NONE } from '../../raft/types.ts';
import type { DriverScheduler } from '../../raft/driver.ts';
import type { ApplyResult, Stream, StreamReplicator } from '../stream.ts';
import { decodeStreamOp, encodeStreamOp, type StreamOp } from '../stream_entry.ts';
import { streamConfigFromJson, streamConfigJson } from '../stream_config.ts';
import { isApiError } from '../errors.ts';
import type { RaftNet } from './raft_net.ts';

export const STREAM_SNAPSHOT_VERSION = 1;
/** A peer not heard from for this long is reported offline in stream info. */
export const PEER_OFFLINE_MS = 5_000;
/** Catch-up asks again this long after a fetch failed or the source was behind. */
const CATCHUP_RETRY_MS = 250;

const packr = new Packr({ useRecords: false, moreTypes: false });

/** What the group needs to know about the cluster around it. */
export interface ClusterView {
  readonly clusterName: string;
  readonly self: NodeId;
  nameOf(id: NodeId): string;
  /** ms since this node last heard from `id` (any traffic), null if never. */
  silenceMs(id: NodeId): number | null;
}

/** A batch of messages fetched from a peer's store for catch-up. */
export interface FetchedBatch {
  /** [seq, subject, hdr, data, ms, ns remainder] */
  msgs: Array<[number, string, Uint8Array | null, Uint8Array, number, number]>;
  /** The last sequence the batch covers (messages absent below it are deleted at the source). */
  through: number;
  /** The source's last sequence: when below the wanted one, ask again later. */
  lastSeq: number;
}

/** Fetches stored messages of this stream from `peer`, from `from` on, at most up to `to`. */
export type FetchMessages = (peer: NodeId, from: number, to: number) => Promise<FetchedBatch>;

export interface StreamGroupOptions {
  group: string;
  stream: Stream;
  view: ClusterView;
  net: RaftNet;
  /** This group's Raft directory. */
  dir: string;
  /** Voters to bootstrap an empty group with (the peers at creation); null: join, wait for the leader. */
  founders: NodeId[] | null;
  scheduler: DriverScheduler;
  logger: Logger;
  fetch: FetchMessages;
  driver?: Partial<Pick<DriverOptions, 'tickMs' | 'raft' | 'snapshot'>>;
  /** Leadership of this replica came or went (after the stream itself was told). */
  onLeader?: (leading: boolean) => void;
  /** Raft storage options (tests inject a failing fsync). */
  storage?: Pick<FileStorageOptions, 'groupSync'>;
}

interface SnapshotState {
  lastSeq: number;
  firstSeq: number;
  /** Interior deleted sequences as [from, to] pairs, flattened. */
  deleted: number[];
  lastMsgId: string;
  dedup: Array<[string, number, number]>;
  config: Record<string, unknown>;
}

function encodeSnapshot(s: SnapshotState): Uint8Array {
  return packr.pack([STREAM_SNAPSHOT_VERSION, s.lastSeq, s.firstSeq, s.deleted, s.lastMsgId, s.dedup.flat(), JSON.stringify(s.config)]);
}

function decodeSnapshot(data: Uint8Array): SnapshotState {
  const a = packr.unpack(data) as unknown[];
  if (!Array.isArray(a) || a[0] !== STREAM_SNAPSHOT_VERSION) throw new Error(`stream snapshot version ${Array.isArray(a) ? String(a[0]) : '?'} (this node reads ${STREAM_SNAPSHOT_VERSION})`);
  const flat = a[5] as unknown[];
  const dedup: Array<[string, number, number]> = [];
  for (let i = 0; i + 2 < flat.length; i += 3) dedup.push([flat[i] as string, flat[i + 1] as number, flat[i + 2] as number]);
  return {
    lastSeq: a[1] as number,
    firstSeq: a[2] as number,
    deleted: a[3] as number[],
    lastMsgId: a[4] as string,
    dedup,
    config: JSON.parse(a[6] as string) as Record<string, unknown>,
  };
}

/** [a, b, c, d...] as [from, to] pairs of consecutive runs. */
function toRanges(seqs: readonly number[]): number[] {
  const out: number[] = [];
  for (const s of seqs) {
    const n = out.length;
    if (n > 0 && out[n - 1] === s - 1) out[n - 1] = s;
    else out.push(s, s);
  }
  return out;
}

export class StreamGroup implements StreamReplicator, StateMachine {
  readonly group: string;
  readonly stream: Stream;
  readonly driver: RaftDriver;
  private readonly view: ClusterView;
  private readonly logger: Logger;
  private readonly fetch: FetchMessages;
  private readonly scheduler: DriverScheduler;
  private readonly onLeader: (leading: boolean) => void;
  /** What applying the entry at `index` returned, for the proposer waiting on it. */
  private lastApplied: { index: number; result: ApplyResult } | null = null;
  /** Set while the store is behind a snapshot: entries wait here, in order. */
  private catchup: { target: SnapshotState; backlog: StreamOp[] } | null = null;
  private catchupTimer: unknown = null;
  private leading = false;
  private closed = false;
  /** Operations refused by apply (undecodable): the replica stops applying and says so. */
  private broken: string | null = null;

  private constructor(opts: StreamGroupOptions, storage: FileStorage) {
    this.group = opts.group;
    this.stream = opts.stream;
    this.view = opts.view;
    this.logger = opts.logger;
    this.fetch = opts.fetch;
    this.scheduler = opts.scheduler;
    this.onLeader = opts.onLeader ?? (() => {});
    this.driver = new RaftDriver({
      id: opts.view.self,
      group: opts.group,
      storage,
      transport: opts.net.transport(opts.group),
      scheduler: opts.scheduler,
      stateMachine: this,
      random: groupRandom(opts.view.self, opts.group, 7),
      canCampaign: () => this.catchup === null && this.broken === null,
      onError: (err) => this.logger.warn({ group: opts.group, err: err.message }, 'JetStream stream group'),
      ...opts.driver,
    });
    this.stream.replicate(this);
    this.driver.onLeaderChange((ev) => this.leaderChanged(ev.leader === this.view.self));
  }

  /** Opens (or creates) the replica's Raft state and starts it. */
  static async open(opts: StreamGroupOptions): Promise<StreamGroup> {
    const storage = FileStorage.open(opts.dir, {
      ...opts.storage,
      onError: (err) => opts.logger.error({ group: opts.group, err: err.message }, 'JetStream stream group storage'),
    });
    const empty = storage.snapshot().meta.index === 0 && storage.lastIndex() === 0;
    if (empty && opts.founders !== null) await bootstrap(storage, opts.founders, encodeSnapshot(StreamGroup.describe(opts.stream)));
    const g = new StreamGroup(opts, storage);
    g.driver.start();
    return g;
  }

  private static describe(stream: Stream): SnapshotState {
    const st = stream.store.state();
    const r = stream.replicaState();
    return {
      lastSeq: st.lastSeq,
      firstSeq: st.firstSeq,
      deleted: toRanges(st.deleted ?? []),
      lastMsgId: r.lastMsgId,
      dedup: r.dedup,
      config: streamConfigJson(stream.config()),
    };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** This replica holds everything its log applied (not catching up, not broken). */
  get current(): boolean {
    return this.catchup === null && this.broken === null;
  }

  /** Starts an election now (the preferred peer of a new stream). */
  campaign(): void {
    this.driver.campaign();
  }

  // ---- StreamReplicator ----

  propose(op: StreamOp): Promise<ApplyResult> {
    if (this.closed) return Promise.reject(new RaftError(RaftErrorCode.Closed, `${this.group}: closed`));
    const data = encodeStreamOp(op);
    return new Promise((resolve, reject) =>
      this.driver.proposeWith(data, (err, index) => {
        if (err) return reject(err);
        const r = this.lastApplied;
        resolve(r !== null && r.index === index ? r.result : { seq: 0, ready: Promise.resolve() });
      }),
    );
  }

  leaderNow(): boolean {
    return this.leading && this.driver.isLeader;
  }

  clusterInfo(): Record<string, unknown> {
    const st = this.driver.status();
    const o: Record<string, unknown> = { name: this.view.clusterName };
    if (st.leader !== NONE) o['leader'] = this.view.nameOf(st.leader);
    const replicas: Record<string, unknown>[] = [];
    for (const p of st.peers) {
      const silence = this.view.silenceMs(p.id);
      const r: Record<string, unknown> = {
        name: this.view.nameOf(p.id),
        current: p.current,
        active: (p.lastActiveMs ?? silence ?? 0) * 1_000_000,
      };
      if (silence === null || silence > PEER_OFFLINE_MS) r['offline'] = true;
      if (p.lag > 0) r['lag'] = p.lag;
      r['peer'] = p.id;
      replicas.push(r);
    }
    if (replicas.length > 0) o['replicas'] = replicas;
    return o;
  }

  // ---- StateMachine ----

  apply(e: Entry): void {
    if (e.type !== EntryType.Normal || e.data.length === 0 || this.broken !== null) return;
    let op: StreamOp;
    try {
      op = decodeStreamOp(e.data);
    } catch (err) {
      // Every replica reads the same bytes: this node cannot apply this group's log any further.
      this.broken = `entry ${e.index}: ${(err as Error).message}`;
      this.logger.error({ group: this.group, stream: this.stream.name, err: this.broken }, 'JetStream stream replica stopped applying');
      return;
    }
    if (this.catchup !== null) {
      this.catchup.backlog.push(op);
      return;
    }
    this.lastApplied = { index: e.index, result: this.stream.applyOp(op) };
  }

  snapshot(): Uint8Array | null {
    if (this.catchup !== null || this.broken !== null) return null;
    return encodeSnapshot(StreamGroup.describe(this.stream));
  }

  flush(): Promise<void> {
    return this.stream.store.flush();
  }

  restore(snap: Snapshot): void {
    if (snap.data.length === 0) return;
    let s: SnapshotState;
    try {
      s = decodeSnapshot(snap.data);
    } catch (err) {
      // A snapshot this node cannot read is never a reason to drop the stream: keep the store, stop applying.
      this.broken = `snapshot ${snap.meta.index}: ${(err as Error).message}`;
      this.logger.error({ group: this.group, stream: this.stream.name, err: this.broken }, 'JetStream stream replica cannot read a snapshot');
      return;
    }
    const cfg = streamConfigFromJson(s.config);
    if (!isApiError(cfg) && JSON.stringify(streamConfigJson(cfg)) !== JSON.stringify(streamConfigJson(this.stream.config()))) this.stream.update(cfg);
    this.stream.restoreReplicaState({ lastMsgId: s.lastMsgId, dedup: s.dedup });
    const store = this.stream.store;
    const st = store.state();
    if (st.lastSeq >= s.lastSeq) return; // the store is ahead of the snapshot: the log replays over it
    // Deletions the snapshot knows of, then the messages it only describes.
    if (s.firstSeq > st.firstSeq) store.compact(Math.min(s.firstSeq, st.lastSeq + 1));
    for (let i = 0; i + 1 < s.deleted.length; i += 2) for (let q = s.deleted[i]!; q <= Math.min(s.deleted[i + 1]!, st.lastSeq); q++) store.remove(q, false);
    this.catchup = { target: s, backlog: [] };
    this.stream.setLeader(false);
    this.logger.info({ group: this.group, stream: this.stream.name, from: st.lastSeq + 1, to: s.lastSeq }, 'JetStream stream replica catching up');
    this.scheduleCatchup(0);
  }

  // ---- catch-up ----

  private scheduleCatchup(ms: number): void {
    if (this.closed || this.catchupTimer !== null) return;
    this.catchupTimer = this.scheduler.setTimeout(() => {
      this.catchupTimer = null;
      void this.catchupStep();
    }, ms);
  }

  private async catchupStep(): Promise<void> {
    const c = this.catchup;
    if (c === null || this.closed) return;
    const store = this.stream.store;
    const from = store.state().lastSeq + 1;
    const to = c.target.lastSeq;
    if (from > to) return this.finishCatchup();
    const source = this.catchupSource();
    if (source === NONE) return this.scheduleCatchup(CATCHUP_RETRY_MS);
    let batch: FetchedBatch;
    try {
      batch = await this.fetch(source, from, to);
    } catch (err) {
      this.logger.debug({ group: this.group, source, err: String(err) }, 'JetStream catch-up fetch failed');
      return this.scheduleCatchup(CATCHUP_RETRY_MS);
    }
    if (this.closed || this.catchup !== c) return;
    let last = store.state().lastSeq;
    for (const [seq, subject, hdr, data, ms, ns] of batch.msgs) {
      if (seq <= last || seq > to) continue;
      if (seq > last + 1) store.skipMsgs(last + 1, seq - last - 1);
      void store.storeAt(seq, subject, hdr, data, BigInt(ms) * 1_000_000n + BigInt(ns), { discardNewCheck: false }).catch(() => undefined);
      last = seq;
    }
    const through = Math.min(batch.through, to);
    if (through > last) {
      store.skipMsgs(last + 1, through - last);
      last = through;
    }
    if (last >= to) return this.finishCatchup();
    this.scheduleCatchup(batch.lastSeq < from ? CATCHUP_RETRY_MS : 0);
  }

  /** The leader, or any other peer when there is none. */
  private catchupSource(): NodeId {
    const st = this.driver.status();
    if (st.leader !== NONE && st.leader !== this.view.self) return st.leader;
    for (const v of st.voters) if (v !== this.view.self) return v;
    return NONE;
  }

  private finishCatchup(): void {
    const c = this.catchup;
    if (c === null) return;
    const s = c.target;
    const store = this.stream.store;
    for (let i = 0; i + 1 < s.deleted.length; i += 2) for (let q = s.deleted[i]!; q <= s.deleted[i + 1]!; q++) store.remove(q, false);
    this.stream.restoreReplicaState({ lastMsgId: s.lastMsgId, dedup: s.dedup });
    this.catchup = null;
    this.logger.info({ group: this.group, stream: this.stream.name, lastSeq: store.state().lastSeq, backlog: c.backlog.length }, 'JetStream stream replica caught up');
    for (const op of c.backlog) this.stream.applyOp(op);
    if (this.driver.status().leader === this.view.self) this.leaderChanged(true);
  }

  // ---- leadership ----

  private leaderChanged(leading: boolean): void {
    if (this.closed) return;
    if (leading && !this.current) {
      // Won while still fetching (a vote it could not refuse): hand leadership on.
      void this.driver.stepDown().catch(() => undefined);
      return;
    }
    if (leading === this.leading) return;
    this.leading = leading;
    this.stream.setLeader(leading);
    this.onLeader(leading);
  }

  /** Stops the replica's Raft group (the stream's store is the caller's). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.catchupTimer !== null) this.scheduler.clearTimeout(this.catchupTimer);
    this.stream.setLeader(false);
    await this.driver.close();
  }

  /** Stops at once, as a killed process would (tests). */
  halt(): void {
    this.closed = true;
    if (this.catchupTimer !== null) this.scheduler.clearTimeout(this.catchupTimer);
    this.stream.setLeader(false);
    this.driver.halt();
  }

  status(): ReturnType<RaftDriver['status']> & { catchingUp: boolean; broken: string | null } {
    return { ...this.driver.status(), catchingUp: this.catchup !== null, broken: this.broken };
  }
}

/** Serves a catch-up fetch from the local store: messages from `from`, up to `to`, within `maxBytes`. */
export function readBatch(stream: Stream, from: number, to: number, maxBytes: number): FetchedBatch {
  const store = stream.store;
  const lastSeq = store.state().lastSeq;
  const end = Math.min(to, lastSeq);
  const msgs: FetchedBatch['msgs'] = [];
  let bytes = 0;
  let through = end;
  for (let m = store.loadNext('>', from); m !== null && m.seq <= end; m = store.loadNext('>', m.seq + 1)) {
    const size = m.subject.length + (m.hdr?.length ?? 0) + m.data.length + 32;
    if (msgs.length > 0 && bytes + size > maxBytes) {
      // full: what was sent covers up to the message before this one
      through = m.seq - 1;
      break;
    }
    msgs.push([m.seq, m.subject, m.hdr, m.data, Number(m.time / 1_000_000n), Number(m.time % 1_000_000n)]);
    bytes += size;
  }
  return { msgs, through, lastSeq };
}

// The meta group: every JetStream node of the cluster in one Raft group whose state is the
// assignments — which streams (and consumers) exist, with which config, on which peers. Only its
// leader decides (validation, placement) and proposes; every node applies the same assignments
// and opens or closes its own replicas to match.
//
// Forming it: a node that has meta state restarts into it. A node without any waits for the
// others through their announcements (nodes.ts). The fresh node with the smallest id bootstraps
// the group with every fresh node it sees, once all of them report seeing exactly the same set
// (so two nodes with different views never bootstrap two groups) and that set reaches the
// expected cluster size (nats-server's estimate: the configured routes, at least 2), or a
// majority of it after a grace period. The others wait empty (a Raft node without configuration
// never campaigns) and receive the group from its leader; nodes that come later are added by the
// leader, one membership change at a time.

import * as fs from 'node:fs';
import { Packr } from 'msgpackr';
import type { Logger } from '../../log.ts';
import { RaftDriver, bootstrap, type StateMachine } from '../../raft/driver.ts';
import { FileStorage } from '../../raft/file_storage.ts';
import { seededRandom } from '../../raft/prng.ts';
import { EntryType, NONE, type Entry, type NodeId, type Snapshot } from '../../raft/types.ts';
import type { Scheduler } from '../bus.ts';
import type { NodeDirectory } from './nodes.ts';
import type { RaftNet } from './raft_net.ts';

export const META_GROUP = '_meta_';
const META_VERSION = 1;
/** How often a fresh node checks whether it should bootstrap, and the leader whom to add. */
const META_CHECK_MS = 250;
/** A bootstrap waits this long for the expected size before settling for a majority of it. */
const BOOTSTRAP_GRACE_MS = 5_000;
/** Meta elections after 2-4 s without a leader (stream groups: 1-2 s). */
const META_ELECTION_TICKS = 20;
/** An assignment answers its client only when applied this soon after the leader proposed it. */
export const LIVE_WINDOW_MS = 30_000;

const packr = new Packr({ useRecords: false, moreTypes: false });

export interface GroupSpec {
  name: string;
  peers: NodeId[];
  /** The peers the group was created with: they bootstrap it; peers added later join empty. */
  founders: NodeId[];
  /** Peers once removed: Raft never takes an id back, so placement skips them. */
  retired: NodeId[];
  /** Campaigns at once when the group is created. */
  preferred: NodeId;
}

export interface ConsumerAssignment {
  name: string;
  /** Consumer config as API JSON. */
  config: Record<string, unknown>;
  /** Creation time, ms since the epoch. */
  created: number;
  group: GroupSpec;
}

export interface StreamAssignment {
  account: string;
  name: string;
  /** Stream config as API JSON. */
  config: Record<string, unknown>;
  /** Creation time, ns since the epoch (decimal). */
  created: string;
  group: GroupSpec;
  consumers: Record<string, ConsumerAssignment>;
}

export type MetaOp =
  /** A stream created, or its config or peers changed. `reply`/`at`: whom to answer, when proposed. */
  | { op: 'stream'; sa: StreamAssignment; reply: string; at: number }
  /** `reply`/`at` (absent in older logs): the stream's leader answers once its replica is gone. */
  | { op: 'delstream'; account: string; name: string; reply?: string; at?: number }
  | { op: 'consumer'; account: string; stream: string; ca: ConsumerAssignment; reply: string; at: number; request: string }
  | { op: 'delconsumer'; account: string; stream: string; name: string }
  /** A server removed from the cluster for good. */
  | { op: 'removenode'; id: NodeId };

export function streamKey(account: string, name: string): string {
  return `${account}\u0000${name}`;
}

/** The assignments, as every node of the meta group holds them. */
export class MetaState {
  readonly streams = new Map<string, StreamAssignment>();
  readonly removedNodes = new Set<NodeId>();

  stream(account: string, name: string): StreamAssignment | undefined {
    return this.streams.get(streamKey(account, name));
  }

  streamsOf(account: string): StreamAssignment[] {
    return [...this.streams.values()].filter((s) => s.account === account).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  apply(o: MetaOp): void {
    switch (o.op) {
      case 'stream': {
        const prev = this.streams.get(streamKey(o.sa.account, o.sa.name));
        this.streams.set(streamKey(o.sa.account, o.sa.name), { ...o.sa, consumers: prev?.consumers ?? o.sa.consumers ?? {} });
        return;
      }
      case 'delstream':
        this.streams.delete(streamKey(o.account, o.name));
        return;
      case 'consumer': {
        const sa = this.streams.get(streamKey(o.account, o.stream));
        if (sa !== undefined) sa.consumers = { ...sa.consumers, [o.ca.name]: o.ca };
        return;
      }
      case 'delconsumer': {
        const sa = this.streams.get(streamKey(o.account, o.stream));
        if (sa !== undefined && sa.consumers[o.name] !== undefined) {
          const { [o.name]: _gone, ...rest } = sa.consumers;
          sa.consumers = rest;
        }
        return;
      }
      case 'removenode':
        this.removedNodes.add(o.id);
        return;
    }
  }

  encode(): Uint8Array {
    return packr.pack([META_VERSION, [...this.streams.values()], [...this.removedNodes]]);
  }

  restore(data: Uint8Array): void {
    this.streams.clear();
    this.removedNodes.clear();
    if (data.length === 0) return;
    const a = packr.unpack(data) as [number, StreamAssignment[], NodeId[]];
    if (!Array.isArray(a) || a[0] !== META_VERSION) throw new Error(`meta snapshot version ${Array.isArray(a) ? String(a[0]) : '?'} (this node reads ${META_VERSION})`);
    for (const sa of a[1]) this.streams.set(streamKey(sa.account, sa.name), sa);
    for (const id of a[2]) this.removedNodes.add(id);
  }
}

export function encodeMetaOp(o: MetaOp): Uint8Array {
  return packr.pack([META_VERSION, o]);
}

export function decodeMetaOp(data: Uint8Array): MetaOp {
  const a = packr.unpack(data) as [number, MetaOp];
  if (!Array.isArray(a) || a[0] !== META_VERSION) throw new Error(`meta entry version ${Array.isArray(a) ? String(a[0]) : '?'} (this node reads ${META_VERSION})`);
  return a[1];
}

export interface MetaGroupOptions {
  self: NodeId;
  net: RaftNet;
  dir: string;
  nodes: NodeDirectory;
  scheduler: Scheduler;
  logger: Logger;
  /** The cluster size to wait for before bootstrapping (nats-server: configured routes, at least 2). */
  expectedSize: number;
  /**
   * Servers of the cluster and how many run JetStream, as last counted (null: not yet). When every
   * server answered and fewer run JetStream than expected, the expectation drops to them
   * (nats-server's mixed-mode adjustment).
   */
  census?: () => { servers: number; jetstream: number } | null;
  /** An operation was applied (`live`: proposed moments ago, its client may still be waiting). */
  onApply: (o: MetaOp, live: boolean) => void;
  /** The state was replaced by a snapshot. */
  onRestore: () => void;
  onLeader: (leader: NodeId) => void;
}

export class MetaGroup implements StateMachine {
  readonly state = new MetaState();
  private readonly opts: MetaGroupOptions;
  private driver: RaftDriver | null = null;
  private storage: FileStorage | null = null;
  private timer: unknown = null;
  private freshSince = 0;
  /** The agreed bootstrap set seen at the previous check (it must hold twice in a row). */
  private agreed = '';
  private adding = false;
  private bootstrapping = false;
  private closed = false;

  constructor(opts: MetaGroupOptions) {
    this.opts = opts;
  }

  /** Opens the group's storage: a member starts at once, a fresh node waits to join or bootstrap. */
  start(): void {
    this.openDriver();
    this.freshSince = this.opts.scheduler.now();
    this.check();
  }

  private openDriver(): void {
    const storage = FileStorage.open(this.opts.dir, {
      onError: (err) => this.opts.logger.error({ err: err.message }, 'JetStream meta group storage'),
    });
    this.storage = storage;
    const d = new RaftDriver({
      id: this.opts.self,
      group: META_GROUP,
      storage,
      transport: this.opts.net.transport(META_GROUP),
      scheduler: this.opts.scheduler,
      stateMachine: this,
      random: seededRandom(Date.now() ^ this.opts.self.length),
      // The meta group may take longer to notice a lost leader than a stream group: what it
      // serves (assignments) can wait, and a busy node must not keep losing it.
      raft: { electionTicks: META_ELECTION_TICKS, heartbeatTicks: 1 },
      onError: (err) => this.opts.logger.warn({ err: err.message }, 'JetStream meta group'),
    });
    d.onLeaderChange((ev) => this.opts.onLeader(ev.leader));
    this.driver = d;
    d.start();
  }

  /** Whether this node has meta state (is or was a voter). */
  get member(): boolean {
    const d = this.driver;
    return d !== null && (d.status().voters.length > 0 || this.storage!.lastIndex() > 0);
  }

  get leader(): NodeId {
    return this.driver?.status().leader ?? NONE;
  }

  get isLeader(): boolean {
    return this.driver !== null && this.leader === this.opts.self;
  }

  status(): ReturnType<RaftDriver['status']> | null {
    return this.driver?.status() ?? null;
  }

  propose(o: MetaOp): Promise<number> {
    if (this.driver === null) return Promise.reject(new Error('meta group not started'));
    return this.driver.propose(encodeMetaOp(o));
  }

  stepDown(): Promise<NodeId> {
    if (this.driver === null) return Promise.reject(new Error('meta group not started'));
    return this.driver.stepDown();
  }

  removePeer(id: NodeId): Promise<number> {
    if (this.driver === null) return Promise.reject(new Error('meta group not started'));
    return this.driver.removePeer(id);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) this.opts.scheduler.clearTimeout(this.timer);
    this.timer = null;
    await this.driver?.close();
  }

  // ---- StateMachine ----

  apply(e: Entry): void {
    if (e.type !== EntryType.Normal || e.data.length === 0) return;
    let o: MetaOp;
    try {
      o = decodeMetaOp(e.data);
    } catch (err) {
      this.opts.logger.error({ index: e.index, err: String(err) }, 'JetStream meta group entry not understood, skipped');
      return;
    }
    this.state.apply(o);
    const at = ('at' in o ? o.at : 0) ?? 0;
    const live = at > 0 && Math.abs(this.opts.scheduler.now() - at) < LIVE_WINDOW_MS;
    this.opts.onApply(o, live);
  }

  snapshot(): Uint8Array {
    return this.state.encode();
  }

  restore(snap: Snapshot): void {
    this.state.restore(snap.data);
    this.opts.onRestore();
  }

  // ---- forming and growing ----

  private check(): void {
    if (this.closed) return;
    this.timer = this.opts.scheduler.setTimeout(() => {
      this.timer = null;
      try {
        if (!this.member) this.maybeBootstrap();
        else if (this.isLeader) this.addNewcomers();
      } finally {
        this.check();
      }
    }, META_CHECK_MS);
  }

  /** The fresh nodes this one sees (itself included), sorted: what it announces as `seen`. */
  freshView(): NodeId[] {
    if (this.member) return [];
    const ids = [this.opts.self, ...this.opts.nodes.online().filter((n) => n.meta === 'fresh').map((n) => n.id)];
    return ids.sort();
  }

  private maybeBootstrap(): void {
    if (this.bootstrapping) return;
    const nodes = this.opts.nodes.online();
    if (nodes.some((n) => n.meta === 'member')) return; // a group exists: its leader will add us
    const view = this.freshView();
    if (view[0] !== this.opts.self) return;
    const key = view.join(',');
    const agree = nodes.filter((n) => view.includes(n.id)).every((n) => n.seen.join(',') === key);
    let expected = Math.max(2, this.opts.expectedSize);
    const census = this.opts.census?.() ?? null;
    if (census !== null && census.servers >= expected && census.jetstream < census.servers) expected = Math.max(1, census.jetstream);
    const waited = this.opts.scheduler.now() - this.freshSince;
    const enough = view.length >= expected || (view.length >= Math.floor(expected / 2) + 1 && waited >= BOOTSTRAP_GRACE_MS);
    if (expected === 1 && this.agreed !== key) {
      // Alone by census: wait a little for announcements still on their way.
      if (waited < BOOTSTRAP_GRACE_MS / 5) return;
    }
    if (!agree || !enough) {
      this.agreed = '';
      return;
    }
    if (this.agreed !== key) {
      this.agreed = key;
      return;
    }
    this.opts.logger.info({ voters: view }, 'JetStream cluster bootstrapping the meta group');
    this.bootstrapping = true;
    void this.bootstrapWith(view).finally(() => {
      this.bootstrapping = false;
    });
  }

  private async bootstrapWith(voters: NodeId[]): Promise<void> {
    const d = this.driver;
    this.driver = null;
    await d?.close();
    const storage = FileStorage.open(this.opts.dir);
    await bootstrap(storage, voters, this.state.encode());
    await storage.close();
    if (this.closed) return;
    this.openDriver();
    this.driver!.campaign();
  }

  /** The leader adds JetStream nodes it hears from that are not voters yet, one at a time. */
  private addNewcomers(): void {
    if (this.adding || this.driver === null) return;
    const st = this.driver.status();
    const voters = new Set(st.voters);
    const next = this.opts.nodes.online().find((n) => !voters.has(n.id) && !this.state.removedNodes.has(n.id));
    if (next === undefined) return;
    this.adding = true;
    this.opts.logger.info({ peer: next.id, name: next.name }, 'JetStream meta group adding a peer');
    this.driver
      .addPeer(next.id)
      .catch((err: unknown) => this.opts.logger.warn({ peer: next.id, err: String(err) }, 'JetStream meta group could not add a peer'))
      .finally(() => {
        this.adding = false;
      });
  }
}

/** Removes a group's Raft directory (its stream or consumer was deleted here). */
export function removeGroupDir(dir: string): Promise<void> {
  return fs.promises.rm(dir, { recursive: true, force: true });
}

// The JetStream cluster as one node runs it: the Raft transport, the node directory, the meta
// group, this node's stream replicas, and which requests this node answers. Every node receives
// every JetStream API request (the API subscriptions are announced to the whole cluster); exactly
// one answers: the meta leader for what changes or lists assets and for account info, a stream's
// leader for what reads or changes one stream, and every replica of an allow_direct stream for
// direct gets, through a queue group so one of them answers.

import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../log.ts';
import { subjectsCollide } from '../../routing/subjects.ts';
import { NONE, type NodeId } from '../../raft/types.ts';
import type { RaftDriver } from '../../raft/driver.ts';
import type { BusSubscription, JsBus, Scheduler } from '../bus.ts';
import { JS_ERR, invalidJson, isApiError } from '../errors.ts';
import type { ApiError } from '../seams.ts';
import type { JetStream } from '../jetstream.ts';
import type { Stream } from '../stream.ts';
import { checkStreamConfig, checkStreamUpdate, sameStreamConfig, streamConfigFromJson, streamConfigJson, type StreamConfig } from '../stream_config.ts';
import { rfc3339Nano } from '../json_time.ts';
import { META_GROUP, MetaGroup, removeGroupDir, streamKey, type GroupSpec, type MetaOp, type StreamAssignment } from './meta.ts';
import { NodeDirectory, type NodeAnnouncement } from './nodes.ts';
import { selectPeers, type Candidate } from './placement.ts';
import { RaftNet } from './raft_net.ts';
import { NodeRpc } from './rpc.ts';
import { StreamGroup, readBatch, type ClusterView, type FetchedBatch } from './stream_group.ts';
import { ConsumerGroup } from './consumer_group.ts';
import { ConsumerManager } from '../consumers/api.ts';
import { checkConsumerCreate, decodeCreateRequest, streamLimitsFromJson, type CreateKind } from '../consumers/api.ts';
import { configToJson, parseConsumerConfig, type ConsumerConfig } from '../consumers/config.ts';
import { ConsumerErrors } from '../consumers/errors.ts';
import type { ConsumerAssignment } from './meta.ts';

const RESPONSE_TYPE_PREFIX = 'io.nats.jetstream.api.v1.';
/** Where the meta group and every stream group keep their Raft state, under the store directory. */
export const RAFT_DIR = path.join('$SYS', '_js_');
/** How long internal info requests (stream list, create of an existing stream) wait for a leader. */
const INFO_GATHER_MS = 2_000;
/** Catch-up batches stay this far below max_payload. */
const FETCH_SLACK_BYTES = 4096;
const FETCH_TIMEOUT_MS = 5_000;
/** A replica moved off this node that its group never removed is dropped after this long. */
const LEAVE_GRACE_MS = 30_000;
/** Replicas are checked against the assignments at least this often (stragglers, leaving replicas). */
const RECONCILE_EVERY_MS = 5_000;
/** The longest a create answer waits for other nodes to confirm they know the new leader's subscriptions. */
const INTEREST_BARRIER_MS = 500;
/** The longest a consumer update answer waits for the new config to apply. */
const CONFIG_APPLY_MS = 2_000;
/** How long a census of the cluster's servers collects answers. */
const CENSUS_WINDOW_MS = 500;
/** nats-server's queue group for direct gets served by every replica. */
const DIRECT_GET_QUEUE = '_sys_';

export interface ClusterOptions {
  /** The system account's bus: Raft, announcements, node requests. */
  sysBus: JsBus;
  /** JetStream engines by account name. */
  engines: Map<string, JetStream>;
  self: NodeId;
  serverName: string;
  clusterName: string;
  tags: string[];
  domain: string;
  uniqueTag: string;
  /** nats-server's expected cluster size for the meta group's bootstrap. */
  expectedSize: number;
  maxPayload: number;
  /** The JetStream store directory (`<store_dir>/jetstream`). */
  storeDir: string;
  scheduler: Scheduler;
  logger: Logger;
  /** Raft timing for stream groups (tests shorten it). */
  tickMs?: number;
}

interface Replica {
  sa: StreamAssignment;
  stream: Stream;
  group: StreamGroup;
  direct: BusSubscription | null;
  /** When the assignment stopped naming this node (0: it names it). */
  leavingSince: number;
  /** The leader is making the group match the assignment. */
  reconciling: boolean;
  /** Replicas of this stream's consumers on this node, by consumer name. */
  consumers: Map<string, ConsumerReplica>;
}

interface ConsumerReplica {
  ca: ConsumerAssignment;
  group: ConsumerGroup;
  /** The leader is making the group's members match the assignment. */
  reconciling: boolean;
}

type Pending = { kind: 'create' | 'update'; reply: string };

export class JetStreamCluster implements ClusterView {
  readonly self: NodeId;
  private readonly opts: ClusterOptions;
  readonly net: RaftNet;
  readonly nodes: NodeDirectory;
  readonly meta: MetaGroup;
  private readonly rpc: NodeRpc;
  private readonly replicas = new Map<string, Replica>();
  /** Clients waiting for a create or update, answered by the stream's leader. */
  private readonly pending = new Map<string, Pending>();
  /** Clients waiting for a stream delete, answered once this node (its leader) dropped its replica. */
  private readonly pendingDeletes = new Map<string, string>();
  /** Clients waiting for a consumer create or update, answered by the consumer's leader. */
  private readonly pendingConsumers = new Map<string, Pending>();
  private chain: Promise<void> = Promise.resolve();
  /** Servers answering `$SYS.REQ.SERVER.PING`, and those with JetStream (counted until the meta group forms). */
  private census: { servers: number; jetstream: number } | null = null;
  private censusTimer: unknown = null;
  private reconcileTimer: unknown = null;
  private reconcileQueued = false;
  private closed = false;
  private inboxSeq = 0;

  constructor(opts: ClusterOptions) {
    this.opts = opts;
    this.self = opts.self;
    this.net = new RaftNet(opts.sysBus, opts.self, { maxPayload: opts.maxPayload, now: () => opts.scheduler.now(), onError: (e) => opts.logger.debug({ err: e.message }, 'JetStream raft net') });
    this.nodes = new NodeDirectory(opts.sysBus, opts.scheduler, () => this.announcement());
    this.rpc = new NodeRpc(opts.sysBus, opts.self, opts.scheduler);
    this.meta = new MetaGroup({
      self: opts.self,
      net: this.net,
      dir: path.join(opts.storeDir, RAFT_DIR, META_GROUP),
      nodes: this.nodes,
      scheduler: opts.scheduler,
      logger: opts.logger,
      expectedSize: opts.expectedSize,
      census: () => this.census,
      onApply: (o, live) => this.metaApplied(o, live),
      onRestore: () => this.reconcile(),
      onLeader: (leader) => {
        opts.logger.info({ leader: this.nameOf(leader) }, leader === this.self ? 'JetStream meta leader: this node' : 'JetStream meta leader elected');
        this.nodes.announce();
      },
    });
  }

  get clusterName(): string {
    return this.opts.clusterName;
  }

  nameOf(id: NodeId): string {
    return this.nodes.nameOf(id);
  }

  silenceMs(id: NodeId): number | null {
    const heard = this.net.lastHeard.get(id);
    const raft = heard === undefined ? null : this.opts.scheduler.now() - heard;
    const announced = this.nodes.silenceMs(id);
    if (raft === null) return announced;
    if (announced === null) return raft;
    return Math.min(raft, announced);
  }

  start(): void {
    this.rpc.serve('fetch', (req) => this.serveFetch(req as FetchRequest));
    this.rpc.serve('ping', () => 1);
    this.nodes.onChange = () => undefined;
    this.nodes.start();
    this.meta.start();
    this.countServers();
    this.periodicReconcile();
    this.opts.logger.info({ id: this.self, name: this.opts.serverName, cluster: this.opts.clusterName }, 'Starting JetStream cluster');
  }

  /**
   * While the meta group is not formed, counts the cluster's servers and those running JetStream
   * from their statsz answers (every nats-server and Petrel node answers the ping).
   */
  private countServers(): void {
    if (this.closed || this.meta.member) return;
    const inbox = `$JSC.P.CENSUS.${this.self}.${++this.inboxSeq}`;
    const seen = new Map<string, boolean>();
    const sub = this.opts.sysBus.subscribe(inbox, null, (_s, _r, _h, d) => {
      try {
        const server = (JSON.parse(Buffer.from(d).toString('utf8')) as { server?: { id?: string; jetstream?: boolean } }).server;
        if (server?.id) seen.set(server.id, server.jetstream === true);
      } catch {
        // not a statsz
      }
    });
    this.opts.sysBus.publish('$SYS.REQ.SERVER.PING', inbox, null, new Uint8Array(0));
    this.censusTimer = this.opts.scheduler.setTimeout(() => {
      sub.unsubscribe();
      if (seen.size > 0) this.census = { servers: seen.size, jetstream: [...seen.values()].filter(Boolean).length };
      this.countServers();
    }, CENSUS_WINDOW_MS);
  }

  private periodicReconcile(): void {
    this.reconcileTimer = this.opts.scheduler.setTimeout(() => {
      this.reconcile();
      if (!this.closed) this.periodicReconcile();
    }, RECONCILE_EVERY_MS);
  }

  async stop(): Promise<void> {
    this.closed = true;
    if (this.reconcileTimer !== null) this.opts.scheduler.clearTimeout(this.reconcileTimer);
    if (this.censusTimer !== null) this.opts.scheduler.clearTimeout(this.censusTimer);
    await this.chain;
    this.nodes.stop();
    for (const [key, r] of this.replicas) {
      r.direct?.unsubscribe();
      for (const c of r.consumers.values()) await c.group.close();
      await r.group.close();
      await this.engineOf(r.sa.account)?.dropStreamReplica(r.sa.name, false);
      this.replicas.delete(key);
    }
    await this.meta.close();
    this.rpc.close();
    this.net.close();
  }

  private announcement(): NodeAnnouncement {
    const usage: NodeAnnouncement['usage'] = {};
    for (const r of this.replicas.values()) {
      if (!r.group.isLeader) continue;
      const u = (usage[r.sa.account] ??= { memory: 0, storage: 0, consumers: 0 });
      const bytes = r.stream.store.state().bytes;
      if (r.stream.config().storage === 'memory') u.memory += bytes;
      else u.storage += bytes;
      u.consumers += this.engineOf(r.sa.account)?.consumers.count(r.sa.name) ?? 0;
    }
    return {
      v: 1,
      id: this.self,
      name: this.opts.serverName,
      cluster: this.opts.clusterName,
      domain: this.opts.domain,
      tags: this.opts.tags,
      meta: this.meta.member ? 'member' : 'fresh',
      seen: this.meta.freshView(),
      leader: this.meta.leader,
      usage,
    };
  }

  private engineOf(account: string): JetStream | undefined {
    return this.opts.engines.get(account);
  }

  // ---------------------------------------------------------------- assignments → replicas

  private metaApplied(o: MetaOp, live: boolean): void {
    if (o.op === 'delstream' && live && o.reply) {
      const key = streamKey(o.account, o.name);
      const r = this.replicas.get(key);
      if (r !== undefined && (r.group.isLeader || r.group.status().leader === NONE)) this.pendingDeletes.set(key, o.reply);
    }
    if (o.op === 'stream' && live && o.reply !== '' && o.sa.group.peers.includes(this.self)) {
      const key = streamKey(o.sa.account, o.sa.name);
      const kind = this.replicas.has(key) ? 'update' : 'create';
      this.pending.set(key, { kind, reply: o.reply });
    }
    if (o.op === 'consumer' && live && o.reply !== '' && o.ca.group.peers.includes(this.self)) {
      const key = consumerKey(o.account, o.stream, o.ca.name);
      const kind = this.replicas.get(streamKey(o.account, o.stream))?.consumers.has(o.ca.name) ? 'update' : 'create';
      this.pendingConsumers.set(key, { kind, reply: o.reply });
    }
    this.reconcile();
  }

  /** Brings this node's replicas in line with the assignments (one pass at a time, in order). */
  reconcile(): void {
    if (this.reconcileQueued || this.closed) return;
    this.reconcileQueued = true;
    this.chain = this.chain
      .then(async () => {
        this.reconcileQueued = false;
        await this.reconcileNow();
      })
      .catch((err: unknown) => this.opts.logger.error({ err: String(err) }, 'JetStream cluster could not reconcile its replicas'));
  }

  private async reconcileNow(): Promise<void> {
    const state = this.meta.state;
    const now = this.opts.scheduler.now();
    for (const [key, r] of this.replicas) {
      const sa = state.streams.get(key);
      if (sa === undefined || sa.group.name !== r.sa.group.name) {
        await this.dropReplica(key, r);
        const reply = this.pendingDeletes.get(key);
        this.pendingDeletes.delete(key);
        const engine = this.engineOf(r.sa.account);
        if (reply !== undefined && engine !== undefined) this.respond(engine, reply, 'stream_delete_response', { success: true });
        continue;
      }
      r.sa = sa;
      if (sa.group.peers.includes(this.self)) {
        r.leavingSince = 0;
        continue;
      }
      // Moved away: the replica keeps serving its group until the group's leader has removed it
      // (removing it first could cost the group its quorum), or it is clearly gone without it.
      r.leavingSince ||= now;
      const voters = r.group.driver.status().voters;
      if (!voters.includes(this.self) || (now - r.leavingSince > LEAVE_GRACE_MS && !r.group.isLeader)) await this.dropReplica(key, r);
      else this.assignmentChanged(key, r);
    }
    for (const [key, sa] of state.streams) {
      if (!sa.group.peers.includes(this.self)) continue;
      const r = this.replicas.get(key);
      if (r === undefined) await this.openReplica(key, sa);
      else this.assignmentChanged(key, r);
    }
    for (const r of this.replicas.values()) await this.reconcileConsumers(r);
  }

  /** This node's consumer replicas of one stream, in line with the stream's consumer assignments. */
  private async reconcileConsumers(r: Replica): Promise<void> {
    const want = r.sa.consumers;
    for (const [name, c] of r.consumers) {
      const ca = want[name];
      if (ca === undefined || ca.group.name !== c.ca.group.name) {
        await this.dropConsumer(r, name, c);
      } else if (!ca.group.peers.includes(this.self)) {
        // Moved off this node: a leader still counted in its group hands over first.
        c.ca = ca;
        if (c.group.isLeader && c.group.status().voters.includes(this.self)) void this.consumerPeers(c);
        else await this.dropConsumer(r, name, c);
      }
    }
    for (const [name, ca] of Object.entries(want)) {
      if (!ca.group.peers.includes(this.self)) continue;
      const c = r.consumers.get(name);
      if (c === undefined) await this.openConsumer(r, ca);
      else if (JSON.stringify(c.ca.config) !== JSON.stringify(ca.config)) {
        c.ca = ca;
        const cfg = parseConsumerConfig(ca.config);
        if (!isApiError(cfg)) this.consumerManager(r.sa.account)?.updateReplicaConfig(r.sa.name, name, cfg);
        if (c.group.isLeader) void this.answerPendingConsumer(r, c);
      } else {
        c.ca = ca;
      }
      if (c?.group.isLeader) void this.consumerPeers(c);
    }
  }

  /** The consumer's leader brings its group's members in line with the assignment. */
  private async consumerPeers(c: ConsumerReplica): Promise<void> {
    if (c.reconciling) return;
    c.reconciling = true;
    try {
      await this.matchPeers(c.group.driver, () => c.ca.group.peers, () => c.group.isLeader);
    } catch (err) {
      this.opts.logger.debug({ consumer: c.ca.name, err: String(err) }, 'JetStream consumer leader could not move its peers yet');
    } finally {
      c.reconciling = false;
    }
  }

  private consumerManager(account: string): ConsumerManager | null {
    const cm = this.engineOf(account)?.consumers;
    return cm instanceof ConsumerManager ? cm : null;
  }

  private async openConsumer(r: Replica, ca: ConsumerAssignment): Promise<void> {
    const cm = this.consumerManager(r.sa.account);
    const cfg = parseConsumerConfig(ca.config);
    if (cm === null || isApiError(cfg)) {
      this.opts.logger.error({ stream: r.sa.name, consumer: ca.name }, 'JetStream consumer assignment cannot be served here');
      return;
    }
    let failed: ApiError | null = null;
    const group = await ConsumerGroup.open({
      group: ca.group.name,
      view: this,
      net: this.net,
      dir: path.join(this.opts.storeDir, RAFT_DIR, ca.group.name),
      memory: cfg.memStorage || r.stream.config().storage === 'memory',
      founders: ca.group.founders.includes(this.self) ? ca.group.founders : null,
      scheduler: this.opts.scheduler,
      logger: this.opts.logger,
      driver: this.opts.tickMs ? { tickMs: this.opts.tickMs } : {},
      create: (replicator, clusterInfo) => {
        const c = cm.addReplica(r.stream, cfg, ca.created, {
          replicator,
          clusterInfo,
          // An inactive ephemeral is deleted like any other: through the meta group.
          onInactive: () => this.engineOf(r.sa.account)?.ctx.bus.publish(`$JS.API.CONSUMER.DELETE.${r.sa.name}.${ca.name}`, null, null, new Uint8Array(0)),
        });
        if (isApiError(c)) {
          failed = c;
          throw new Error(c.description);
        }
        return c;
      },
    }).catch((err: unknown) => {
      this.opts.logger.error({ stream: r.sa.name, consumer: ca.name, err: String(failed?.description ?? err) }, 'JetStream consumer replica could not start');
      return null;
    });
    if (group === null) return;
    const c: ConsumerReplica = { ca, group, reconciling: false };
    r.consumers.set(ca.name, c);
    group.replicator.onLeaderChange((leading) => {
      if (leading) {
        void this.answerPendingConsumer(r, c);
        void this.consumerPeers(c);
      } else if (!c.ca.group.peers.includes(this.self)) {
        this.reconcile(); // handed over on its way out: drop it now
      }
      this.nodes.announce();
    });
    if (ca.group.preferred === this.self && group.status().leader === NONE) group.campaign();
  }

  private async dropConsumer(r: Replica, name: string, c: ConsumerReplica): Promise<void> {
    r.consumers.delete(name);
    await this.consumerManager(r.sa.account)?.deleteConsumer(r.sa.name, name);
    await c.group.close();
    await removeGroupDir(path.join(this.opts.storeDir, RAFT_DIR, c.ca.group.name));
  }

  /** The consumer's leader answers the create (or update) its client waits for, once it has a position. */
  private async answerPendingConsumer(r: Replica, c: ConsumerReplica): Promise<void> {
    const key = consumerKey(r.sa.account, r.sa.name, c.ca.name);
    const p = this.pendingConsumers.get(key);
    if (p === undefined) return;
    this.pendingConsumers.delete(key);
    await c.group.consumer.whenStarted();
    // An update is answered with the updated config, once the leader's CONFIG entry applied.
    const cfg = parseConsumerConfig(c.ca.config);
    if (!isApiError(cfg)) await this.within(c.group.consumer.whenConfig(cfg), CONFIG_APPLY_MS);
    await this.interestBarrier();
    const info = c.group.consumer.info();
    delete info['push_bound'];
    this.engineOf(r.sa.account)?.ctx.bus.publish(p.reply, null, null, Buffer.from(JSON.stringify({ type: RESPONSE_TYPE_PREFIX + 'consumer_create_response', ...info })));
  }

  private async openReplica(key: string, sa: StreamAssignment): Promise<void> {
    const engine = this.engineOf(sa.account);
    if (engine === undefined) {
      this.opts.logger.warn({ account: sa.account, stream: sa.name }, 'JetStream stream assigned in an account without JetStream here');
      return;
    }
    const cfg = streamConfigFromJson(sa.config);
    if (isApiError(cfg)) {
      this.opts.logger.error({ stream: sa.name, err: cfg.description }, 'JetStream stream assignment has an unreadable config');
      return;
    }
    const stream = await engine.openStreamReplica(cfg, BigInt(sa.created));
    const group = await StreamGroup.open({
      group: sa.group.name,
      stream,
      view: this,
      net: this.net,
      dir: path.join(this.opts.storeDir, RAFT_DIR, sa.group.name),
      founders: sa.group.founders.includes(this.self) ? sa.group.founders : null,
      scheduler: this.opts.scheduler,
      logger: this.opts.logger,
      fetch: (peer, from, to) => this.fetch(peer, sa, from, to),
      driver: this.opts.tickMs ? { tickMs: this.opts.tickMs } : {},
      onLeader: (leading) => this.streamLeaderChanged(key, leading),
    });
    const r: Replica = { sa, stream, group, direct: null, leavingSince: 0, reconciling: false, consumers: new Map() };
    this.replicas.set(key, r);
    group.driver.onRemoved(() => this.reconcile());
    this.updateDirect(r);
    if (sa.group.preferred === this.self && group.driver.status().leader === NONE) group.campaign();
  }

  private async dropReplica(key: string, r: Replica): Promise<void> {
    this.replicas.delete(key);
    for (const [name, c] of r.consumers) await this.dropConsumer(r, name, c);
    r.direct?.unsubscribe();
    await r.group.close();
    const stillAssigned = this.meta.state.streams.get(key);
    const engine = this.engineOf(r.sa.account);
    await engine?.dropStreamReplica(r.sa.name, true);
    await removeGroupDir(path.join(this.opts.storeDir, RAFT_DIR, r.sa.group.name));
    this.opts.logger.info({ stream: r.sa.name, account: r.sa.account, moved: stillAssigned !== undefined }, 'JetStream stream replica removed from this node');
  }

  /** Direct gets: every replica of an allow_direct stream in one queue group. */
  private updateDirect(r: Replica): void {
    const want = r.stream.config().allow_direct;
    if (want && r.direct === null) {
      const engine = this.engineOf(r.sa.account)!;
      const subject = `$JS.API.DIRECT.GET.${r.sa.name}`;
      const handler = (s: string, reply: string | null, hdr: Uint8Array | null, data: Uint8Array) => engine.directRequest(s, reply, hdr, data);
      const main = engine.ctx.bus.subscribe(subject, DIRECT_GET_QUEUE, handler);
      const bySubject = engine.ctx.bus.subscribe(`${subject}.>`, DIRECT_GET_QUEUE, handler);
      r.direct = { unsubscribe: () => (main.unsubscribe(), bySubject.unsubscribe()) };
    } else if (!want && r.direct !== null) {
      r.direct.unsubscribe();
      r.direct = null;
    }
  }

  /** The assignment of a stream this node hosts changed (config, peers). */
  private assignmentChanged(key: string, r: Replica): void {
    if (!r.group.isLeader) return;
    void this.leaderReconcile(key, r);
  }

  private streamLeaderChanged(key: string, leading: boolean): void {
    const r = this.replicas.get(key);
    if (r === undefined) return;
    this.nodes.announce();
    if (!leading) return;
    void this.leaderReconcile(key, r);
  }

  /**
   * The stream leader makes the group match its assignment: the config as an operation in the
   * stream's log, then the peers, one membership change at a time. It answers a waiting create
   * or update once the group's config matches.
   */
  private async leaderReconcile(key: string, r: Replica): Promise<void> {
    if (r.reconciling) return;
    const sa = r.sa;
    const want = streamConfigFromJson(sa.config);
    if (isApiError(want)) return;
    r.reconciling = true;
    try {
      if (!sameStreamConfig(r.stream.config(), want)) await r.group.propose({ op: 'config', config: streamConfigJson(want) });
      this.updateDirect(r);
      await this.answerPending(key, r);
      await this.reconcilePeers(r);
    } catch (err) {
      this.opts.logger.debug({ stream: sa.name, err: String(err) }, 'JetStream stream leader could not apply its assignment yet');
    } finally {
      r.reconciling = false;
    }
    // The assignment may have changed while this pass ran.
    if (r.sa !== sa && r.group.isLeader) void this.leaderReconcile(key, r);
  }

  private async answerPending(key: string, r: Replica): Promise<void> {
    const p = this.pending.get(key);
    if (p === undefined || !r.group.isLeader) return;
    this.pending.delete(key);
    // The client may publish through any node next: make sure every node has heard this
    // leader's subscriptions before it hears that the stream exists.
    await this.interestBarrier();
    const body: Record<string, unknown> = { type: RESPONSE_TYPE_PREFIX + (p.kind === 'create' ? 'stream_create_response' : 'stream_update_response'), ...r.stream.info() };
    if (p.kind === 'create') body['did_create'] = true;
    this.engineOf(r.sa.account)?.ctx.bus.publish(p.reply, null, null, Buffer.from(JSON.stringify(body)));
  }

  private async reconcilePeers(r: Replica): Promise<void> {
    await this.matchPeers(r.group.driver, () => r.sa.group.peers, () => r.group.isLeader);
  }

  /**
   * A group's leader makes its Raft members the assigned peers, one membership change at a time:
   * newcomers first (a quorum never depends on a peer about to leave), then the leavers; a leader
   * that is itself leaving hands over to an assigned peer and stops there.
   */
  private async matchPeers(driver: RaftDriver, want: () => readonly NodeId[], leading: () => boolean): Promise<void> {
    for (;;) {
      if (!leading() || this.closed) return;
      const st = driver.status();
      const voters = new Set(st.voters);
      const peers = want();
      const add = peers.find((p) => !voters.has(p));
      if (add !== undefined) {
        await driver.addPeer(add);
        continue;
      }
      const drop = st.voters.find((v) => !peers.includes(v));
      if (drop === undefined) return;
      if (drop === this.self) {
        await driver.stepDown(peers.find((p) => p !== this.self));
        return;
      }
      await driver.removePeer(drop);
    }
  }

  /** `p`, or nothing after `ms` (an answer that must not wait forever on a group losing its leader). */
  private within(p: Promise<void>, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.opts.scheduler.setTimeout(resolve, ms);
      void p.then(() => {
        this.opts.scheduler.clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Resolves once every online node answered a ping sent after this node's latest subscriptions:
   * a subscription and a later message travel the same route in order, so each answer proves
   * that node knows the subscriptions.
   */
  private async interestBarrier(): Promise<void> {
    const peers = this.nodes.online().map((n) => n.id);
    await Promise.all(peers.map((id) => this.rpc.request(id, 'ping', 0, INTEREST_BARRIER_MS).catch(() => undefined)));
  }

  // ---------------------------------------------------------------- catch-up between replicas

  private fetch(peer: NodeId, sa: StreamAssignment, from: number, to: number): Promise<FetchedBatch> {
    const req: FetchRequest = { account: sa.account, stream: sa.name, group: sa.group.name, from, to };
    return this.rpc.request<FetchedBatch>(peer, 'fetch', req, FETCH_TIMEOUT_MS);
  }

  private serveFetch(req: FetchRequest): FetchedBatch {
    const r = this.replicas.get(streamKey(req.account, req.stream));
    if (r === undefined || r.sa.group.name !== req.group) throw new Error(`no replica of ${req.stream} here`);
    return readBatch(r.stream, req.from, req.to, Math.max(1024, this.opts.maxPayload - FETCH_SLACK_BYTES));
  }

  // ---------------------------------------------------------------- the API

  /**
   * Called for every API request an engine receives. True when the cluster took it (answered
   * it, or this node is not the one to answer); false when the engine answers it locally.
   */
  handleApi(engine: JetStream, tokens: readonly string[], reply: string | null, data: Uint8Array): boolean {
    const [op, a, b] = tokens;
    const isMeta = this.meta.isLeader;
    switch (op) {
      case 'DIRECT':
        return true;
      case 'INFO':
        if (tokens.length === 1 && isMeta) {
          engine.noteApiCall();
          this.respond(engine, reply, 'account_info_response', this.accountInfo(engine));
        }
        return true;
      case 'META':
        if (a === 'LEADER' && b === 'STEPDOWN' && isMeta) {
          engine.noteApiCall();
          void this.meta.stepDown().then(
            () => this.respond(engine, reply, 'meta_leader_stepdown_response', { success: true }),
            (err: unknown) => this.fail(engine, reply, 'meta_leader_stepdown_response', { code: 500, err_code: 10039, description: String((err as Error).message) }),
          );
        }
        return true;
      case 'SERVER':
        if (a === 'REMOVE' && isMeta) {
          engine.noteApiCall();
          void this.serverRemove(engine, reply, data);
        }
        return true;
      case 'STREAM':
        return this.streamApi(engine, tokens, reply, data, isMeta);
      case 'CONSUMER':
        return this.consumerApi(engine, tokens, reply, data, isMeta);
      default:
        return !isMeta;
    }
  }

  private streamApi(engine: JetStream, tokens: readonly string[], reply: string | null, data: Uint8Array, isMeta: boolean): boolean {
    const [, a, b] = tokens;
    switch (a) {
      case 'CREATE':
      case 'UPDATE':
      case 'DELETE':
        if (isMeta && tokens.length === 3) {
          engine.noteApiCall();
          void this.admin(engine, a, tokens[2]!, reply, data);
        }
        return true;
      case 'NAMES':
      case 'LIST':
        if (isMeta && tokens.length === 2) {
          engine.noteApiCall();
          void this.listStreams(engine, a, reply, data);
        }
        return true;
      case 'PEER':
        if (b === 'REMOVE' && tokens.length === 4 && isMeta) {
          engine.noteApiCall();
          void this.peerRemove(engine, tokens[3]!, reply, data);
        }
        return true;
      case 'LEADER': {
        const name = tokens[3];
        if (b === 'STEPDOWN' && name !== undefined && this.leadsStream(engine.account, name)) {
          engine.noteApiCall();
          const r = this.replicas.get(streamKey(engine.account, name))!;
          r.group.driver.stepDown().then(
            () => this.respond(engine, reply, 'stream_leader_stepdown_response', { success: true }),
            (err: unknown) => this.fail(engine, reply, 'stream_leader_stepdown_response', { code: 400, err_code: 10051, description: String((err as Error).message) }),
          );
        } else if (b === 'STEPDOWN' && name !== undefined && isMeta && this.meta.state.stream(engine.account, name) === undefined) {
          engine.noteApiCall();
          this.fail(engine, reply, 'stream_leader_stepdown_response', JS_ERR.STREAM_NOT_FOUND);
        }
        return true;
      }
      case 'MSG': {
        const name = tokens[3];
        if (name === undefined || !this.answersForStream(engine.account, name)) return true;
        const r = b === 'GET' ? this.replicas.get(streamKey(engine.account, name)) : undefined;
        if (r === undefined) return false;
        // A leader that was paused or cut off answers from its own state until it learns of the
        // next leader: a read waits for a barrier confirmed by a quorum (linearizable), and a
        // leader that cannot get one answers nothing. nats-server answers from the leader's state.
        const body = Buffer.from(data);
        r.group.driver.read().then(
          () => {
            if (r.group.isLeader) engine.answerApi(tokens, reply, null, body);
          },
          () => undefined,
        );
        return true;
      }
      default:
        return tokens[2] === undefined ? true : !this.answersForStream(engine.account, tokens[2]);
    }
  }

  /**
   * CONSUMER.*: create, delete, names and list by the meta leader; info, next, pause, unpin and
   * stepdown by the consumer's leader (the meta leader answers for a consumer that does not exist).
   */
  private consumerApi(engine: JetStream, tokens: readonly string[], reply: string | null, data: Uint8Array, isMeta: boolean): boolean {
    const [, a, b] = tokens;
    const account = engine.account;
    switch (a) {
      case 'CREATE':
      case 'DURABLE': {
        if (a === 'DURABLE' && b !== 'CREATE') return true;
        if (isMeta) {
          engine.noteApiCall();
          const kind: CreateKind = a === 'DURABLE' ? 'legacy_durable' : tokens.length > 3 ? 'named' : 'legacy_ephemeral';
          void this.consumerCreate(engine, tokens, kind, reply, data);
        }
        return true;
      }
      case 'DELETE':
      case 'NAMES':
      case 'LIST':
        if (isMeta) {
          engine.noteApiCall();
          void this.consumerAdmin(engine, a, tokens, reply, data);
        }
        return true;
      default: {
        const stream = a === 'MSG' || a === 'LEADER' ? tokens[3] : tokens[2];
        const name = a === 'MSG' || a === 'LEADER' ? tokens[4] : tokens[3];
        if (stream === undefined || name === undefined) return true;
        const sa = this.meta.state.stream(account, stream);
        if (sa === undefined || sa.consumers[name] === undefined) {
          if (!isMeta) return true;
          if (sa === undefined) return false; // the engine answers "stream not found" (or 503 for a next request)
          engine.noteApiCall();
          if (a === 'MSG') {
            if (reply) engine.ctx.bus.publish(reply, null, Buffer.from('NATS/1.0 503\r\n\r\n', 'latin1'), new Uint8Array(0));
          } else {
            this.fail(engine, reply, a === 'LEADER' ? 'consumer_leader_stepdown_response' : 'consumer_info_response', JS_ERR.CONSUMER_NOT_FOUND);
          }
          return true;
        }
        const c = this.replicas.get(streamKey(account, stream))?.consumers.get(name);
        if (c === undefined || !c.group.isLeader) return true;
        if (a === 'LEADER' && b === 'STEPDOWN') {
          engine.noteApiCall();
          c.group.driver.stepDown().then(
            () => this.respond(engine, reply, 'consumer_leader_stepdown_response', { success: true }),
            (err: unknown) => this.fail(engine, reply, 'consumer_leader_stepdown_response', { code: 400, err_code: 10051, description: String((err as Error).message) }),
          );
          return true;
        }
        return false;
      }
    }
  }

  private async consumerCreate(engine: JetStream, tokens: readonly string[], kind: CreateKind, reply: string | null, data: Uint8Array): Promise<void> {
    const type = 'consumer_create_response';
    const decoded = decodeCreateRequest(tokens, data, kind);
    if (isApiError(decoded)) return this.fail(engine, reply, type, decoded);
    const { cfg, action } = decoded;
    const streamName = kind === 'legacy_durable' ? tokens[3]! : tokens[2]!;
    const sa = this.meta.state.stream(engine.account, streamName);
    if (sa === undefined) return this.fail(engine, reply, type, JS_ERR.STREAM_NOT_FOUND);
    const scfg = streamConfigFromJson(sa.config);
    if (isApiError(scfg)) return this.fail(engine, reply, type, scfg);
    const existing = new Map<string, ConsumerConfig>();
    for (const [n, ca] of Object.entries(sa.consumers)) {
      const c = parseConsumerConfig(ca.config);
      if (!isApiError(c)) existing.set(n, c);
    }
    const checked = checkConsumerCreate(streamLimitsFromJson(sa.config, scfg.retention, scfg.subjects), cfg, action, existing, (subject) => engine.ctx.bus.hasInterest(subject));
    if (isApiError(checked)) return this.fail(engine, reply, type, checked);
    const streamReplicas = sa.group.peers.length;
    if (cfg.numReplicas > streamReplicas) return this.fail(engine, reply, type, ConsumerErrors.replicasExceedsStream());
    let ca: ConsumerAssignment;
    const prev = sa.consumers[cfg.name];
    if (checked.existing && prev !== undefined) {
      ca = { ...prev, config: configToJson(cfg) };
    } else {
      const replicas = cfg.numReplicas > 0 ? cfg.numReplicas : streamReplicas;
      // Beside the stream's leader when known here: its retention sees the consumer's acks at once.
      const streamLeader = this.replicas.get(streamKey(engine.account, streamName))?.group.driver.status().leader ?? NONE;
      const ordered = streamLeader !== NONE && sa.group.peers.includes(streamLeader) ? [streamLeader, ...sa.group.peers.filter((p) => p !== streamLeader)] : sa.group.peers;
      const peers = ordered.slice(0, replicas);
      const memory = cfg.memStorage || scfg.storage === 'memory';
      ca = {
        name: cfg.name,
        config: configToJson(cfg),
        created: this.opts.scheduler.now(),
        group: { name: `C-R${replicas}${memory ? 'M' : 'F'}-${randomBytes(6).toString('base64url').replace(/[-_]/g, 'x')}`, peers, founders: peers, retired: [], preferred: peers[0]! },
      };
    }
    try {
      await this.meta.propose({ op: 'consumer', account: engine.account, stream: streamName, ca, reply: reply ?? '', at: this.opts.scheduler.now(), request: '' });
    } catch (err) {
      this.fail(engine, reply, type, { ...JS_ERR.CLUSTER_NOT_AVAILABLE, description: `${JS_ERR.CLUSTER_NOT_AVAILABLE.description}: ${String((err as Error).message)}` });
    }
  }

  private async consumerAdmin(engine: JetStream, what: 'DELETE' | 'NAMES' | 'LIST', tokens: readonly string[], reply: string | null, data: Uint8Array): Promise<void> {
    const streamName = tokens[2];
    const type = what === 'DELETE' ? 'consumer_delete_response' : what === 'NAMES' ? 'consumer_names_response' : 'consumer_list_response';
    if (streamName === undefined) return;
    const sa = this.meta.state.stream(engine.account, streamName);
    if (sa === undefined) return this.fail(engine, reply, type, JS_ERR.STREAM_NOT_FOUND);
    if (what === 'DELETE') {
      const name = tokens[3];
      if (name === undefined) return;
      if (!isEmptyBody(data)) return this.fail(engine, reply, type, JS_ERR.NOT_EMPTY_REQUEST);
      if (sa.consumers[name] === undefined) return this.fail(engine, reply, type, JS_ERR.CONSUMER_NOT_FOUND);
      try {
        await this.meta.propose({ op: 'delconsumer', account: engine.account, stream: streamName, name });
        this.respond(engine, reply, type, { success: true });
      } catch (err) {
        this.fail(engine, reply, type, { ...JS_ERR.CLUSTER_NOT_AVAILABLE, description: String((err as Error).message) });
      }
      return;
    }
    const page = engine.decodePage(data, what === 'NAMES' ? 'JSApiConsumerNamesRequest' : 'JSApiConsumerListRequest');
    if (isApiError(page)) return this.fail(engine, reply, type, page);
    const names = Object.keys(sa.consumers).sort();
    const limit = what === 'NAMES' ? 1024 : 256;
    const offset = Math.min(page.offset, names.length);
    const slice = names.slice(offset, offset + limit);
    if (what === 'NAMES') {
      this.respond(engine, reply, type, { total: names.length, offset, limit, consumers: slice });
      return;
    }
    const infos = await Promise.all(slice.map((n) => this.gatherConsumerInfo(engine, streamName, n)));
    const consumers: Record<string, unknown>[] = [];
    const missing: string[] = [];
    infos.forEach((info, i) => {
      if (info === null) missing.push(slice[i]!);
      else {
        delete info['type'];
        consumers.push(info);
      }
    });
    const body: Record<string, unknown> = { total: names.length, offset, limit, consumers };
    if (missing.length > 0) body['missing'] = missing;
    this.respond(engine, reply, type, body);
  }

  private async gatherConsumerInfo(engine: JetStream, stream: string, name: string): Promise<Record<string, unknown> | null> {
    const local = this.replicas.get(streamKey(engine.account, stream))?.consumers.get(name);
    if (local?.group.isLeader) return local.group.consumer.info();
    return this.ask(engine, `$JS.API.CONSUMER.INFO.${stream}.${name}`);
  }

  /** The number of consumers assigned to a stream (stream info, interest retention). */
  consumerCount(account: string, stream: string): number {
    const sa = this.meta.state.stream(account, stream);
    return sa === undefined ? 0 : Object.keys(sa.consumers).length;
  }

  /** Whether this node answers a request about stream `name`: its leader, or the meta leader when there is no such stream. */
  private answersForStream(account: string, name: string): boolean {
    if (this.meta.state.stream(account, name) === undefined) return this.meta.isLeader;
    return this.leadsStream(account, name);
  }

  private leadsStream(account: string, name: string): boolean {
    return this.replicas.get(streamKey(account, name))?.group.isLeader === true;
  }

  private respond(engine: JetStream, reply: string | null, type: string, body: Record<string, unknown>): void {
    if (!reply) return;
    engine.ctx.bus.publish(reply, null, null, Buffer.from(JSON.stringify({ type: RESPONSE_TYPE_PREFIX + type, ...body })));
  }

  private fail(engine: JetStream, reply: string | null, type: string, error: ApiError): void {
    engine.noteApiError();
    this.respond(engine, reply, type, { error });
  }

  private accountInfo(engine: JetStream): Record<string, unknown> {
    const streams = this.meta.state.streamsOf(engine.account);
    let memory = 0;
    let storage = 0;
    let consumers = 0;
    const leaders = new Map<string, NodeAnnouncement['usage'][string]>();
    const own = this.announcement().usage[engine.account];
    if (own) leaders.set(this.self, own);
    for (const n of this.nodes.online()) {
      const u = n.usage[engine.account];
      if (u) leaders.set(n.id, u);
    }
    for (const u of leaders.values()) {
      memory += u.memory;
      storage += u.storage;
      consumers += u.consumers;
    }
    let reservedMemory = 0;
    let reservedStorage = 0;
    for (const sa of streams) {
      const mb = Number(sa.config['max_bytes'] ?? -1);
      if (mb > 0) {
        if (sa.config['storage'] === 'memory') reservedMemory += mb;
        else reservedStorage += mb;
      }
    }
    consumers = streams.reduce((n, sa) => n + Object.keys(sa.consumers).length, 0);
    return engine.accountInfoWith({ memory, storage, reservedMemory, reservedStorage, streams: streams.length, consumers });
  }

  private async admin(engine: JetStream, what: 'CREATE' | 'UPDATE' | 'DELETE', name: string, reply: string | null, data: Uint8Array): Promise<void> {
    const type = what === 'CREATE' ? 'stream_create_response' : what === 'UPDATE' ? 'stream_update_response' : 'stream_delete_response';
    try {
      const res = what === 'DELETE' ? await this.deleteStream(engine, name, reply, data) : await this.createOrUpdate(engine, what, name, reply, data);
      if (isApiError(res)) this.fail(engine, reply, type, res);
      else if (res !== null) this.respond(engine, reply, type, res);
    } catch (err) {
      this.fail(engine, reply, type, { code: 500, err_code: 10049, description: String((err as Error)?.message ?? err) });
    }
  }

  private configEnv(account: string): { lookup(name: string): StreamConfig | undefined } {
    return {
      lookup: (name) => {
        const sa = this.meta.state.stream(account, name);
        if (sa === undefined) return undefined;
        const c = streamConfigFromJson(sa.config);
        return isApiError(c) ? undefined : c;
      },
    };
  }

  /** null: the stream's leader answers once the group runs the config. */
  private async createOrUpdate(engine: JetStream, what: 'CREATE' | 'UPDATE', name: string, reply: string | null, data: Uint8Array): Promise<Record<string, unknown> | ApiError | null> {
    const decoded = engine.decodeStreamRequest(what === 'CREATE' ? 'create' : 'update', name, data);
    if (isApiError(decoded)) return decoded;
    const cfg = checkStreamConfig(decoded, this.configEnv(engine.account));
    if (isApiError(cfg)) return cfg;
    if (cfg.name !== name) return JS_ERR.STREAM_MISMATCH;
    const existing = this.meta.state.stream(engine.account, name);
    const others = this.meta.state.streamsOf(engine.account).filter((s) => s.name !== name);
    for (const o of others) {
      const subjects = (o.config['subjects'] as string[] | undefined) ?? [];
      if (subjects.some((x) => cfg.subjects.some((y) => subjectsCollide(x, y)))) return JS_ERR.SUBJECTS_OVERLAP;
    }
    const placementCluster = cfg.placement?.cluster;
    if (placementCluster && placementCluster !== this.opts.clusterName) return JS_ERR.NO_SUITABLE_PEERS;
    if (what === 'CREATE') {
      if (existing !== undefined) {
        const cur = streamConfigFromJson(existing.config);
        if (!isApiError(cur) && sameStreamConfig(cur, cfg)) {
          const info = await this.gatherInfo(engine, name);
          return info ?? JS_ERR.CLUSTER_NOT_AVAILABLE;
        }
        return JS_ERR.STREAM_NAME_IN_USE;
      }
      const peers = this.place(cfg, [], []);
      if (isApiError(peers)) return peers;
      const group: GroupSpec = {
        name: `S-R${cfg.num_replicas}${cfg.storage === 'memory' ? 'M' : 'F'}-${randomBytes(6).toString('base64url').replace(/[-_]/g, 'x')}`,
        peers,
        founders: peers,
        retired: [],
        preferred: peers[0]!,
      };
      const sa: StreamAssignment = { account: engine.account, name, config: streamConfigJson(cfg), created: String(this.opts.scheduler.nowNs()), group, consumers: {} };
      await this.meta.propose({ op: 'stream', sa, reply: reply ?? '', at: this.opts.scheduler.now() });
      return null;
    }
    if (existing === undefined) return JS_ERR.STREAM_NOT_FOUND;
    const old = streamConfigFromJson(existing.config);
    if (isApiError(old)) return old;
    const next = checkStreamUpdate(old, cfg, true);
    if (isApiError(next)) return next;
    let group = existing.group;
    if (next.num_replicas !== group.peers.length) {
      if (next.num_replicas < group.peers.length) {
        const keep = group.peers.slice(0, next.num_replicas);
        group = { ...group, peers: keep, retired: [...group.retired, ...group.peers.slice(next.num_replicas)] };
      } else {
        const peers = this.place(next, group.peers, group.retired);
        if (isApiError(peers)) return peers;
        group = { ...group, peers };
      }
    }
    const sa: StreamAssignment = { ...existing, config: streamConfigJson(next), group };
    await this.meta.propose({ op: 'stream', sa, reply: reply ?? '', at: this.opts.scheduler.now() });
    return null;
  }

  private place(cfg: StreamConfig, existing: readonly NodeId[], ignore: readonly NodeId[]): NodeId[] | ApiError {
    const assets = new Map<NodeId, number>();
    for (const sa of this.meta.state.streams.values()) for (const p of sa.group.peers) assets.set(p, (assets.get(p) ?? 0) + 1);
    const voters = this.meta.status()?.voters ?? [this.self];
    const candidates: Candidate[] = voters.map((id) => {
      const n = id === this.self ? this.announcement() : this.nodes.get(id);
      return {
        id,
        name: n?.name ?? id,
        cluster: n?.cluster ?? '',
        tags: n?.tags ?? [],
        online: this.nodes.isOnline(id),
        assets: assets.get(id) ?? 0,
      };
    });
    return selectPeers(candidates, {
      replicas: cfg.num_replicas,
      cluster: this.opts.clusterName,
      tags: cfg.placement?.tags ?? [],
      uniqueTag: this.opts.uniqueTag,
      existing,
      ignore,
    });
  }

  /**
   * The stream's leader answers once its replica is gone (nats-server: so the client reads its own
   * delete wherever it asks next); every member when it has no leader; the meta leader when
   * every member is offline. null: answered there.
   */
  private async deleteStream(engine: JetStream, name: string, reply: string | null, data: Uint8Array): Promise<Record<string, unknown> | ApiError | null> {
    if (!isEmptyBody(data)) return JS_ERR.NOT_EMPTY_REQUEST;
    const sa = this.meta.state.stream(engine.account, name);
    if (sa === undefined) return JS_ERR.STREAM_NOT_FOUND;
    const offline = !sa.group.peers.some((p) => this.nodes.isOnline(p));
    await this.meta.propose({ op: 'delstream', account: engine.account, name, reply: offline ? '' : (reply ?? ''), at: this.opts.scheduler.now() });
    return offline ? { success: true } : null;
  }

  private async listStreams(engine: JetStream, what: 'NAMES' | 'LIST', reply: string | null, data: Uint8Array): Promise<void> {
    const type = what === 'NAMES' ? 'stream_names_response' : 'stream_list_response';
    const page = engine.decodePage(data, what === 'NAMES' ? 'JSApiStreamNamesRequest' : 'JSApiStreamListRequest');
    if (isApiError(page)) return this.fail(engine, reply, type, page);
    let all = this.meta.state.streamsOf(engine.account);
    if (page.subject !== '') {
      all = all.filter((sa) => {
        const subjects = (sa.config['subjects'] as string[] | undefined) ?? [];
        return (subjects.length > 0 ? subjects : [sa.name]).some((x) => subjectsCollide(page.subject, x));
      });
    }
    const limit = what === 'NAMES' ? 1024 : 256;
    const offset = Math.min(page.offset, all.length);
    const slice = all.slice(offset, offset + limit);
    if (what === 'NAMES') {
      this.respond(engine, reply, type, { total: all.length, offset, limit, streams: slice.map((s) => s.name) });
      return;
    }
    const infos = await Promise.all(slice.map((sa) => this.gatherInfo(engine, sa.name)));
    const streams: Record<string, unknown>[] = [];
    const missing: string[] = [];
    infos.forEach((info, i) => {
      if (info === null) missing.push(slice[i]!.name);
      else {
        delete info['type'];
        delete info['total'];
        delete info['offset'];
        delete info['limit'];
        streams.push(info);
      }
    });
    const body: Record<string, unknown> = { total: all.length, offset, limit, streams };
    if (missing.length > 0) body['missing'] = missing;
    this.respond(engine, reply, type, body);
  }

  /** Asks the stream's leader for its info over the account's bus (null: no answer in time). */
  private async gatherInfo(engine: JetStream, name: string): Promise<Record<string, unknown> | null> {
    const local = this.replicas.get(streamKey(engine.account, name));
    if (local?.group.isLeader) return local.stream.info();
    return this.ask(engine, `$JS.API.STREAM.INFO.${name}`);
  }

  /** An internal API request over the account's bus; the answer unless it is an error or late. */
  private ask(engine: JetStream, subject: string): Promise<Record<string, unknown> | null> {
    const inbox = `$JSC.P.INFO.${this.self}.${++this.inboxSeq}`;
    const bus = engine.ctx.bus;
    return new Promise((resolve) => {
      const timer = this.opts.scheduler.setTimeout(() => {
        sub.unsubscribe();
        resolve(null);
      }, INFO_GATHER_MS);
      const sub = bus.subscribe(inbox, null, (_s, _r, _h, d) => {
        sub.unsubscribe();
        this.opts.scheduler.clearTimeout(timer);
        try {
          const v = JSON.parse(Buffer.from(d).toString('utf8')) as Record<string, unknown>;
          resolve(v['error'] === undefined ? v : null);
        } catch {
          resolve(null);
        }
      });
      bus.publish(subject, inbox, null, new Uint8Array(0));
    });
  }

  /**
   * A removal request's JSON object (nats-server: an empty body is a bad request, unreadable
   * JSON is invalid JSON).
   */
  private removalBody(data: Uint8Array, goType: string): Record<string, unknown> | ApiError {
    if (isEmptyBody(data)) return JS_ERR.BAD_REQUEST;
    try {
      const v: unknown = JSON.parse(Buffer.from(data).toString('utf8'));
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
      return invalidJson(`json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into Go value of type server.${goType}`);
    } catch (err) {
      return invalidJson((err as Error).message);
    }
  }

  /** `$JS.API.STREAM.PEER.REMOVE.<stream>`: `{"peer": "<server name>"}` leaves the group; placement picks a replacement. */
  private async peerRemove(engine: JetStream, name: string, reply: string | null, data: Uint8Array): Promise<void> {
    const type = 'stream_remove_peer_response';
    const body = this.removalBody(data, 'JSApiStreamRemovePeerRequest');
    if (isApiError(body)) return this.fail(engine, reply, type, body);
    const peer = typeof body['peer'] === 'string' ? body['peer'] : '';
    if (peer === '') return this.fail(engine, reply, type, JS_ERR.BAD_REQUEST);
    const sa = this.meta.state.stream(engine.account, name);
    if (sa === undefined) return this.fail(engine, reply, type, JS_ERR.STREAM_NOT_FOUND);
    const id = this.nodes.idOf(peer);
    if (id === undefined || !sa.group.peers.includes(id)) return this.fail(engine, reply, type, JS_ERR.PEER_NOT_MEMBER);
    try {
      const replaced = await this.movePeer(sa, id);
      if (replaced) this.respond(engine, reply, type, { success: true });
      else this.fail(engine, reply, type, JS_ERR.PEER_REMAP);
    } catch (err) {
      this.fail(engine, reply, type, { ...JS_ERR.CLUSTER_NOT_AVAILABLE, description: `${JS_ERR.CLUSTER_NOT_AVAILABLE.description}: ${String((err as Error)?.message ?? err)}` });
    }
  }

  /**
   * Takes `gone` out of a stream's group and, where placement finds one, puts another node in its
   * place (nats-server remapStreamAssignment): without a replacement an R>1 group shrinks and an R1
   * group stays. The stream's consumers on `gone` follow: a replicated consumer swaps the peer
   * (its leader moves the members, the newcomer gets the state from it); an R1 durable starts over
   * on the stream's new peer, as its only copy is on the removed node; an ephemeral there is deleted.
   * True when a replacement was found.
   */
  private async movePeer(sa: StreamAssignment, gone: NodeId): Promise<boolean> {
    const cfg = streamConfigFromJson(sa.config);
    const kept = sa.group.peers.filter((p) => p !== gone);
    const retired = sa.group.retired.includes(gone) ? sa.group.retired : [...sa.group.retired, gone];
    const placed = isApiError(cfg) ? cfg : this.place({ ...cfg, num_replicas: sa.group.peers.length }, kept, retired);
    const replaced = !isApiError(placed);
    const peers = replaced ? placed : kept;
    if (peers.length === 0) return false;
    const group: GroupSpec = { ...sa.group, peers, retired, preferred: peers.includes(sa.group.preferred) ? sa.group.preferred : peers[0]! };
    await this.meta.propose({ op: 'stream', sa: { ...sa, group }, reply: '', at: 0 });
    for (const ca of Object.values(sa.consumers)) {
      if (!ca.group.peers.includes(gone)) continue;
      const cg = ca.group;
      const durable = typeof ca.config['durable_name'] === 'string' && ca.config['durable_name'] !== '';
      if (cg.peers.length === 1 && !durable) {
        await this.meta.propose({ op: 'delconsumer', account: sa.account, stream: sa.name, name: ca.name });
        continue;
      }
      const substitute = peers.find((p) => !cg.peers.includes(p) && !cg.retired.includes(p));
      const cpeers = cg.peers.flatMap((p) => (p !== gone ? [p] : substitute !== undefined ? [substitute] : []));
      if (cpeers.length === 0) continue;
      const next: GroupSpec =
        cg.peers.length === 1
          ? { name: `${cg.name.slice(0, cg.name.lastIndexOf('-'))}-${randomBytes(6).toString('base64url').replace(/[-_]/g, 'x')}`, peers: cpeers, founders: cpeers, retired: [], preferred: cpeers[0]! }
          : { ...cg, peers: cpeers, retired: [...cg.retired, gone], preferred: cpeers.includes(cg.preferred) ? cg.preferred : cpeers[0]! };
      await this.meta.propose({ op: 'consumer', account: sa.account, stream: sa.name, ca: { ...ca, group: next }, reply: '', at: 0, request: '' });
    }
    return replaced;
  }

  /**
   * `$JS.API.SERVER.REMOVE`: `{"peer": "<server name>"}` or `{"peer_id": "<id>"}` (which wins)
   * leaves the meta group for good; its replicas move elsewhere.
   */
  private async serverRemove(engine: JetStream, reply: string | null, data: Uint8Array): Promise<void> {
    const type = 'meta_server_remove_response';
    const body = this.removalBody(data, 'JSApiMetaServerRemoveRequest');
    if (isApiError(body)) return this.fail(engine, reply, type, body);
    const peerId = typeof body['peer_id'] === 'string' ? body['peer_id'] : '';
    const server = typeof body['peer'] === 'string' ? body['peer'] : '';
    const voters = this.meta.status()?.voters ?? [];
    const id = peerId !== '' ? voters.find((v) => v === peerId) : voters.find((v) => server !== '' && this.nameOf(v) === server);
    if (id === undefined) return this.fail(engine, reply, type, JS_ERR.SERVER_NOT_MEMBER);
    try {
      await this.meta.propose({ op: 'removenode', id });
      for (const sa of [...this.meta.state.streams.values()]) {
        if (sa.group.peers.includes(id)) await this.movePeer(sa, id);
      }
      if (id === this.self) await this.meta.stepDown().catch(() => undefined);
      await this.meta.removePeer(id);
      this.respond(engine, reply, type, { success: true });
    } catch (err) {
      this.fail(engine, reply, type, { ...JS_ERR.CLUSTER_NOT_AVAILABLE, description: `${JS_ERR.CLUSTER_NOT_AVAILABLE.description}: ${String((err as Error)?.message ?? err)}` });
    }
  }

  // ---------------------------------------------------------------- monitoring

  /** /jsz's meta_cluster (nats-server MetaClusterInfo): replicas only on the leader. */
  metaClusterInfo(): Record<string, unknown> {
    const st = this.meta.status();
    const o: Record<string, unknown> = { name: this.opts.clusterName };
    const leader = st?.leader ?? NONE;
    if (leader !== NONE) {
      o['leader'] = this.nameOf(leader);
      o['peer'] = leader;
    }
    if (st !== null && leader === this.self) {
      const replicas = st.peers.map((p) => {
        const silence = this.silenceMs(p.id);
        const r: Record<string, unknown> = { name: this.nameOf(p.id), current: p.current, active: (p.lastActiveMs ?? silence ?? 0) * 1_000_000 };
        if (silence === null || silence > 5_000) r['offline'] = true;
        if (p.lag > 0) r['lag'] = p.lag;
        r['peer'] = p.id;
        return r;
      });
      if (replicas.length > 0) o['replicas'] = replicas;
    }
    o['cluster_size'] = st?.voters.length ?? 0;
    return o;
  }

  /** Raft detail for /jsz?raft=1: every group this node runs. */
  raftDetail(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    const describe = (kind: string, name: string, s: ReturnType<StreamGroup['status']> | ReturnType<MetaGroup['status']>, extra: Record<string, unknown> = {}) => {
      if (s === null) return;
      out.push({
        kind,
        group: s.group,
        name,
        state: s.state,
        leader: s.leader === NONE ? '' : this.nameOf(s.leader),
        term: s.term,
        commit: s.commit,
        applied: s.applied,
        first_index: s.firstIndex,
        last_index: s.lastIndex,
        snapshot_index: s.snapshotIndex,
        peers: s.voters.map((v) => this.nameOf(v)),
        lag: s.peers.reduce((m, p) => Math.max(m, p.lag), 0),
        ...(s.storageError ? { storage_error: s.storageError } : {}),
        ...extra,
      });
    };
    describe('meta', META_GROUP, this.meta.status());
    for (const r of this.replicas.values()) {
      const s = r.group.status();
      describe('stream', `${r.sa.account} > ${r.sa.name}`, s, { catching_up: s.catchingUp, ...(s.broken ? { broken: s.broken } : {}) });
      for (const [name, c] of r.consumers) describe('consumer', `${r.sa.account} > ${r.sa.name} > ${name}`, c.group.status());
    }
    return out;
  }

  /**
   * /healthz (nats-server healthz): JetStream is current here — a meta leader known and this node
   * caught up with it, and (unless `serverOnly`) every stream and consumer assigned to this node
   * open, led and caught up. An assignment this node has not opened yet is not current.
   */
  health(serverOnly: boolean): { ok: true } | { ok: false; error: string } {
    const meta = this.meta.status();
    if (meta === null || meta.leader === NONE) return { ok: false, error: 'JetStream has not established contact with a meta leader' };
    if (meta.applied < meta.commit) return { ok: false, error: 'JetStream is not current with the meta leader' };
    if (serverOnly) return { ok: true };
    for (const [key, sa] of this.meta.state.streams) {
      if (!sa.group.peers.includes(this.self)) continue;
      const what = `JetStream stream '${sa.account} > ${sa.name}' is not current`;
      const r = this.replicas.get(key);
      if (r === undefined || r.sa.group.name !== sa.group.name) return { ok: false, error: what };
      const s = r.group.status();
      if (s.broken) return { ok: false, error: `${what}: ${s.broken}` };
      if (s.catchingUp || s.leader === NONE) return { ok: false, error: what };
      for (const ca of Object.values(sa.consumers)) {
        if (!ca.group.peers.includes(this.self)) continue;
        const c = r.consumers.get(ca.name);
        if (c === undefined || c.group.status().leader === NONE) return { ok: false, error: `JetStream consumer '${sa.account} > ${sa.name} > ${ca.name}' is not current` };
      }
    }
    return { ok: true };
  }

  /** Counters for /metrics. */
  metrics(): Record<string, number> {
    const meta = this.meta.status();
    let leaders = 0;
    let catchingUp = 0;
    let maxLag = 0;
    let consumerReplicas = 0;
    let consumerLeaders = 0;
    for (const r of this.replicas.values()) {
      const s = r.group.status();
      if (r.group.isLeader) leaders++;
      consumerReplicas += r.consumers.size;
      for (const c of r.consumers.values()) if (c.group.isLeader) consumerLeaders++;
      if (s.catchingUp) catchingUp++;
      for (const p of s.peers) maxLag = Math.max(maxLag, p.lag);
    }
    return {
      meta_leader: meta?.leader === this.self ? 1 : 0,
      meta_term: meta?.term ?? 0,
      meta_commit: meta?.commit ?? 0,
      meta_cluster_size: meta?.voters.length ?? 0,
      stream_replicas: this.replicas.size,
      stream_leaders: leaders,
      stream_replicas_catching_up: catchingUp,
      stream_max_follower_lag: maxLag,
      consumer_replicas: consumerReplicas,
      consumer_leaders: consumerLeaders,
      raft_msgs_out: this.net.stats.msgsOut,
      raft_msgs_in: this.net.stats.msgsIn,
      raft_publishes: this.net.stats.sent,
      raft_bytes_out: this.net.stats.sentBytes,
      raft_bad_envelopes: this.net.stats.badEnvelopes,
    };
  }

  /** The local replica of a stream (monitoring, the node-local read API). */
  replicaOf(account: string, name: string): { stream: Stream; group: StreamGroup } | undefined {
    const r = this.replicas.get(streamKey(account, name));
    return r === undefined ? undefined : { stream: r.stream, group: r.group };
  }

  /** nats-server timestamps stream creation; used when answering with assignment data alone. */
  static createdText(sa: StreamAssignment): string {
    return rfc3339Nano(BigInt(sa.created));
  }
}

interface FetchRequest {
  account: string;
  stream: string;
  group: string;
  from: number;
  to: number;
}

function consumerKey(account: string, stream: string, name: string): string {
  return `${streamKey(account, stream)}\u0000${name}`;
}

function isEmptyBody(data: Uint8Array): boolean {
  if (data.length === 0) return true;
  try {
    const v: unknown = JSON.parse(Buffer.from(data).toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;
  } catch {
    return false;
  }
}

// Replicas of one consumer over real Raft group drivers, without sockets: FileStorage in temp
// directories (with a gate per node that can hold its fsyncs), the in-memory transport, one fake
// clock for the drivers and the consumers, one synchronous bus (the cluster's interest is one
// space) and one shared in-memory stream. Time only moves when a test ticks. A client that pulls
// from whoever leads and records what it saw lives here too.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RaftDriver, bootstrap } from '../../../../src/raft/driver.ts';
import type { SnapshotPolicy } from '../../../../src/raft/driver.ts';
import { FileStorage } from '../../../../src/raft/file_storage.ts';
import { deriveSeed, seededRandom } from '../../../../src/raft/prng.ts';
import { MemoryTransport } from '../../../../src/raft/transport.ts';
import type { NodeId } from '../../../../src/raft/types.ts';
import { GroupSync } from '../../../../src/storage/group_sync.ts';
import { applyDefaults, parseConsumerConfig, type ConsumerConfig } from '../../../../src/jetstream/consumers/config.ts';
import type { Consumer } from '../../../../src/jetstream/consumers/consumer.ts';
import { ConsumerManager } from '../../../../src/jetstream/consumers/api.ts';
import { isApiError } from '../../../../src/jetstream/consumers/errors.ts';
import { RaftConsumerReplicator, raftStateMachine } from '../../../../src/jetstream/consumers/raft_replicator.ts';
import type { JsContext } from '../../../../src/jetstream/seams.ts';
import { settleGroup, tickGroup, untilTicked } from '../../../support/raft_settle.ts';
import { SyncGate } from '../../raft/driver_cluster.ts';
import { FakeScheduler, FakeStream, Inbox, seqOf, silentLogger, TestBus, type Received } from './harness.ts';

export const TICK_MS = 10;

export interface Replica {
  id: NodeId;
  gate: SyncGate;
  storage: FileStorage;
  driver: RaftDriver;
  replicator: RaftConsumerReplicator;
  manager: ConsumerManager;
  consumer: Consumer;
  errors: Error[];
  up: boolean;
}

export interface RigOptions {
  snapshot?: Partial<SnapshotPolicy>;
  seed?: number;
  /** how soon a driver retries a failed disk write (ms) */
  storageRetryMs?: number;
}

export class ReplicatedConsumerRig {
  readonly clock = new FakeScheduler();
  readonly transport = new MemoryTransport();
  readonly bus = new TestBus();
  readonly stream = new FakeStream({ sched: this.clock });
  readonly advisories: { suffix: string; body: Record<string, unknown> }[] = [];
  readonly replicas = new Map<NodeId, Replica>();
  readonly cfg: ConsumerConfig;
  private readonly ctx: JsContext;
  private readonly root: string;
  private readonly opts: RigOptions;
  private incarnation = 0;

  private constructor(config: Record<string, unknown>, opts: RigOptions) {
    this.opts = opts;
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-cons-raft-'));
    this.ctx = {
      bus: this.bus,
      scheduler: this.clock,
      logger: silentLogger,
      domain: undefined,
      advisory: (suffix, body) => void this.advisories.push({ suffix, body }),
    };
    const cfg = parseConsumerConfig(config);
    if (isApiError(cfg)) throw new Error(`bad config: ${cfg.description}`);
    this.cfg = applyDefaults(cfg, {
      retention: 'limits',
      subjects: ['foo.>'],
      maxAckPendingLimit: 0,
      inactiveThresholdLimitNs: 0,
      maxConsumers: 0,
      replicas: 3,
    });
  }

  static async create(ids: NodeId[], config: Record<string, unknown>, opts: RigOptions = {}): Promise<ReplicatedConsumerRig> {
    const rig = new ReplicatedConsumerRig(config, opts);
    for (const id of ids) {
      const storage = FileStorage.open(rig.dirOf(id));
      await bootstrap(storage, ids);
      await storage.close();
    }
    for (const id of ids) rig.start(id);
    return rig;
  }

  dirOf(id: NodeId): string {
    return path.join(this.root, id);
  }

  /** Opens `id`'s storage and starts its consumer replica and driver (a restart recovers both from disk). */
  start(id: NodeId): Replica {
    const prev = this.replicas.get(id);
    if (prev?.up) throw new Error(`${id} is already up`);
    const gate = prev?.gate ?? new SyncGate();
    const errors: Error[] = [];
    const storage = FileStorage.open(this.dirOf(id), { groupSync: new GroupSync(gate.sync), onError: (e) => errors.push(e) });
    const manager = new ConsumerManager(this.ctx);
    const replicator = new RaftConsumerReplicator();
    const consumer = manager.addReplica(this.stream, { ...this.cfg }, 0, {
      replicator,
      clusterInfo: () => ({ name: 'C', leader: this.leader()?.id ?? '' }),
    });
    if (isApiError(consumer)) throw new Error(consumer.description);
    const driver = new RaftDriver({
      id,
      group: 'C',
      storage,
      transport: this.transport,
      scheduler: this.clock,
      stateMachine: raftStateMachine(consumer.replicated),
      random: seededRandom(deriveSeed(this.opts.seed ?? 7, ++this.incarnation)),
      tickMs: TICK_MS,
      snapshot: this.opts.snapshot ?? { entries: 0, bytes: 0 },
      ...(this.opts.storageRetryMs !== undefined ? { storageRetryMs: this.opts.storageRetryMs } : {}),
      onError: (e) => errors.push(e),
    });
    const r: Replica = { id, gate, storage, driver, replicator, manager, consumer, errors, up: true };
    this.replicas.set(id, r);
    replicator.attach(driver);
    driver.start();
    return r;
  }

  replica(id: NodeId): Replica {
    const r = this.replicas.get(id);
    if (!r) throw new Error(`no replica ${id}`);
    return r;
  }

  up(): Replica[] {
    return [...this.replicas.values()].filter((r) => r.up);
  }

  /** kill -9: the consumer and its driver stop at once; writes already handed to the kernel still land. */
  async kill(id: NodeId): Promise<void> {
    const r = this.replica(id);
    r.up = false;
    r.consumer.stop(false);
    r.driver.halt();
    r.replicator.detach();
    r.gate.release();
    await r.storage.close();
  }

  /** The replica whose consumer leads, if any. */
  leader(): Replica | null {
    for (const r of this.up()) if (r.consumer.isLeader) return r;
    return null;
  }

  /** Delivers Raft messages, waits for disk writes (except held ones) and for promise callbacks, until nothing moves. */
  settle(): Promise<void> {
    return settleGroup(this.transport, () => this.up());
  }

  tick(n = 1): Promise<void> {
    return tickGroup(this.clock, TICK_MS, () => this.settle(), n);
  }

  until(cond: () => boolean, what: string, maxTicks = 600): Promise<void> {
    return untilTicked(cond, what, maxTicks, () => this.tick());
  }

  /** Hands leadership away (to `to`, or the most caught-up), ticking until the transfer is over. */
  async stepDown(from: NodeId, to?: NodeId): Promise<void> {
    let done = false;
    let failure: unknown = null;
    this.replica(from).driver.stepDown(to).then(
      () => (done = true),
      (e: unknown) => {
        failure = e;
        done = true;
      },
    );
    await this.until(() => done, 'leadership transfer');
    if (failure !== null) throw failure;
  }

  async waitForLeader(): Promise<Replica> {
    await this.until(() => this.leader() !== null && this.leader()!.consumer.started, 'a consumer leader with a starting position');
    return this.leader()!;
  }

  /** Every replica that is up applied the same entries: their whole states are byte-identical. */
  async converged(): Promise<void> {
    await this.until(() => {
      const rs = this.up();
      const applied = rs.map((r) => r.driver.status().applied);
      return applied.every((a) => a === applied[0]);
    }, 'replicas apply the same index');
  }

  snapshots(): Map<NodeId, Buffer> {
    return new Map(this.up().map((r) => [r.id, Buffer.from(r.consumer.replicated.snapshot())]));
  }

  async close(): Promise<void> {
    for (const r of this.up()) await this.kill(r.id);
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** What the pulling client saw, in order. */
export type ClientEvent =
  | { kind: 'msg'; sseq: number; dseq: number; dc: number; data: string }
  | { kind: 'acked'; sseq: number }
  | { kind: 'status'; status: number; description: string };

/**
 * A pull client: asks whoever leads for batches, acks with a reply (double ack) and counts a
 * message as acked only once that reply came back. `skipFirst` seqs are left unacked on their
 * first delivery, so they must come again.
 */
export class PullClient {
  readonly events: ClientEvent[] = [];
  readonly acked = new Set<number>();
  private readonly rig: ReplicatedConsumerRig;
  private readonly inbox: Inbox;
  private readonly answers: Inbox;
  private readonly skipFirst: Set<number>;
  private readonly replies = new Map<number, string>();
  private pullExpiresAt = 0;
  private acks = 0;

  constructor(rig: ReplicatedConsumerRig, skipFirst: Iterable<number> = []) {
    this.rig = rig;
    this.skipFirst = new Set(skipFirst);
    this.inbox = new Inbox(rig.bus, '_INBOX.pull');
    this.answers = new Inbox(rig.bus, '_INBOX.ackack.>');
    this.inbox.onMsg = (m) => this.onMessage(m);
    this.answers.onMsg = (m) => {
      const sseq = Number(m.subject.split('.')[2]);
      if (!this.acked.has(sseq)) this.events.push({ kind: 'acked', sseq });
      this.acked.add(sseq);
    };
  }

  /** Sends a pull request to the leader unless one is still out (or `force`). */
  pull(batch = 5, expiresMs = 300, force = false): boolean {
    const now = this.rig.clock.now();
    if (now < this.pullExpiresAt && !force) return false;
    const l = this.rig.leader();
    if (!l || !l.consumer.started) return false;
    this.pullExpiresAt = now + expiresMs;
    return this.request({ batch, expires: expiresMs * 1_000_000 });
  }

  /** Sends a MSG.NEXT request with this body to the leader. */
  request(body: Record<string, unknown>): boolean {
    const l = this.rig.leader();
    if (!l || !l.consumer.started) return false;
    const data = Buffer.from(JSON.stringify(body));
    l.manager.handle(this.rig.stream, { tokens: ['CONSUMER', 'MSG', 'NEXT', this.rig.stream.name, l.consumer.name], reply: '_INBOX.pull', data, hdr: null });
    return true;
  }

  messages(): Extract<ClientEvent, { kind: 'msg' }>[] {
    return this.events.filter((e): e is Extract<ClientEvent, { kind: 'msg' }> => e.kind === 'msg');
  }

  statuses(): string[] {
    return this.events.flatMap((e) => (e.kind === 'status' ? [`${e.status} ${e.description}`] : []));
  }

  /** A message delivered again after its ack was confirmed: what must never happen. */
  redeliveredAfterAck(): number[] {
    const confirmed = new Set<number>();
    const bad: number[] = [];
    for (const e of this.events) {
      if (e.kind === 'acked') confirmed.add(e.sseq);
      else if (e.kind === 'msg' && confirmed.has(e.sseq)) bad.push(e.sseq);
    }
    return bad;
  }

  close(): void {
    this.inbox.close();
    this.answers.close();
  }

  private onMessage(m: Received): void {
    if (m.status !== 0) {
      this.events.push({ kind: 'status', status: m.status, description: m.description });
      // the request is over: ask again at once
      if (m.status === 409 || m.status === 408 || m.status === 404) this.pullExpiresAt = 0;
      return;
    }
    const { sseq, dseq, dc } = seqOf(m);
    this.events.push({ kind: 'msg', sseq, dseq, dc, data: m.data });
    this.replies.set(sseq, m.reply!);
    if (dc === 1 && this.skipFirst.has(sseq)) return;
    this.ack(sseq);
  }

  /** Acks the last delivery of `sseq`, asking for an answer (double ack). */
  ack(sseq: number): void {
    this.rig.bus.publish(this.replies.get(sseq)!, `_INBOX.ackack.${sseq}.${++this.acks}`, null, Buffer.from('+ACK'));
  }
}

// One replica of a replicated consumer: the consumer (its state machine, from the consumer
// engine's addReplica) inside a Raft group on a subset of its stream's peers. The consumer's
// RaftConsumerReplicator follows the group's leader; the leader delivers, takes acks and pull
// requests, and proposes every state change; each replica applies them in order
// (src/jetstream/consumers/replicator.ts describes the wiring). Memory-storage consumers keep
// their Raft log in memory, as nats-server does.

import type { Logger } from '../../log.ts';
import { RaftDriver, bootstrap, type DriverOptions, type DriverScheduler } from '../../raft/driver.ts';
import { FileStorage } from '../../raft/file_storage.ts';
import { groupRandom } from '../../raft/prng.ts';
import { VolatileStorage, type AsyncRaftStorage } from '../../raft/storage.ts';
import { NONE, type NodeId } from '../../raft/types.ts';
import type { Consumer } from '../consumers/consumer.ts';
import { RaftConsumerReplicator, raftStateMachine } from '../consumers/raft_replicator.ts';
import type { RaftNet } from './raft_net.ts';
import { PEER_OFFLINE_MS, type ClusterView } from './stream_group.ts';

export interface ConsumerGroupOptions {
  group: string;
  view: ClusterView;
  net: RaftNet;
  /** The group's Raft directory (file-backed consumers). */
  dir: string;
  memory: boolean;
  /** Voters to bootstrap an empty group with (the peers at creation); null: join, wait for the leader. */
  founders: NodeId[] | null;
  scheduler: DriverScheduler;
  logger: Logger;
  driver?: Partial<Pick<DriverOptions, 'tickMs' | 'raft'>>;
  /** Creates the consumer replica bound to the replicator (before the driver, which restores into it). */
  create: (replicator: RaftConsumerReplicator, clusterInfo: () => Record<string, unknown>) => Consumer;
}

export class ConsumerGroup {
  readonly group: string;
  readonly replicator = new RaftConsumerReplicator();
  readonly consumer: Consumer;
  readonly driver: RaftDriver;
  private readonly view: ClusterView;

  private constructor(opts: ConsumerGroupOptions, storage: AsyncRaftStorage) {
    this.group = opts.group;
    this.view = opts.view;
    this.consumer = opts.create(this.replicator, () => this.clusterInfo());
    this.driver = new RaftDriver({
      id: opts.view.self,
      group: opts.group,
      storage,
      transport: opts.net.transport(opts.group),
      scheduler: opts.scheduler,
      stateMachine: raftStateMachine(this.consumer.replicated),
      random: groupRandom(opts.view.self, opts.group, 11),
      onError: (err) => opts.logger.warn({ group: opts.group, err: err.message }, 'JetStream consumer group'),
      ...opts.driver,
    });
    this.replicator.attach(this.driver);
  }

  static async open(opts: ConsumerGroupOptions): Promise<ConsumerGroup> {
    const storage: AsyncRaftStorage = opts.memory
      ? new VolatileStorage()
      : FileStorage.open(opts.dir, { onError: (err) => opts.logger.error({ group: opts.group, err: err.message }, 'JetStream consumer group storage') });
    const empty = storage.snapshot().meta.index === 0 && storage.lastIndex() === 0;
    if (empty && opts.founders !== null) await bootstrap(storage, opts.founders);
    const g = new ConsumerGroup(opts, storage);
    g.driver.start();
    return g;
  }

  get isLeader(): boolean {
    return this.replicator.isLeader;
  }

  campaign(): void {
    this.driver.campaign();
  }

  /** The `cluster` object of consumer info (nats-server ClusterInfo). */
  clusterInfo(): Record<string, unknown> {
    const st = this.driver.status();
    const o: Record<string, unknown> = { name: this.view.clusterName };
    if (st.leader !== NONE) o['leader'] = this.view.nameOf(st.leader);
    const replicas: Record<string, unknown>[] = [];
    for (const p of st.peers) {
      const silence = this.view.silenceMs(p.id);
      const r: Record<string, unknown> = { name: this.view.nameOf(p.id), current: p.current, active: (p.lastActiveMs ?? silence ?? 0) * 1_000_000 };
      if (silence === null || silence > PEER_OFFLINE_MS) r['offline'] = true;
      if (p.lag > 0) r['lag'] = p.lag;
      r['peer'] = p.id;
      replicas.push(r);
    }
    if (replicas.length > 0) o['replicas'] = replicas;
    return o;
  }

  status(): ReturnType<RaftDriver['status']> {
    return this.driver.status();
  }

  /** Stops following the group and closes it (the consumer itself is the engine's to delete). */
  async close(): Promise<void> {
    this.replicator.detach();
    await this.driver.close();
  }
}

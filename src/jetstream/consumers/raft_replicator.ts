// A consumer replicated by a Raft group: the ConsumerReplicator seam over a RaftDriver, and the
// consumer's state machine in the shape the driver applies. Generic on purpose (it knows
// nothing of routes, placement or storage): the cluster layer creates the driver and attaches
// it (replicator.ts describes the order).

import type { RaftDriver, StateMachine } from '../../raft/driver.ts';
import { RaftError, RaftErrorCode } from '../../raft/errors.ts';
import { EntryType } from '../../raft/types.ts';
import type { ConsumerReplicator, ReplicatedConsumer } from './replicator.ts';

export class RaftConsumerReplicator implements ConsumerReplicator {
  private driver: RaftDriver | null = null;
  private leading = false;
  private unwatch: (() => void) | null = null;
  private readonly listeners = new Set<(isLeader: boolean) => void>();

  /**
   * Follows `driver`'s effective leader: this replica leads once its driver announced itself,
   * which it does only after applying an entry of its own term (so after every earlier one).
   */
  attach(driver: RaftDriver): void {
    this.detach();
    this.driver = driver;
    this.unwatch = driver.onLeaderChange((ev) => this.set(ev.leader === driver.id));
    this.set(driver.status().leader === driver.id);
  }

  /** Stops following the driver (it is closing); this replica no longer leads. */
  detach(): void {
    this.unwatch?.();
    this.unwatch = null;
    this.driver = null;
    this.set(false);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  propose(entry: Uint8Array): Promise<void> {
    const d = this.driver;
    if (d === null) return Promise.reject(new RaftError(RaftErrorCode.Closed, 'consumer replicator: no raft group attached'));
    return d.propose(entry).then(() => undefined);
  }

  onLeaderChange(fn: (isLeader: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  private set(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    for (const fn of [...this.listeners]) fn(leading);
  }
}

/** The consumer's replicated state as the driver's StateMachine (membership and empty entries carry nothing for it). */
export function raftStateMachine(consumer: ReplicatedConsumer): StateMachine {
  return {
    apply(e) {
      if (e.type === EntryType.Normal && e.data.length > 0) consumer.applyEntry(e.data);
    },
    snapshot: () => consumer.snapshot(),
    restore(s) {
      if (s.data.length > 0) consumer.restore(s.data);
    },
  };
}

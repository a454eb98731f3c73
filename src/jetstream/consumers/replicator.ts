// Who orders a consumer's state changes. The consumer leader turns every change into an entry
// (entries.ts) and proposes it here; each replica applies committed entries in order through
// the consumer's `replicated` state machine; the leader does the side effects (sending a
// message, answering a double ack, advisories) once its proposal resolved.
//
// Wiring a replicated consumer (cluster, num_replicas > 1 or any consumer the meta group
// places on a Raft group) — one replica per peer of the consumer's group:
//   1. const replicator = new RaftConsumerReplicator();                   (raft_replicator.ts)
//   2. const consumer = consumers.addReplica(stream, cfg, createdMs, {
//        replicator, clusterInfo: () => ({ name, leader, replicas }), onInactive });
//      `cfg` as the meta leader checked it (config.ts: parseConsumerConfig, applyDefaults,
//      checkConsumerConfig, checkUpdate are the single-node API's own checks).
//      The consumer exists before the driver: the driver restores its snapshot into it.
//      No files are written for it (durability is the group's log; memory-storage consumers
//      simply use a memory log).
//   3. const driver = new RaftDriver({ ..., stateMachine: raftStateMachine(consumer.replicated) });
//      replicator.attach(driver); driver.start();
//   4. Leadership comes from the driver's effective leader (announced once the leader applied
//      an entry of its term, so every earlier entry is applied): the new leader re-reads the
//      replicated state, tells the pull requests its predecessor was holding to ask again
//      (409 Leadership Change, as nats-server), starts its timers, subscribes to acks and
//      delivers; a replica that loses leadership stops all of that and drops its pull requests.
//   5. Route `CONSUMER.INFO` and `CONSUMER.MSG.NEXT` to the leader (consumer.isLeader);
//      acks reach it through the ack subscription it holds while it leads. A new consumer has
//      no position until its first leader's STATE entry is applied: answer the create request
//      from the leader after `await consumer.whenStarted()` (info shows the real start then).
//      clusterInfo() supplies the `cluster` object of info ({ name, leader, replicas }).
//   6. A config update from the meta group: consumers.updateReplicaConfig(stream, name, cfg)
//      on every replica (the leader proposes it; a follower remembers it for when it leads).
//   7. Delete: consumers.deleteConsumer(stream, name) (the leader sends the advisory), then
//      replicator.detach() and close the driver and its storage. Step-down: driver.stepDown().
//   8. apply() calls stream.consumerDone(name, seq) on every replica in log order (interest and
//      work-queue retention): each replica's stream removes what its own consumers finished.
//   9. A consumer whose replica count is 1 keeps the LocalReplicator and its files, as on a
//      single node.
// Entries that cannot be decoded throw ConsumerEntryError from apply: the replica must stop
// (nats-server panics) rather than guess.

export interface ConsumerReplicator {
  readonly isLeader: boolean;
  /** Resolves after the entry is committed and applied locally; rejects on leadership loss. */
  propose(entry: Uint8Array): Promise<void>;
  onLeaderChange(fn: (isLeader: boolean) => void): () => void;
}

/** A consumer's replicated state machine, as a Raft group (or the LocalReplicator) drives it. */
export interface ReplicatedConsumer {
  /** Applies one committed entry (encoded); synchronous and deterministic. */
  applyEntry(data: Uint8Array): void;
  /** The whole state (a STATE entry), for a Raft snapshot. */
  snapshot(): Uint8Array;
  /** Replaces the whole state with a snapshot. */
  restore(data: Uint8Array): void;
}

/** What the consumer hands its LocalReplicator: where entries go, and when they are durable. */
export interface LocalTarget {
  readonly consumer: ReplicatedConsumer;
  /** Runs `fn` once everything applied so far is on disk (durable consumers); null: at once. */
  readonly afterDurable: ((fn: () => void) => void) | null;
}

/**
 * Single node and R1 consumers: this replica is the only one and always leads; an entry is
 * committed once applied here, and for a durable consumer once its state file holding it is
 * fsynced (group commit: many entries of one event-loop turn cost one write). The consumer's
 * own proposals skip the encoding and the promise (it applies them directly and asks its
 * state file for durability where an answer depends on it); `propose` serves everyone else.
 */
export class LocalReplicator implements ConsumerReplicator {
  readonly isLeader = true;
  private target: LocalTarget | null = null;

  /** Called by the consumer it serves. */
  bind(target: LocalTarget): void {
    this.target = target;
  }

  propose(entry: Uint8Array): Promise<void> {
    const t = this.target;
    if (t === null) return Promise.reject(new Error('local replicator: no consumer bound'));
    t.consumer.applyEntry(entry);
    return this.committed(t);
  }

  private committed(t: LocalTarget): Promise<void> {
    const durable = t.afterDurable;
    return durable === null ? Promise.resolve() : new Promise((resolve) => durable(resolve));
  }

  onLeaderChange(): () => void {
    return () => {};
  }
}

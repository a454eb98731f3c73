// `queue`: publishers on every node publish unique values with acks to an R3 stream (R5 with five
// nodes or more), each retried with its Nats-Msg-Id until acknowledged. Once the faults are
// healed and the replicas caught up, every node's own copy is read back separately (checker/queue.ts).

import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { checkQueue } from '../checker/queue.ts';
import { readCopy, replicaNodes, replicasCurrent, settle } from '../cluster/replicas.ts';
import type { CheckResult } from '../report/result.ts';
import { clientOf, errorText } from './clients.ts';
import { Recorder } from './recorder.ts';
import type { Workload, WorkloadContext } from './workload.ts';
import { DUPLICATE_WINDOW_MS, publishUntilAcked, replicasFor, retrySetup } from './workload.ts';

export const QUEUE_STREAM = 'chaos-queue';
const SUBJECT = 'chaos.queue';
/** Sequential publishers per node, each its own process in the history. */
const PUBLISHERS_PER_NODE = 2;

export class QueueWorkload implements Workload {
  readonly name = 'queue' as const;
  readonly stream = QUEUE_STREAM;
  readonly recorder: Recorder;
  readonly notes: string[] = [];
  private readonly ctx: WorkloadContext;
  private readonly replicas: number;
  private conns: NatsConnection[] = [];

  constructor(ctx: WorkloadContext) {
    this.ctx = ctx;
    this.recorder = new Recorder(ctx.now);
    this.replicas = ctx.nodes >= 5 ? replicasFor(ctx.nodes, 5) : replicasFor(ctx.nodes, 3);
  }

  async setup(): Promise<void> {
    await retrySetup(`create stream ${QUEUE_STREAM}`, () =>
      this.ctx.jsm.streams.add({
        name: QUEUE_STREAM,
        subjects: [`${SUBJECT}.>`],
        num_replicas: this.replicas,
        duplicate_window: DUPLICATE_WINDOW_MS * 1_000_000,
      }),
    );
    this.conns = await Promise.all(Array.from({ length: this.ctx.nodes }, (_, i) => clientOf(this.ctx, i, `chaos-queue-n${i}`)));
  }

  async run(stop: AbortSignal): Promise<void> {
    const loops: Promise<void>[] = [];
    this.conns.forEach((nc, i) => {
      const js = jetstream(nc);
      for (let p = 0; p < PUBLISHERS_PER_NODE; p++) {
        const process = `pub-n${i}-${p}`;
        loops.push(
          (async () => {
            for (let k = 0; !stop.aborted; k++) {
              await publishUntilAcked(js, this.recorder, process, `${SUBJECT}.n${i}`, `q-n${i}-${p}-${k}`, stop, this.ctx.now);
            }
          })(),
        );
      }
    });
    await Promise.all(loops);
  }

  async finish(): Promise<void> {
    const why = await settle(() => replicasCurrent(this.ctx.jsm, QUEUE_STREAM, this.replicas), this.ctx.settleMs);
    if (why !== null) this.notes.push(`replicas had not caught up after ${this.ctx.settleMs / 1000}s (${why}); read anyway`);
    // Every node holds a copy when R equals the node count; otherwise only the stream's peers do.
    const holders = this.replicas >= this.ctx.nodes ? null : await replicaNodes(this.ctx.jsm, QUEUE_STREAM);
    for (let i = 0; i < this.ctx.nodes; i++) {
      const node = this.ctx.cluster.members[i]!.name;
      if (holders !== null && !holders.includes(node)) continue;
      const done = this.recorder.invoke(`read-${node}`, 'read', null, node);
      try {
        const copy = await readCopy(this.ctx.cluster, i, QUEUE_STREAM);
        done('ok', copy.values);
      } catch (err) {
        done('fail', null, errorText(err));
      }
    }
  }

  check(): CheckResult {
    return checkQueue(this.recorder.ops);
  }

  async close(): Promise<void> {
    await Promise.all(this.conns.map((nc) => nc.close().catch(() => undefined)));
    this.conns = [];
  }
}

// `core`: one queue group with a subscriber on every node (each pinned to its node, so the group
// spans the cluster) and a publisher per node sending unique values while links flap. Core NATS is
// at-most-once: a value may be lost, but the group must never receive one twice (checker/core.ts).

import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { checkCore } from '../checker/core.ts';
import type { CheckResult } from '../report/result.ts';
import { clientOf, errorText, outcomeOfError, pause } from './clients.ts';
import { Recorder } from './recorder.ts';
import type { Workload, WorkloadContext } from './workload.ts';

const SUBJECT = 'chaos.core';
const QUEUE = 'chaos-core';
/** Per publisher: about 50 messages a second. */
const PUBLISH_GAP_MS = 20;
/** After the last publish: time for what is in flight to arrive. */
const DELIVERY_GRACE_MS = 2_000;

export class CoreWorkload implements Workload {
  readonly name = 'core' as const;
  readonly stream = null;
  readonly recorder: Recorder;
  readonly notes: string[] = [];
  private readonly ctx: WorkloadContext;
  private subscribers: NatsConnection[] = [];
  private publishers: NatsConnection[] = [];
  private subs: Subscription[] = [];

  constructor(ctx: WorkloadContext) {
    this.ctx = ctx;
    this.recorder = new Recorder(ctx.now);
  }

  async setup(): Promise<void> {
    const n = this.ctx.nodes;
    this.subscribers = await Promise.all(Array.from({ length: n }, (_, i) => clientOf(this.ctx, i, `chaos-core-sub-n${i}`, true)));
    this.subs = this.subscribers.map((nc, i) => {
      const node = this.ctx.cluster.members[i]!.name;
      return nc.subscribe(SUBJECT, {
        queue: QUEUE,
        callback: (err, msg) => {
          if (err === null) this.recorder.event(`sub-${node}`, 'deliver', msg.string(), node);
        },
      });
    });
    // The group's interest must reach every node before the first publish, or early values are
    // simply undelivered (allowed, but it says nothing).
    await Promise.all(this.subscribers.map((nc) => nc.flush()));
    this.publishers = await Promise.all(Array.from({ length: n }, (_, i) => clientOf(this.ctx, i, `chaos-core-pub-n${i}`)));
  }

  async run(stop: AbortSignal): Promise<void> {
    await Promise.all(
      this.publishers.map(async (nc, i) => {
        const process = `pub-n${i}`;
        for (let k = 0; !stop.aborted; k++) {
          const value = `c-n${i}-${k}`;
          const done = this.recorder.invoke(process, 'publish', value);
          try {
            nc.publish(SUBJECT, value);
            done('ok');
          } catch (err) {
            done(outcomeOfError(err), value, errorText(err));
          }
          await pause(PUBLISH_GAP_MS, stop);
        }
      }),
    );
  }

  async finish(): Promise<void> {
    await Promise.all(this.publishers.map((nc) => Promise.race([nc.flush(), pause(DELIVERY_GRACE_MS)]).catch(() => undefined)));
    await pause(DELIVERY_GRACE_MS);
    for (const s of this.subs) s.unsubscribe();
  }

  check(): CheckResult {
    return checkCore(this.recorder.ops);
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscribers, ...this.publishers].map((nc) => nc.close().catch(() => undefined)));
    this.subscribers = [];
    this.publishers = [];
  }
}

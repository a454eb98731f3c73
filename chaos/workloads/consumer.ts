// `consumer`: producers on every node publish unique work items (acked, Nats-Msg-Id retries) to an
// R3 work-queue stream; a worker per node fetches from one durable pull consumer and acks each
// item with a confirmed (double) ack. After the faults, the workers drain the stream. The checker
// (checker/consumer.ts): no redelivery after a confirmed ack, every acknowledged item processed.

import type { NatsConnection } from '@nats-io/nats-core';
import { AckPolicy, jetstream, RetentionPolicy } from '@nats-io/jetstream';
import type { Consumer, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { checkConsumer } from '../checker/consumer.ts';
import { settle } from '../cluster/replicas.ts';
import type { CheckResult } from '../report/result.ts';
import { clientOf, errorText, outcomeOfError, pause } from './clients.ts';
import { Recorder } from './recorder.ts';
import type { Workload, WorkloadContext } from './workload.ts';
import { DUPLICATE_WINDOW_MS, publishUntilAcked, replicasFor, retrySetup } from './workload.ts';

export const WORK_STREAM = 'chaos-work';
const SUBJECT = 'chaos.work';
const DURABLE = 'workers';
/** Unacknowledged items come back this soon: redeliveries happen within a run. */
const ACK_WAIT_MS = 5_000;
const FETCH_BATCH = 16;
const FETCH_EXPIRES_MS = 1_000;
const ACK_TIMEOUT_MS = 5_000;
/** Producers pace themselves so the workers keep up between faults. */
const PRODUCE_GAP_MS = 15;

export class ConsumerWorkload implements Workload {
  readonly name = 'consumer' as const;
  readonly stream = WORK_STREAM;
  readonly recorder: Recorder;
  readonly notes: string[] = [];
  private readonly ctx: WorkloadContext;
  private readonly replicas: number;
  private producers: NatsConnection[] = [];
  private workers: NatsConnection[] = [];
  /** Workers run past the producers' stop, until the drain is over. */
  private readonly workersStop = new AbortController();
  private workerLoops: Promise<void> = Promise.resolve();

  constructor(ctx: WorkloadContext) {
    this.ctx = ctx;
    this.recorder = new Recorder(ctx.now);
    this.replicas = replicasFor(ctx.nodes, 3);
  }

  async setup(): Promise<void> {
    const jsm = this.ctx.jsm;
    await retrySetup(`create stream ${WORK_STREAM}`, () =>
      jsm.streams.add({
        name: WORK_STREAM,
        subjects: [SUBJECT],
        retention: RetentionPolicy.Workqueue,
        num_replicas: this.replicas,
        duplicate_window: DUPLICATE_WINDOW_MS * 1_000_000,
      }),
    );
    await retrySetup(`create consumer ${DURABLE}`, () =>
      jsm.consumers.add(WORK_STREAM, {
        durable_name: DURABLE,
        ack_policy: AckPolicy.Explicit,
        ack_wait: ACK_WAIT_MS * 1_000_000,
        max_deliver: -1,
        max_ack_pending: 10_000,
      }),
    );
    const n = this.ctx.nodes;
    this.producers = await Promise.all(Array.from({ length: n }, (_, i) => clientOf(this.ctx, i, `chaos-producer-n${i}`)));
    this.workers = await Promise.all(Array.from({ length: n }, (_, i) => clientOf(this.ctx, i, `chaos-worker-n${i}`)));
  }

  async run(stop: AbortSignal): Promise<void> {
    this.workerLoops = Promise.all(this.workers.map((nc, i) => this.work(jetstream(nc), `worker-n${i}`, this.workersStop.signal))).then(() => undefined);
    await Promise.all(
      this.producers.map(async (nc, i) => {
        const js = jetstream(nc);
        for (let k = 0; !stop.aborted; k++) {
          await publishUntilAcked(js, this.recorder, `producer-n${i}`, SUBJECT, `w-n${i}-${k}`, stop, this.ctx.now);
          await pause(PRODUCE_GAP_MS, stop);
        }
      }),
    );
  }

  /** One worker: fetch a batch, ack each item with a confirmed ack, again. */
  private async work(js: JetStreamClient, process: string, stop: AbortSignal): Promise<void> {
    let consumer: Consumer | null = null;
    while (!stop.aborted) {
      if (consumer === null) {
        consumer = await js.consumers.get(WORK_STREAM, DURABLE).catch(() => null);
        if (consumer === null) {
          await pause(250, stop);
          continue;
        }
      }
      const fetched = await this.fetch(consumer, process);
      for (const m of fetched) await this.ack(m, process);
      if (fetched.length === 0) await pause(50, stop);
    }
  }

  private async fetch(consumer: Consumer, process: string): Promise<JsMsg[]> {
    const done = this.recorder.invoke(process, 'fetch', null);
    const msgs: JsMsg[] = [];
    try {
      const iter = await consumer.fetch({ max_messages: FETCH_BATCH, expires: FETCH_EXPIRES_MS });
      for await (const m of iter) msgs.push(m);
      done('ok', msgs.map((m) => m.string()));
    } catch (err) {
      // What arrived was delivered, whatever ended the fetch.
      if (msgs.length > 0) done('ok', msgs.map((m) => m.string()), errorText(err));
      else done(outcomeOfError(err), [], errorText(err));
    }
    return msgs;
  }

  private async ack(m: JsMsg, process: string): Promise<void> {
    const value = m.string();
    const done = this.recorder.invoke(process, 'ack', value);
    try {
      const confirmed = await m.ackAck({ timeout: ACK_TIMEOUT_MS });
      done(confirmed ? 'ok' : 'info', value, confirmed ? undefined : 'no confirmation');
    } catch (err) {
      done(outcomeOfError(err), value, errorText(err));
    }
  }

  async finish(): Promise<void> {
    // The producers have stopped; the workers go on until the stream is empty (every item acked).
    const why = await settle(async () => {
      const info = await this.ctx.jsm.streams.info(WORK_STREAM);
      return info.state.messages === 0 ? null : `${info.state.messages} items left`;
    }, this.ctx.settleMs);
    if (why !== null) this.notes.push(`the work queue did not drain in ${this.ctx.settleMs / 1000}s: ${why}`);
    this.workersStop.abort();
    await this.workerLoops;
  }

  check(): CheckResult {
    return checkConsumer(this.recorder.ops);
  }

  async close(): Promise<void> {
    this.workersStop.abort();
    await Promise.all([...this.producers, ...this.workers].map((nc) => nc.close().catch(() => undefined)));
    this.producers = [];
    this.workers = [];
  }
}

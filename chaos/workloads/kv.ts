// `kv`: a client per node gets, puts and compare-and-sets a few keys of an R3 KV bucket; each key's
// history is checked for linearizability against a register with CAS (checker/kv.ts).
//
// The bucket is created with allow_direct off: gets go to the stream leader (STREAM.MSG.GET).
// Direct gets are answered by any replica, which nats-server documents as possibly stale, so they
// are not a linearizable read to begin with.

import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { KV } from '@nats-io/kv';
import { checkKv } from '../checker/kv.ts';
import type { CheckResult } from '../report/result.ts';
import { clientOf, errorText, outcomeOfError, pause } from './clients.ts';
import { Recorder } from './recorder.ts';
import type { Workload, WorkloadContext } from './workload.ts';
import { replicasFor, retrySetup } from './workload.ts';

export const KV_BUCKET = 'chaos';
export const KV_STREAM = `KV_${KV_BUCKET}`;
const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4'];
const OP_TIMEOUT_MS = 5_000;
/**
 * A pause between a client's operations. The search's cost grows with concurrency and with the
 * operations whose outcome is unknown; a few clients at a modest rate keep a 5-minute history
 * checkable in seconds.
 */
const GAP_MS = 25;
/** Budget of the linearizability search: an answer of "unknown" rather than a hang. */
const SEARCH_STEPS_PER_KEY = 5_000_000;
const SEARCH_TIME_MS = 60_000;

export class KvWorkload implements Workload {
  readonly name = 'kv' as const;
  readonly stream = KV_STREAM;
  readonly recorder: Recorder;
  readonly notes: string[] = [];
  private readonly ctx: WorkloadContext;
  private readonly replicas: number;
  private conns: NatsConnection[] = [];
  private buckets: KV[] = [];

  constructor(ctx: WorkloadContext) {
    this.ctx = ctx;
    this.recorder = new Recorder(ctx.now);
    this.replicas = replicasFor(ctx.nodes, 3);
  }

  async setup(): Promise<void> {
    await retrySetup(`create bucket ${KV_BUCKET}`, () =>
      new Kvm(jetstream(this.ctx.admin, { timeout: 5_000 })).create(KV_BUCKET, { replicas: this.replicas, history: 1, allow_direct: false }),
    );
    this.conns = await Promise.all(Array.from({ length: this.ctx.nodes }, (_, i) => clientOf(this.ctx, i, `chaos-kv-n${i}`)));
    this.buckets = await Promise.all(
      this.conns.map((nc) => retrySetup(`open bucket ${KV_BUCKET}`, () => new Kvm(jetstream(nc, { timeout: OP_TIMEOUT_MS })).open(KV_BUCKET))),
    );
  }

  async run(stop: AbortSignal): Promise<void> {
    await Promise.all(this.buckets.map((kv, i) => this.client(kv, `kv-n${i}`, stop)));
  }

  private async client(kv: KV, process: string, stop: AbortSignal): Promise<void> {
    const r = this.ctx.random;
    /** The last revision this client saw per key: what its next compare-and-set expects. */
    const seen = new Map<string, number>();
    for (let k = 0; !stop.aborted; k++) {
      const key = KEYS[r.int(KEYS.length)]!;
      const roll = r.int(4);
      const value = `${process}-${k}`;
      if (roll < 2) {
        const done = this.recorder.invoke(process, 'get', { key });
        try {
          const e = await kv.get(key);
          const found = e !== null && e.operation === 'PUT';
          if (found) seen.set(key, e.revision);
          done('ok', { key, value: found ? e.string() : null, revision: found ? e.revision : 0 });
        } catch (err) {
          done(outcomeOfError(err), { key }, errorText(err));
        }
      } else if (roll === 2) {
        const done = this.recorder.invoke(process, 'put', { key, value });
        try {
          const revision = await kv.put(key, value, { timeout: OP_TIMEOUT_MS });
          seen.set(key, revision);
          done('ok', { key, value, revision });
        } catch (err) {
          done(outcomeOfError(err), { key, value }, errorText(err));
        }
      } else {
        const expected = seen.get(key) ?? 0;
        const done = this.recorder.invoke(process, 'cas', { key, value, expected });
        try {
          const revision = await kv.put(key, value, { previousSeq: expected, timeout: OP_TIMEOUT_MS });
          seen.set(key, revision);
          done('ok', { key, value, expected, revision });
        } catch (err) {
          done(outcomeOfError(err), { key, value, expected }, errorText(err));
        }
      }
      await pause(GAP_MS, stop);
    }
  }

  async finish(): Promise<void> {
    // Nothing to drain: the check is over the operations' own results.
  }

  check(): CheckResult {
    return checkKv(this.recorder.ops, { maxStepsPerKey: SEARCH_STEPS_PER_KEY, timeBudgetMs: SEARCH_TIME_MS });
  }

  async close(): Promise<void> {
    await Promise.all(this.conns.map((nc) => nc.close().catch(() => undefined)));
    this.conns = [];
  }
}

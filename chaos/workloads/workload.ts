// What every workload is to the runner: it sets up its streams, generates operations on the
// cluster while the nemesis plays the faults, finishes once they are healed (drains, reads every
// replica back), and hands its history to its checker.

import type { NatsConnection } from '@nats-io/nats-core';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { Random } from '../../src/raft/prng.ts';
import type { ChaosCluster } from '../cluster/nodes.ts';
import type { CheckResult } from '../report/result.ts';
import { errorText, outcomeOfError, pause } from './clients.ts';
import type { Recorder } from './recorder.ts';

export const WORKLOADS = ['queue', 'consumer', 'kv', 'core'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export interface WorkloadContext {
  readonly cluster: ChaosCluster;
  readonly nodes: number;
  /** Client URL of each node through its proxy. */
  readonly clientUrls: readonly string[];
  /** Milliseconds since the start of the run. */
  readonly now: () => number;
  /** Seeded per workload, so its choices (keys, operations) follow the run's seed. */
  readonly random: Random;
  /** The runner's control connection, straight to the nodes (no proxy, no fault), and its JetStream manager. */
  readonly admin: NatsConnection;
  readonly jsm: JetStreamManager;
  /** Bound on waiting, after the faults, for replicas to catch up or work to drain. */
  readonly settleMs: number;
  readonly log: (line: string) => void;
}

export interface Workload {
  readonly name: WorkloadName;
  readonly recorder: Recorder;
  /** The stream whose leader the leader-aimed faults pick, if the workload has one. */
  readonly stream: string | null;
  /** Things the report should say about the run (a copy read late, a drain cut short). */
  readonly notes: string[];
  setup(): Promise<void>;
  /** Generates operations until `stop` aborts; resolves once every loop has ended. */
  run(stop: AbortSignal): Promise<void>;
  /** After the faults are healed and generation stopped: drain, read back. */
  finish(): Promise<void>;
  check(): CheckResult;
  close(): Promise<void>;
}

/** Replicas for a stream the issue calls R3 (R5 for the queue with 5 nodes); never more than nodes. */
export const replicasFor = (nodes: number, wanted: number): number => Math.max(1, Math.min(nodes, wanted));

/** Retries a setup step (the meta group may be electing) until it works or `boundMs` pass. */
export async function retrySetup<T>(what: string, fn: () => Promise<T>, boundMs = 60_000): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${errorText(err)}`);
      await pause(500);
    }
  }
}

/** How long a value may be retried: well inside the stream's duplicate window, so a retry never stores it twice. */
export const DUPLICATE_WINDOW_MS = 120_000;
const RETRY_SPAN_MS = 60_000;
/** A publish lost in a partition holds its publisher this long: short, so the run keeps moving. */
const PUBLISH_TIMEOUT_MS = 3_000;

/**
 * Publishes `value` with Nats-Msg-Id = value, retrying (same id) on failure or timeout until it is
 * acknowledged, the retry span is over, or `stop` aborts. Each try is one operation in the history.
 */
export async function publishUntilAcked(
  js: JetStreamClient,
  rec: Recorder,
  process: string,
  subject: string,
  value: string,
  stop: AbortSignal,
  now: () => number,
): Promise<boolean> {
  const first = now();
  for (let attempt = 0; ; attempt++) {
    const done = rec.invoke(process, 'publish', value);
    try {
      await js.publish(subject, value, { msgID: value, timeout: PUBLISH_TIMEOUT_MS });
      done('ok');
      return true;
    } catch (err) {
      done(outcomeOfError(err), value, errorText(err));
    }
    if (stop.aborted || now() - first > RETRY_SPAN_MS) return false;
    await pause(Math.min(1_000, 100 * 2 ** Math.min(attempt, 3)), stop);
    if (stop.aborted) return false;
  }
}

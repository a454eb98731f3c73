// The JetStream scenarios: publishing to a file-backed stream with a window of outstanding
// acks, and a durable pull consumer that consumes and acks a pre-filled stream. Both run
// against a server started with `-js -sd <tmp>`; the store goes with the server's temp dir.

import type { AgentPool } from './loadgen/pool.ts';
import type { ThroughputResult } from './scenarios.ts';
import { cpuWindow, resetting, targetOf } from './scenarios.ts';
import type { RunningServer } from './servers.ts';
import type { Target } from './loadgen/protocol.ts';

export const JS_STREAM = 'BENCH';
export const JS_SUBJECT = 'js.bench';
export const JS_CONSUMER = 'PULL';
/** Stream and consumer creation on a fresh file store; a second is typical. */
const API_TIMEOUT_MS = 10_000;
/** Acks or deliveries that stop for this long end the run with a fault. */
const JS_IDLE_MS = 5_000;
/** Pre-filling the pull scenario's stream stops here even if fewer messages than asked are stored. */
const PREFILL_CAP_MS = 60_000;
/** A pull request lives this long; requests never ask for more than the stream holds, so they fill first. */
const PULL_EXPIRES_MS = 10_000;
/** How long the server may take to apply the last acks after the consumer's closing PONG. */
const ACK_SETTLE_MS = 5_000;

export interface JsSettings {
  durationMs: number;
  /** Publishes awaiting their ack at any time. */
  window: number;
  /** Payload bytes per message. */
  size: number;
  /** Messages pre-filled for the pull consumer. */
  pullMsgs: number;
  /** Messages per MSG.NEXT request, and how many requests stay open. */
  batch: number;
  outstanding: number;
}

export const JS_DEFAULTS: Omit<JsSettings, 'durationMs'> = { window: 1000, size: 128, pullMsgs: 200_000, batch: 500, outstanding: 2 };

/** The fsync policies differ, so every JetStream figure carries this. */
export const JS_DURABILITY_NOTE =
  'JetStream: nats-server 2.9.10 acks a publish once written to its file (fsync every 2 min by default); Petrel acks only after fsync (group commit).';

async function api(pool: AgentPool, target: Target, subject: string, body: unknown): Promise<Record<string, unknown>> {
  const { api: text } = await pool.pub.call({ op: 'jsRequest', target, subject, body: JSON.stringify(body), timeoutMs: API_TIMEOUT_MS });
  const reply = JSON.parse(text!) as Record<string, unknown>;
  if (reply.error) throw new Error(`${subject}: ${JSON.stringify(reply.error)}`);
  return reply;
}

async function createStream(pool: AgentPool, target: Target): Promise<void> {
  await api(pool, target, `$JS.API.STREAM.CREATE.${JS_STREAM}`, {
    name: JS_STREAM,
    subjects: [JS_SUBJECT],
    storage: 'file',
    num_replicas: 1,
  });
}

function pubFaults(r: { errors: number; firstError: string; duplicatedAcks: number; missingAcks: number; faults: string[] }): string[] {
  const faults = [...r.faults];
  if (r.errors) faults.push(`${r.errors} publishes answered with an error, first: ${r.firstError}`);
  if (r.duplicatedAcks) faults.push(`${r.duplicatedAcks} acks duplicated or unexpected`);
  if (r.missingAcks) faults.push(`${r.missingAcks} publishes never acked`);
  return faults;
}

async function runJsPublishOnce(pool: AgentPool, server: RunningServer, s: JsSettings): Promise<ThroughputResult> {
  const target = targetOf(server);
  await createStream(pool, target);
  const endCpu = await cpuWindow(pool, [server.pid]);
  const { jsPub: r } = await pool.pub.call({
    op: 'jsPublish',
    target,
    subject: JS_SUBJECT,
    size: s.size,
    window: s.window,
    durationMs: s.durationMs,
    maxMsgs: Number.MAX_SAFE_INTEGER,
    idleMs: JS_IDLE_MS,
  });
  const cpu = await endCpu();
  const elapsedNs = r!.lastAckNs - r!.startNs;
  return {
    kind: 'throughput',
    msgsPerSec: elapsedNs > 0 ? r!.acked / (elapsedNs / 1e9) : 0,
    sent: r!.sent,
    received: r!.acked,
    elapsedMs: elapsedNs / 1e6,
    cpu,
    faults: pubFaults(r!),
    pubDrains: 0,
    detail: `window ${s.window}, ${s.size} B, file storage`,
  };
}

interface ConsumerInfo {
  num_ack_pending?: number;
  ack_floor?: { stream_seq?: number };
}

async function runJsPullOnce(pool: AgentPool, server: RunningServer, s: JsSettings): Promise<ThroughputResult> {
  const target = targetOf(server);
  await createStream(pool, target);
  const fillStart = process.hrtime.bigint();
  const { jsPub: fill } = await pool.pub.call({
    op: 'jsPublish',
    target,
    subject: JS_SUBJECT,
    size: s.size,
    window: s.window,
    durationMs: PREFILL_CAP_MS,
    maxMsgs: s.pullMsgs,
    idleMs: JS_IDLE_MS,
  });
  const fillSeconds = Number(process.hrtime.bigint() - fillStart) / 1e9;
  const fillFaults = pubFaults(fill!);
  if (fillFaults.length) throw new Error(`pre-filling the stream failed: ${fillFaults.join('; ')}`);
  const stored = fill!.acked;
  await api(pool, target, `$JS.API.CONSUMER.DURABLE.CREATE.${JS_STREAM}.${JS_CONSUMER}`, {
    stream_name: JS_STREAM,
    // max_ack_pending well above the two open batches, so neither server's default throttles the run.
    config: { durable_name: JS_CONSUMER, ack_policy: 'explicit', deliver_policy: 'all', max_ack_pending: 20_000 },
  });

  const endCpu = await cpuWindow(pool, [server.pid]);
  const { jsPull: r } = await pool.subs[0]!.call({
    op: 'jsPull',
    target,
    stream: JS_STREAM,
    consumer: JS_CONSUMER,
    batch: s.batch,
    outstanding: s.outstanding,
    expiresMs: PULL_EXPIRES_MS,
    total: stored,
    durationMs: s.durationMs,
    idleMs: JS_IDLE_MS,
  });
  const cpu = await endCpu();
  const faults = [...r!.faults];

  // Every ack the consumer wrote must have been applied: nothing pending, the floor at the last message.
  let info: ConsumerInfo = {};
  const settleBy = Date.now() + ACK_SETTLE_MS;
  for (;;) {
    info = (await api(pool, target, `$JS.API.CONSUMER.INFO.${JS_STREAM}.${JS_CONSUMER}`, {})) as ConsumerInfo;
    if ((info.num_ack_pending ?? 0) === 0 && (info.ack_floor?.stream_seq ?? 0) >= r!.consumed) break;
    if (Date.now() > settleBy) {
      faults.push(`${ACK_SETTLE_MS} ms after the last ack the consumer still has ${info.num_ack_pending} pending, ack floor ${info.ack_floor?.stream_seq} of ${r!.consumed}`);
      break;
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  const odd = Object.entries(r!.statuses).filter(([code]) => code !== '100');
  const elapsedNs = r!.endNs - r!.startNs;
  return {
    kind: 'throughput',
    msgsPerSec: elapsedNs > 0 ? r!.consumed / (elapsedNs / 1e9) : 0,
    sent: stored,
    received: r!.consumed,
    elapsedMs: elapsedNs / 1e6,
    cpu,
    faults,
    pubDrains: 0,
    detail:
      `batch ${s.batch} × ${s.outstanding} open, ${r!.requests} requests; stream pre-filled with ${stored.toLocaleString('en-US')} msgs ` +
      `at ${Math.round(stored / fillSeconds).toLocaleString('en-US')} msgs/s; ack floor ${info.ack_floor?.stream_seq}` +
      (odd.length ? `; statuses ${odd.map(([c, n]) => `${c}×${n}`).join(' ')}` : ''),
  };
}

export const runJsPublish = resetting(runJsPublishOnce);
export const runJsPull = resetting(runJsPullOnce);

// The measured scenarios. Each runs against one already-started server with the shared
// generator threads, and returns its figure together with the CPU the server and the
// generator spent, so a reader can tell which side was saturated.

import { msgPayloadOffset, msgRecordBytes } from './loadgen/wire.ts';
import type { Agent, AgentPool } from './loadgen/pool.ts';
import type { SubSpec, SubsResult, Target } from './loadgen/protocol.ts';
import type { RunningServer } from './servers.ts';
import { machineBusyMicros, processCpuMicros, processRssBytes } from './servers.ts';

/** A subscriber that stops receiving for this long is reported with what it has. */
const SUB_IDLE_MS = 5000;
/** Delivery still under way this long after the publisher is done is cut off (keeps the bench bounded). */
const DRAIN_CAP_MIN_MS = 10_000;
/** Idle connections handshaken at once: well under the listen backlog of either server. */
const IDLE_PARALLEL = 100;
/** Settling time before reading RSS, so the allocator and GC catch up with the new sockets. */
const RSS_SETTLE_MS = 1500;

export interface CpuFigures {
  /** Server process CPU over the run, % of one core (200 = both cores of this machine). */
  serverPct: number;
  /** The whole generator process (all its threads), % of one core. */
  generatorPct: number;
  /** The busiest generator thread, % of one core: near 100 means the generator may be the limit. */
  busiestThreadPct: number;
  busiestThread: string;
  /** Every process on the machine, kernel work included, % of one core (this machine tops at 200). */
  machinePct: number;
  /** Machine minus server minus generator: other processes and unattributed kernel work. */
  othersPct: number;
}

export interface ThroughputResult {
  kind: 'throughput';
  msgsPerSec: number;
  sent: number;
  received: number;
  elapsedMs: number;
  cpu: CpuFigures;
  faults: string[];
  exactlyOnce?: { missing: number; duplicated: number; unexpected: number };
  /** How often the publisher had to wait for the socket to drain (server applying back-pressure). */
  pubDrains: number;
  /** Scenario-specific facts worth printing next to the figure. */
  detail?: string;
}

export interface LatencyResult {
  kind: 'latency';
  p50us: number;
  p99us: number;
  meanUs: number;
  requests: number;
  cpu: CpuFigures;
}

export interface MemoryResult {
  kind: 'memory';
  bytesPerConn: number;
  connections: number;
  failed: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  note?: string;
}

export type ScenarioResult = ThroughputResult | LatencyResult | MemoryResult;

export interface ThroughputScenario {
  id: string;
  title: string;
  subject: string;
  size: number;
  subscribers: number;
  queue?: string;
  /** Number every message and check each arrived exactly once across the subscribers. */
  exactlyOnce?: boolean;
}

export const THROUGHPUT: ThroughputScenario[] = [
  { id: 'pub', title: 'pub-only 16 B', subject: 'bench.pub', size: 16, subscribers: 0 },
  { id: 'pubsub16', title: 'pub/sub 1:1 16 B', subject: 'bench.ps16', size: 16, subscribers: 1 },
  { id: 'pubsub1k', title: 'pub/sub 1:1 1 KiB', subject: 'bench.ps1k', size: 1024, subscribers: 1 },
  { id: 'fanout', title: 'fan-out 1:10 16 B', subject: 'bench.fan', size: 16, subscribers: 10 },
  { id: 'queue', title: 'queue group of 4, 16 B', subject: 'bench.q', size: 16, subscribers: 4, queue: 'workers', exactlyOnce: true },
];

const nowNs = (): number => Number(process.hrtime.bigint());
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Starts a CPU window over the server process and every generator thread. */
export async function cpuWindow(pool: AgentPool, server: RunningServer): Promise<() => Promise<CpuFigures>> {
  const threads0 = await pool.cpuMicros();
  const proc0 = process.cpuUsage();
  const server0 = processCpuMicros(server.pid);
  const machine0 = machineBusyMicros();
  const t0 = nowNs();
  return async () => {
    const threads1 = await pool.cpuMicros();
    const proc1 = process.cpuUsage(proc0);
    const server1 = processCpuMicros(server.pid);
    const machine1 = machineBusyMicros();
    const wallUs = (nowNs() - t0) / 1000;
    const pct = (us: number): number => (100 * us) / wallUs;
    let busiest = 0;
    threads1.forEach((t, i) => {
      if (t - threads0[i]! > threads1[busiest]! - threads0[busiest]!) busiest = i;
    });
    return {
      serverPct: pct(server1 - server0),
      generatorPct: pct(proc1.user + proc1.system),
      busiestThreadPct: pct(threads1[busiest]! - threads0[busiest]!),
      busiestThread: pool.all[busiest]!.name,
      machinePct: pct(machine1 - machine0),
      // The three clocks tick at different granularities, so a quiet machine can come out a
      // little below zero; that is noise, not a figure.
      othersPct: Math.max(0, pct(machine1 - machine0 - (server1 - server0) - (proc1.user + proc1.system))),
    };
  };
}

export function targetOf(server: RunningServer): Target {
  return { host: server.host, port: server.port };
}

/**
 * Where the subscribers connect when not to the publisher's server (another region, a hub), and
 * what to wait for before publishing (their interest reaching the publisher's server).
 */
export interface RemoteSubscribers {
  server: RunningServer;
  ready(): Promise<void>;
}

async function runThroughputOnce(
  pool: AgentPool,
  server: RunningServer,
  sc: ThroughputScenario,
  durationMs: number,
  remote?: RemoteSubscribers,
): Promise<ThroughputResult> {
  const target = targetOf(remote?.server ?? server);
  const sid = '1';
  const recordBytes = msgRecordBytes(sc.subject, sid, sc.size);
  // The exactly-once tally lives in one thread, so its subscribers share one agent.
  const agents: Agent[] = sc.exactlyOnce ? [pool.subs[0]!] : pool.subs;
  const perAgent: SubSpec[][] = agents.map(() => []);
  for (let i = 0; i < sc.subscribers; i++) perAgent[i % agents.length]!.push({ subject: sc.subject, sid, queue: sc.queue });
  const used = agents.filter((_, i) => perAgent[i]!.length > 0);
  await Promise.all(
    used.map((a) =>
      a.call({
        op: 'subs',
        target,
        subs: perAgent[agents.indexOf(a)]!,
        recordBytes,
        seqOffset: sc.exactlyOnce ? msgPayloadOffset(sc.subject, sid, sc.size) : undefined,
      }),
    ),
  );
  await remote?.ready();
  await pool.pub.call({ op: 'pubConnect', target: targetOf(server) });

  const endCpu = await cpuWindow(pool, server);
  const { pub } = await pool.pub.call({
    op: 'publish',
    subject: sc.subject,
    size: sc.size,
    durationMs,
    maxMsgs: Number.MAX_SAFE_INTEGER,
    seq: !!sc.exactlyOnce,
  });
  const sent = pub!.sent;
  const drainCapMs = Math.max(DRAIN_CAP_MIN_MS, 3 * durationMs);
  const [flush, ...subReplies] = await Promise.all([
    pool.pub.call({ op: 'pubFlush', deadlineMs: drainCapMs }),
    ...used.map((a) =>
      a.call(
        sc.queue
          ? { op: 'expect', total: sent, idleMs: SUB_IDLE_MS, deadlineMs: drainCapMs, startNs: pub!.startNs }
          : { op: 'expect', perConn: sent, idleMs: SUB_IDLE_MS, deadlineMs: drainCapMs, startNs: pub!.startNs },
      ),
    ),
  ]);
  const subs: SubsResult[] = subReplies.map((r) => r.subs!);
  const cpu = await endCpu();

  let received = 0;
  let lastNs = 0;
  const faults: string[] = [];
  if (!flush.flushedNs) faults.push(`the publisher's closing PING was not answered within ${drainCapMs} ms`);
  for (const s of subs) {
    received += s.records.reduce((a, b) => a + b, 0);
    for (const t of s.lastNs) lastNs = Math.max(lastNs, t);
    faults.push(...s.faults);
  }
  const expected = sc.queue ? sent : sent * sc.subscribers;
  if (sc.subscribers > 0 && received !== expected) faults.push(`received ${received} of ${expected} expected`);
  const elapsedNs = (sc.subscribers > 0 ? lastNs : (flush.flushedNs ?? nowNs())) - pub!.startNs;
  const count = sc.subscribers > 0 ? received : sent;
  return {
    kind: 'throughput',
    msgsPerSec: count / (elapsedNs / 1e9),
    sent,
    received,
    elapsedMs: elapsedNs / 1e6,
    cpu,
    faults: [...new Set(faults)],
    exactlyOnce: subs.find((s) => s.exactlyOnce)?.exactlyOnce,
    pubDrains: pub!.drains,
  };
}

async function runLatencyOnce(
  pool: AgentPool,
  server: RunningServer,
  opts: { count: number; warmup: number; durationMs: number },
): Promise<LatencyResult> {
  const target = targetOf(server);
  const subject = 'bench.req';
  const inbox = 'bench.inbox.1';
  const size = 16;
  await pool.subs[0]!.call({
    op: 'responder',
    target,
    subject,
    replyTo: inbox,
    size,
    recordBytes: msgRecordBytes(subject, '1', size, inbox),
    seqOffset: msgPayloadOffset(subject, '1', size, inbox),
  });
  const endCpu = await cpuWindow(pool, server);
  const { rtts } = await pool.pub.call({
    op: 'requests',
    target,
    subject,
    inbox,
    size,
    recordBytes: msgRecordBytes(inbox, '1', size),
    seqOffset: msgPayloadOffset(inbox, '1', size),
    warmup: opts.warmup,
    count: opts.count,
    durationMs: opts.durationMs,
  });
  const cpu = await endCpu();
  const sorted = Float64Array.from(rtts!).sort();
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return {
    kind: 'latency',
    p50us: at(0.5),
    p99us: at(0.99),
    meanUs: sorted.reduce((a, b) => a + b, 0) / sorted.length,
    requests: sorted.length,
    cpu,
  };
}

/** RSS of a quiet process: the lowest of a few samples, so a passing allocation spike is not counted. */
async function quietRss(pid: number): Promise<number> {
  let low = Infinity;
  for (let i = 0; i < 5; i++) {
    low = Math.min(low, processRssBytes(pid));
    await sleep(100);
  }
  return low;
}

async function runMemoryOnce(pool: AgentPool, server: RunningServer, connections: number): Promise<MemoryResult> {
  const target = targetOf(server);
  await sleep(RSS_SETTLE_MS);
  const before = await quietRss(server.pid);
  // Split the crowd over the receiving threads so neither holds all the sockets.
  const agents = pool.subs;
  const share = agents.map((_, i) => Math.floor(connections / agents.length) + (i < connections % agents.length ? 1 : 0));
  const replies = await Promise.all(agents.map((a, i) => a.call({ op: 'idle', target, count: share[i]!, parallel: IDLE_PARALLEL })));
  await sleep(RSS_SETTLE_MS);
  const after = await quietRss(server.pid);
  const open = replies.reduce((n, r) => n + r.idle!.open, 0);
  const failed = replies.reduce((n, r) => n + r.idle!.failed, 0);
  const firstError = replies.map((r) => r.idle!.firstError).find((e) => e);
  return {
    kind: 'memory',
    bytesPerConn: open > 0 ? (after - before) / open : NaN,
    connections: open,
    failed,
    rssBeforeBytes: before,
    rssAfterBytes: after,
    note: failed ? `${failed} connections failed: ${firstError}` : undefined,
  };
}

/** Each runner leaves the generator threads with no connections, whether it succeeded or not. */
export function resetting<A extends unknown[], R>(run: (pool: AgentPool, ...rest: A) => Promise<R>) {
  return async (pool: AgentPool, ...rest: A): Promise<R> => {
    try {
      return await run(pool, ...rest);
    } finally {
      await pool.reset().catch(() => {});
    }
  };
}

export const runThroughput = resetting(runThroughputOnce);
export const runLatency = resetting(runLatencyOnce);
export const runMemory = resetting(runMemoryOnce);

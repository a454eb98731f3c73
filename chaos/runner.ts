// One chaos run: Toxiproxy (a real one at TOXIPROXY_URL, or chaos/toxiproxy in its own process),
// the cluster behind it, the workloads driving it while the nemesis plays the seeded schedule,
// then — every fault healed — the final reads, the checkers, the JSON result and HTML report.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { NatsConnection } from '@nats-io/nats-core';
import { Toxiproxy } from 'toxiproxy-node-client';
import { deriveSeed, seededRandom } from '../src/raft/prng.ts';
import { adminConnection, adminJsm, fullMesh, metaLeader, settle, streamLeader } from './cluster/replicas.ts';
import { ChaosCluster, PETREL_BIN } from './cluster/nodes.ts';
import { Nemesis } from './faults/nemesis.ts';
import type { Clock, FaultWindow } from './faults/nemesis.ts';
import { ToxiproxyNetwork } from './faults/network.ts';
import { formatSchedule, generateSchedule } from './faults/schedule.ts';
import type { Schedule } from './faults/schedule.ts';
import { renderHtml } from './report/html.ts';
import { faultSummary, formatSummaryTable, progressLine, runVerdict, summaryRow, timelineOf, writeResult } from './report/result.ts';
import type { RunResult, WorkloadResult } from './report/result.ts';
import { spawnToxiproxy } from './toxiproxy/spawn.ts';
import type { SpawnedToxiproxy } from './toxiproxy/spawn.ts';
import { ConsumerWorkload } from './workloads/consumer.ts';
import { CoreWorkload } from './workloads/core.ts';
import { KvWorkload } from './workloads/kv.ts';
import { QueueWorkload } from './workloads/queue.ts';
import type { Workload, WorkloadContext, WorkloadName } from './workloads/workload.ts';

export interface ChaosOptions {
  nodes: number;
  durationMs: number;
  seed: number;
  workloads: readonly WorkloadName[];
  /** Fault families or kinds; all when empty; ['none'] for none. */
  faults: readonly string[];
  /** A nats-server binary; Petrel's bin/nats-server when absent. */
  server?: string;
  /** Where the result, the report and the nodes' directories go. */
  out: string;
  /** Bound on each wait of the final phase (replicas catching up, the work queue draining). */
  settleMs: number;
  /** A running Toxiproxy's API (TOXIPROXY_URL); the in-repo one is started when absent. */
  toxiproxyUrl?: string;
  /** Where nodes and clients reach the proxies; default: the Toxiproxy host. */
  proxyHost?: string;
  /** Where Toxiproxy reaches the nodes; default 127.0.0.1. */
  nodeHost?: string;
  /** Keep the nodes' stores after a passing run (they are always kept after a failure). */
  keep?: boolean;
  /** The command line that replays this run, for the report. */
  replay: string;
}

export interface RunOutput {
  /** Lines for the terminal: the schedule, fault starts and ends, phases. */
  line(text: string): void;
  /** The live progress line (rewritten in place on a terminal). */
  progress(text: string): void;
}

export interface RunFiles {
  result: string;
  report: string;
  dir: string;
}

const PROGRESS_EVERY_MS = 1_000;
/** Before the first operation: routes, the meta group, the streams. */
const FORMATION_BOUND_MS = 90_000;
const BUCKET_MS = 1_000;
const WORKLOAD_SALT = 0x3010ad;
const TOXIPROXY_SALT = 0x70c5;

export function isPetrel(server: string): boolean {
  if (path.resolve(server) === PETREL_BIN) return true;
  try {
    return /petrel/i.test(execFileSync(server, ['--version'], { encoding: 'utf8', timeout: 10_000 }));
  } catch {
    return false;
  }
}

function makeWorkload(name: WorkloadName, ctx: WorkloadContext): Workload {
  switch (name) {
    case 'queue':
      return new QueueWorkload(ctx);
    case 'consumer':
      return new ConsumerWorkload(ctx);
    case 'kv':
      return new KvWorkload(ctx);
    case 'core':
      return new CoreWorkload(ctx);
  }
}

export async function runChaos(opts: ChaosOptions, out: RunOutput, abort: AbortSignal): Promise<{ result: RunResult; files: RunFiles }> {
  const schedule: Schedule = generateSchedule({ seed: opts.seed, nodes: opts.nodes, durationMs: opts.durationMs, faults: opts.faults });
  const server = opts.server ?? PETREL_BIN;
  const petrel = isPetrel(server);
  fs.mkdirSync(opts.out, { recursive: true });
  out.line(formatSchedule(schedule));
  out.line(`server: ${petrel ? `Petrel (${server})` : server}; output in ${opts.out}`);

  let spawned: SpawnedToxiproxy | null = null;
  let cluster: ChaosCluster | null = null;
  let admin: NatsConnection | null = null;
  const workloads: Workload[] = [];
  const problems: string[] = [];
  const killOnExit = (): void => cluster?.killAllNow();
  process.on('exit', killOnExit);
  try {
    let url = opts.toxiproxyUrl;
    if (!url) {
      spawned = await spawnToxiproxy(['--host', '127.0.0.1', '--port', '0', '--seed', String(deriveSeed(opts.seed, TOXIPROXY_SALT))]);
      url = spawned.url;
    }
    const toxiproxy = new Toxiproxy(url);
    const version = toxiproxyVersion(await toxiproxy.getVersion());
    out.line(`toxiproxy ${version} at ${url}${spawned ? ' (chaos/toxiproxy)' : ''}`);

    out.line(`starting ${opts.nodes} nodes...`);
    cluster = await ChaosCluster.start({
      nodes: opts.nodes,
      server,
      petrel,
      dir: opts.out,
      toxiproxy,
      proxyHost: opts.proxyHost ?? new URL(url).hostname,
      nodeHost: opts.nodeHost ?? '127.0.0.1',
    });
    const c = cluster;
    const formed = await settle(() => fullMesh(c), FORMATION_BOUND_MS, abort);
    if (formed !== null) throw new Error(`the cluster did not form: ${formed}`);
    const usesJetStream = opts.workloads.some((w) => w !== 'core');
    if (usesJetStream) {
      const meta = await settle(() => metaLeader(c), FORMATION_BOUND_MS, abort);
      if (meta !== null) throw new Error(`JetStream did not elect a meta leader: ${meta}`);
    }
    admin = await adminConnection(c);
    const jsm = await adminJsm(admin);

    // Time 0 is the start of the run, once everything is set up.
    let t0 = performance.now();
    const clock: Clock = { now: () => performance.now() - t0, sleep: (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms))) };
    const ctxFor = (i: number): WorkloadContext => ({
      cluster: c,
      admin: admin!,
      nodes: opts.nodes,
      clientUrls: c.clientUrls,
      now: clock.now,
      random: seededRandom(deriveSeed(opts.seed, WORKLOAD_SALT + i)),
      jsm,
      settleMs: opts.settleMs,
      log: out.line,
    });
    opts.workloads.forEach((name, i) => workloads.push(makeWorkload(name, ctxFor(i))));
    out.line(`setting up ${opts.workloads.join(', ')}...`);
    for (const w of workloads) await w.setup();
    const leaderStream = workloads.find((w) => w.stream !== null)?.stream ?? null;
    if (leaderStream) {
      c.leaderName = () => streamLeader(jsm, leaderStream);
      c.segmentStream = leaderStream;
    }

    // --- the run: workloads and nemesis together, from t = 0 ---------------------------
    t0 = performance.now();
    const startedAt = Date.now();
    let current: string | null = null;
    const nemesis = new Nemesis(new ToxiproxyNetwork(toxiproxy), c, clock, {
      onFault(phase, w) {
        current = phase === 'start' ? `#${w.id} ${w.kind} ${w.target}` : null;
        const at = `[${(clock.now() / 1000).toFixed(1).padStart(6)}s]`;
        out.line(phase === 'start' ? `${at} fault #${w.id} on: ${w.description} (${w.target})${w.errors.length ? ` — ${w.errors.join('; ')}` : ''}` : `${at} fault #${w.id} healed${w.errors.length ? ` — ${w.errors.join('; ')}` : ''}`);
      },
    });
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    abort.addEventListener('abort', onAbort);
    const ticker = setInterval(() => {
      const ops = { ok: 0, fail: 0, info: 0 };
      for (const w of workloads) for (const k of ['ok', 'fail', 'info'] as const) ops[k] += w.recorder.tally[k];
      out.progress(progressLine({ elapsedMs: clock.now(), durationMs: opts.durationMs, ops, fault: current }));
    }, PROGRESS_EVERY_MS);
    const running = workloads.map((w) => w.run(stop.signal));
    let timer: NodeJS.Timeout | undefined;
    let windows: FaultWindow[];
    try {
      windows = await nemesis.run(schedule, stop.signal);
      // Restarts may have pushed the faults past their plan: the quiet end still follows the last heal.
      const quietMs = schedule.durationMs - schedule.healedBy;
      const stopAt = Math.max(opts.durationMs, (windows.at(-1)?.end ?? 0) + quietMs);
      timer = setTimeout(() => stop.abort(), Math.max(0, stopAt - clock.now()));
      await Promise.all(running);
    } finally {
      clearTimeout(timer);
      clearInterval(ticker);
      abort.removeEventListener('abort', onAbort);
    }
    const ranMs = clock.now();
    out.progress('');
    if (abort.aborted) throw new Error('interrupted');

    // --- after the faults: formation, final reads, checks --------------------------------
    out.line(`[${(ranMs / 1000).toFixed(1).padStart(6)}s] workloads stopped, every fault healed; final checks...`);
    const mesh = await settle(() => fullMesh(c), opts.settleMs, abort);
    if (mesh !== null) problems.push(`the cluster had not re-formed ${opts.settleMs / 1000}s after healing: ${mesh}`);
    for (const w of workloads) {
      out.line(`  ${w.name}: finishing`);
      await w.finish();
    }
    problems.push(...c.crashes.map((x) => `unexpected exit: ${x}`));

    // The charts cover the final phase too (the work queue's drain, the reads).
    const extentMs = Math.ceil(Math.max(opts.durationMs, ranMs, ...workloads.map((w) => w.recorder.ops.at(-1)?.time ?? 0)));
    const faultsCell = faultSummary(windows);
    const results: WorkloadResult[] = [];
    for (const w of workloads) {
      out.line(`  ${w.name}: checking ${w.recorder.ops.length} events`);
      const check = w.check();
      results.push({ name: w.name, check, summary: summaryRow(w.name, faultsCell, check), timeline: timelineOf(w.recorder.ops, extentMs, BUCKET_MS), notes: w.notes });
    }
    const result: RunResult = {
      version: 1,
      startedAt: new Date(startedAt).toISOString(),
      seed: opts.seed,
      nodes: opts.nodes,
      durationMs: extentMs,
      server: petrel ? 'petrel' : server,
      replay: opts.replay,
      schedule,
      faults: windows,
      bucketMs: BUCKET_MS,
      workloads: results,
      problems,
      verdict: runVerdict(results, problems),
    };
    const files: RunFiles = { result: path.join(opts.out, 'result.json'), report: path.join(opts.out, 'report.html'), dir: opts.out };
    writeResult(files.result, result);
    // The raw histories, one operation a line, for a closer look at what a checker reported.
    for (const w of workloads) fs.writeFileSync(path.join(opts.out, `history-${w.name}.jsonl`), w.recorder.ops.map((op) => JSON.stringify(op)).join('\n') + '\n');
    fs.writeFileSync(files.report, renderHtml(result));
    out.line('');
    out.line(formatSummaryTable(results.map((r) => r.summary)));
    for (const r of results) for (const n of r.notes ?? []) out.line(`note (${r.name}): ${n}`);
    for (const p of problems) out.line(`problem: ${p}`);
    out.line('');
    out.line(`verdict: ${result.verdict.toUpperCase()}    seed ${opts.seed}    replay: ${opts.replay}`);
    out.line(`result: ${files.result}`);
    out.line(`report: ${files.report}`);
    if (result.verdict === 'pass' && !opts.keep) for (const m of c.members) fs.rmSync(m.storeDir, { recursive: true, force: true });
    return { result, files };
  } finally {
    for (const w of workloads) await w.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await cluster?.stop();
    await spawned?.stop();
    process.off('exit', killOnExit);
  }
}

/** GET /version answers JSON since Toxiproxy 2.6 and plain text before. */
function toxiproxyVersion(body: string): string {
  try {
    return String((JSON.parse(body) as { version?: string }).version ?? body).trim();
  } catch {
    return body.trim();
  }
}

/** Default output directory: outside the repository, one per run. */
export function defaultOutDir(seed: number): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return path.join(os.tmpdir(), 'petrel-chaos', `${stamp}-seed${seed}`);
}

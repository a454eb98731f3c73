// Petrel's side-by-side benchmark: every scenario runs against Petrel and, when installed, the
// Go reference nats-server, one server (or one 3-node cluster, for the cross-node scenarios) at a
// time, with the same raw-TCP load generator.
//   npm run bench -- [--only pub,fanout,…|cluster] [--duration 3] [--workers 1,2] [--conns 5000]
//                    [--js-msgs 200000] [--sub-threads 1] [--petrel-workers N] [--no-go] [--json <file>]
// See test/bench/README.md for what each scenario measures and how to read the CPU columns.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JS_DEFAULTS, JS_DURABILITY_NOTE, runJsPublish, runJsPull } from './jetstream.ts';
import { AgentPool } from './loadgen/pool.ts';
import { THROUGHPUT, onServer, runLatency, runMemory, runThroughput } from './scenarios.ts';
import type { CpuFigures, LatencyResult, MemoryResult, ScenarioResult, ThroughputResult } from './scenarios.ts';
import { goServerVersion, readFdLimit, startServer } from './servers.ts';
import type { ServerSpec } from './servers.ts';
import { CLUSTER_IDS, CLUSTER_NODES, CROSS_NODE, CROSS_NODE_RESPONDER, startCluster } from './cluster.ts';

/** Single-node scenario ids in the order they run; the numbers are the brief's numbering. */
const SINGLE_IDS = ['pub', 'pubsub16', 'pubsub1k', 'fanout', 'queue', 'reqrep', 'memory', 'jspub', 'jspull', 'workers'] as const;
/** Every id; the cross-node ones (a cluster per measurement) run only when asked for. */
const ALL_IDS = [...SINGLE_IDS, ...CLUSTER_IDS] as const;
type ScenarioId = (typeof ALL_IDS)[number];
const NUMBERED: Record<string, ScenarioId[]> = {
  cluster: [...CLUSTER_IDS],
  '10': [...CLUSTER_IDS],
  '1': ['pub'],
  '2': ['pubsub16', 'pubsub1k'],
  '3': ['fanout'],
  '4': ['queue'],
  '5': ['reqrep'],
  '6': ['memory'],
  '7': ['workers'],
  '8': ['jspub'],
  '9': ['jspull'],
};
/** Scenario 7 compares worker counts on the scenarios that move the most bytes. */
const WORKER_SCENARIOS = ['pub', 'pubsub16', 'pubsub1k', 'fanout'];
/** Sockets the generator keeps for itself besides the idle crowd (agents, servers' pipes). */
const FD_MARGIN = 200;

interface Targets {
  /** Petrel/Go msgs/s at least this. */
  throughputRatio: number;
  /** Petrel/Go p50 latency at most this. */
  p50Ratio: number;
  /** Petrel/Go bytes per idle connection at most this. */
  memoryRatio?: number;
}
const TARGETS: Targets = { throughputRatio: 0.5, p50Ratio: 1.5, memoryRatio: 1 };
/** Issue 7's targets for the cross-node scenarios. */
const CLUSTER_TARGETS: Targets = { throughputRatio: 0.7, p50Ratio: 1.4 };

interface Flags {
  only: Set<ScenarioId>;
  durationMs: number;
  workers: number[];
  conns: number;
  jsMsgs: number;
  subThreads: number;
  repeat: number;
  petrelWorkers: number | undefined;
  petrelNodeArgs: string[] | undefined;
  go: boolean;
  json: string;
}

const USAGE = `usage: npm run bench -- [options]
  --only <ids>          comma list of: ${SINGLE_IDS.join(', ')} (or the numbers 1-9; default all of them),
                        or the cross-node ones (3-node clusters): ${CLUSTER_IDS.join(', ')}, or cluster (= 10) for all five
  --duration <s>        seconds each throughput run publishes (default 3)
  --workers <list>      Petrel worker counts compared in scenario 7 (default 1,2)
  --petrel-workers <n>  Petrel's --workers for scenarios 1-6 (default: Petrel's own default)
  --conns <n>           idle connections for the memory scenario (default 5000)
  --js-msgs <n>         messages pre-filled for the JetStream pull consumer (default ${JS_DEFAULTS.pullMsgs})
  --sub-threads <n>     generator threads that receive (default 1)
  --petrel-node-args <s> run Petrel as node <s> src/cli.ts, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  --repeat <n>          run each measurement n times on a fresh server, keep the best (default 1)
  --no-go               run Petrel alone even if the reference server is installed
  --json <file>         where to write the results (default ${path.join(os.tmpdir(), 'petrel-bench', 'latest.json')})
`;

function parseFlags(argv: string[]): Flags {
  const f: Flags = {
    only: new Set(SINGLE_IDS),
    durationMs: 3000,
    workers: [1, 2],
    conns: 5000,
    jsMsgs: JS_DEFAULTS.pullMsgs,
    subThreads: 1,
    repeat: 1,
    petrelWorkers: undefined,
    petrelNodeArgs: undefined,
    go: true,
    json: path.join(os.tmpdir(), 'petrel-bench', 'latest.json'),
  };
  const positiveInt = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} wants a positive integer, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [name, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--only': {
        const ids = new Set<ScenarioId>();
        for (const part of value().split(',').map((s) => s.trim()).filter(Boolean)) {
          const mapped = NUMBERED[part] ?? (ALL_IDS.includes(part as ScenarioId) ? [part as ScenarioId] : null);
          if (!mapped) throw new Error(`unknown scenario ${part}`);
          mapped.forEach((m) => ids.add(m));
        }
        f.only = ids;
        break;
      }
      case '--duration': {
        const s = Number(value());
        if (!(s > 0)) throw new Error('--duration wants seconds > 0');
        f.durationMs = s * 1000;
        break;
      }
      case '--workers':
        f.workers = value().split(',').map((w) => positiveInt('--workers', w));
        break;
      case '--petrel-workers':
        f.petrelWorkers = positiveInt(name, value());
        break;
      case '--conns':
        f.conns = positiveInt(name, value());
        break;
      case '--js-msgs':
        f.jsMsgs = positiveInt(name, value());
        break;
      case '--sub-threads':
        f.subThreads = positiveInt(name, value());
        break;
      case '--petrel-node-args':
        f.petrelNodeArgs = value().split(' ').filter(Boolean);
        break;
      case '--repeat':
        f.repeat = positiveInt(name, value());
        break;
      case '--no-go':
        f.go = false;
        break;
      case '--json':
        f.json = path.resolve(value());
        break;
      case '-h':
      case '--help':
        process.stdout.write(USAGE);
        process.exit(0);
      default:
        throw new Error(`unknown option ${a}\n${USAGE}`);
    }
  }
  return f;
}

/** The commit and the uncommitted server files the run measured, to notice a tree that changed mid-run. */
function sourceState(): string {
  const root = new URL('../..', import.meta.url).pathname;
  try {
    const head = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', root, 'status', '--porcelain', '--', 'src', 'workers', 'bin'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3));
    return dirty.length ? `${head} + uncommitted changes in ${dirty.join(', ')}` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/**
 * Warnings and errors the server logged (pino levels ≥ 40, or Go's [WRN]/[ERR]), and Go's slow
 * consumer notices (logged at [INF]), for a run that went wrong.
 */
function serverComplaints(log: string): string[] {
  return log
    .split('\n')
    .filter((l) => /"level":(4|5|6)0|\[(WRN|ERR|FTL)\]|Slow Consumer/.test(l))
    .map((l) => {
      const m = /"msg":"([^"]*)"/.exec(l);
      return (m ? m[1]! : l).slice(0, 200);
    })
    .slice(-5);
}

interface Row {
  scenario: string;
  title: string;
  server: string;
  result: ScenarioResult | { kind: 'error'; error: string };
  /** Every attempt when --repeat > 1; `result` is the best of them. */
  attempts?: (ScenarioResult | { kind: 'error'; error: string })[];
}

const rows: Row[] = [];
/** Sequential 16 B requests: 1,000 warm-up, then up to 20,000 or 3 s. */
const LATENCY = { count: 20_000, warmup: 1_000, durationMs: 3_000 } as const;
const fmtInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const fmtRatio = (a: number, b: number | undefined): string => (b && Number.isFinite(a / b) ? (a / b).toFixed(2) : '—');
const fmtCpu = (c: CpuFigures): string =>
  `srv ${c.serverPct.toFixed(0)}% gen ${c.generatorPct.toFixed(0)}% (${c.busiestThread} ${c.busiestThreadPct.toFixed(0)}%) others ${c.othersPct.toFixed(0)}%`;

function describe(r: Row['result']): string {
  switch (r.kind) {
    case 'throughput': {
      const extra = [
        r.exactlyOnce ? `exactly-once: missing ${r.exactlyOnce.missing}, dup ${r.exactlyOnce.duplicated}` : '',
        r.detail ?? '',
        r.faults.length ? `FAULTS: ${r.faults.join('; ')}` : '',
      ].filter(Boolean);
      return `${fmtInt(r.msgsPerSec)} msgs/s  [${fmtInt(r.sent)} sent, ${fmtInt(r.received)} received, ${r.elapsedMs.toFixed(0)} ms]  ${fmtCpu(r.cpu)}${extra.length ? '  ' + extra.join('  ') : ''}`;
    }
    case 'latency':
      return `p50 ${r.p50us.toFixed(1)} µs  p99 ${r.p99us.toFixed(1)} µs  mean ${r.meanUs.toFixed(1)} µs  [${r.requests} requests]  ${fmtCpu(r.cpu)}`;
    case 'memory':
      return `${fmtInt(r.bytesPerConn)} B/conn  [${r.connections} conns, RSS ${(r.rssBeforeBytes / 2 ** 20).toFixed(1)} → ${(r.rssAfterBytes / 2 ** 20).toFixed(1)} MiB]${r.note ? '  ' + r.note : ''}`;
    case 'error':
      return `ERROR ${r.error}`;
  }
}

/** Higher is better: interference from other processes only ever makes a figure worse. */
function score(r: ScenarioResult): number {
  switch (r.kind) {
    case 'throughput':
      return r.faults.length ? -1 : r.msgsPerSec;
    case 'latency':
      return -r.p50us;
    case 'memory':
      return -r.bytesPerConn;
  }
}

/** What a measurement runs against: one server, or a cluster. */
interface UnderTest {
  stop(): Promise<void>;
  logTail(lines?: number): string;
}

async function withServer<S extends UnderTest, T extends ScenarioResult>(
  spec: ServerSpec,
  scenario: string,
  title: string,
  body: (s: S) => Promise<T>,
  repeat: number,
  start: (spec: ServerSpec) => Promise<S>,
): Promise<Row['result']> {
  const attempts: Row['result'][] = [];
  for (let i = 0; i < repeat; i++) {
    let server: S | null = null;
    let result: Row['result'];
    try {
      server = await start(spec);
      result = await body(server);
      if (result.kind === 'throughput' && result.faults.length) {
        for (const c of serverComplaints(server.logTail(500))) result.faults.push(`server log: ${c}`);
      }
    } catch (e) {
      result = { kind: 'error', error: (e as Error).message + (server ? `\n${server.logTail()}` : '') };
    } finally {
      await server?.stop();
    }
    attempts.push(result);
    process.stderr.write(`  ${title.padEnd(24)} ${spec.label.padEnd(10)} ${describe(result)}\n`);
  }
  const scored = attempts.filter((a): a is ScenarioResult => a.kind !== 'error');
  const best = scored.length ? scored.reduce((a, b) => (score(b) > score(a) ? b : a)) : attempts[0]!;
  rows.push({ scenario, title, server: spec.label, result: best, attempts: attempts.length > 1 ? attempts : undefined });
  return best;
}

function find(scenario: string, server: string): Row['result'] | undefined {
  return rows.find((r) => r.scenario === scenario && r.server === server)?.result;
}

/** Petrel's own default worker count, read from /varz of a throwaway instance. */
async function petrelDefaultWorkers(): Promise<number | undefined> {
  const s = await startServer({ kind: 'petrel', label: 'probe' });
  try {
    const varz = (await (await fetch(`http://${s.host}:${s.httpPort}/varz`)).json()) as { workers?: number };
    return varz.workers;
  } catch {
    return undefined;
  } finally {
    await s.stop();
  }
}

function table(headers: string[], body: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(headers), `|${widths.map((w, i) => (i === 0 ? ':' : '') + '-'.repeat(w + 1) + (i === 0 ? '' : ':')).join('|')}|`, ...body.map(line)].join('\n');
}

/** Petrel against Go for each scenario that ran, with the verdicts against the targets. */
function comparison(ids: readonly string[], targets: Targets, petrelLabel: string, go: string | undefined): { table: string[][]; verdicts: string[] } {
  const mainRows: string[][] = [];
  const verdicts: string[] = [];
  for (const id of ids) {
    const p = find(id, petrelLabel);
    if (!p) continue;
    const g = go ? find(id, go) : undefined;
    const title = rows.find((r) => r.scenario === id)!.title;
    if (p.kind === 'throughput') {
      const gt = g?.kind === 'throughput' ? g : undefined;
      const ratio = gt ? p.msgsPerSec / gt.msgsPerSec : NaN;
      mainRows.push([
        `${title} (msgs/s)`,
        fmtInt(p.msgsPerSec),
        gt ? fmtInt(gt.msgsPerSec) : '—',
        fmtRatio(p.msgsPerSec, gt?.msgsPerSec),
        `${p.cpu.serverPct.toFixed(0)}% / ${gt ? gt.cpu.serverPct.toFixed(0) + '%' : '—'}`,
        `${p.cpu.busiestThreadPct.toFixed(0)}% / ${gt ? gt.cpu.busiestThreadPct.toFixed(0) + '%' : '—'}`,
      ]);
      if (gt) verdicts.push(`${title}: ratio ${ratio.toFixed(2)} ${ratio >= targets.throughputRatio ? 'meets' : 'MISSES'} ≥ ${targets.throughputRatio}`);
      if (p.exactlyOnce) {
        const e = p.exactlyOnce;
        const ok = e.missing === 0 && e.duplicated === 0 && e.unexpected === 0;
        verdicts.push(`${title}: Petrel exactly-once ${ok ? 'holds' : `BROKEN (missing ${e.missing}, duplicated ${e.duplicated}, unexpected ${e.unexpected})`}`);
      }
    } else if (p.kind === 'latency') {
      const gl = g?.kind === 'latency' ? g : undefined;
      for (const [q, pv, gv] of [
        ['p50', p.p50us, gl?.p50us],
        ['p99', p.p99us, gl?.p99us],
      ] as const) {
        mainRows.push([
          `${title} ${q} (µs)`,
          pv.toFixed(1),
          gv !== undefined ? gv.toFixed(1) : '—',
          fmtRatio(pv, gv),
          `${p.cpu.serverPct.toFixed(0)}% / ${gl ? gl.cpu.serverPct.toFixed(0) + '%' : '—'}`,
          `${p.cpu.busiestThreadPct.toFixed(0)}% / ${gl ? gl.cpu.busiestThreadPct.toFixed(0) + '%' : '—'}`,
        ]);
      }
      if (gl) {
        const r = p.p50us / gl.p50us;
        verdicts.push(`${title} p50: ${r.toFixed(2)}× Go ${r <= targets.p50Ratio ? 'meets' : 'MISSES'} ≤ ${targets.p50Ratio}×`);
      }
    } else if (p.kind === 'memory') {
      const gm = g?.kind === 'memory' ? g : undefined;
      mainRows.push([`idle connection (bytes RSS, ${p.connections} conns)`, fmtInt(p.bytesPerConn), gm ? fmtInt(gm.bytesPerConn) : '—', fmtRatio(p.bytesPerConn, gm?.bytesPerConn), '', '']);
      if (gm) {
        const r = p.bytesPerConn / gm.bytesPerConn;
        verdicts.push(`memory per idle connection: ${r.toFixed(2)}× Go ${r <= (targets.memoryRatio ?? 1) ? 'meets' : 'MISSES'} ≤ Go`);
      }
    }
  }
  return { table: mainRows, verdicts };
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const goVersion = flags.go ? goServerVersion() : null;
  const startedAt = new Date();
  const sourceAtStart = sourceState();
  process.stderr.write(`Petrel bench — ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}\n`);
  if (!goVersion) process.stderr.write(flags.go ? 'reference server not installed (/usr/sbin/nats-server): running Petrel alone\n' : 'reference server skipped (--no-go)\n');
  else process.stderr.write(`reference: ${goVersion}\n`);
  process.stderr.write(`petrel source: ${sourceAtStart}\n`);

  const defaultWorkers = flags.petrelWorkers ?? (await petrelDefaultWorkers());
  const petrelLabel = `petrel w${defaultWorkers ?? '?'}`;
  const mainServers: ServerSpec[] = [{ kind: 'petrel', label: petrelLabel, workers: flags.petrelWorkers, nodeArgs: flags.petrelNodeArgs }];
  if (goVersion) mainServers.push({ kind: 'go', label: 'go' });

  const notes: string[] = [];
  const pool = new AgentPool(flags.subThreads);
  try {
    for (const sc of THROUGHPUT) {
      if (!flags.only.has(sc.id as ScenarioId)) continue;
      for (const spec of mainServers) await withServer(spec, sc.id, sc.title, (s) => runThroughput(pool, onServer(s), sc, flags.durationMs), flags.repeat, startServer);
    }
    if (flags.only.has('reqrep')) {
      for (const spec of mainServers) {
        await withServer(spec, 'reqrep', 'request/reply 16 B', (s) => runLatency(pool, onServer(s), LATENCY), flags.repeat, startServer);
      }
    }
    if (flags.only.has('memory')) {
      let conns = flags.conns;
      const own = readFdLimit('self');
      if (own < conns + FD_MARGIN) {
        conns = Math.max(1, own - FD_MARGIN);
        notes.push(`memory: the generator may open only ${own} files (ulimit -n), so ${conns} connections instead of ${flags.conns}`);
      }
      for (const spec of mainServers) {
        await withServer(spec, 'memory', 'memory per idle conn', async (s) => {
          let n = conns;
          if (s.fdLimit < n + FD_MARGIN) {
            n = Math.max(1, s.fdLimit - FD_MARGIN);
            notes.push(`memory: ${spec.label} may open only ${s.fdLimit} files, so ${n} connections`);
          }
          return runMemory(pool, s, n);
        }, flags.repeat, startServer);
      }
    }
    const jsServers = mainServers.map((spec) => ({ ...spec, jetstream: true }));
    const js = { ...JS_DEFAULTS, durationMs: flags.durationMs, pullMsgs: flags.jsMsgs };
    if (flags.only.has('jspub')) {
      for (const spec of jsServers) await withServer(spec, 'jspub', 'JS publish 128 B, window 1k', (s) => runJsPublish(pool, s, js), flags.repeat, startServer);
    }
    if (flags.only.has('jspull')) {
      for (const spec of jsServers) await withServer(spec, 'jspull', 'JS durable pull + ack 128 B', (s) => runJsPull(pool, s, js), flags.repeat, startServer);
    }
    if (flags.only.has('jspub') || flags.only.has('jspull')) notes.push(JS_DURABILITY_NOTE);
    if (flags.only.has('workers')) {
      for (const id of WORKER_SCENARIOS) {
        const sc = THROUGHPUT.find((t) => t.id === id)!;
        for (const w of flags.workers) {
          const label = `petrel w${w}`;
          if (label === petrelLabel && find(id, label)) continue; // measured above with the same settings
          await withServer({ kind: 'petrel', label, workers: w, nodeArgs: flags.petrelNodeArgs }, id, sc.title, (s) => runThroughput(pool, onServer(s), sc, flags.durationMs), flags.repeat, startServer);
        }
      }
    }
    for (const sc of CROSS_NODE) {
      if (!flags.only.has(sc.id as ScenarioId)) continue;
      for (const spec of mainServers) await withServer(spec, sc.id, sc.title, (c) => runThroughput(pool, c, sc, flags.durationMs), flags.repeat, startCluster);
    }
    if (flags.only.has('xreqrep')) {
      for (const spec of mainServers) {
        await withServer(spec, 'xreqrep', 'n1 → n2 request/reply', (c) => runLatency(pool, c, { ...LATENCY, responderServer: CROSS_NODE_RESPONDER }), flags.repeat, startCluster);
      }
    }
  } finally {
    await pool.stop();
  }

  // ---- report ----
  const sourceAtEnd = sourceState();
  if (sourceAtEnd !== sourceAtStart) notes.push(`the Petrel source changed during the run (${sourceAtStart} → ${sourceAtEnd}): figures mix versions`);
  const out: string[] = [];
  const go = goVersion ? 'go' : undefined;
  out.push(`\nPetrel vs ${goVersion ?? '(reference server not installed)'} — ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${flags.durationMs / 1000} s per throughput run`);
  const single = comparison(['pub', 'pubsub16', 'pubsub1k', 'fanout', 'queue', 'reqrep', 'memory', 'jspub', 'jspull'], TARGETS, petrelLabel, go);
  const cross = comparison(CLUSTER_IDS, CLUSTER_TARGETS, petrelLabel, go);
  const verdicts = [...single.verdicts, ...cross.verdicts];
  for (const row of rows) if (row.result.kind === 'error') notes.push(`${row.title} on ${row.server} failed: ${row.result.error.split('\n')[0]}`);
  for (const row of rows) {
    if (row.result.kind === 'throughput' && row.result.faults.length) notes.push(`${row.title} on ${row.server}: ${row.result.faults.join('; ')}`);
  }
  const headers = ['Scenario', petrelLabel, 'go', 'Petrel/Go', 'server CPU P / G', 'busiest gen thread P / G'];
  if (single.table.length) {
    out.push('');
    out.push(table(headers, single.table));
  }
  if (cross.table.length) {
    out.push('');
    out.push(`Cross-node — ${CLUSTER_NODES}-node clusters (Petrel and Go in the same shape), publisher/requester on n1; server CPU is all nodes together`);
    out.push(table(headers, cross.table));
  }

  const workerLabels = flags.workers.map((w) => `petrel w${w}`);
  const workerRows: string[][] = [];
  if (flags.only.has('workers')) {
    for (const id of WORKER_SCENARIOS) {
      const results = workerLabels.map((l) => find(id, l));
      if (results.every((r) => r?.kind !== 'throughput')) continue;
      const g = go ? find(id, go) : undefined;
      const gRate = g?.kind === 'throughput' ? g.msgsPerSec : undefined;
      const rates = results.map((r) => (r?.kind === 'throughput' ? r.msgsPerSec : NaN));
      workerRows.push([
        `${THROUGHPUT.find((t) => t.id === id)!.title} (msgs/s)`,
        ...rates.map(fmtInt),
        gRate ? fmtInt(gRate) : '—',
        ...rates.map((r) => fmtRatio(r, gRate)),
        ...results.map((r) => (r?.kind === 'throughput' ? `${r.cpu.serverPct.toFixed(0)}%` : '—')),
      ]);
    }
  }
  if (workerRows.length) {
    out.push('');
    out.push(`Scenario 7 — Petrel worker threads (Petrel's default here: ${defaultWorkers ?? 'unknown'})`);
    out.push(table(['Scenario', ...workerLabels, 'go', ...workerLabels.map((l) => `${l.slice(7)}/Go`), ...workerLabels.map((l) => `srv CPU ${l.slice(7)}`)], workerRows));
  }
  if (verdicts.length) {
    out.push('');
    out.push('Targets:');
    for (const v of verdicts) out.push(`  ${v}`);
  }
  if (notes.length) {
    out.push('');
    out.push('Notes:');
    for (const n of notes) out.push(`  ${n}`);
  }
  out.push('');
  out.push('CPU is % of one core over the run (200% = both cores). A busiest generator thread near 100% means the generator, not the server, may set the pace.');
  process.stdout.write(out.join('\n') + '\n');

  fs.mkdirSync(path.dirname(flags.json), { recursive: true });
  fs.writeFileSync(
    flags.json,
    JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        machine: { cores: os.cpus().length, memoryBytes: os.totalmem(), node: process.version, reference: goVersion },
        petrelSource: { atStart: sourceAtStart, atEnd: sourceAtEnd },
        settings: { ...flags, only: [...flags.only], petrelDefaultWorkers: defaultWorkers },
        results: rows,
        targets: verdicts,
        notes,
      },
      null,
      2,
    ) + '\n',
  );
  process.stderr.write(`results written to ${flags.json}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});

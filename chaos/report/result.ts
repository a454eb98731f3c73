// A chaos run's result: what ran (seed, nodes, schedule), what happened (fault windows, a timeline
// of throughput and latency per workload), and what the checkers concluded, with one summary row
// per workload. Written as JSON, rendered as the terminal table and as the HTML report (html.ts).

import fs from 'node:fs';
import path from 'node:path';
import type { ConsumerResult } from '../checker/consumer.ts';
import type { CoreResult } from '../checker/core.ts';
import { pairOps } from '../checker/history.ts';
import type { Op, Validity } from '../checker/history.ts';
import type { KvResult } from '../checker/kv.ts';
import type { QueueResult } from '../checker/queue.ts';
import type { FaultWindow } from '../faults/nemesis.ts';
import type { Schedule } from '../faults/schedule.ts';

export type CheckResult = QueueResult | ConsumerResult | KvResult | CoreResult;
export type Verdict = 'pass' | 'fail' | 'unknown';

export interface TimelineBucket {
  /** Start of the bucket, ms from the start of the run. */
  t: number;
  /** Operations completed in the bucket, by outcome (an unfinished one counts as info at the end). */
  ok: number;
  fail: number;
  info: number;
  /** Latency of the operations completed ok in the bucket, ms; null when none. */
  p50: number | null;
  p99: number | null;
  max: number | null;
}

export interface SummaryRow {
  workload: string;
  faults: string;
  acked: number;
  failed: number;
  unknown: number;
  lost: number | null;
  duplicated: number | null;
  unexpected: number | null;
  divergent: number | null;
  /** Only the kv workload has a linearizability verdict. */
  linearizable: 'yes' | 'no' | 'unknown' | 'n/a';
  verdict: Verdict;
}

export interface WorkloadResult {
  name: string;
  check: CheckResult;
  summary: SummaryRow;
  timeline: TimelineBucket[];
  /** What the workload noticed beside its check (replicas read before they caught up, a drain cut short). */
  notes?: string[];
}

export interface RunResult {
  version: 1;
  /** ISO time the run started. */
  startedAt: string;
  seed: number;
  nodes: number;
  durationMs: number;
  /** "petrel", or the path of the server binary the suite ran against. */
  server: string;
  /** The command line that replays the run. */
  replay: string;
  schedule: Schedule;
  faults: FaultWindow[];
  bucketMs: number;
  workloads: WorkloadResult[];
  /** Run-level failures beside the checks: a node that exited on its own, a cluster that did not re-form. */
  problems?: string[];
  verdict: Verdict;
}

export function verdictOf(valid: Validity): Verdict {
  return valid === true ? 'pass' : valid === false ? 'fail' : 'unknown';
}

export function overallVerdict(ws: readonly { summary: { verdict: Verdict } }[]): Verdict {
  if (ws.some((w) => w.summary.verdict === 'fail')) return 'fail';
  if (ws.length === 0 || ws.some((w) => w.summary.verdict === 'unknown')) return 'unknown';
  return 'pass';
}

/** The run's verdict: the workloads', failed by any run-level problem (a server crash is a failure). */
export function runVerdict(ws: readonly { summary: { verdict: Verdict } }[], problems: readonly string[]): Verdict {
  return problems.length > 0 ? 'fail' : overallVerdict(ws);
}

/** Throughput and latency per bucket, from the history's completions. */
export function timelineOf(history: readonly Op[], durationMs: number, bucketMs: number): TimelineBucket[] {
  const n = Math.max(1, Math.ceil(durationMs / bucketMs));
  const buckets: TimelineBucket[] = Array.from({ length: n }, (_, i) => ({ t: i * bucketMs, ok: 0, fail: 0, info: 0, p50: null, p99: null, max: null }));
  const latencies: number[][] = Array.from({ length: n }, () => []);
  const at = (t: number) => Math.min(n - 1, Math.max(0, Math.floor(t / bucketMs)));
  for (const p of pairOps(history.filter((op) => !isEvent(op)))) {
    if (!p.completion) {
      buckets[n - 1]!.info++;
      continue;
    }
    const b = at(p.completion.time);
    buckets[b]![p.completion.type === 'ok' ? 'ok' : p.completion.type === 'fail' ? 'fail' : 'info']++;
    if (p.completion.type === 'ok') latencies[b]!.push(p.completion.time - p.invoke.time);
  }
  buckets.forEach((b, i) => {
    const ls = latencies[i]!.sort((x, y) => x - y);
    if (ls.length === 0) return;
    b.p50 = quantile(ls, 0.5);
    b.p99 = quantile(ls, 0.99);
    b.max = ls[ls.length - 1]!;
  });
  return buckets;
}

/** Events (deliveries) are `ok` ops with no invoke; they are not calls with a latency. */
function isEvent(op: Op): boolean {
  return op.f === 'deliver';
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** The summary row of one workload's check. */
export function summaryRow(workload: string, faults: string, check: CheckResult): SummaryRow {
  const base = { workload, faults };
  switch (check.checker) {
    case 'queue':
      return {
        ...base,
        acked: check.acked,
        failed: check.failed,
        unknown: check.unknown,
        lost: check.lost,
        duplicated: check.duplicated,
        unexpected: check.unexpected,
        divergent: check.divergent + check.reordered,
        linearizable: 'n/a',
        verdict: verdictOf(check.valid),
      };
    case 'consumer':
      return {
        ...base,
        acked: check.acked,
        failed: check.failed,
        unknown: check.unknown,
        lost: check.unprocessed,
        duplicated: check.redeliveredAfterAck,
        unexpected: check.unexpected,
        divergent: null,
        linearizable: 'n/a',
        verdict: verdictOf(check.valid),
      };
    case 'kv':
      return {
        ...base,
        acked: check.ok,
        failed: check.failed,
        unknown: check.unknown,
        lost: null,
        duplicated: check.duplicateRevisions.length,
        unexpected: null,
        divergent: null,
        linearizable: check.valid === true ? 'yes' : check.valid === false ? 'no' : 'unknown',
        verdict: verdictOf(check.valid),
      };
    case 'core':
      return {
        ...base,
        acked: check.acked,
        failed: check.failed,
        unknown: check.unknown,
        lost: null,
        duplicated: check.duplicated,
        unexpected: check.unexpected,
        divergent: null,
        linearizable: 'n/a',
        verdict: verdictOf(check.valid),
      };
  }
}

/** The summary's faults cell: the kinds injected, with counts ("kill-node×2, partition"). */
export function faultSummary(windows: readonly FaultWindow[]): string {
  if (windows.length === 0) return 'none';
  const counts = new Map<string, number>();
  for (const w of windows) counts.set(w.kind, (counts.get(w.kind) ?? 0) + 1);
  return [...counts].map(([k, n]) => (n > 1 ? `${k}×${n}` : k)).join(', ');
}

export const SUMMARY_COLUMNS: readonly { key: keyof SummaryRow; title: string }[] = [
  { key: 'workload', title: 'workload' },
  { key: 'faults', title: 'faults' },
  { key: 'acked', title: 'acked' },
  { key: 'failed', title: 'failed' },
  { key: 'unknown', title: 'unknown' },
  { key: 'lost', title: 'lost' },
  { key: 'duplicated', title: 'duplicated' },
  { key: 'unexpected', title: 'unexpected' },
  { key: 'divergent', title: 'divergent' },
  { key: 'linearizable', title: 'linearizable' },
  { key: 'verdict', title: 'verdict' },
];

export function cellText(v: SummaryRow[keyof SummaryRow]): string {
  return v === null ? '-' : String(v);
}

/** The table printed at the end of a run. */
export function formatSummaryTable(rows: readonly SummaryRow[]): string {
  const cells = [SUMMARY_COLUMNS.map((c) => c.title), ...rows.map((r) => SUMMARY_COLUMNS.map((c) => cellText(r[c.key])))];
  const widths = SUMMARY_COLUMNS.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function writeResult(file: string, result: RunResult): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
}

export function readResult(file: string): RunResult {
  const r = JSON.parse(fs.readFileSync(file, 'utf8')) as RunResult;
  if (r.version !== 1) throw new Error(`${file}: unsupported result version ${String(r.version)}`);
  return r;
}

export interface Progress {
  elapsedMs: number;
  durationMs: number;
  ops: { ok: number; fail: number; info: number };
  /** The fault in force, if any. */
  fault: string | null;
}

/** The live line on the terminal during a run. */
export function progressLine(p: Progress): string {
  const total = p.ops.ok + p.ops.fail + p.ops.info;
  return (
    `${(p.elapsedMs / 1000).toFixed(1).padStart(6)}s / ${(p.durationMs / 1000).toFixed(0)}s` +
    `  ops ${total} (ok ${p.ops.ok}, fail ${p.ops.fail}, info ${p.ops.info})` +
    `  ${p.fault ? `fault: ${p.fault}` : 'no fault'}`
  );
}

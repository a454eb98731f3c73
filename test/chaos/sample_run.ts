// A synthetic chaos run for report tests: seeded histories of the four workloads shaped by a real
// fault schedule (slower and less successful while a fault is on), checked by the real checkers.
// `plant` adds one lost queue value, to see a failing report.

import { checkConsumer } from '../../chaos/checker/consumer.ts';
import { checkCore } from '../../chaos/checker/core.ts';
import type { Op, OpType } from '../../chaos/checker/history.ts';
import { checkKv } from '../../chaos/checker/kv.ts';
import { checkQueue } from '../../chaos/checker/queue.ts';
import type { FaultWindow } from '../../chaos/faults/nemesis.ts';
import { describeFault, formatLinks, generateSchedule } from '../../chaos/faults/schedule.ts';
import { faultSummary, overallVerdict, summaryRow, timelineOf } from '../../chaos/report/result.ts';
import type { CheckResult, RunResult, WorkloadResult } from '../../chaos/report/result.ts';
import { seededRandom } from '../../src/raft/prng.ts';

interface Planned {
  process: string;
  f: string;
  start: number;
  end: number;
  outcome: OpType;
  input: unknown;
  output?: unknown;
}

export function sampleRun(seed = 7, opts: { plant?: boolean; durationMs?: number } = {}): RunResult {
  const durationMs = opts.durationMs ?? 60_000;
  const r = seededRandom(seed);
  const schedule = generateSchedule({ seed, nodes: 3, durationMs, faults: ['partition', 'kill', 'slow', 'flap'] });
  const faults: FaultWindow[] = schedule.faults.map((f) => ({
    id: f.id,
    kind: f.kind,
    description: describeFault(f),
    start: f.at + r.int(30),
    end: f.at + f.duration + r.int(60),
    target: 'links' in f ? formatLinks(f.links) : 'n1',
    errors: [],
  }));
  const faulted = (t: number) => faults.some((w) => t >= w.start && t < w.end);

  /** Sequential operations per process; slower and riskier during faults. */
  const plan = (process: string, f: (i: number) => { f: string; input: unknown }, gapMs: number): Planned[] => {
    const out: Planned[] = [];
    let t = r.int(gapMs);
    for (let i = 0; t < durationMs - 3_000; i++) {
      const bad = faulted(t);
      const latency = bad ? 5 + r.int(800) : 1 + r.int(6);
      const roll = r.next();
      const outcome: OpType = bad && roll < 0.15 ? 'info' : bad && roll < 0.25 ? 'fail' : 'ok';
      const { f: fn, input } = f(i);
      out.push({ process, f: fn, start: t, end: t + latency, outcome, input });
      t += latency + gapMs / 2 + r.int(gapMs);
    }
    return out;
  };

  const toHistory = (planned: Planned[]): Op[] => {
    const evs = planned.flatMap((p) => [
      { t: p.start, op: { type: 'invoke' as OpType, process: p.process, f: p.f, value: p.input, time: p.start } },
      { t: p.end, op: { type: p.outcome, process: p.process, f: p.f, value: p.output ?? p.input, time: p.end } },
    ]);
    return evs.sort((a, b) => a.t - b.t || (a.op.type === 'invoke' ? 1 : -1)).map((e) => e.op);
  };

  // queue: three publishers; every node holds the acked values and about half the unknown ones.
  const pubs = ['c0', 'c1', 'c2'].flatMap((c) => plan(c, (i) => ({ f: 'publish', input: `${c}-${i}` }), 40));
  const queueHistory = toHistory(pubs);
  const stored = pubs.filter((p) => p.outcome === 'ok' || (p.outcome === 'info' && r.next() < 0.5)).sort((a, b) => a.end - b.end).map((p) => p.input as string);
  if (opts.plant) stored.splice(Math.floor(stored.length / 2), 1);
  for (const node of ['n0', 'n1', 'n2']) {
    queueHistory.push({ type: 'invoke', process: `read-${node}`, f: 'read', value: null, time: durationMs - 1_000, node });
    queueHistory.push({ type: 'ok', process: `read-${node}`, f: 'read', value: stored, time: durationMs - 900, node });
  }

  // kv: a register per key, each operation taking effect at its end.
  const kvPlanned = ['k0', 'k1'].flatMap((c) =>
    plan(c, (i) => {
      const f = ['get', 'put', 'get'][i % 3]!;
      return { f, input: f === 'get' ? { key: c === 'k0' ? 'a' : 'b' } : { key: c === 'k0' ? 'a' : 'b', value: `${c}-${i}` } };
    }, 60),
  );
  let revision = 0;
  const registers = new Map<string, { value: string | null; revision: number }>();
  for (const p of [...kvPlanned].sort((a, b) => a.end - b.end)) {
    if (p.outcome === 'fail') continue;
    const inp = p.input as { key: string; value?: string };
    const reg = registers.get(inp.key) ?? { value: null, revision: 0 };
    if (p.f === 'put') {
      revision++;
      registers.set(inp.key, { value: inp.value!, revision });
      p.output = { ...inp, revision };
    } else {
      p.output = { key: inp.key, value: reg.value, revision: reg.revision };
    }
  }

  // core: a publisher and a queue group of three; about one in ten messages lost while faulted.
  const corePub = plan('pub', (i) => ({ f: 'publish', input: `m${i}` }), 30);
  const coreHistory = toHistory(corePub);
  for (const p of corePub) {
    if (p.outcome !== 'ok' || (faulted(p.end) && r.next() < 0.1)) continue;
    const sub = r.int(3);
    coreHistory.push({ type: 'ok', process: `sub${sub}`, f: 'deliver', value: p.input, time: p.end + 1, node: `n${sub}` });
  }
  coreHistory.sort((a, b) => a.time - b.time);

  // consumer: published work fetched and acked by two workers.
  const work = plan('producer', (i) => ({ f: 'publish', input: i }), 80);
  const consumerPlanned: Planned[] = [...work];
  const acked = work.filter((p) => p.outcome === 'ok');
  acked.forEach((p, i) => {
    const worker = `w${i % 2}`;
    const t = p.end + 20 + i * 0.01;
    consumerPlanned.push({ process: worker, f: 'fetch', start: t, end: t + 2, outcome: 'ok', input: null, output: [p.input] });
    consumerPlanned.push({ process: worker, f: 'ack', start: t + 3, end: t + 5, outcome: 'ok', input: p.input });
  });

  const workloads: { name: string; history: Op[]; check: (h: Op[]) => CheckResult }[] = [
    { name: 'queue', history: queueHistory, check: checkQueue },
    { name: 'consumer', history: toHistory(consumerPlanned), check: checkConsumer },
    { name: 'kv', history: toHistory(kvPlanned), check: (h) => checkKv(h) },
    { name: 'core', history: coreHistory, check: checkCore },
  ];
  const bucketMs = 1_000;
  const faultNames = faultSummary(faults);
  const results: WorkloadResult[] = workloads.map((w) => {
    const check = w.check(w.history);
    return { name: w.name, check, summary: summaryRow(w.name, faultNames, check), timeline: timelineOf(w.history, durationMs, bucketMs) };
  });
  return {
    version: 1,
    startedAt: '2026-05-01T12:00:00.000Z',
    seed,
    nodes: 3,
    durationMs,
    server: 'petrel',
    replay: `npm run chaos -- --nodes 3 --time ${durationMs / 1000} --seed ${seed}`,
    schedule,
    faults,
    bucketMs,
    workloads: results,
    verdict: overallVerdict(results),
  };
}

// Super-cluster and leaf node throughput, Petrel side by side with the Go reference nats-server:
// a publisher on one server and its subscriber on another, the two joined by a gateway (two
// one-node regions) or a leaf connection (leaf node → hub), with the same raw-TCP generator as
// `npm run bench`. Each pair is started fresh per measurement, the subscriber's interest is seen
// on the publisher's server (/gatewayz, /leafz) before the first publish.
//   npm run bench:links -- [--only gw16,gw1k,leaf16,leaf1k] [--duration 3] [--repeat 3] [--no-go]
//                          [--petrel-node-args "--cpu-prof --cpu-prof-dir=/tmp/prof"]

import os from 'node:os';
import { AgentPool } from './loadgen/pool.ts';
import { THROUGHPUT, runThroughput, targetOf } from './scenarios.ts';
import type { Placement, ThroughputResult, ThroughputScenario } from './scenarios.ts';
import { freePort, goServerVersion, startServer } from './servers.ts';
import type { RunningServer, ServerKind } from './servers.ts';

const TARGET_RATIO = 0.7;
/** The subscriber's interest must reach the publisher's server within this (a bound, not a wait). */
const INTEREST_BOUND_MS = 20_000;

interface LinkScenario {
  id: string;
  title: string;
  link: 'gateway' | 'leaf';
  base: ThroughputScenario;
}

const pubsub16 = THROUGHPUT.find((t) => t.id === 'pubsub16')!;
const pubsub1k = THROUGHPUT.find((t) => t.id === 'pubsub1k')!;
const SCENARIOS: LinkScenario[] = [
  { id: 'gw16', title: 'gateway A→B 16 B', link: 'gateway', base: pubsub16 },
  { id: 'gw1k', title: 'gateway A→B 1 KiB', link: 'gateway', base: pubsub1k },
  { id: 'leaf16', title: 'leaf → hub 16 B', link: 'leaf', base: pubsub16 },
  { id: 'leaf1k', title: 'leaf → hub 1 KiB', link: 'leaf', base: pubsub1k },
];

interface Pair {
  /** Where the publisher connects (region A, the leaf node). */
  pub: RunningServer;
  /** Where the subscriber connects (region B, the hub). */
  sub: RunningServer;
}

async function json(s: RunningServer, path: string): Promise<any> {
  return (await fetch(`http://${s.host}:${s.httpPort}${path}`)).json();
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + INTEREST_BOUND_MS;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Two servers joined the scenario's way. */
async function startPair(kind: ServerKind, link: 'gateway' | 'leaf', nodeArgs?: string[]): Promise<Pair> {
  const label = kind === 'go' ? 'go' : 'petrel';
  const [p1, p2] = [await freePort(), await freePort()];
  if (link === 'gateway') {
    const gw = (name: string, own: number, other: string, otherPort: number) =>
      `gateway {\n  name: ${name}\n  listen: "127.0.0.1:${own}"\n  gateways: [ { name: ${other}, url: "nats://127.0.0.1:${otherPort}" } ]\n}\n`;
    const sub = await startServer({ kind, nodeArgs: kind === 'petrel' ? nodeArgs : undefined, label: `${label} B`, config: gw('B', p2, 'A', p1) });
    const pub = await startServer({ kind, nodeArgs: kind === 'petrel' ? nodeArgs : undefined, label: `${label} A`, config: gw('A', p1, 'B', p2) });
    const pair = { pub, sub };
    await until('the gateways between A and B', async () => {
      const [a, b] = [await json(pub, '/gatewayz'), await json(sub, '/gatewayz')];
      return Boolean(a.outbound_gateways?.B && b.outbound_gateways?.A);
    });
    return pair;
  }
  const sub = await startServer({ kind, nodeArgs: kind === 'petrel' ? nodeArgs : undefined, label: `${label} hub`, config: `leafnodes {\n  listen: "127.0.0.1:${p1}"\n}\n` });
  const pub = await startServer({ kind, nodeArgs: kind === 'petrel' ? nodeArgs : undefined, label: `${label} leaf`, config: `leafnodes {\n  remotes: [ { url: "nats-leaf://127.0.0.1:${p1}" } ]\n}\n` });
  await until('the leaf connection', async () => (await json(sub, '/leafz')).leafnodes === 1);
  return { pub, sub };
}

/** The subscriber's interest in `subject` has reached the publisher's server. */
function interestSeen(pair: Pair, link: 'gateway' | 'leaf', subject: string): () => Promise<void> {
  return () =>
    until(`interest in ${subject} on the publishing side`, async () => {
      if (link === 'leaf') {
        const l = await json(pair.pub, '/leafz?subs=1');
        return (l.leafs ?? []).some((x: { subscriptions_list?: string[] }) => (x.subscriptions_list ?? []).includes(subject));
      }
      const g = await json(pair.pub, '/gatewayz?accs=1&acc_name=$G');
      const acc = (g.outbound_gateways?.B?.accounts ?? []).find((a: { name: string }) => a.name === '$G');
      return (acc?.num_subs ?? 0) >= 1;
    });
}

/** The median of Petrel/Go over attempts run back to back (NaN where there is no pair). */
function pairedMedian(petrel: number[], go: number[]): number {
  const ratios = petrel.map((p, i) => p / (go[i] ?? NaN)).filter(Number.isFinite).sort((a, b) => a - b);
  if (ratios.length === 0) return NaN;
  const mid = ratios.length >> 1;
  return ratios.length % 2 ? ratios[mid]! : (ratios[mid - 1]! + ratios[mid]!) / 2;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const durationMs = Number(flag('--duration') ?? 3) * 1000;
  const repeat = Number(flag('--repeat') ?? 1);
  const only = new Set((flag('--only') ?? SCENARIOS.map((s) => s.id).join(',')).split(','));
  const nodeArgs = flag('--petrel-node-args')?.split(' ').filter(Boolean);
  const goVersion = argv.includes('--no-go') ? null : goServerVersion();
  const kinds: ServerKind[] = goVersion ? ['petrel', 'go'] : ['petrel'];
  process.stderr.write(`Petrel links bench — ${os.cpus().length} cores, node ${process.version}, reference: ${goVersion ?? 'none'}\n`);
  const pool = new AgentPool(1);
  const best = new Map<string, number>();
  /** Every attempt's figure, in order, so attempt i of Petrel pairs with attempt i of Go. */
  const attempts = new Map<string, number[]>();
  const notes: string[] = [];
  try {
    for (const sc of SCENARIOS) {
      if (!only.has(sc.id)) continue;
      // Attempts alternate between the servers so that a busy spell on the machine hits both.
      for (let i = 0; i < repeat; i++) {
        for (const kind of kinds) {
          const pair = await startPair(kind, sc.link, nodeArgs);
          try {
            // Publisher on one side of the link, subscribers on the other; both servers' CPU counts.
            const place: Placement = {
              servers: [targetOf(pair.pub), targetOf(pair.sub)],
              pids: [pair.pub.pid, pair.sub.pid],
              interest: (subject) => interestSeen(pair, sc.link, subject)(),
            };
            const r = (await runThroughput(pool, place, { ...sc.base, subServer: () => 1 }, durationMs)) as ThroughputResult;
            process.stderr.write(`  ${sc.title.padEnd(20)} ${kind.padEnd(7)} ${fmt(r.msgsPerSec)} msgs/s  [${fmt(r.sent)} sent, ${fmt(r.received)} received]${r.faults.length ? `  FAULTS: ${r.faults.join('; ')}` : ''}\n`);
            if (r.faults.length) notes.push(`${sc.title} on ${kind}: ${r.faults.join('; ')}`);
            const key = `${sc.id} ${kind}`;
            if (!attempts.has(key)) attempts.set(key, []);
            attempts.get(key)!.push(r.faults.length ? NaN : r.msgsPerSec);
            if (!r.faults.length) best.set(key, Math.max(best.get(key) ?? 0, r.msgsPerSec));
          } finally {
            await Promise.all([pair.pub.stop(), pair.sub.stop()]);
          }
        }
      }
    }
  } finally {
    await pool.stop();
  }
  const lines = ['', `| Scenario (msgs/s received, best of ${repeat}) | Petrel | Go 2.9.10 | Petrel/Go | median of paired attempts |`, '|:--|--:|--:|--:|--:|'];
  for (const sc of SCENARIOS) {
    if (!only.has(sc.id)) continue;
    const p = best.get(`${sc.id} petrel`);
    const g = best.get(`${sc.id} go`);
    const ratio = p && g ? p / g : NaN;
    const paired = pairedMedian(attempts.get(`${sc.id} petrel`) ?? [], attempts.get(`${sc.id} go`) ?? []);
    lines.push(
      `| ${sc.title} | ${p ? fmt(p) : '—'} | ${g ? fmt(g) : '—'} | ${Number.isFinite(ratio) ? `${ratio.toFixed(2)}${ratio < TARGET_RATIO ? ' (below 0.7)' : ''}` : '—'} | ${Number.isFinite(paired) ? paired.toFixed(2) : '—'} |`,
    );
  }
  if (notes.length) lines.push('', 'Notes:', ...notes.map((n) => `  ${n}`));
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});

// npm run sim -- --seeds N [--nodes 3|5] [--seed S] [--schedule JSON] [--codec] [--quiet]
// Runs seeds start..start+N-1 (or exactly --seed S), prints a summary line
// "seeds: N, violations: V, ..." and exits 1 on any violation, after printing a
// shrunk reproduction (seed + fault schedule) that --seed/--schedule replays.

import { describeFault } from './schedule.ts';
import type { Fault } from './schedule.ts';
import { runSimulation, shrinkFailure } from './simulator.ts';
import type { SimOptions } from './simulator.ts';

interface Args {
  seeds: number;
  start: number;
  nodes: (3 | 5)[];
  schedule: Fault[] | undefined;
  codec: boolean;
  quiet: boolean;
  shrink: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { seeds: 100, start: 1, nodes: [3, 5], schedule: undefined, codec: false, quiet: false, shrink: true };
  let single = false;
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = argv[i + 1];
    switch (k) {
      case '--seeds':
        a.seeds = Number(v);
        i++;
        break;
      case '--start':
        a.start = Number(v);
        i++;
        break;
      case '--seed':
        a.start = Number(v);
        single = true;
        i++;
        break;
      case '--nodes':
        if (v !== '3' && v !== '5') throw new Error('--nodes must be 3 or 5');
        a.nodes = [Number(v) as 3 | 5];
        i++;
        break;
      case '--schedule':
        a.schedule = JSON.parse(v ?? '[]') as Fault[];
        i++;
        break;
      case '--codec':
        a.codec = true;
        break;
      case '--quiet':
        a.quiet = true;
        break;
      case '--no-shrink':
        a.shrink = false;
        break;
      default:
        throw new Error(`unknown argument ${k}`);
    }
  }
  if (single) a.seeds = 1;
  if (!Number.isInteger(a.seeds) || a.seeds < 1) throw new Error('--seeds must be a positive integer');
  return a;
}

function main(): number {
  const args = parseArgs(process.argv.slice(2));
  let runs = 0;
  let violations = 0;
  let elections = 0;
  let committed = 0;
  let snapshots = 0;
  let crashes = 0;
  let damaged = 0;
  let acks = 0;
  let reads = 0;
  let maxLiveness = 0;
  const t0 = performance.now();
  for (let s = args.start; s < args.start + args.seeds; s++) {
    // alternate group sizes across seeds unless one is asked for
    const nodes = args.nodes[s % args.nodes.length]!;
    const opts: SimOptions = { seed: s, nodes, wireCodec: args.codec, schedule: args.schedule };
    const r = runSimulation(opts);
    runs++;
    elections += r.stats.elections;
    committed += r.stats.committed;
    snapshots += r.stats.snapshotsInstalled;
    crashes += r.stats.crashes;
    damaged += r.stats.damaged;
    acks += r.stats.acks;
    reads += r.stats.reads;
    maxLiveness = Math.max(maxLiveness, r.stats.livenessMs);
    if (r.ok) continue;
    violations++;
    const min = args.shrink && !args.schedule ? shrinkFailure(opts, r) : r;
    console.log(`VIOLATION seed=${s} nodes=${nodes}: ${min.violation}`);
    console.log(`  faults (${min.schedule.length} of ${r.schedule.length}):`);
    for (const f of min.schedule) console.log(`    ${describeFault(f)}`);
    console.log(`  replay: npm run sim -- --seed ${s} --nodes ${nodes}${args.codec ? ' --codec' : ''} --schedule '${JSON.stringify(min.schedule)}'`);
  }
  const secs = (performance.now() - t0) / 1000;
  console.log(
    `seeds: ${runs}, violations: ${violations}, elections: ${elections}, committed: ${committed}, ` +
      `acks: ${acks}, snapshots: ${snapshots}, crashes: ${crashes}, damaged: ${damaged}, reads: ${reads}, ` +
      `max-liveness-ms: ${maxLiveness}, time: ${secs.toFixed(1)}s`,
  );
  return violations > 0 ? 1 : 0;
}

process.exitCode = main();

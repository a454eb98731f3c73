// Shared body of the seed-sweep test files (split so each file stays fast).
import { expect } from 'vitest';
import { runSimulation } from '../../../src/raft/sim/simulator.ts';

export function sweep(start: number, count: number, wireCodec = false): void {
  const failures: string[] = [];
  let committed = 0;
  let acks = 0;
  let damaged = 0;
  let snapshots = 0;
  for (let seed = start; seed < start + count; seed++) {
    const r = runSimulation({ seed, nodes: seed % 2 === 0 ? 3 : 5, wireCodec });
    committed += r.stats.committed;
    acks += r.stats.acks;
    damaged += r.stats.damaged;
    snapshots += r.stats.snapshotsInstalled;
    if (!r.ok) failures.push(`seed ${seed} (${r.nodes} nodes): ${r.violation}`);
  }
  expect(failures).toEqual([]);
  // the workload really ran: a few hundred commits per seed on average, acknowledged to clients
  expect(committed / count).toBeGreaterThan(50);
  expect(acks / count).toBeGreaterThan(50);
  if (count >= 100) {
    // and so did what the driver adds: snapshots installed from leaders, damaged disks repaired
    expect(snapshots).toBeGreaterThan(0);
    expect(damaged).toBeGreaterThan(0);
  }
}

import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FaultKind } from '../../../src/raft/sim/schedule.ts';
import type { Fault } from '../../../src/raft/sim/schedule.ts';
import { runSimulation } from '../../../src/raft/sim/simulator.ts';
import { sweep } from './sim_seeds.ts';

function fault(kind: Fault['kind'], at: number, duration: number, extra: Partial<Fault> = {}): Fault {
  return { kind, at, duration, a: 0, b: 1, mask: 1, lossPerMille: 0, dupPerMille: 0, maxDelayMs: 20, ...extra };
}

describe('deterministic simulation', () => {
  it('replays a seed exactly', () => {
    const a = runSimulation({ seed: 4242, nodes: 5 });
    const b = runSimulation({ seed: 4242, nodes: 5 });
    expect(b.stats).toEqual(a.stats);
    expect(b.schedule).toEqual(a.schedule);
  });

  it('passes messages through the wire codec without changing outcomes', () => {
    sweep(5001, 30, true);
  });

  it('survives hand-written fault schedules: leader isolation, crash during load, lossy network with membership churn, damaged disks', () => {
    const schedules: Fault[][] = [
      [fault(FaultKind.IsolateLeader, 300, 800), fault(FaultKind.Crash, 500, 400, { a: 1 })],
      [fault(FaultKind.Lossy, 100, 1500, { lossPerMille: 300, dupPerMille: 100, maxDelayMs: 80 }), fault(FaultKind.AddNode, 400, 0), fault(FaultKind.RemoveNode, 900, 0, { a: 2 }), fault(FaultKind.TransferLeader, 1200, 0, { a: 1 })],
      [fault(FaultKind.Partition, 200, 900, { mask: 0b00011 }), fault(FaultKind.Pause, 300, 1200, { a: 3 }), fault(FaultKind.OneWay, 600, 700, { a: 0, b: 2 })],
      // disks that lose their newest entries: term known, then unknown, with the leader cut off meanwhile
      [fault(FaultKind.CrashDamage, 400, 300, { a: 1, b: 6, mask: 1 }), fault(FaultKind.IsolateLeader, 800, 500), fault(FaultKind.CrashDamage, 1500, 300, { a: 2, b: 8, mask: 0 })],
    ];
    let damaged = 0;
    for (const schedule of schedules) {
      for (const nodes of [3, 5] as const) {
        const r = runSimulation({ seed: 77, nodes, schedule });
        expect(r.violation).toBeNull();
        damaged += r.stats.damaged;
      }
    }
    expect(damaged).toBeGreaterThanOrEqual(2);
  });

  // Regression cases: every bug the simulator found stays here, replayed exactly.
  it('regression: a node paused as candidate that wins its old term late is not a completeness violation (seed 368)', () => {
    const schedule: Fault[] = [
      { kind: FaultKind.Pause, at: 127, duration: 899, a: 411, b: 362, mask: 5, lossPerMille: 288, dupPerMille: 87, maxDelayMs: 13 },
    ];
    const r = runSimulation({ seed: 368, nodes: 3, schedule });
    expect(r.violation).toBeNull();
  });

  it('regression: crashing a paused node and ending the pause later (seed 1954)', () => {
    const r = runSimulation({ seed: 1954, nodes: 3 });
    expect(r.violation).toBeNull();
    expect(r.stats.crashes).toBeGreaterThan(0);
  });

  it('npm run sim prints the summary line and exits 0', () => {
    const out = execFileSync('node_modules/.bin/node', ['src/raft/sim/cli.ts', '--seeds', '5', '--nodes', '3'], { encoding: 'utf8' });
    expect(out).toMatch(/^seeds: 5, violations: 0, /m);
  });
});

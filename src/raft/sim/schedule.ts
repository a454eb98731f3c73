// Fault schedules: generated from a seed, printable as JSON, replayable, shrinkable.
// Each fault is one self-contained item (start and end) so removing an item while
// shrinking never leaves a half-applied fault behind.

import { deriveSeed, seededRandom } from '../prng.ts';

export const FaultKind = {
  /** split the nodes into two sides; messages across are dropped */
  Partition: 'partition',
  /** drop messages from one node to another only */
  OneWay: 'one-way',
  /** cut the current leader off from everyone */
  IsolateLeader: 'isolate-leader',
  /** power loss: everything not persisted is gone; restarts at the end */
  Crash: 'crash',
  /**
   * power loss, and the disk lost the last few durable entries too; the node restarts with
   * the damage reported (as FileStorage recovery does) and must be repaired before it votes
   */
  CrashDamage: 'crash-damage',
  /** the process stops (GC pause, SIGSTOP); its inbox fills; resumes at the end */
  Pause: 'pause',
  /** loss, duplication and long delays (reordering) on every link */
  Lossy: 'lossy',
  AddNode: 'add-node',
  RemoveNode: 'remove-node',
  TransferLeader: 'transfer-leader',
} as const;
export type FaultKind = (typeof FaultKind)[keyof typeof FaultKind];

export interface Fault {
  kind: FaultKind;
  /** start time in ms of simulated time */
  at: number;
  /** length in ms (ignored by instantaneous kinds) */
  duration: number;
  /** node choice: an index modulo the nodes alive at that moment */
  a: number;
  b: number;
  /** side bitmask for partitions */
  mask: number;
  /** loss and duplication probabilities in per mille, max delay in ms */
  lossPerMille: number;
  dupPerMille: number;
  maxDelayMs: number;
}

export interface ScheduleParams {
  nodes: number;
  /** the fault phase length in ms */
  faultPhaseMs: number;
  maxFaults: number;
  membership: boolean;
}

const SCHEDULE_SALT = 1;
/** disk damage comes from its own stream, so adding it left every other seed's faults unchanged */
const DAMAGE_SALT = 7;

export function generateSchedule(seed: number, p: ScheduleParams): Fault[] {
  const r = seededRandom(deriveSeed(seed, SCHEDULE_SALT));
  const n = 1 + r.int(p.maxFaults);
  const kinds: FaultKind[] = [
    FaultKind.Partition,
    FaultKind.Partition,
    FaultKind.OneWay,
    FaultKind.IsolateLeader,
    FaultKind.Crash,
    FaultKind.Crash,
    FaultKind.Pause,
    FaultKind.Lossy,
    FaultKind.TransferLeader,
  ];
  if (p.membership) kinds.push(FaultKind.AddNode, FaultKind.RemoveNode, FaultKind.AddNode, FaultKind.RemoveNode);
  const faults: Fault[] = [];
  for (let i = 0; i < n; i++) {
    const kind = kinds[r.int(kinds.length)]!;
    faults.push({
      kind,
      at: r.int(p.faultPhaseMs),
      duration: 20 + r.int(Math.floor(p.faultPhaseMs / 2)),
      a: r.int(1024),
      b: r.int(1024),
      mask: 1 + r.int((1 << p.nodes) - 2),
      lossPerMille: r.int(400),
      dupPerMille: r.int(150),
      maxDelayMs: 10 + r.int(80),
    });
  }
  const d = seededRandom(deriveSeed(seed, DAMAGE_SALT));
  const damaged = d.int(4) === 0 ? 1 + d.int(2) : 0;
  for (let i = 0; i < damaged; i++) {
    faults.push({
      kind: FaultKind.CrashDamage,
      at: d.int(p.faultPhaseMs),
      duration: 20 + d.int(Math.floor(p.faultPhaseMs / 2)),
      a: d.int(1024),
      // entries lost: 1..8
      b: 1 + d.int(8),
      // term of the lost entries known (1) or not (0)
      mask: d.int(4) === 0 ? 0 : 1,
      lossPerMille: 0,
      dupPerMille: 0,
      maxDelayMs: 0,
    });
  }
  faults.sort((x, y) => x.at - y.at);
  return faults;
}

export function describeFault(f: Fault): string {
  switch (f.kind) {
    case FaultKind.Partition:
      return `t=${f.at} partition mask=${f.mask.toString(2)} for ${f.duration}ms`;
    case FaultKind.OneWay:
      return `t=${f.at} one-way a=${f.a} b=${f.b} for ${f.duration}ms`;
    case FaultKind.CrashDamage:
      return `t=${f.at} crash-damage a=${f.a} lost=${f.b} term-known=${f.mask === 1} for ${f.duration}ms`;
    case FaultKind.Lossy:
      return `t=${f.at} lossy loss=${f.lossPerMille}‰ dup=${f.dupPerMille}‰ delay<=${f.maxDelayMs}ms for ${f.duration}ms`;
    default:
      return `t=${f.at} ${f.kind} a=${f.a} for ${f.duration}ms`;
  }
}

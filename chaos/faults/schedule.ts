// Fault schedules: derived from a seed, printed, replayable. The same seed, node count, duration
// and fault filter give the same schedule, so a failing run is re-run with `--seed`.
//
// Faults come one after another (never two at once, so each window in the report has one cause),
// after a warm-up and ending before a final quiet period: every fault is healed before the final
// check. Targets that depend on the cluster's state at that moment (the stream leader, a follower)
// are named by role and resolved when the fault starts; `fallback` is the node to use when the
// cluster has no leader to name.

import { deriveSeed, seededRandom } from '../../src/raft/prng.ts';
import type { Random } from '../../src/raft/prng.ts';

/** Every fault kind, by family: `--faults partition,kill` selects families or single kinds. */
export const FAULT_FAMILIES = {
  partition: ['partition', 'isolate-leader', 'bridge', 'one-way'],
  flap: ['flap-reset', 'flap-timeout'],
  slow: ['latency', 'bandwidth'],
  kill: ['kill-node', 'kill-leader', 'crash-all'],
  pause: ['pause'],
  corrupt: ['bitflip-follower'],
} as const;

export type FaultFamily = keyof typeof FAULT_FAMILIES;
export type FaultKind = (typeof FAULT_FAMILIES)[FaultFamily][number];
export const FAULT_KINDS: readonly FaultKind[] = Object.values(FAULT_FAMILIES).flat();

/** A link endpoint: a node index, or "clients" (the client-facing proxy in front of a node). */
export type Endpoint = number | 'clients';

/** Traffic from `from` to `to`; a partition drops it, a slow link delays it. */
export interface DirectedLink {
  from: Endpoint;
  to: number;
}

interface FaultBase {
  id: number;
  /** Start, in ms from the start of the run. */
  at: number;
  /** How long until it is healed, in ms. */
  duration: number;
}

export type Fault = FaultBase &
  (
    | { kind: 'partition'; sides: [number[], number[]] }
    | { kind: 'isolate-leader'; fallback: number }
    | { kind: 'bridge'; sides: [number[], number[]]; bridge: number }
    | { kind: 'one-way'; node: number; direction: 'in' | 'out' }
    | { kind: 'flap-reset'; links: DirectedLink[]; periodMs: number; timeoutMs: number }
    | { kind: 'flap-timeout'; links: DirectedLink[]; periodMs: number; timeoutMs: number }
    | { kind: 'latency'; links: DirectedLink[]; latencyMs: number; jitterMs: number }
    | { kind: 'bandwidth'; links: DirectedLink[]; rateKBps: number }
    | { kind: 'kill-node'; node: number }
    | { kind: 'kill-leader'; fallback: number }
    | { kind: 'crash-all' }
    | { kind: 'pause'; node: number | 'leader'; fallback: number }
    | { kind: 'bitflip-follower'; fallback: number; pick: number; offset: number; bit: number }
  );

export interface ScheduleParams {
  seed: number;
  nodes: number;
  /** Length of the whole run, in ms. */
  durationMs: number;
  /** Kinds or families to draw from; all when empty. */
  faults?: readonly string[];
}

export interface Schedule {
  seed: number;
  nodes: number;
  durationMs: number;
  kinds: FaultKind[];
  /** Faults heal by this time; the rest of the run is quiet. */
  healedBy: number;
  faults: Fault[];
}

const SCHEDULE_SALT = 0x5eed;

/** Expands `--faults` names (families or kinds) into kinds; `none` alone selects none; throws on an unknown name. */
export function selectKinds(names: readonly string[] | undefined, nodes: number): FaultKind[] {
  if (names?.length === 1 && names[0]!.trim() === 'none') return [];
  const wanted = new Set<FaultKind>();
  const list = names && names.length > 0 ? names : Object.keys(FAULT_FAMILIES);
  for (const raw of list) {
    const name = raw.trim();
    if (name in FAULT_FAMILIES) {
      for (const k of FAULT_FAMILIES[name as FaultFamily]) wanted.add(k);
    } else if ((FAULT_KINDS as readonly string[]).includes(name)) {
      wanted.add(name as FaultKind);
    } else {
      throw new Error(`unknown fault "${name}" (families: ${Object.keys(FAULT_FAMILIES).join(', ')}; kinds: ${FAULT_KINDS.join(', ')})`);
    }
  }
  if (nodes < 5 && wanted.has('bridge')) {
    const explicit = list.some((n) => n.trim() === 'bridge');
    if (explicit) throw new Error('the bridge fault needs 5 nodes');
    wanted.delete('bridge');
  }
  return FAULT_KINDS.filter((k) => wanted.has(k));
}

export function generateSchedule(p: ScheduleParams): Schedule {
  if (!Number.isInteger(p.nodes) || p.nodes < 1) throw new Error('nodes must be a positive integer');
  const kinds = selectKinds(p.faults, p.nodes);
  const r = seededRandom(deriveSeed(p.seed, SCHEDULE_SALT));
  const warmup = Math.min(5_000, Math.round(p.durationMs * 0.1));
  const quiet = Math.max(5_000, Math.round(p.durationMs * 0.15));
  const healedBy = Math.max(warmup, p.durationMs - quiet);
  const minDuration = 2_000;
  const maxDuration = Math.max(3_000, Math.min(30_000, Math.round(p.durationMs / 6)));
  const faults: Fault[] = [];
  // Kinds are dealt from a shuffled deck, every kind once before any comes again: a run with as
  // many faults as kinds sees all of them (drawn with replacement, a 5-minute run rarely did).
  let deck: FaultKind[] = [];
  let t = warmup;
  while (kinds.length > 0) {
    const duration = minDuration + r.int(maxDuration - minDuration + 1);
    if (t + duration > healedBy) break;
    if (deck.length === 0) deck = [...kinds];
    const kind = deck.splice(r.int(deck.length), 1)[0]!;
    faults.push(drawFault(kind, { id: faults.length + 1, at: t, duration }, p.nodes, r));
    t += duration + 1_000 + r.int(2_001);
  }
  return { seed: p.seed, nodes: p.nodes, durationMs: p.durationMs, kinds, healedBy, faults };
}

function shuffled(n: number, r: Random): number[] {
  const xs = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);

/** Links a slow or flapping fault hits: a node's links to and from every other node, or its clients' link. */
function drawLinks(nodes: number, r: Random): DirectedLink[] {
  const node = r.int(nodes);
  if (nodes === 1 || r.int(3) === 0) return [{ from: 'clients', to: node }];
  const others = Array.from({ length: nodes }, (_, i) => i).filter((i) => i !== node);
  if (r.int(2) === 0) {
    const peer = others[r.int(others.length)]!;
    return [
      { from: node, to: peer },
      { from: peer, to: node },
    ];
  }
  return others.flatMap((o) => [
    { from: node, to: o },
    { from: o, to: node },
  ]);
}

function drawFault(kind: FaultKind, base: FaultBase, nodes: number, r: Random): Fault {
  switch (kind) {
    case 'partition': {
      const order = shuffled(nodes, r);
      const minority = 1 + r.int(Math.max(1, Math.floor((nodes - 1) / 2)));
      return { ...base, kind, sides: [sorted(order.slice(minority)), sorted(order.slice(0, minority))] };
    }
    case 'isolate-leader':
    case 'kill-leader':
      return { ...base, kind, fallback: r.int(nodes) };
    case 'bridge': {
      const order = shuffled(nodes, r);
      const half = Math.floor((nodes - 1) / 2);
      return { ...base, kind, bridge: order[0]!, sides: [sorted(order.slice(1, 1 + half)), sorted(order.slice(1 + half))] };
    }
    case 'one-way':
      return { ...base, kind, node: r.int(nodes), direction: r.int(2) === 0 ? 'in' : 'out' };
    case 'flap-reset':
      return { ...base, kind, links: drawLinks(nodes, r), periodMs: 300 + r.int(1_201), timeoutMs: r.int(201) };
    case 'flap-timeout':
      return { ...base, kind, links: drawLinks(nodes, r), periodMs: 300 + r.int(1_201), timeoutMs: 100 + r.int(901) };
    case 'latency': {
      const latencyMs = 20 + r.int(481);
      return { ...base, kind, links: drawLinks(nodes, r), latencyMs, jitterMs: r.int(Math.floor(latencyMs / 2) + 1) };
    }
    case 'bandwidth':
      return { ...base, kind, links: drawLinks(nodes, r), rateKBps: 10 + r.int(991) };
    case 'kill-node':
      return { ...base, kind, node: r.int(nodes) };
    case 'crash-all':
      return { ...base, kind };
    case 'pause': {
      const node = r.int(3) === 0 ? ('leader' as const) : r.int(nodes);
      return { ...base, kind, node, fallback: r.int(nodes) };
    }
    case 'bitflip-follower':
      return { ...base, kind, fallback: r.int(nodes), pick: r.int(1 << 30), offset: r.next(), bit: r.int(8) };
  }
}

/** Links cut by a network partition: every link between the two groups, both ways. */
export function linksBetween(a: readonly number[], b: readonly number[]): DirectedLink[] {
  return a.flatMap((x) => b.flatMap((y) => [
    { from: x, to: y },
    { from: y, to: x },
  ]));
}

/** Links a one-way fault cuts: into the node (it hears no one) or out of it (no one hears it). */
export function oneWayLinks(node: number, direction: 'in' | 'out', nodes: number): DirectedLink[] {
  const others = Array.from({ length: nodes }, (_, i) => i).filter((i) => i !== node);
  return others.map((o) => (direction === 'in' ? { from: o, to: node } : { from: node, to: o }));
}

const fmtSecs = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
export const formatNodes = (xs: readonly number[]): string => xs.map((x) => `n${x}`).join(',');
const fmtSet = (xs: readonly number[]): string => `{${formatNodes(xs)}}`;
export const formatLinks = (ls: readonly DirectedLink[]): string =>
  ls.map((l) => `${l.from === 'clients' ? 'clients' : `n${l.from}`}->n${l.to}`).join(' ');

/** One line per fault: what, where, when. */
export function describeFault(f: Fault): string {
  const when = `at ${fmtSecs(f.at)} for ${fmtSecs(f.duration)}`;
  switch (f.kind) {
    case 'partition':
      return `#${f.id} partition ${fmtSet(f.sides[0])} | ${fmtSet(f.sides[1])} ${when}`;
    case 'isolate-leader':
      return `#${f.id} isolate the leader (else n${f.fallback}) ${when}`;
    case 'bridge':
      return `#${f.id} bridge ${fmtSet(f.sides[0])} - n${f.bridge} - ${fmtSet(f.sides[1])} ${when}`;
    case 'one-way':
      return `#${f.id} one-way: n${f.node} ${f.direction === 'in' ? 'hears no one' : 'is heard by no one'} ${when}`;
    case 'flap-reset':
      return `#${f.id} flap ${formatLinks(f.links)} with reset_peer(${f.timeoutMs}ms) every ${f.periodMs}ms ${when}`;
    case 'flap-timeout':
      return `#${f.id} flap ${formatLinks(f.links)} with timeout(${f.timeoutMs}ms) every ${f.periodMs}ms ${when}`;
    case 'latency':
      return `#${f.id} latency ${f.latencyMs}±${f.jitterMs}ms on ${formatLinks(f.links)} ${when}`;
    case 'bandwidth':
      return `#${f.id} bandwidth ${f.rateKBps}KB/s on ${formatLinks(f.links)} ${when}`;
    case 'kill-node':
      return `#${f.id} kill -9 n${f.node}, restart ${when}`;
    case 'kill-leader':
      return `#${f.id} kill -9 the leader (else n${f.fallback}), restart ${when}`;
    case 'crash-all':
      return `#${f.id} crash every node, restart ${when}`;
    case 'pause':
      return `#${f.id} SIGSTOP ${f.node === 'leader' ? `the leader (else n${f.fallback})` : `n${f.node}`}, SIGCONT ${when}`;
    case 'bitflip-follower':
      return `#${f.id} kill a follower (else n${f.fallback}), flip bit ${f.bit} of a segment at ${(f.offset * 100).toFixed(1)}%, restart ${when}`;
  }
}

/** The schedule as printed at the start of a run, ending with the line that replays it. */
export function formatSchedule(s: Schedule): string {
  const lines = [
    `seed ${s.seed}: ${s.faults.length} faults over ${fmtSecs(s.durationMs)} on ${s.nodes} nodes, all healed by ${fmtSecs(s.healedBy)}`,
    ...s.faults.map((f) => `  ${describeFault(f)}`),
    `replay: --seed ${s.seed} --nodes ${s.nodes} --time ${s.durationMs / 1000} --faults ${s.kinds.length > 0 ? s.kinds.join(',') : 'none'}`,
  ];
  return lines.join('\n');
}

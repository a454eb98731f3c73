// Linearizability by the Wing–Gong search with Lowe's memoization (as Knossos' "linear" and
// Porcupine do): walk the history's calls and returns in order; at a call, try to linearize that
// operation now (the model must accept it from the current states) and restart from the first
// pending event; at a return whose operation is still pending, undo the last choice. A
// configuration — which operations are linearized, which model states are possible — is explored
// once only.
//
// The model may be nondeterministic (an operation whose outcome is unknown may or may not have taken
// effect), so the search carries the set of possible states, as Porcupine does. Operations whose
// outcome is unknown return "at infinity": they may be placed anywhere after their call.
//
// The search is bounded: past `maxSteps` or `deadline` it answers "unknown" instead of hanging.

import type { Validity } from './history.ts';

export interface Model<S, I, O> {
  init(): S[];
  /** States the operation may lead to from `state`; [] when it cannot happen there. `output` undefined: unknown. */
  step(state: S, input: I, output: O | undefined): S[];
  /** Equal states must have equal keys (memoization and deduplication). */
  key(state: S): string;
}

export interface Operation<I, O> {
  /** Position of the call in the history. */
  call: number;
  /** Position of the return; Infinity when the outcome is unknown. */
  ret: number;
  input: I;
  output: O | undefined;
}

export interface Budget {
  /** Search steps (each a linearization attempt or a backtrack). */
  maxSteps: number;
  /** Absolute time (Date.now()) after which the search gives up. */
  deadline: number;
}

export interface SearchResult {
  valid: Validity;
  steps: number;
  /** When invalid: the operation (index into the input) that could not be placed in the deepest attempt. */
  stuck?: number;
  /** When invalid: how many operations the deepest attempt had linearized. */
  deepest?: number;
  reason?: string;
}

interface Entry {
  op: number;
  isCall: boolean;
  time: number;
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

/** A set of linearized operations, as bits. */
class Bits {
  readonly words: Uint32Array;
  constructor(n: number, from?: Uint32Array) {
    this.words = from ? Uint32Array.from(from) : new Uint32Array((n + 31) >>> 5);
  }
  set(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31);
  }
  clear(i: number): void {
    this.words[i >>> 5]! &= ~(1 << (i & 31));
  }
  key(): string {
    return this.words.join(',');
  }
}

export function checkLinearizable<S, I, O>(
  ops: readonly Operation<I, O>[],
  model: Model<S, I, O>,
  budget: Budget,
): SearchResult {
  const entries = buildList(ops);
  const head: Entry = { op: -1, isCall: false, time: -Infinity, match: null, prev: null, next: entries[0] ?? null };
  if (entries[0]) entries[0].prev = head;

  const dedupe = (states: S[]): S[] => {
    const m = new Map<string, S>();
    for (const s of states) m.set(model.key(s), s);
    return [...m.values()];
  };
  const setKey = (states: S[]): string => states.map((s) => model.key(s)).sort().join('|');

  let states = dedupe(model.init());
  const bits = new Bits(ops.length);
  const seen = new Set<string>();
  const stack: { entry: Entry; states: S[] }[] = [];
  let steps = 0;
  let deepest = -1;
  let stuck = -1;
  let entry: Entry | null = head.next;

  while (head.next !== null) {
    if (++steps > budget.maxSteps) return { valid: 'unknown', steps, reason: `over ${budget.maxSteps} search steps` };
    if ((steps & 1023) === 0 && Date.now() > budget.deadline) return { valid: 'unknown', steps, reason: 'over the time budget' };
    // Every call's return follows it in the list, so the walk backtracks before running off the end.
    if (entry === null) throw new Error('linearizability search walked past the last return');
    if (entry.isCall) {
      const op = ops[entry.op]!;
      const next = dedupe(states.flatMap((s) => model.step(s, op.input, op.output)));
      if (next.length > 0) {
        bits.set(entry.op);
        const key = `${bits.key()}#${setKey(next)}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ entry, states });
          states = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        bits.clear(entry.op);
      }
      entry = entry.next;
      continue;
    }
    // A return whose operation is not linearized yet: this path is dead.
    if (stack.length >= deepest) {
      deepest = stack.length;
      stuck = entry.op;
    }
    const top = stack.pop();
    if (!top) return { valid: false, steps, stuck, deepest: Math.max(0, deepest) };
    bits.clear(top.entry.op);
    states = top.states;
    unlift(top.entry);
    entry = top.entry.next;
  }
  return { valid: true, steps };
}

function buildList<I, O>(ops: readonly Operation<I, O>[]): Entry[] {
  const entries: Entry[] = [];
  ops.forEach((op, i) => {
    const call: Entry = { op: i, isCall: true, time: op.call, match: null, prev: null, next: null };
    const ret: Entry = { op: i, isCall: false, time: op.ret, match: null, prev: null, next: null };
    call.match = ret;
    entries.push(call, ret);
  });
  // Calls before returns at equal times; unknown returns (Infinity) in call order.
  entries.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1));
  for (let i = 0; i < entries.length; i++) {
    entries[i]!.prev = entries[i - 1] ?? null;
    entries[i]!.next = entries[i + 1] ?? null;
  }
  return entries;
}

/** Takes a call and its return out of the list (dancing links: put back in reverse order). */
function lift(call: Entry): void {
  const ret = call.match!;
  call.prev!.next = call.next;
  if (call.next) call.next.prev = call.prev;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

function unlift(call: Entry): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next) call.next.prev = call;
}

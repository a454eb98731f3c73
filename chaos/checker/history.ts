// Histories as Jepsen records them: each client operation is an `invoke` followed, from the same
// process, by its completion — `ok` (it happened), `fail` (it certainly did not) or `info`
// (unknown: a timeout, a dropped connection). An invoke with no completion at the end of the run is
// unknown too. Array order is real-time order: the runner appends events as they happen.

export type OpType = 'invoke' | 'ok' | 'fail' | 'info';

/** Values workloads write: unique ids, so a Map tells them apart without serialising. */
export type Value = string | number;

export interface Op<V = unknown> {
  type: OpType;
  /** The client (or worker) that performed it; one operation at a time per process. */
  process: number | string;
  /** The function: "publish", "read", "get", "put", "cas", "deliver", "ack", ... */
  f: string;
  value: V;
  /** Milliseconds since the start of the run. */
  time: number;
  /** The node the client was connected to, when it matters (reads of a replica). */
  node?: string;
  /** Why a fail or info happened, for the report. */
  error?: string;
}

/** One operation: its invoke and its completion (null when it never completed: unknown). */
export interface Pair<V = unknown> {
  invoke: Op<V>;
  /** Index of the invoke in the history. */
  invokeIndex: number;
  completion: Op<V> | null;
  /** Index of the completion, or Infinity when there is none. */
  completionIndex: number;
}

export type Outcome = 'ok' | 'fail' | 'unknown';

export function outcomeOf(p: Pair): Outcome {
  if (!p.completion || p.completion.type === 'info') return 'unknown';
  return p.completion.type === 'ok' ? 'ok' : 'fail';
}

export class MalformedHistory extends Error {}

/**
 * Pairs invokes with their completions (of the functions `fs`, all when omitted; indices stay those
 * of the whole history). Throws MalformedHistory when a process invokes twice without completing,
 * or completes what it never invoked — a runner bug, not a server bug.
 */
export function pairOps<V>(history: readonly Op<V>[], fs?: readonly string[]): Pair<V>[] {
  const open = new Map<Op<V>['process'], Pair<V>>();
  const pairs: Pair<V>[] = [];
  history.forEach((op, i) => {
    if (fs && !fs.includes(op.f)) return;
    if (op.type === 'invoke') {
      if (open.has(op.process)) throw new MalformedHistory(`process ${op.process} invoked ${op.f} at ${i} with an operation open`);
      const pair: Pair<V> = { invoke: op, invokeIndex: i, completion: null, completionIndex: Infinity };
      open.set(op.process, pair);
      pairs.push(pair);
      return;
    }
    const pair = open.get(op.process);
    if (!pair) throw new MalformedHistory(`process ${op.process} completed ${op.f} at ${i} without an invoke`);
    if (pair.invoke.f !== op.f) throw new MalformedHistory(`process ${op.process} invoked ${pair.invoke.f} but completed ${op.f} at ${i}`);
    pair.completion = op;
    pair.completionIndex = i;
    open.delete(op.process);
  });
  return pairs;
}

/** Ops that are events rather than calls (a delivery seen by a subscriber): `ok` with no invoke. */
export function events<V>(history: readonly Op<V>[], f: string): { op: Op<V>; index: number }[] {
  const out: { op: Op<V>; index: number }[] = [];
  history.forEach((op, index) => {
    if (op.f === f && op.type === 'ok') out.push({ op, index });
  });
  return out;
}

/** Per-value fate of write attempts (a value may be retried): acked if any try was ok, else unknown if any try was. */
export function writeOutcomes(pairs: readonly Pair<unknown>[], f: string, valueOf: (v: unknown) => Value): Map<Value, Outcome> {
  const fate = new Map<Value, Outcome>();
  for (const p of pairs) {
    if (p.invoke.f !== f) continue;
    const v = valueOf(p.invoke.value);
    const o = outcomeOf(p);
    const prev = fate.get(v);
    if (prev === 'ok' || o === 'ok') fate.set(v, 'ok');
    else if (prev === 'unknown' || o === 'unknown') fate.set(v, 'unknown');
    else fate.set(v, 'fail');
  }
  return fate;
}

export interface OutcomeCounts {
  attempted: number;
  acked: number;
  failed: number;
  unknown: number;
}

export function countOutcomes(fate: ReadonlyMap<Value, Outcome>): OutcomeCounts {
  const c: OutcomeCounts = { attempted: fate.size, acked: 0, failed: 0, unknown: 0 };
  for (const o of fate.values()) {
    if (o === 'ok') c.acked++;
    else if (o === 'fail') c.failed++;
    else c.unknown++;
  }
  return c;
}

/** Pass, fail, or could not decide (a linearizability search out of budget). */
export type Validity = true | false | 'unknown';

export function combineValidity(vs: readonly Validity[]): Validity {
  if (vs.includes(false)) return false;
  if (vs.includes('unknown')) return 'unknown';
  return true;
}

/** Caps long lists in results so a report stays readable; the count is kept beside. */
export function sample<T>(xs: readonly T[], n = 20): T[] {
  return xs.slice(0, n);
}

// Records a workload's history as the checkers read it (checker/history.ts): an `invoke` before
// each call and its completion after, from the same process, appended in real-time order with the
// time since the start of the run. Also counts completions for the live progress line.

import type { Op, OpType } from '../checker/history.ts';

export interface Tally {
  ok: number;
  fail: number;
  info: number;
}

export type Complete = (type: Exclude<OpType, 'invoke'>, value?: unknown, error?: string) => void;

export class Recorder {
  readonly ops: Op[] = [];
  readonly tally: Tally = { ok: 0, fail: 0, info: 0 };
  private readonly now: () => number;
  /** Processes with an operation open: a second invoke would make a malformed history. */
  private readonly open = new Set<Op['process']>();

  constructor(now: () => number) {
    this.now = now;
  }

  /** Records the invoke; the returned function records the completion (once). */
  invoke(process: Op['process'], f: string, value: unknown, node?: string): Complete {
    if (this.open.has(process)) throw new Error(`chaos runner bug: ${process} invoked ${f} with an operation open`);
    this.open.add(process);
    this.ops.push({ type: 'invoke', process, f, value, time: this.now(), ...(node === undefined ? {} : { node }) });
    let done = false;
    return (type, result = value, error) => {
      if (done) return;
      done = true;
      this.open.delete(process);
      this.tally[type]++;
      this.ops.push({ type, process, f, value: result, time: this.now(), ...(node === undefined ? {} : { node }), ...(error === undefined ? {} : { error }) });
    };
  }

  /** An event with no call behind it (a delivery seen by a subscriber). */
  event(process: Op['process'], f: string, value: unknown, node?: string): void {
    this.ops.push({ type: 'ok', process, f, value, time: this.now(), ...(node === undefined ? {} : { node }) });
  }
}

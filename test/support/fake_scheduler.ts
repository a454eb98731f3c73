// A deterministic clock for engines that take a scheduler (JetStream consumers, Raft drivers):
// time moves only when a test calls advance(), and due timers fire in time order.

import type { Scheduler } from '../../src/jetstream/bus.ts';

export const START_MS = 1_700_000_000_000;

export class FakeScheduler implements Scheduler {
  t = START_MS;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void; order: number }>();

  now(): number {
    return this.t;
  }
  nowNs(): bigint {
    return BigInt(Math.trunc(this.t)) * 1_000_000n;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn, order: id });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  /** Moves the clock forward, firing due timers in time order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void; order: number }] | null = null;
      for (const e of this.timers) {
        if (e[1].at <= end && (next === null || e[1].at < next[1].at || (e[1].at === next[1].at && e[1].order < next[1].order))) next = e;
      }
      if (next === null) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
  }
  pendingTimers(): number {
    return this.timers.size;
  }
}

// Driving Raft groups in tests without real time: deliver what the in-memory transport holds,
// let disk writes and promise callbacks run, and move the fake clock one tick at a time.

import type { MemoryTransport } from '../../src/raft/transport.ts';
import type { FakeScheduler } from './fake_scheduler.ts';

export interface SettlingMember {
  driver: { readonly busy: boolean };
  /** A member whose fsyncs a test holds is not waited for. */
  gate: { readonly held: boolean };
}

const realTurn = (): Promise<void> => new Promise((r) => setImmediate(r));
const realPause = (): Promise<void> => new Promise((r) => setTimeout(r, 1));

/** Delivers messages and waits for every disk write (except held ones) until nothing moves. */
export async function settleGroup(transport: MemoryTransport, members: () => SettlingMember[]): Promise<void> {
  const deadline = Date.now() + 10_000; // only bounds a broken test
  let quiet = 0;
  while (quiet < 3) {
    if (Date.now() > deadline) throw new Error('settle: the group did not quiesce');
    const delivered = transport.deliverAll();
    await realTurn();
    const busy = members().some((m) => m.driver.busy && !m.gate.held);
    if (delivered === 0 && transport.pending() === 0 && !busy) quiet++;
    else {
      quiet = 0;
      if (busy) await realPause();
    }
  }
}

/** Moves `clock` by `tickMs` `n` times, settling after each. */
export async function tickGroup(clock: FakeScheduler, tickMs: number, settle: () => Promise<void>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    clock.advance(tickMs);
    await settle();
  }
}

/** Ticks until `cond` holds; fails naming `what` after `maxTicks`. */
export async function untilTicked(cond: () => boolean, what: string, maxTicks: number, tick: () => Promise<void>): Promise<void> {
  for (let i = 0; i < maxTicks; i++) {
    if (cond()) return;
    await tick();
  }
  throw new Error(`not reached within ${maxTicks} ticks: ${what}`);
}

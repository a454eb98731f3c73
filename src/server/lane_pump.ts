// Drains a worker's incoming lanes whenever its doorbell rings and flushes what the drain produced
// at once; what other work produces (socket reads, timers) is flushed once per event-loop turn.
// Shared by the routing workers and the JetStream host (on the main thread).

import type { Router } from '../routing/router.ts';
import type { Doorbell } from '../routing/ring.ts';

/** Records read from one incoming lane before yielding to sockets and timers. */
const LANE_BUDGET = 4096;

export class LanePump {
  private readonly router: Router;
  private readonly bell: Doorbell;
  private readonly flushWork: () => void;
  private readonly onBacklog: (backlogged: boolean) => void;
  private backlogged = false;
  private flushScheduled = false;
  private immediatePending = false;
  private stopped = false;
  private wakeHeld: (() => void) | null = null;

  /**
   * `flushWork` runs once per turn after anything was drained or scheduled (connections'
   * outbound); `onBacklog` hears when a peer's ring fills up and when it has room again, so the
   * worker can stop reading publishers instead of queueing without bound.
   */
  constructor(router: Router, bell: Doorbell, flushWork: () => void = () => {}, onBacklog: (backlogged: boolean) => void = () => {}) {
    this.router = router;
    this.bell = bell;
    this.flushWork = flushWork;
    this.onBacklog = onBacklog;
  }

  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    if (this.immediatePending) return;
    this.immediatePending = true;
    setImmediate(this.onImmediate);
  }

  /** A flush done since (after a drain) leaves nothing for the scheduled one to do. */
  private readonly onImmediate = (): void => {
    this.immediatePending = false;
    if (this.flushScheduled) this.flush();
  };

  private readonly flush = (): void => {
    this.flushScheduled = false;
    this.flushWork();
    const backlogged = this.router.commitLanes();
    if (backlogged !== this.backlogged) {
      this.backlogged = backlogged;
      this.onBacklog(backlogged);
    }
    // A peer's ring is full: try again shortly rather than spinning.
    if (backlogged) setTimeout(() => this.scheduleFlush(), 1);
  };

  /** Stops draining the incoming lanes (at once, mid-batch) until release(): their rings fill and the writers stop reading. */
  hold(): void {
    this.router.lanesHeld.held = true;
  }

  release(): void {
    this.router.lanesHeld.held = false;
    const wake = this.wakeHeld;
    this.wakeHeld = null;
    wake?.();
    // The loop may be asleep on the doorbell: writers with a full ring will not ring it.
    this.bell.ring();
  }

  async run(): Promise<void> {
    while (!this.stopped) {
      if (this.router.lanesHeld.held) {
        await new Promise<void>((r) => (this.wakeHeld = r));
        continue;
      }
      const seen = this.bell.value();
      const n = this.router.drainLanes(LANE_BUDGET);
      // What the drain produced goes out now, before this loop arms its wait: a request that
      // crossed from another worker is answered without waiting for the event loop's next turn.
      if (n > 0) this.flush();
      if (this.stopped) return;
      const wait = n >= LANE_BUDGET ? null : this.bell.wait(seen);
      if (wait) await wait;
      else await new Promise((r) => setImmediate(r));
    }
  }

  stop(): void {
    this.stopped = true;
    this.release();
    this.bell.ring();
  }
}

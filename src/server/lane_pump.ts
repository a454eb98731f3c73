// Drains a worker's incoming lanes whenever its doorbell rings, and flushes what that produced
// once per event-loop turn. Shared by the routing workers and the JetStream worker.

import type { Router } from '../routing/router.ts';
import type { Doorbell } from '../routing/ring.ts';

/** Records read from one incoming lane before yielding to sockets and timers. */
const LANE_BUDGET = 4096;

export class LanePump {
  private readonly router: Router;
  private readonly bell: Doorbell;
  private readonly flushWork: () => void;
  private flushScheduled = false;
  private stopped = false;

  /** `flushWork` runs once per turn after anything was drained or scheduled (connections' outbound). */
  constructor(router: Router, bell: Doorbell, flushWork: () => void = () => {}) {
    this.router = router;
    this.bell = bell;
    this.flushWork = flushWork;
  }

  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    this.flushWork();
    // A peer's ring is full: try again shortly rather than spinning.
    if (this.router.commitLanes()) setTimeout(() => this.scheduleFlush(), 1);
  };

  async run(): Promise<void> {
    while (!this.stopped) {
      const seen = this.bell.value();
      const n = this.router.drainLanes(LANE_BUDGET);
      if (n > 0) this.scheduleFlush();
      if (this.stopped) return;
      const wait = n >= LANE_BUDGET ? null : this.bell.wait(seen);
      if (wait) await wait;
      else await new Promise((r) => setImmediate(r));
    }
  }

  stop(): void {
    this.stopped = true;
    this.bell.ring();
  }
}

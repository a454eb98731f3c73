// The leader's view of one follower: how far it matches, what to send next,
// and how many append messages may be in flight (flow control).

export const ProgressState = {
  /** one append at a time until the follower's position is found */
  Probe: 'probe',
  /** optimistic pipelining, bounded by the inflight window */
  Replicate: 'replicate',
  /** waiting for a snapshot to be installed */
  Snapshot: 'snapshot',
} as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

/** Ring of the last index of each append in flight to one follower. */
export class Inflights {
  private readonly buf: number[];
  private start = 0;
  count = 0;
  readonly capacity: number;
  constructor(capacity: number) {
    this.capacity = capacity;
    this.buf = new Array<number>(capacity).fill(0);
  }
  add(lastIndex: number): void {
    if (this.full()) throw new Error('inflights: add to a full window');
    this.buf[(this.start + this.count) % this.capacity] = lastIndex;
    this.count++;
  }
  /** Frees every append acknowledged by an ack of `index`. */
  freeLE(index: number): void {
    while (this.count > 0 && this.buf[this.start]! <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
  }
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.start = (this.start + 1) % this.capacity;
    this.count--;
  }
  full(): boolean {
    return this.count === this.capacity;
  }
  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = ProgressState.Probe;
  /** index of the snapshot being sent while in Snapshot state */
  pendingSnapshot = 0;
  /** ticks spent in Snapshot state, to retry a snapshot lost on the way */
  snapshotTicks = 0;
  /** heard from since the last check-quorum round */
  recentActive = true;
  /** in Probe state: an append is out, wait for its answer or a heartbeat */
  probeSent = false;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotTicks = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** An acknowledgement of `n`; returns whether match moved. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /** Pipelining: assume the append of up to `n` will succeed. */
  optimisticUpdate(n: number): void {
    this.next = n + 1;
  }

  /**
   * A rejection of the append whose previous index was `rejected`; `matchHint` is
   * where the follower suggests to retry. Returns false for stale rejections.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      default:
        return true;
    }
  }
}

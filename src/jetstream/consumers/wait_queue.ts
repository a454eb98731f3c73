// Pull requests waiting for messages (nats-server's waitQueue): FIFO, bounded by max_waiting, and
// round-robin between requests that still want more so one large batch does not starve the rest.

export interface PullRequest {
  /** Where messages and statuses for this request go. */
  readonly reply: string;
  /** Messages still wanted. */
  n: number;
  /** Messages delivered so far. */
  d: number;
  /** Bytes still allowed (0 = no max_bytes). */
  b: number;
  /** Wall time (ms) it expires, 0 = never. */
  readonly expiresAtMs: number;
  readonly receivedAtMs: number;
  readonly noWait: boolean;
  /** Idle heartbeat interval, ms (0 = none), and when the next one is due. */
  readonly hbMs: number;
  hbAtMs: number;
}

export class WaitQueue {
  readonly max: number;
  private items: PullRequest[] = [];
  /** Last time a request arrived or was served (inactivity for ephemerals). */
  lastActivityMs: number;
  /** Told when a request leaves the queue (served, expired, dropped), except by clear(). */
  private readonly onLeave: ((r: PullRequest) => void) | null;

  constructor(max: number, nowMs: number, onLeave: ((r: PullRequest) => void) | null = null) {
    this.max = max;
    this.lastActivityMs = nowMs;
    this.onLeave = onLeave;
  }

  get length(): number {
    return this.items.length;
  }

  isFull(): boolean {
    return this.items.length >= this.max;
  }

  add(r: PullRequest): boolean {
    if (this.isFull()) return false;
    this.items.push(r);
    this.lastActivityMs = r.receivedAtMs;
    return true;
  }

  peek(): PullRequest | undefined {
    return this.items[0];
  }

  /** Counts one delivery to the head request; moves it to the back if it wants more, drops it if done. */
  pop(): PullRequest | undefined {
    const r = this.items[0];
    if (r === undefined) return undefined;
    r.d++;
    r.n--;
    if (r.n > 0 && this.items.length > 1) {
      this.items.shift();
      this.items.push(r);
    } else if (r.n <= 0) {
      this.items.shift();
      this.onLeave?.(r);
    }
    return r;
  }

  removeHead(): void {
    const r = this.items.shift();
    if (r !== undefined) this.onLeave?.(r);
  }

  remove(r: PullRequest): void {
    const i = this.items.indexOf(r);
    if (i < 0) return;
    this.items.splice(i, 1);
    this.onLeave?.(r);
  }

  find(reply: string): PullRequest | undefined {
    return this.items.find((r) => r.reply === reply);
  }

  all(): readonly PullRequest[] {
    return this.items;
  }

  clear(): PullRequest[] {
    const out = this.items;
    this.items = [];
    return out;
  }
}

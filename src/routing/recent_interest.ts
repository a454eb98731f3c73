// Subscriptions made in the last seconds, per account: a gateway maps a request's reply to its
// cluster (`_GR_.`) when the reply matches one, because the other cluster may not have heard
// of that interest yet when the answer comes (nats-server's gateway rsubs, kept 2 seconds).

import { subjectMatches } from './subjects.ts';

interface Recent {
  subject: string;
  account: number;
  expires: number;
}

export class RecentInterest {
  private readonly ttlMs: number;
  private readonly now: () => number;
  /** Oldest first (expiries only grow), so expired entries leave from the front. */
  private entries: Recent[] = [];
  private head = 0;

  constructor(ttlMs: number, now: () => number) {
    this.ttlMs = ttlMs;
    this.now = now;
  }

  add(subject: string, account: number): void {
    this.entries.push({ subject, account, expires: this.now() + this.ttlMs });
  }

  /** True when a subscription made within the last ttl matches `subject` in `account`. */
  matches(subject: string, account: number): boolean {
    this.prune();
    for (let i = this.head; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (e.account === account && subjectMatches(subject, e.subject)) return true;
    }
    return false;
  }

  get size(): number {
    this.prune();
    return this.entries.length - this.head;
  }

  private prune(): void {
    const now = this.now();
    const list = this.entries;
    while (this.head < list.length && list[this.head]!.expires <= now) this.head++;
    if (this.head === list.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > list.length) {
      this.entries = list.slice(this.head);
      this.head = 0;
    }
  }
}

// The interest a node announces to a class of links, as nats-server keeps it per account
// (`acc.rm` for routes, the gateway pasi map, a leaf connection's smap): plain subjects
// reference-counted (announced on the first subscription, withdrawn with the last), queue groups
// with their member count (nats-server's queue weight), announced again on every change — or,
// for gateways, on their first and last member only. A pure table: the owner turns its
// transitions into RS+/RS-/LS+/LS-.

/** weight 0 = withdrawn; for a queue group, otherwise the number of members (1 without weights). */
export type ExportListener = (account: number, subject: string, queue: string | null, weight: number, origin: string | null) => void;

interface Entry {
  n: number;
  /** The leaf cluster of the first subscription behind the key (announced as LS+ on routes). */
  origin: string | null;
}

export class InterestExport {
  /** Per account number: "subject" or "subject queue" -> subscriptions behind it. */
  private readonly counts: Map<string, Entry>[] = [];
  private readonly listener: ExportListener;
  private readonly queueWeights: boolean;
  /** Set while the table is filled from what exists already: nothing is reported. */
  muted = false;

  constructor(listener: ExportListener, queueWeights = true) {
    this.listener = listener;
    this.queueWeights = queueWeights;
  }

  add(account: number, subject: string, queue: string | null, origin: string | null = null): void {
    const m = (this.counts[account] ??= new Map());
    const key = queue === null ? subject : `${subject} ${queue}`;
    const e = m.get(key);
    if (e === undefined) m.set(key, { n: 1, origin });
    else e.n++;
    const n = e === undefined ? 1 : e.n;
    if (this.muted) return;
    if (n === 1 || (queue !== null && this.queueWeights)) this.listener(account, subject, queue, queue === null || !this.queueWeights ? 1 : n, m.get(key)!.origin);
  }

  remove(account: number, subject: string, queue: string | null, _origin: string | null = null): void {
    const m = this.counts[account];
    const key = queue === null ? subject : `${subject} ${queue}`;
    const e = m?.get(key);
    if (m === undefined || e === undefined) return;
    if (e.n <= 1) {
      m.delete(key);
      if (!this.muted) this.listener(account, subject, queue, 0, e.origin);
    } else {
      e.n--;
      if (queue !== null && this.queueWeights && !this.muted) this.listener(account, subject, queue, e.n, e.origin);
    }
  }

  /** True when the account has any interest in this table. */
  hasAccount(account: number): boolean {
    const m = this.counts[account];
    return m !== undefined && m.size > 0;
  }

  /** Everything announced now, for a link that just registered (nats-server's sendSubsToRoute). */
  *entries(): Iterable<[account: number, subject: string, queue: string | null, weight: number, origin: string | null]> {
    for (let account = 0; account < this.counts.length; account++) {
      const m = this.counts[account];
      if (!m) continue;
      yield* this.accountEntries(account);
    }
  }

  /** One account's interest (nats-server's sendAccountSubsToGateway). */
  *accountEntries(account: number): Iterable<[account: number, subject: string, queue: string | null, weight: number, origin: string | null]> {
    const m = this.counts[account];
    if (!m) return;
    for (const [key, e] of m) {
      const sp = key.indexOf(' ');
      if (sp < 0) yield [account, key, null, 1, e.origin];
      else yield [account, key.slice(0, sp), key.slice(sp + 1), this.queueWeights ? e.n : 1, e.origin];
    }
  }
}

// The interest a node announces to the other servers of its cluster, as nats-server keeps it per
// account (`acc.rm`): plain subjects reference-counted (announced on the first subscription,
// withdrawn with the last), queue groups with their member count (nats-server's queue weight),
// announced again on every change. A pure table: the owner turns its transitions into RS+/RS-.

/** weight 0 = withdrawn; for a queue group, otherwise the number of members node-wide. */
export type ExportListener = (account: number, subject: string, queue: string | null, weight: number) => void;

export class InterestExport {
  /** Per account number: "subject" or "subject queue" -> subscriptions behind it. */
  private readonly counts: Map<string, number>[] = [];
  private readonly listener: ExportListener;

  constructor(listener: ExportListener) {
    this.listener = listener;
  }

  add(account: number, subject: string, queue: string | null): void {
    const m = (this.counts[account] ??= new Map());
    const key = queue === null ? subject : `${subject} ${queue}`;
    const n = (m.get(key) ?? 0) + 1;
    m.set(key, n);
    if (queue !== null || n === 1) this.listener(account, subject, queue, queue === null ? 1 : n);
  }

  remove(account: number, subject: string, queue: string | null): void {
    const m = this.counts[account];
    const key = queue === null ? subject : `${subject} ${queue}`;
    const n = m?.get(key);
    if (m === undefined || n === undefined) return;
    if (n <= 1) {
      m.delete(key);
      this.listener(account, subject, queue, 0);
    } else {
      m.set(key, n - 1);
      if (queue !== null) this.listener(account, subject, queue, n - 1);
    }
  }

  /** Everything announced now, for a route that just registered (nats-server's sendSubsToRoute). */
  *entries(): Iterable<[account: number, subject: string, queue: string | null, weight: number]> {
    for (let account = 0; account < this.counts.length; account++) {
      const m = this.counts[account];
      if (!m) continue;
      for (const [key, n] of m) {
        const sp = key.indexOf(' ');
        if (sp < 0) yield [account, key, null, 1];
        else yield [account, key.slice(0, sp), key.slice(sp + 1), n];
      }
    }
  }
}

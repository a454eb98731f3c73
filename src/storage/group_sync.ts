// Group commit for fdatasync. Writers append to their files, then ask for a sync; requests that
// arrive while a round of syncs runs wait for the next round, and a round syncs every file asked
// for once, all of them concurrently on libuv's threads. So one fsync serves every write that
// reached the file before it started, and many files (one per Raft group) share each round.

import * as fs from 'node:fs';

/** What a round calls per file descriptor; injectable so tests and benchmarks can count or fail syncs. */
export type SyncFn = (fd: number) => Promise<void>;

export function fdatasyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface GroupSyncStats {
  /** sync() calls */
  requests: number;
  /** fdatasync calls made */
  syncs: number;
  rounds: number;
}

export class GroupSync {
  private readonly syncFn: SyncFn;
  private pending = new Map<number, Waiter[]>();
  private running = false;
  private startScheduled = false;
  readonly stats: GroupSyncStats = { requests: 0, syncs: 0, rounds: 0 };

  constructor(syncFn: SyncFn = fdatasyncAsync) {
    this.syncFn = syncFn;
  }

  /** Resolves once a datasync of `fd` that started after this call has completed. */
  sync(fd: number): Promise<void> {
    this.stats.requests++;
    return new Promise<void>((resolve, reject) => {
      let waiters = this.pending.get(fd);
      if (waiters === undefined) this.pending.set(fd, (waiters = []));
      waiters.push({ resolve, reject });
      this.maybeStart();
    });
  }

  private maybeStart(): void {
    if (this.running || this.startScheduled || this.pending.size === 0) return;
    // Start in the check phase: every write that completed in this poll phase joins the round.
    this.startScheduled = true;
    setImmediate(() => {
      this.startScheduled = false;
      void this.round();
    });
  }

  private async round(): Promise<void> {
    if (this.running || this.pending.size === 0) return;
    this.running = true;
    const batch = this.pending;
    this.pending = new Map();
    this.stats.rounds++;
    this.stats.syncs += batch.size;
    await Promise.all(
      [...batch].map(async ([fd, waiters]) => {
        try {
          await this.syncFn(fd);
          for (const w of waiters) w.resolve();
        } catch (err) {
          for (const w of waiters) w.reject(err);
        }
      }),
    );
    this.running = false;
    this.maybeStart();
  }
}

/** The process-wide instance: every Raft group on the node shares its rounds. */
export const sharedGroupSync = new GroupSync();

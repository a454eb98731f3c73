// What the file stores of one thread keep in memory beyond their summaries, under one budget:
// segment offset tables (8 bytes a message, rebuilt from the segment file when evicted) and the
// read-ahead windows of readers going forward. Tables of segments still being written are pinned;
// the least recently used sealed ones go first. The figures are reported in /jsz and /metrics.

import type { SegmentTable } from './segment_table.ts';

/** Default budget for offset tables: 16M messages' worth, enough to keep a 10M stream warm. */
export const DEFAULT_CACHE_BYTES = 128 * 1024 * 1024;
/**
 * Bytes read at once when a reader goes forward through a segment. Consumers read in sequence
 * order, which is file order, so one read serves the next ~2,000 small messages instead of one
 * pread each. A read that does not follow the previous one (a KV get, a direct get) reads only
 * its record.
 */
export const READ_WINDOW_BYTES = 256 * 1024;
/** Read-ahead windows kept for the whole thread (all streams): bounds their memory at 4 MiB. */
const READ_WINDOWS = 16;

export interface TableHolder {
  table: SegmentTable | null;
  /** A segment still being written keeps its table. */
  readonly pinned: boolean;
}

export interface ReadWindow {
  owner: object;
  generation: number;
  start: number;
  buf: Buffer;
}

export interface StoreCacheStats {
  budget_bytes: number;
  table_bytes: number;
  tables: number;
  table_loads: number;
  table_evictions: number;
  read_windows: number;
  read_window_bytes: number;
}

class StoreCache {
  private budget = DEFAULT_CACHE_BYTES;
  private used = 0;
  private clock = 0;
  private readonly holders = new Set<TableHolder>();
  private loads = 0;
  private evictions = 0;
  /** Most recent first. */
  private readonly windows: ReadWindow[] = [];

  configure(budgetBytes: number): void {
    this.budget = Math.max(0, budgetBytes);
    this.evict(null);
  }

  /** Marks a table as just used. */
  touch(table: SegmentTable): void {
    table.lastUse = ++this.clock;
  }

  /** A holder got a table (loaded or created); may evict others to stay in budget. */
  admit(holder: TableHolder, loaded: boolean): void {
    const table = holder.table!;
    if (!this.holders.has(holder)) {
      this.holders.add(holder);
      this.used += table.byteLength;
    }
    if (loaded) this.loads++;
    this.touch(table);
    this.evict(holder);
  }

  /** A held table changed size by `bytes`. */
  resized(holder: TableHolder, bytes: number): void {
    if (!this.holders.has(holder)) return;
    this.used += bytes;
    if (bytes > 0) this.evict(holder);
  }

  /** A holder gives its table up (segment closed, deleted or rewritten). */
  release(holder: TableHolder): void {
    if (!this.holders.delete(holder)) return;
    this.used -= holder.table?.byteLength ?? 0;
    holder.table = null;
  }

  findWindow(owner: object, generation: number, offset: number, length: number): Buffer | null {
    for (const w of this.windows) {
      if (w.owner === owner && w.generation === generation && offset >= w.start && offset + length <= w.start + w.buf.length) {
        return w.buf.subarray(offset - w.start, offset - w.start + length);
      }
    }
    return null;
  }

  keepWindow(w: ReadWindow): void {
    this.windows.unshift(w);
    if (this.windows.length > READ_WINDOWS) this.windows.pop();
  }

  dropWindows(owner: object): void {
    for (let i = this.windows.length - 1; i >= 0; i--) if (this.windows[i]!.owner === owner) this.windows.splice(i, 1);
  }

  stats(): StoreCacheStats {
    let windowBytes = 0;
    for (const w of this.windows) windowBytes += w.buf.length;
    return {
      budget_bytes: this.budget,
      table_bytes: this.used,
      tables: this.holders.size,
      table_loads: this.loads,
      table_evictions: this.evictions,
      read_windows: this.windows.length,
      read_window_bytes: windowBytes,
    };
  }

  private evict(keep: TableHolder | null): void {
    while (this.used > this.budget) {
      let victim: TableHolder | null = null;
      for (const h of this.holders) {
        if (h === keep || h.pinned || h.table === null) continue;
        if (victim === null || h.table.lastUse < victim.table!.lastUse) victim = h;
      }
      if (victim === null) return;
      this.release(victim);
      this.evictions++;
    }
  }
}

/** The cache of this thread's file stores. */
export const storeCache = new StoreCache();

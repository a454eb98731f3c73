// The file stores' memory budget: offset tables beyond it are evicted (least recently used
// first, the active segment's never) and rebuilt from their files on demand, serving the same
// messages; the figures /jsz and /metrics show follow.
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../../../src/jetstream/store/file_store.ts';
import { DEFAULT_CACHE_BYTES, storeCache } from '../../../../src/jetstream/store/store_cache.ts';
import { T, bytes, text } from './store_suite.ts';

const dirs: string[] = [];
afterEach(async () => {
  storeCache.configure(DEFAULT_CACHE_BYTES);
  for (const d of dirs.splice(0)) await fsp.rm(d, { recursive: true, force: true });
});

describe('store cache budget', () => {
  it('evicts sealed tables beyond the budget and rebuilds them on demand', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'petrel-cache-'));
    dirs.push(dir);
    const s = await FileStore.open({ dir, segmentBytes: 4096 });
    const all: Array<Promise<unknown>> = [];
    for (let i = 1; i <= 3000; i++) all.push(s.store(`c.${i % 10}`, null, bytes(`message-${i}`), T(i)));
    await Promise.all(all);
    const segments = s.segmentFiles().length;
    expect(segments).toBeGreaterThan(20);
    const before = storeCache.stats();
    expect(before.tables).toBeGreaterThanOrEqual(segments);

    // Room for about four tables: every other one goes, the active one stays.
    const oneTable = Math.ceil(before.table_bytes / before.tables);
    storeCache.configure(oneTable * 4);
    const squeezed = storeCache.stats();
    expect(squeezed.table_evictions).toBeGreaterThan(before.table_evictions);
    expect(squeezed.tables).toBeLessThanOrEqual(5);

    // Random reads rebuild what they need and stay within the budget (plus the pinned table).
    let x = 7;
    for (let k = 0; k < 500; k++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const seq = 1 + (x % 3000);
      expect(text(s.load(seq)!.data)).toBe(`message-${seq}`);
    }
    expect(s.loadLast('c.3')?.seq).toBe(2993);
    expect(s.numPending('c.3', 1500, false)).toBe(150);
    const after = storeCache.stats();
    expect(after.table_loads).toBeGreaterThan(squeezed.table_loads);
    expect(after.tables).toBeLessThanOrEqual(6);
    expect(s.state().corrupt).toBeUndefined();
    await s.close();
  });

  it('a scan for one subject steps over segments that cannot hold it, without loading their tables', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'petrel-cache-'));
    dirs.push(dir);
    let s = await FileStore.open({ dir, segmentBytes: 4096 });
    const all: Array<Promise<unknown>> = [];
    for (let i = 1; i <= 3000; i++) all.push(s.store(i === 1 || i === 2900 || i === 2901 ? 'rare' : `c.${i % 10}`, null, bytes(`message-${i}`), T(i)));
    await Promise.all(all);
    const check = async (): Promise<void> => {
      storeCache.configure(0);
      const before = storeCache.stats().table_loads;
      expect(s.loadNext('rare', 2)?.seq).toBe(2900);
      expect(s.numPending('rare', 2, false)).toBe(2);
      s.remove(2900);
      expect(s.loadLast('rare')?.seq).toBe(2901);
      s.remove(2901);
      // The last one left is found again from its bound, looking only where it may be.
      expect(s.loadLast('rare')?.seq).toBe(1);
      expect(s.loadNext('c.3', 2990)?.seq).toBe(2993);
      // A few false positives at most, never a table per segment.
      expect(storeCache.stats().table_loads - before).toBeLessThan(6);
    };
    await check();
    // After a restart the filters are rebuilt as tables are loaded: one pass, then skipped again.
    await s.close();
    storeCache.configure(DEFAULT_CACHE_BYTES);
    s = await FileStore.open({ dir, segmentBytes: 4096 });
    expect(s.numPending('>', 1, false)).toBe(2998);
    for (let seq = 1; seq <= 3000; seq += 50) s.load(seq);
    for (const seq of [2900, 2901]) expect(await s.store('rare', null, bytes(`again-${seq}`), T(4000 + seq))).toMatchObject({ seq: seq + 101 });
    expect(s.loadNext('rare', 2)?.seq).toBe(3001);
    storeCache.configure(0);
    const before = storeCache.stats().table_loads;
    expect(s.loadNext('rare', 2)?.seq).toBe(3001);
    expect(s.numPending('rare', 2, false)).toBe(2);
    expect(storeCache.stats().table_loads - before).toBeLessThan(6);
    await s.close();
  });
});

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
});

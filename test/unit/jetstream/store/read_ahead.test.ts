// The file store's read-ahead: a reader going forward through a segment is served from one read
// per window, a reader jumping about reads only its records, and what is served stays right
// after a segment is rewritten.
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

const reads = vi.hoisted(() => ({ sizes: [] as number[] }));
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const readSync = ((fd: number, buf: NodeJS.ArrayBufferView, offset: number, length: number, position: number) => {
    reads.sizes.push(length);
    return real.readSync(fd, buf, offset, length, position);
  }) as typeof real.readSync;
  return { ...real, readSync, default: { ...real, readSync } };
});

const { FileStore } = await import('../../../../src/jetstream/store/file_store.ts');

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fsp.rm(d, { recursive: true, force: true });
});

/** Bytes of the segment files (not the index snapshot, which may be being replaced meanwhile). */
async function msgBytes(dir: string): Promise<number> {
  let total = 0;
  for (const f of await fsp.readdir(path.join(dir, 'msgs'))) if (f.endsWith('.seg')) total += (await fsp.stat(path.join(dir, 'msgs', f))).size;
  return total;
}

async function filledStore(count: number, segmentBytes?: number) {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'petrel-ra-'));
  dirs.push(dir);
  const first = await FileStore.open({ dir, segmentBytes });
  for (let i = 1; i <= count; i++) await first.store(`s.${i % 7}`, null, Buffer.from(`payload-${i}`), BigInt(i));
  await first.close();
  // Reopened: nothing is still pending in memory, every load goes to the file.
  return { store: await FileStore.open({ dir, segmentBytes }), dir };
}

describe('file store read-ahead', () => {
  it('serves a forward reader from a few reads and a random reader record by record', async () => {
    const { store } = await filledStore(2_000);
    reads.sizes.length = 0;
    for (let seq = 1; seq <= 2_000; seq++) expect(Buffer.from(store.load(seq)!.data).toString()).toBe(`payload-${seq}`);
    // The first read is a single record; from the second on, windows of up to 256 KiB.
    expect(reads.sizes.length).toBeLessThanOrEqual(3);

    // Across several windows, each costs one read: the reader stays "forward" through window hits.
    const big = (await filledStore(6_000, 64 * 1024 * 1024)).store;
    reads.sizes.length = 0;
    for (let seq = 1; seq <= 6_000; seq++) big.load(seq);
    const windows = reads.sizes.filter((n) => n > 1024).length;
    expect(windows).toBeGreaterThan(1);
    expect(reads.sizes.length).toBe(windows + 1);
    await big.close();

    reads.sizes.length = 0;
    const order = [1_500, 3, 999, 42, 1_999, 700];
    for (const seq of order) expect(Buffer.from(store.load(seq)!.data).toString()).toBe(`payload-${seq}`);
    // Already in a window: no read at all; none of these reads a window of its own.
    expect(reads.sizes.every((n) => n < 1024)).toBe(true);
    await store.close();
  });

  it('reads right after a segment is rewritten under a window', async () => {
    const { store, dir } = await filledStore(600, 4096);
    for (let seq = 1; seq <= 600; seq++) store.load(seq);
    const before = await msgBytes(dir);
    // Remove most messages: sealed segments are rewritten and their offsets change.
    for (let seq = 1; seq <= 600; seq++) if (seq % 10 !== 0) store.remove(seq);
    await store.flush();
    await store.flush();
    // Tombstones were added, yet the files shrank: the dead records were dropped by rewrites.
    expect(await msgBytes(dir)).toBeLessThan(before);
    for (let seq = 10; seq <= 600; seq += 10) expect(Buffer.from(store.load(seq)!.data).toString()).toBe(`payload-${seq}`);
    await store.close();
  });
});

// The file store's recovery matrix: clean shutdown, kills at seeded file-system calls while
// writing segments, snapshots and reclaimed segments, and snapshots that are stale, truncated or
// bit-flipped, or a segment damaged after its snapshot. Every case must come back to exactly the
// acknowledged messages, say what it found, and agree with a recovery that ignores the snapshot.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore, type FileStoreOptions } from '../../../../src/jetstream/store/file_store.ts';
import { MemoryStore } from '../../../../src/jetstream/store/memory_store.ts';
import type { StreamStore } from '../../../../src/jetstream/store/types.ts';
import { CRASH_LIMITS, CRASH_STEPS, CRASH_STORE_OPTS, crashStep, payloadFor, rng, subjectFor } from './crash_ops.ts';
import { T, bytes, text } from './store_suite.ts';

const CHILD = fileURLToPath(new URL('./crash_child.ts', import.meta.url));
const SNAPSHOT = path.join('msgs', 'index.db');

let root: string;
beforeAll(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'petrel-recovery-'));
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

let dirs = 0;
function freshDir(): string {
  return path.join(root, `d${dirs++}`);
}

type Msg = [number, string, string | null, string];

function messages(s: StreamStore): Msg[] {
  const out: Msg[] = [];
  for (let m = s.loadNext('>', 0); m !== null; m = s.loadNext('>', m.seq + 1)) out.push([m.seq, m.subject, text(m.hdr), text(m.data)!]);
  return out;
}

function view(s: StreamStore): unknown {
  const { corrupt: _c, ...state } = s.state({ deleted: true });
  return { state, msgs: messages(s), subjects: [...s.subjectsState('>')].sort() };
}

/** Opens a copy of `dir` twice: with its snapshot, and without (a full scan); both must agree. */
async function recoverBothWays(dir: string, opts: Partial<FileStoreOptions> = {}): Promise<{ withSnap: FileStore; scanned: FileStore }> {
  const a = freshDir();
  const b = freshDir();
  await fsp.cp(dir, a, { recursive: true });
  await fsp.cp(dir, b, { recursive: true });
  await fsp.rm(path.join(b, SNAPSHOT), { force: true });
  const withSnap = await FileStore.open({ dir: a, ...opts });
  const scanned = await FileStore.open({ dir: b, ...opts });
  expect(scanned.recovery.index).toBe('full-scan');
  expect(view(withSnap)).toEqual(view(scanned));
  return { withSnap, scanned };
}

async function fill(s: FileStore, n: number, from = 1): Promise<void> {
  const all: Array<Promise<unknown>> = [];
  for (let i = from; i < from + n; i++) all.push(s.store(`k.${i % 5}`, null, bytes(`value-${i}-${'x'.repeat(i % 40)}`), T(i)));
  await Promise.all(all);
}

describe('file store recovery: snapshot cases', () => {
  const opts = { segmentBytes: 2048 };

  it('clean shutdown: the snapshot is used and only the active segment is read', async () => {
    const dir = freshDir();
    const s = await FileStore.open({ dir, ...opts });
    await fill(s, 300);
    for (let seq = 10; seq < 200; seq += 7) s.remove(seq);
    s.purge({ subject: 'k.3', keep: 4 });
    const before = view(s);
    await s.close();
    const r = await FileStore.open({ dir, ...opts });
    expect(r.recovery.index).toBe('snapshot');
    expect(r.recovery.snapshotRejected).toBeUndefined();
    expect(r.recovery.scannedBytes).toBeLessThanOrEqual(2048);
    expect(r.recovery.afterSnapshotBytes).toBe(0);
    expect(r.recovery.segments).toBeGreaterThan(5);
    expect(view(r)).toEqual(before);
    await r.close();
    const both = await recoverBothWays(dir, opts);
    expect(view(both.withSnap)).toEqual(before);
    await both.withSnap.close();
    await both.scanned.close();
  });

  it('a stale snapshot: records after it are replayed; one that lists reclaimed segments is rejected', async () => {
    const dir = freshDir();
    let s = await FileStore.open({ dir, ...opts });
    await fill(s, 100);
    await s.close();
    const stale = await fsp.readFile(path.join(dir, SNAPSHOT));
    s = await FileStore.open({ dir, ...opts });
    await fill(s, 100, 101);
    s.remove(150);
    s.remove(120, true);
    const afterAppends = view(s);
    await s.close();
    await fsp.writeFile(path.join(dir, SNAPSHOT), stale);
    s = await FileStore.open({ dir, ...opts });
    expect(s.recovery.index).toBe('snapshot');
    expect(s.recovery.afterSnapshotBytes).toBeGreaterThan(0);
    expect(view(s)).toEqual(afterAppends);
    // Now reclaim segments (their files go after a newer snapshot), then bring the old one back.
    s.compact(180);
    await s.flush();
    await s.flush();
    const afterCompact = view(s);
    await s.close();
    await fsp.writeFile(path.join(dir, SNAPSHOT), stale);
    s = await FileStore.open({ dir, ...opts });
    expect(s.recovery.index).toBe('full-scan');
    expect(s.recovery.snapshotRejected).toMatch(/missing|bytes|record/);
    expect(view(s)).toEqual(afterCompact);
    await s.close();
  });

  it('a truncated or bit-flipped snapshot is rejected, said so, and a full scan rebuilds the same state', async () => {
    for (const damage of ['truncate', 'flip'] as const) {
      const dir = freshDir();
      const s = await FileStore.open({ dir, ...opts });
      await fill(s, 120);
      s.remove(60);
      const before = view(s);
      await s.close();
      const file = path.join(dir, SNAPSHOT);
      const buf = await fsp.readFile(file);
      if (damage === 'truncate') await fsp.writeFile(file, buf.subarray(0, buf.length - 7));
      else {
        buf[Math.floor(buf.length / 2)]! ^= 0x10;
        await fsp.writeFile(file, buf);
      }
      const r = await FileStore.open({ dir, ...opts });
      expect(r.recovery.index).toBe('full-scan');
      expect(r.recovery.snapshotRejected).toMatch(damage === 'truncate' ? /length/ : /checksum/);
      expect(view(r)).toEqual(before);
      // The rebuilt snapshot is trusted next time.
      await r.close();
      const again = await FileStore.open({ dir, ...opts });
      expect(again.recovery.index).toBe('snapshot');
      expect(view(again)).toEqual(before);
      await again.close();
    }
  });

  it('a sealed segment damaged after the snapshot: found when first read, reported, never served', async () => {
    const dir = freshDir();
    const s = await FileStore.open({ dir, ...opts });
    await fill(s, 200);
    await s.close();
    const first = path.join(dir, 'msgs', '0000000001.seg');
    const buf = await fsp.readFile(first);
    const at = buf.indexOf('value-7-');
    buf[at + 3]! ^= 0x01;
    await fsp.writeFile(first, buf);
    const r = await FileStore.open({ dir, ...opts });
    expect(r.recovery.index).toBe('snapshot');
    expect(r.load(7)).toBeNull();
    const st = r.state({ deleted: true });
    expect(st).toMatchObject({ msgs: 199, firstSeq: 1, lastSeq: 200, deleted: [7] });
    expect(st.corrupt).toEqual([expect.objectContaining({ file: '0000000001.seg', action: 'skipped', seq: 7 })]);
    expect(r.subjectsState('k.2').get('k.2')!.msgs).toBe(39);
    expect(r.numPending('k.2', 1, false)).toBe(39);
    await r.close();
    // A full scan finds the same damage and the same messages.
    const both = await recoverBothWays(dir, opts);
    expect(messages(both.scanned).length).toBe(199);
    expect(both.scanned.state().corrupt).toEqual([expect.objectContaining({ seq: 7, action: 'skipped' })]);
    await both.withSnap.close();
    await both.scanned.close();
  });

  it('a sealed segment cut short after the snapshot: the snapshot is rejected and the loss reported', async () => {
    const dir = freshDir();
    const s = await FileStore.open({ dir, ...opts });
    await fill(s, 200);
    await s.close();
    const second = path.join(dir, 'msgs', '0000000002.seg');
    const size = (await fsp.stat(second)).size;
    await fsp.truncate(second, size - 10);
    const r = await FileStore.open({ dir, ...opts });
    expect(r.recovery.index).toBe('full-scan');
    expect(r.recovery.snapshotRejected).toMatch(/0000000002\.seg is \d+ bytes/);
    expect(r.recovery.corrupt).toEqual([expect.objectContaining({ file: '0000000002.seg', action: 'truncated' })]);
    expect(r.state().msgs).toBe(199);
    await r.close();
  });
});

/** What the workload must leave after the kill: per sequence, its last life in the whole run. */
function modelOf(seed: number): { lives: Map<number, { added: number; removed: number | null }>; lastSeqAt: number[] } {
  const mem = new MemoryStore(CRASH_LIMITS);
  const rand = rng(seed);
  const lives = new Map<number, { added: number; removed: number | null }>();
  const lastSeqAt: number[] = [];
  let live = new Set<number>();
  for (let i = 0; i < CRASH_STEPS; i++) {
    void crashStep(mem, i, rand);
    const now = new Set(messages(mem).map((m) => m[0]));
    for (const seq of now) if (!live.has(seq)) lives.set(seq, { added: i, removed: null });
    for (const seq of live) if (!now.has(seq)) lives.get(seq)!.removed = i;
    live = now;
    lastSeqAt.push(mem.state().lastSeq);
  }
  return { lives, lastSeqAt };
}

function runChild(dir: string, seed: number, label: string, nth: number, torn: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, NODE_COMPILE_CACHE: process.env['NODE_COMPILE_CACHE'] ?? path.join(os.tmpdir(), 'petrel-compile-cache') };
    const child = spawn(process.execPath, [CHILD, dir, String(seed), label, String(nth), torn ? '1' : '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' || code === 0) resolve(out);
      else reject(new Error(`crash child exited ${code} ${signal}: ${err}`));
    });
  });
}

describe('file store recovery: killed at seeded file-system calls', () => {
  const SEED = 20240611;
  let counts: Record<string, number> = {};
  const model = modelOf(SEED);

  beforeAll(async () => {
    const dir = path.join(freshDir(), 'store');
    await fsp.mkdir(dir, { recursive: true });
    counts = JSON.parse(await runChild(dir, SEED, 'count', 0, false)) as Record<string, number>;
  }, 60_000);

  const cases: Array<[string, number, boolean]> = [
    ['seg-write', 1, true],
    ['seg-write', 2, true],
    ['seg-write', 3, false],
    ['seg-sync', 4, false],
    ['snap-open', 5, false],
    ['snap-write', 6, false],
    ['snap-sync', 7, false],
    ['snap-rename', 8, false],
    ['dir-sync', 9, false],
    ['gc-write', 10, false],
    ['gc-rename', 11, false],
    ['gc-rm', 12, false],
  ];

  it.each(cases)('kill at %s (#%i, torn %s) recovers exactly the acknowledged messages', async (label, salt, torn) => {
    const total = counts[label] ?? 0;
    expect(total, `the workload makes ${label} calls`).toBeGreaterThan(0);
    const nth = 1 + (rng(SEED + salt)(total) % total);
    const base = freshDir();
    const dir = path.join(base, 'store');
    await fsp.mkdir(dir, { recursive: true });
    await runChild(dir, SEED, label, nth, torn);
    const ackLog = fs.existsSync(path.join(base, 'acked')) ? fs.readFileSync(path.join(base, 'acked'), 'utf8').trim().split('\n') : [];
    const acked = ackLog.length > 0 && ackLog[0] !== '' ? Number(ackLog[ackLog.length - 1]) : -1;

    const { withSnap, scanned } = await recoverBothWays(dir, CRASH_STORE_OPTS);
    for (const s of [withSnap, scanned]) {
      // A kill leaves a torn tail, cut silently; only an erase torn in place (a removed message's
      // record half overwritten) is damage, and a full scan reports it.
      for (const c of s.state().corrupt ?? []) {
        expect(c.seq !== undefined && model.lives.get(c.seq)?.removed != null, `damage reported at ${JSON.stringify(c)}`).toBe(true);
      }
      const present = new Map(messages(s).map((m) => [m[0], m]));
      for (const [seq, m] of present) {
        expect(m[1]).toBe(subjectFor(seq));
        expect(m[3]).toBe(payloadFor(seq));
        expect(model.lives.has(seq), `seq ${seq} was never stored`).toBe(true);
      }
      for (const [seq, life] of model.lives) {
        const aliveAtEnd = life.removed === null;
        if (aliveAtEnd && life.added <= acked) expect(present.has(seq), `acknowledged seq ${seq} is missing`).toBe(true);
        if (!aliveAtEnd && life.removed! <= acked && life.added < life.removed!) expect(present.has(seq), `seq ${seq} was removed and acknowledged`).toBe(false);
      }
      if (acked >= 0) expect(s.state().lastSeq).toBeGreaterThanOrEqual(model.lastSeqAt[acked]!);
    }
    // The recovered store goes on: a write after recovery survives a clean restart, both ways.
    const seq = (await withSnap.store('after.crash', null, bytes('ok'), T(10_000))).seq;
    const expected = view(withSnap);
    await withSnap.close();
    await scanned.close();
    const again = await FileStore.open({ dir: withSnap.dir, ...CRASH_STORE_OPTS });
    expect(again.recovery.index).toBe('snapshot');
    expect(view(again)).toEqual(expected);
    expect(text(again.load(seq)!.data)).toBe('ok');
    await again.close();
  }, 30_000);
});

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStore, type FileStoreOptions } from '../../../../src/jetstream/store/file_store.ts';
import type { CorruptionReport, StreamStore } from '../../../../src/jetstream/store/types.ts';
import { T, bytes, limits, runStoreSuite, text } from './store_suite.ts';

async function tempDir(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), 'petrel-fs-'));
}

runStoreSuite('file', () => {
  const opened: FileStore[] = [];
  let root: string | null = null;
  return {
    open: async (l) => {
      root ??= await tempDir();
      const s = await FileStore.open({ dir: path.join(root, `s${opened.length}`), limits: l, segmentBytes: 1024 });
      opened.push(s);
      return s;
    },
    cleanup: async () => {
      for (const s of opened) await s.close().catch(() => undefined);
      if (root !== null) await fsp.rm(root, { recursive: true, force: true });
    },
  };
});

describe('FileStore durability and recovery', () => {
  let root: string;
  let dir: string;
  const open: FileStore[] = [];

  beforeEach(async () => {
    root = await tempDir();
    dir = path.join(root, 'stream');
  });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close().catch(() => undefined);
    await fsp.rm(root, { recursive: true, force: true });
  });

  async function openStore(opts: Partial<FileStoreOptions> = {}): Promise<FileStore> {
    // Snapshots (which let reclaimed segment files go) as soon as due, however loaded the machine.
    const s = await FileStore.open({ dir, snapshotCostShare: 0, ...opts });
    open.push(s);
    return s;
  }

  async function reopen(s: FileStore, opts: Partial<FileStoreOptions> = {}): Promise<FileStore> {
    await s.close();
    return openStore(opts);
  }

  /** Flushes until background space reclamation has run too. */
  async function settle(s: FileStore): Promise<void> {
    for (let i = 0; i < 4; i++) await s.flush();
  }

  function segmentPaths(): string[] {
    const msgs = path.join(dir, 'msgs');
    return fs.readdirSync(msgs).filter((n) => n.endsWith('.seg')).sort().map((n) => path.join(msgs, n));
  }

  function messages(s: StreamStore): Array<[number, string, string | null, string]> {
    const out: Array<[number, string, string | null, string]> = [];
    for (let m = s.loadNext('>', 0); m !== null; m = s.loadNext('>', m.seq + 1)) out.push([m.seq, m.subject, text(m.hdr), text(m.data)!]);
    return out;
  }

  it('recovers messages, removes, per-subject state and sequences after restart', async () => {
    let s = await openStore({ segmentBytes: 300 });
    for (let i = 1; i <= 20; i++) await s.store(`r.${i % 3}`, i % 2 ? bytes('h') : null, bytes(`payload-${i}`), T(i));
    s.remove(5);
    s.remove(6, true);
    s.purge({ subject: 'r.0', keep: 2 });
    s.skipMsgs(21, 2);
    await s.flush();
    const before = { state: s.state(), msgs: messages(s), subjects: [...s.subjectsState('>')].sort() };
    expect(s.segmentFiles().length).toBeGreaterThan(1);
    s = await reopen(s, { segmentBytes: 300 });
    expect({ state: s.state(), msgs: messages(s), subjects: [...s.subjectsState('>')].sort() }).toEqual(before);
    expect((await s.store('r.1', null, bytes('after'), T(30))).seq).toBe(23);
  });

  it('recovers purge, compact and truncate', async () => {
    let s = await openStore();
    for (let i = 1; i <= 10; i++) await s.store('a', null, bytes(`${i}`), T(i));
    s.compact(4);
    s.truncate(8);
    await s.store('b', null, bytes('new9'), T(50));
    await s.flush();
    const before = { state: s.state(), msgs: messages(s) };
    expect(before.state).toMatchObject({ firstSeq: 4, lastSeq: 9, msgs: 6, lastTime: T(50) });
    s = await reopen(s);
    expect({ state: s.state(), msgs: messages(s) }).toEqual(before);
    s.purge();
    await s.flush();
    s = await reopen(s);
    expect(s.state()).toMatchObject({ msgs: 0, firstSeq: 10, lastSeq: 9, lastTime: T(50) });
    s.truncate(0);
    await s.flush();
    s = await reopen(s);
    expect(s.state()).toMatchObject({ msgs: 0, firstSeq: 0, lastSeq: 0 });
  });

  it('erase overwrites the bytes on disk', async () => {
    const s = await openStore();
    await s.store('secret', null, bytes('TOP-SECRET-PAYLOAD'), T(1));
    await s.store('plain', null, bytes('visible'), T(2));
    await s.flush();
    s.remove(1, true);
    await settle(s);
    const all = Buffer.concat(segmentPaths().map((p) => fs.readFileSync(p)));
    expect(all.includes('TOP-SECRET-PAYLOAD')).toBe(false);
    expect(all.includes('visible')).toBe(true);
    const again = await reopen(s);
    expect(again.load(1)).toBeNull();
    expect(again.state()).toMatchObject({ msgs: 1, firstSeq: 2, lastSeq: 2 });
    expect(again.state().corrupt).toBeUndefined();
  });

  it('cuts a torn tail at start-up', async () => {
    const s = await openStore();
    for (let i = 1; i <= 3; i++) await s.store('t', null, bytes(`message-${i}`), T(i));
    await s.close();
    const seg = segmentPaths().at(-1)!;
    const size = fs.statSync(seg).size;
    fs.truncateSync(seg, size - 5); // the last record loses its end
    const r = await openStore();
    expect(r.recovery.tornTailBytes).toBeGreaterThan(0);
    expect(r.state()).toMatchObject({ msgs: 2, lastSeq: 2 });
    expect(r.state().corrupt).toBeUndefined();
    expect(fs.statSync(seg).size).toBeLessThan(size - 5);
    // The store goes on appending after the cut.
    expect((await r.store('t', null, bytes('message-3b'), T(4))).seq).toBe(3);
    const again = await reopen(r);
    expect(messages(again).map((m) => m[3])).toEqual(['message-1', 'message-2', 'message-3b']);
  });

  it('after a crash, damage among the records written since the snapshot is reported and never served, a torn tail cut', async () => {
    // Enough records after the snapshot, over two segments, for several checksum runs (256 KiB) each.
    const opts = { segmentBytes: 1024 * 1024, snapshotIntervalMs: 0, snapshotBytes: 0 };
    const s = await openStore(opts);
    const body = (i: number): Uint8Array => bytes(`m-${i}-${'y'.repeat(100 + (i % 50))}`);
    for (let i = 1; i <= 1000; i++) s.store(`k.${i % 9}`, null, body(i), T(i));
    await s.close();
    const again = await openStore(opts);
    const n = 12_000;
    for (let i = 1001; i <= n; i++) again.store(`k.${i % 9}`, null, body(i), T(i));
    await again.flush();
    // The crash: the files as they are now, with no snapshot written since the first close.
    const crashed = path.join(root, 'crashed');
    await fsp.cp(dir, crashed, { recursive: true });
    const segs = fs.readdirSync(path.join(crashed, 'msgs')).filter((f) => f.endsWith('.seg')).sort();
    expect(segs.length).toBeGreaterThanOrEqual(2);
    const flip = (file: string, marker: string): void => {
      const buf = fs.readFileSync(file);
      buf[buf.indexOf(marker) + marker.length]! ^= 0x10;
      fs.writeFileSync(file, buf);
    };
    const older = path.join(crashed, 'msgs', segs.at(-2)!);
    const newest = path.join(crashed, 'msgs', segs.at(-1)!);
    const olderFirst = Number(/m-(\d+)-/.exec(fs.readFileSync(older, 'latin1'))![1]);
    const hit = [olderFirst + 3000, olderFirst + 3002, n - 500];
    flip(older, `m-${hit[0]}-`);
    flip(older, `m-${hit[1]}-`);
    flip(newest, `m-${hit[2]}-`);
    fs.truncateSync(newest, fs.statSync(newest).size - 7); // the last record is torn
    const seen: CorruptionReport[] = [];
    const r = await FileStore.open({ dir: crashed, ...opts, onCorruption: (c) => seen.push(c) });
    open.push(r);
    expect(r.recovery).toMatchObject({ index: 'snapshot', tornTailBytes: expect.any(Number) });
    expect(r.recovery.afterSnapshotBytes).toBeGreaterThan(1024 * 1024);
    expect(r.recovery.tornTailBytes).toBeGreaterThan(0);
    expect(seen.map((c) => [c.seq, c.action])).toEqual(hit.map((seq) => [seq, 'skipped']));
    const st = r.state({ deleted: true });
    expect(st).toMatchObject({ msgs: n - 1 - hit.length, firstSeq: 1, lastSeq: n - 1, deleted: hit });
    for (const seq of hit) expect(r.load(seq)).toBeNull();
    for (const seq of [1, 1000, 1001, olderFirst + 2999, olderFirst + 3001, n - 1]) expect(text(r.load(seq)!.data)).toBe(text(body(seq)));
    expect(r.subjectsState('>').get(`k.${hit[0]! % 9}`)!.msgs).toBe(messages(r).filter((m) => m[1] === `k.${hit[0]! % 9}`).length);
  });

  it.each([
    ['a message after it', true],
    ['nothing after it', false],
  ])('after a crash, times come from the records read again: last time, segment time ranges, a truncate with %s', async (_, writeAfter) => {
    // Start-up decodes a record's time only where one is needed (a segment's first and last, the
    // stream's last): each must still be the time of the right record.
    const opts = { segmentBytes: 2048, snapshotIntervalMs: 0, snapshotBytes: 0 };
    const s = await openStore(opts);
    for (let i = 1; i <= 50; i++) s.store(`t.${i % 4}`, null, bytes(`m${i}`), T(i));
    await s.close();
    const live = await openStore(opts);
    for (let i = 51; i <= 400; i++) live.store(`t.${i % 4}`, null, bytes(`m${i}`), T(i));
    live.remove(399, true); // an erased record
    live.truncate(395); // a sequence-state record with its own time
    if (writeAfter) await live.store('t.x', null, bytes('again'), T(500));
    live.remove(2);
    await live.flush();
    const want = { state: live.state(), at: [...Array(520).keys()].map((sec) => live.seqForTime(T(sec))) };
    expect(want.state).toMatchObject(writeAfter ? { lastSeq: 396, lastTime: T(500), firstTime: T(1) } : { lastSeq: 395, firstTime: T(1) });
    expect(live.segmentFiles().length).toBeGreaterThan(4);
    for (const kind of ['snapshot', 'full-scan'] as const) {
      const crashed = path.join(root, `crashed-${kind}`);
      await fsp.cp(dir, crashed, { recursive: true });
      if (kind === 'full-scan') await fsp.rm(path.join(crashed, 'msgs', 'index.db'));
      const r = await FileStore.open({ dir: crashed, ...opts });
      open.push(r);
      expect(r.recovery.index).toBe(kind);
      if (kind === 'snapshot') expect(r.recovery.afterSnapshotBytes).toBeGreaterThan(0);
      expect({ state: r.state(), at: [...Array(520).keys()].map((sec) => r.seqForTime(T(sec))) }).toEqual(want);
    }
  });

  it('cuts a zero-filled tail (file extended, data never written)', async () => {
    const s = await openStore();
    await s.store('t', null, bytes('one'), T(1));
    await s.close();
    fs.appendFileSync(segmentPaths().at(-1)!, Buffer.alloc(100));
    const r = await openStore();
    expect(r.recovery.tornTailBytes).toBe(100);
    expect(r.state()).toMatchObject({ msgs: 1, lastSeq: 1 });
  });

  it('detects a flipped bit, reports it and never serves it', async () => {
    const s = await openStore();
    for (let i = 1; i <= 3; i++) await s.store('c', null, bytes(`DATA-${i}-xxxxxxxx`), T(i));
    await s.close();
    const seg = segmentPaths()[0]!;
    const buf = fs.readFileSync(seg);
    const at = buf.indexOf('DATA-2-');
    buf[at + 3] ^= 0x04;
    fs.writeFileSync(seg, buf);
    const seen: CorruptionReport[] = [];
    const r = await openStore({ onCorruption: (c) => seen.push(c) });
    expect(r.load(2)).toBeNull();
    expect(r.loadNext('c', 2)?.seq).toBe(3);
    expect(text(r.load(3)!.data)).toBe('DATA-3-xxxxxxxx');
    const st = r.state({ deleted: true });
    expect(st).toMatchObject({ msgs: 2, firstSeq: 1, lastSeq: 3, deleted: [2] });
    expect(st.corrupt).toEqual([{ file: path.basename(seg), offset: expect.any(Number), length: expect.any(Number), action: 'skipped', seq: 2 }]);
    expect(seen).toEqual(st.corrupt);
  });

  it('truncates at a record whose length field is no longer credible and reports the loss', async () => {
    for (const withSnapshot of [false, true]) {
      await fsp.rm(dir, { recursive: true, force: true });
      const s = await openStore();
      for (let i = 1; i <= 4; i++) await s.store('c', null, bytes(`rec-${i}`), T(i));
      await s.close();
      if (!withSnapshot) fs.rmSync(path.join(dir, 'msgs', 'index.db'));
      const seg = segmentPaths()[0]!;
      const buf = fs.readFileSync(seg);
      const second = buf.readUInt32LE(0); // offset of record 2
      buf.writeUInt32LE(buf.readUInt32LE(second) + 3, second); // its length now points into record 3
      fs.writeFileSync(seg, buf);
      const r = await openStore();
      expect(r.recovery.index).toBe(withSnapshot ? 'snapshot' : 'full-scan');
      // A full scan never saw 2-4; the snapshot knows they were stored, so their sequences stay used.
      expect(r.state({ deleted: true })).toMatchObject(withSnapshot ? { msgs: 1, lastSeq: 4, deleted: [2, 3, 4] } : { msgs: 1, lastSeq: 1 });
      expect(r.state().corrupt).toEqual([{ file: path.basename(seg), offset: second, length: buf.length - second, action: 'truncated' }]);
      expect(fs.statSync(seg).size).toBe(second);
      expect(r.state().bytes).toBe(32 + 1 + 5);
      await r.close();
    }
  });

  it('a clean start reads a small last segment to verify it, and seals a big one instead', async () => {
    const s = await openStore({ segmentBytes: 4 * 1024 * 1024 });
    const body = bytes('v'.repeat(1000));
    for (let i = 1; i <= 20; i++) s.store(`k.${i % 5}`, null, body, T(i));
    await s.flush();
    await s.close();
    const snapshotFile = path.join(path.dirname(segmentPaths()[0]!), 'index.db');
    const written = fs.statSync(snapshotFile).ino;
    const small = await openStore({ segmentBytes: 4 * 1024 * 1024 });
    expect(small.recovery).toMatchObject({ index: 'snapshot', scannedBytes: fs.statSync(segmentPaths()[0]!).size, afterSnapshotBytes: 0 });
    // Verified, not changed: no snapshot is due (the second flush waits for any the first started).
    await small.flush();
    await small.flush();
    expect(fs.statSync(snapshotFile).ino).toBe(written);
    expect(small.segmentFiles()).toHaveLength(1);
    for (let i = 21; i <= 1200; i++) small.store(`k.${i % 5}`, null, body, T(i));
    await small.flush();
    const big = await reopen(small, { segmentBytes: 4 * 1024 * 1024 });
    // More than 1 MiB: not read at all; the next records go to a new segment file, made durable.
    expect(big.recovery).toMatchObject({ index: 'snapshot', scannedBytes: 0 });
    expect(big.segmentFiles()).toHaveLength(2);
    expect(segmentPaths()).toHaveLength(2);
    expect(await big.store('k.0', null, body, T(1201))).toMatchObject({ seq: 1201 });
    expect(text(big.load(600)!.data)).toBe('v'.repeat(1000));
    const again = await reopen(big, { segmentBytes: 4 * 1024 * 1024 });
    expect(again.segmentFiles()).toHaveLength(2);
    expect(again.state()).toMatchObject({ msgs: 1201, firstSeq: 1, lastSeq: 1201 });
    expect(again.subjectsState('k.0').get('k.0')!.msgs).toBe(241);
  });

  it('verifyRecords: a start-up on a trusted snapshot also verifies the records it vouches for', async () => {
    const s = await openStore({ segmentBytes: 4 * 1024 * 1024 });
    const body = bytes('v'.repeat(1000));
    for (let i = 1; i <= 1200; i++) s.store('k', null, body, T(i));
    await s.flush();
    await s.close();
    const seg = segmentPaths()[0]!;
    const buf = fs.readFileSync(seg);
    const record = buf.readUInt32LE(0);
    // A payload bit of message 600, and the sequence field of message 900 (its header now says 901).
    buf[599 * record + 500]! ^= 0x02;
    buf[899 * record + 16]! ^= 0x01;
    fs.writeFileSync(seg, buf);
    // Without it, a big sealed segment is not read at start-up: the damage shows only when read.
    const lazy = await openStore({ segmentBytes: 4 * 1024 * 1024 });
    expect(lazy.recovery).toMatchObject({ index: 'snapshot', scannedBytes: 0, verifiedBytes: 0, corrupt: [] });
    await lazy.close();
    const checked = await openStore({ segmentBytes: 4 * 1024 * 1024, verifyRecords: true });
    expect(checked.recovery).toMatchObject({ index: 'snapshot', verifiedBytes: buf.length });
    // 600 is named; 901 lies beside its good neighbours 899 and 901, so it is not trusted as a sequence.
    expect(checked.recovery.corrupt).toEqual([
      { file: path.basename(seg), offset: 599 * record, length: record, action: 'skipped', seq: 600 },
      { file: path.basename(seg), offset: 899 * record, length: record, action: 'skipped' },
    ]);
    expect(checked.state().corrupt).toHaveLength(2);
  });

  it('verifies checksums on read too', async () => {
    const s = await openStore();
    await s.store('c', null, bytes('AAAAAAAAAAAA'), T(1));
    await s.store('c', null, bytes('BBBBBBBBBBBB'), T(2));
    await s.flush();
    const seg = segmentPaths()[0]!;
    const buf = fs.readFileSync(seg);
    buf[buf.indexOf('AAAA')] = 0x41 ^ 0xff;
    fs.writeFileSync(seg, buf);
    expect(s.load(1)).toBeNull();
    expect(s.loadNext('>', 0)?.seq).toBe(2);
    expect(s.state().corrupt?.length).toBe(1);
  });

  it('group commit: concurrent stores share one fsync; awaited stores sync each', async () => {
    let syncs = 0;
    const sync = async (fh: FileHandle): Promise<void> => {
      syncs++;
      await fh.datasync();
    };
    const s = await openStore({ sync });
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => s.store('g', null, bytes(`m${i}`), T(i))));
    expect(results.map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(syncs).toBe(1);
    for (let i = 0; i < 3; i++) await s.store('g', null, bytes('one'), T(200 + i));
    expect(syncs).toBe(4);
  });

  it('lazy sync mode resolves without fsync; flush() syncs', async () => {
    let syncs = 0;
    const s = await openStore({ syncIntervalMs: 60_000, sync: async (fh) => { syncs++; await fh.datasync(); } });
    for (let i = 0; i < 10; i++) await s.store('l', null, bytes('x'), T(i));
    expect(syncs).toBe(0);
    await s.flush();
    expect(syncs).toBe(1);
    const r = await reopen(s);
    expect(r.state().msgs).toBe(10);
  });

  it('rolls segments and deletes them once empty', async () => {
    const s = await openStore({ segmentBytes: 200 });
    for (let i = 1; i <= 30; i++) await s.store('seg', null, bytes(`0123456789-${i}`), T(i));
    const rolled = segmentPaths().length;
    expect(rolled).toBeGreaterThan(3);
    expect(s.segmentFiles().length).toBe(rolled);
    // Removing the oldest messages empties the oldest segments, which go.
    s.compact(20);
    await settle(s);
    expect(segmentPaths().length).toBeLessThan(rolled);
    s.purge();
    await settle(s);
    expect(segmentPaths().length).toBe(1);
    const r = await reopen(s, { segmentBytes: 200 });
    expect(r.state()).toMatchObject({ msgs: 0, firstSeq: 31, lastSeq: 30, lastTime: T(30) });
  });

  it('rewrites a mostly dead sealed segment and keeps tombstones that still matter', async () => {
    let s = await openStore({ segmentBytes: 400 });
    for (let i = 1; i <= 30; i++) await s.store(`k.${i % 2}`, null, bytes(`value-${i}-padding`), T(i));
    await s.flush();
    const paths = segmentPaths();
    const middle = paths[1]!;
    const sizeBefore = fs.statSync(middle).size;
    // Delete every message of the second segment except one, leaving the first segment alone.
    const inMiddle = messages(s).filter(() => true).map((m) => m[0]).filter((seq) => seq > 0);
    const firstSegCount = Math.floor(400 / (32 + 3 + 'value-10-padding'.length));
    for (const seq of inMiddle.slice(firstSegCount, firstSegCount * 2 - 1)) s.remove(seq);
    await settle(s);
    expect(fs.statSync(middle).size).toBeLessThan(sizeBefore / 2);
    const before = { state: s.state(), msgs: messages(s) };
    s = await reopen(s, { segmentBytes: 400 });
    expect({ state: s.state(), msgs: messages(s) }).toEqual(before);
  });

  it('keeps working across many restarts with removals (model check)', async () => {
    let s = await openStore({ segmentBytes: 256, limits: limits({ maxMsgsPerSubject: 2 }) });
    let seq = 0;
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 15; i++) {
        const subj = `m.${(round * 15 + i) % 5}`;
        seq = (await s.store(subj, null, bytes(`r${round}i${i}`), T(seq + 1))).seq;
      }
      if (round % 2 === 1) s.remove(seq - 3);
      await s.flush();
      const expected = messages(s);
      s = await reopen(s, { segmentBytes: 256, limits: limits({ maxMsgsPerSubject: 2 }) });
      expect(messages(s)).toEqual(expected);
      expect(s.state().corrupt).toBeUndefined();
    }
    expect(s.state().numSubjects).toBe(5);
    expect(s.state().corrupt).toBeUndefined();
  });

  it('matches the memory store through random operations and restarts', async () => {
    const { MemoryStore } = await import('../../../../src/jetstream/store/memory_store.ts');
    const lim = limits({ maxMsgs: 60, maxMsgsPerSubject: 4 });
    const opts = { segmentBytes: 300, limits: lim };
    let rng = 12345;
    const rand = (n: number): number => {
      rng = (rng * 1103515245 + 12345) % 2147483648;
      return rng % n;
    };
    const mem = new MemoryStore(lim);
    let file = await openStore(opts);
    let t = 0;
    for (let step = 0; step < 600; step++) {
      const op = rand(100);
      const both = (fn: (s: StreamStore) => unknown): void => {
        expect(fn(file)).toEqual(fn(mem));
      };
      if (op < 60) {
        const subj = `q.${rand(12)}`;
        const data = bytes(`v${step}`.repeat(1 + rand(3)));
        t++;
        const [a, b] = await Promise.all([file.store(subj, null, data, T(t)), mem.store(subj, null, data, T(t))]);
        expect(a).toEqual(b);
      } else if (op < 75) {
        const target = mem.state().firstSeq + rand(20);
        const erase = rand(2) === 0;
        both((s) => s.remove(target, erase));
      } else if (op < 80) {
        const subj = `q.${rand(12)}`;
        const keep = rand(2);
        both((s) => s.purge({ subject: subj, keep }));
      } else if (op < 83) {
        const to = mem.state().firstSeq + rand(10);
        both((s) => s.compact(to));
      } else if (op < 86) {
        const to = Math.max(mem.state().lastSeq - rand(5), 1);
        both((s) => s.truncate(to));
      } else if (op < 88) {
        const num = 1 + rand(3);
        both((s) => s.skipMsgs(0, num));
      } else if (op < 95) {
        await file.flush();
        await file.flush();
      } else {
        file = await reopen(file, opts);
      }
      if (step % 25 === 0) {
        expect(file.state()).toEqual(mem.state());
        expect(messages(file)).toEqual(messages(mem));
      }
    }
    file = await reopen(file, opts);
    expect(file.state()).toEqual(mem.state());
    expect(messages(file)).toEqual(messages(mem));
    expect([...file.subjectsState('>')].sort()).toEqual([...mem.subjectsState('>')].sort());
  });

  it('delete() removes the directory', async () => {
    const s = await openStore();
    await s.store('a', null, bytes('x'), T(1));
    await s.delete();
    expect(fs.existsSync(dir)).toBe(false);
  });
});

describe('FileStore reads while space is reclaimed', () => {
  it('serves every live message while sealed segments are rewritten under it', async () => {
    const dir = await tempDir();
    try {
      let s = await FileStore.open({ dir, segmentBytes: 512 });
      for (let i = 1; i <= 400; i++) await s.store(`r.${i % 3}`, null, bytes(`value-${i}`), T(i));
      await s.close();
      // Reopened: no read descriptor is open yet, tables are rebuilt on first use.
      s = await FileStore.open({ dir, segmentBytes: 512 });
      const live = new Set<number>();
      for (let seq = 1; seq <= 400; seq++) if (seq % 4 === 0) live.add(seq);
      for (let seq = 1; seq <= 400; seq++) if (!live.has(seq)) s.remove(seq);
      let reads = 0;
      let running = true;
      const reader = (async () => {
        while (running) {
          for (const seq of live) {
            const m = s.load(seq);
            expect(m?.seq).toBe(seq);
            expect(text(m!.data)).toBe(`value-${seq}`);
            reads++;
          }
          await new Promise((r) => setImmediate(r));
        }
      })();
      for (let i = 0; i < 6; i++) await s.flush();
      running = false;
      await reader;
      expect(reads).toBeGreaterThan(0);
      expect(s.state().corrupt).toBeUndefined();
      expect(s.state().msgs).toBe(100);
      await s.close();
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('FileStore cold reads of sequences written twice', () => {
  it('serves the newer record of a sequence truncated and written again, with or without its table', async () => {
    const dir = await tempDir();
    try {
      let s = await FileStore.open({ dir, segmentBytes: 4096 });
      for (let i = 1; i <= 10; i++) await s.store('t', null, bytes(`old-${i}`), T(i));
      s.truncate(5);
      for (let i = 6; i <= 10; i++) await s.store('t', null, bytes(`new-${i}`), T(100 + i));
      // Seal that segment, so after a restart it is read without its table.
      for (let i = 11; i <= 200; i++) await s.store('u', null, bytes(`filler-${i}-${'x'.repeat(20)}`), T(100 + i));
      for (let round = 0; round < 3; round++) {
        await s.close();
        s = await FileStore.open({ dir, segmentBytes: 4096 });
        expect(s.recovery.index).toBe('snapshot');
        for (let i = 6; i <= 10; i++) expect(text(s.load(i)!.data)).toBe(`new-${i}`);
        expect(s.state().firstTime).toBe(T(1));
        // Rebuild the first segment's table through a subject scan; the next round reads cold again.
        expect(s.numPending('t', 7, false)).toBe(4);
      }
      await s.close();
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

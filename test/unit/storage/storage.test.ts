// The shared checksummed framing, atomic file replacement and fsync group commit (src/storage/).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CorruptFileError,
  readFramedFile,
  readFramedFileSync,
  removeTempFilesSync,
  replaceFile,
  replaceFileSync,
  writeFramedFile,
  writeFramedFileSync,
} from '../../../src/storage/atomic_file.ts';
import {
  FRAME_HEADER_BYTES,
  FrameStatus,
  decodeFramedFile,
  encodeFrame,
  encodeFrames,
  encodeFramedFile,
  readFrame,
  scanFrames,
} from '../../../src/storage/framing.ts';
import { GroupSync } from '../../../src/storage/group_sync.ts';
import { tempDirsPerTest } from '../../support/temp_dirs.ts';

const tmpDir = tempDirsPerTest('petrel-storage-');

const bytes = (...xs: number[]) => new Uint8Array(xs);

describe('framing', () => {
  it('lays a frame out as [u32 length][u32 crc32][payload], little-endian', () => {
    const f = encodeFrame(Buffer.from('abc'));
    expect(f.length).toBe(FRAME_HEADER_BYTES + 3);
    expect(f.readUInt32LE(0)).toBe(3);
    expect(f.readUInt32LE(4)).toBe(0x352441c2); // CRC-32 of "abc"
    expect(f.subarray(8).toString()).toBe('abc');
  });

  it('round-trips a batch of frames, empty payloads included', () => {
    const payloads = [bytes(1), bytes(), Buffer.from('hello'), new Uint8Array(1000).fill(7)];
    const seen: number[][] = [];
    const scan = scanFrames(encodeFrames(payloads), 0, (p) => seen.push([...p]));
    expect(scan.stop).toBeNull();
    expect(seen).toEqual(payloads.map((p) => [...p]));
  });

  it('tells a torn frame (cut anywhere) from a damaged one', () => {
    const buf = encodeFrames([Buffer.from('first'), Buffer.from('second record')]);
    const firstEnd = FRAME_HEADER_BYTES + 5;
    for (let cut = firstEnd + 1; cut < buf.length; cut++) {
      const scan = scanFrames(buf.subarray(0, cut), 0, () => {});
      expect(scan.goodEnd).toBe(firstEnd);
      expect(scan.stop!.status).toBe(FrameStatus.Torn);
    }
  });

  it('never accepts a frame with any single bit flipped', () => {
    const good = encodeFrame(Buffer.from('payload under test'));
    for (let bit = 0; bit < good.length * 8; bit++) {
      const bad = Buffer.from(good);
      bad[bit >> 3]! ^= 1 << (bit & 7);
      const r = readFrame(bad, 0);
      expect(r.status, `bit ${bit}`).not.toBe(FrameStatus.Ok);
    }
  });

  it('reports an absurd length as damage instead of waiting for more bytes', () => {
    const buf = encodeFrame(bytes(1, 2, 3));
    buf.writeUInt32LE(0xfffffff0, 0);
    expect(readFrame(buf, 0).status).toBe(FrameStatus.BadLength);
    expect(readFrame(encodeFrame(bytes(1, 2, 3)), 0, 2).status).toBe(FrameStatus.BadLength);
  });

  it('a bad checksum says where the next frame starts, so a reader can look past it', () => {
    const buf = encodeFrames([bytes(1), bytes(2, 2), bytes(3, 3, 3)]);
    buf[FRAME_HEADER_BYTES]! ^= 0xff;
    const r = readFrame(buf, 0);
    expect(r.status).toBe(FrameStatus.BadChecksum);
    const next = readFrame(buf, r.end);
    expect(next.status).toBe(FrameStatus.Ok);
    expect([...next.payload]).toEqual([2, 2]);
  });

  it('framed files: with and without a magic, and what is wrong with a bad one', () => {
    const plain = encodeFramedFile(bytes(9, 8));
    expect(decodeFramedFile(plain).error).toBeNull();
    expect([...decodeFramedFile(plain).payload!]).toEqual([9, 8]);
    const magic = encodeFramedFile(bytes(9, 8), 'PCS1');
    expect(magic.toString('latin1', 0, 4)).toBe('PCS1');
    expect([...decodeFramedFile(magic, 'PCS1').payload!]).toEqual([9, 8]);
    expect(decodeFramedFile(magic, 'XXXX').error).toBe('bad header');
    expect(decodeFramedFile(plain.subarray(0, 5)).error).toBe('truncated header');
    expect(decodeFramedFile(Buffer.concat([plain, bytes(0)])).error).toBe('length mismatch');
    expect(decodeFramedFile(plain.subarray(0, plain.length - 1)).error).toBe('length mismatch');
    const flipped = Buffer.from(plain);
    flipped[flipped.length - 1]! ^= 1;
    expect(decodeFramedFile(flipped).error).toBe('checksum mismatch');
    expect(() => encodeFramedFile(bytes(), 'TOOLONG')).toThrow(/magic/);
  });
});

describe('atomic files', () => {
  for (const [name, write, read] of [
    ['sync', (f: string, p: Uint8Array, m?: string) => Promise.resolve(writeFramedFileSync(f, p, m)), (f: string, m?: string) => new Promise<Uint8Array | null>((resolve) => resolve(readFramedFileSync(f, m)))],
    ['async', writeFramedFile, readFramedFile],
  ] as const) {
    it(`${name}: replaces a framed file whole, leaves no temp file, and reads back what it wrote`, async () => {
      const dir = tmpDir();
      const f = path.join(dir, 'state');
      expect(await read(f)).toBeNull();
      await write(f, bytes(1, 2, 3));
      await write(f, bytes(4, 5), 'MAGC');
      expect([...(await read(f, 'MAGC'))!]).toEqual([4, 5]);
      expect(fs.readdirSync(dir)).toEqual(['state']);
    });

    it(`${name}: a damaged framed file is a CorruptFileError naming the file and the reason`, async () => {
      const dir = tmpDir();
      const f = path.join(dir, 'state');
      await write(f, bytes(1, 2, 3, 4));
      const buf = fs.readFileSync(f);
      buf[buf.length - 2]! ^= 0x10;
      fs.writeFileSync(f, buf);
      const err = await read(f).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CorruptFileError);
      expect(err).toMatchObject({ file: f, reason: 'checksum mismatch', message: `${f}: checksum mismatch` });
    });
  }

  it('replaces plain files too, sync and async, and start-up removes temp files left by a crash', async () => {
    const dir = tmpDir();
    replaceFileSync(path.join(dir, 'a.json'), '{"a":1}');
    await replaceFile(path.join(dir, 'b.json'), Buffer.from('{"b":2}'));
    fs.writeFileSync(path.join(dir, 'a.json.tmp'), 'half');
    removeTempFilesSync(dir);
    expect(fs.readdirSync(dir).sort()).toEqual(['a.json', 'b.json']);
    expect(fs.readFileSync(path.join(dir, 'a.json'), 'utf8')).toBe('{"a":1}');
  });

  it('a replace into a missing directory fails and leaves nothing behind', async () => {
    const dir = tmpDir();
    await expect(replaceFile(path.join(dir, 'nope', 'f'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => replaceFileSync(path.join(dir, 'nope', 'f'), 'x')).toThrow(/ENOENT/);
  });
});

describe('group sync', () => {
  function counting(): { gs: GroupSync; calls: number[]; release: () => void } {
    const calls: number[] = [];
    let gate: (() => void)[] = [];
    const gs = new GroupSync((fd) => {
      calls.push(fd);
      return new Promise<void>((resolve) => gate.push(resolve));
    });
    return {
      gs,
      calls,
      release: () => {
        const g = gate;
        gate = [];
        for (const r of g) r();
      },
    };
  }
  // a few event-loop turns: a round's end and the next round's start each take one
  const turn = async () => {
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  };

  it('one fdatasync per file per round, however many writers asked', async () => {
    const { gs, calls, release } = counting();
    const done: number[] = [];
    for (const fd of [3, 3, 4, 3, 4]) void gs.sync(fd).then(() => done.push(fd));
    await turn();
    expect(calls.sort()).toEqual([3, 4]);
    release();
    await turn();
    expect(done.length).toBe(5);
    expect(gs.stats).toEqual({ requests: 5, syncs: 2, rounds: 1 });
  });

  it('a request made while a round runs waits for the next round (its write may have missed the first)', async () => {
    const { gs, calls, release } = counting();
    let first = false;
    let second = false;
    void gs.sync(7).then(() => (first = true));
    await turn();
    expect(calls).toEqual([7]);
    void gs.sync(7).then(() => (second = true));
    release();
    await turn();
    expect(first).toBe(true);
    expect(second).toBe(false);
    expect(calls).toEqual([7, 7]);
    release();
    await turn();
    expect(second).toBe(true);
    expect(gs.stats.rounds).toBe(2);
  });

  it('a failed fdatasync fails the writers of that file only', async () => {
    const gs = new GroupSync((fd) => (fd === 5 ? Promise.reject(new Error('EIO')) : Promise.resolve()));
    const results = await Promise.allSettled([gs.sync(5), gs.sync(6), gs.sync(5)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'rejected']);
  });
});

import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createRing, RingReader, RingWriter } from '../../../src/routing/ring.ts';

describe('SPSC ring', () => {
  it('delivers records in order across many wraps, never corrupting bytes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 64, max: 512 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 100 }), fc.boolean()), { minLength: 1, maxLength: 400 }),
        fc.integer({ min: 0, max: 600 }),
        (cap, ops, earlyWrapAt) => {
          const ring = createRing(cap);
          const w = new RingWriter(ring, earlyWrapAt);
          const r = new RingReader(ring);
          const sent: number[][] = [];
          const got: number[][] = [];
          let counter = 0;
          const drain = () =>
            r.drain((off, len) => {
              got.push(Array.from(r.bytes.subarray(off, off + len)));
            });
          for (const [size, readNow] of ops) {
            const at = w.reserve(size);
            if (at >= 0) {
              const rec: number[] = [];
              for (let i = 0; i < size; i++) rec.push((counter + i) & 0xff);
              counter++;
              w.bytes.set(rec, at);
              sent.push(rec);
              w.commit();
            } else {
              // Full: the reader must be able to make room unless the record can never fit.
              drain();
            }
            if (readNow) drain();
          }
          drain();
          expect(got).toEqual(sent);
          expect(w.isEmpty()).toBe(true);
        },
      ),
      { seed: 42, numRuns: 300 },
    );
  });

  it('goes back to the start when it finds the ring drained, so it touches only about its backlog', () => {
    const ring = createRing(64 * 1024);
    const w = new RingWriter(ring, 1024);
    const r = new RingReader(ring);
    let furthest = 0;
    let got = 0;
    for (let i = 0; i < 10_000; i++) {
      // Bursts of up to 7 records of 100 bytes, each burst read before the next.
      const at = w.reserve(100);
      expect(at).toBeGreaterThanOrEqual(0);
      r.bytes[at] = i & 0xff;
      furthest = Math.max(furthest, at + 100);
      if (i % 7 === 6) {
        w.commit();
        r.drain((off) => {
          expect(r.bytes[off]).toBe(got++ & 0xff);
        });
      }
    }
    expect(got).toBe(9996);
    expect(furthest).toBeLessThan(1024 + 7 * 104 + 8);
    // A record that does not fit before the read position is not refused: it goes after the end.
    const big = createRing(4096);
    const bw = new RingWriter(big, 100);
    const br = new RingReader(big);
    expect(bw.reserve(150)).toBe(4);
    bw.commit();
    br.drain(() => {});
    expect(bw.reserve(200)).toBe(158);
  });

  it('refuses a record larger than the ring instead of corrupting it', () => {
    const ring = createRing(64);
    const w = new RingWriter(ring);
    expect(w.reserve(100)).toBe(-1);
  });

  it('works across two threads sharing the buffer', async () => {
    const { Worker } = await import('node:worker_threads');
    const ring = createRing(1024);
    const src = `
      const { workerData, parentPort } = require('node:worker_threads');
      const idx = new Int32Array(workerData.sab, 0, 2);
      const view = new DataView(workerData.sab, 8);
      let sum = 0, n = 0;
      const loop = () => {
        let read = Atomics.load(idx, 1); const write = Atomics.load(idx, 0);
        while (read !== write) {
          let len = view.getUint32(read, true);
          if (len === 0xffffffff) { read = 0; continue; }
          sum += view.getUint32(read + 4, true); n++; read += 4 + len;
        }
        Atomics.store(idx, 1, read);
        if (n === 5000) parentPort.postMessage(sum); else setImmediate(loop);
      };
      loop();`;
    const worker = new Worker(src, { eval: true, workerData: { sab: ring.sab } });
    const w = new RingWriter(ring);
    let expected = 0;
    for (let i = 0; i < 5000; ) {
      const at = w.reserve(4 + (i % 13));
      if (at < 0) {
        w.commit();
        await new Promise((r) => setImmediate(r));
        continue;
      }
      w.dataView.setUint32(at, i, true);
      expected += i;
      i++;
      if (i % 7 === 0) w.commit();
    }
    w.commit();
    const sum = await new Promise((resolve) => worker.once('message', resolve));
    await worker.terminate();
    expect(sum).toBe(expected);
  });
});

// The index snapshot's encoding: msgpackr's default format (files written before stay readable),
// and a big snapshot does not leave msgpackr's shared output buffer grown to several times its size.
import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { encodeSnapshot, type IndexSnapshot } from '../../../../src/jetstream/store/index_snapshot.ts';

function snapshotWith(subjects: number, seed: number): IndexSnapshot {
  const names = Array.from({ length: subjects }, (_, i) => `$KV.bucket.key-${seed}-${i}`).join('\n');
  const counts = new Uint32Array(subjects).fill(1);
  const firsts = Float64Array.from({ length: subjects }, (_, i) => i + 1);
  return {
    firstSeq: 1,
    lastSeq: subjects,
    lastTime: 1_700_000_000_000_000_000n + BigInt(seed),
    msgs: subjects,
    bytes: subjects * 100,
    segments: [
      {
        id: 1,
        size: subjects * 100,
        tail: { offset: subjects * 100 - 100, length: 100, type: 1, seq: subjects },
        first: 1,
        last: subjects,
        firstTs: 1n,
        lastTs: 2n,
        liveMsgs: subjects,
        liveBytes: subjects * 100,
        msgBytes: subjects * 100,
        recMin: 1,
        recMax: subjects,
        dead: null,
        deadCount: 0,
        sparse: new Uint8Array(16).fill(seed),
      },
    ],
    subjects: {
      names,
      counts: new Uint8Array(counts.buffer),
      firsts: new Uint8Array(firsts.buffer),
      lasts: new Uint8Array(firsts.buffer.slice(0)),
      stale: new Uint8Array(subjects),
    },
    corrupt: [],
  };
}

describe('index snapshot encoding', () => {
  it("writes msgpackr's default encoding, small and big", () => {
    for (const n of [3, 50_000]) {
      const s = snapshotWith(n, 1);
      expect(Buffer.compare(encodeSnapshot(s), pack({ v: 3, ...s }))).toBe(0);
    }
  });

  it('keeps each big snapshot intact while later ones are encoded, and hands msgpackr a small buffer back', () => {
    const a = snapshotWith(50_000, 1);
    const b = snapshotWith(60_000, 2);
    const ea = encodeSnapshot(a);
    const eb = encodeSnapshot(b);
    const small = pack({ x: 1 });
    const da = unpack(ea) as IndexSnapshot;
    expect(da.subjects.names).toBe(a.subjects.names);
    expect(Buffer.compare(da.subjects.firsts, a.subjects.firsts)).toBe(0);
    expect(da.lastTime).toBe(a.lastTime);
    expect([...da.segments[0]!.sparse!]).toEqual(new Array(16).fill(1));
    expect((unpack(eb) as IndexSnapshot).subjects.names).toBe(b.subjects.names);
    // msgpackr writes the next output into the buffer it holds: a small one, not one sized for b.
    expect(small.buffer.byteLength).toBeLessThan(64 * 1024);
    expect(ea.buffer).not.toBe(small.buffer);
  });
});

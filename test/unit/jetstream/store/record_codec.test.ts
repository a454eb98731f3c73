// The segment record format: fields survive a round trip at their extremes, and the checksum
// catches any flipped byte.
import { describe, expect, it } from 'vitest';
import {
  RecordFlag,
  RecordType,
  checksumOk,
  decodeMsgBody,
  encodeDelete,
  encodeMsg,
  encodeSeqState,
  readHeader,
  seqStateLastSeq,
} from '../../../../src/jetstream/store/record_codec.ts';

describe('record codec', () => {
  const seqs = [1, 255, 256, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 7, 2 ** 40 + 12_345, Number.MAX_SAFE_INTEGER];
  const times = [0n, 1n, 1_764_000_000_123_456_789n, -1n, 2n ** 63n - 1n, -(2n ** 63n)];

  it('round-trips sequences and timestamps at their extremes', () => {
    for (const seq of seqs) {
      for (const ts of times) {
        const rec = encodeMsg(seq, 'orders.us', Buffer.from('NATS/1.0\r\n\r\n'), Buffer.from('hello'), ts);
        expect(checksumOk(rec, 0, rec.length)).toBe(true);
        const h = readHeader(rec, 0);
        expect(h).toMatchObject({ length: rec.length, type: RecordType.Msg, flags: RecordFlag.HasHdr, seq, ts });
        const body = decodeMsgBody(rec, 0, h);
        expect(body.subject).toBe('orders.us');
        expect(Buffer.from(body.hdr!).toString()).toBe('NATS/1.0\r\n\r\n');
        expect(Buffer.from(body.data).toString()).toBe('hello');
      }
      expect(readHeader(encodeDelete(seq), 0).seq).toBe(seq);
      const state = encodeSeqState(seq, seq + 0, 5n);
      expect(readHeader(state, 0).seq).toBe(seq);
      expect(seqStateLastSeq(state, 0)).toBe(seq);
    }
  });

  it('fails the checksum for any single flipped byte past the checksum field', () => {
    const rec = encodeMsg(2 ** 33 + 1, 'a.b', null, Buffer.from('payload'), 42n);
    for (let i = 8; i < rec.length; i++) {
      const bad = Buffer.from(rec);
      bad[i]! ^= 0x10;
      expect(checksumOk(bad, 0, bad.length), `byte ${i}`).toBe(false);
    }
  });

  it('cuts records from shared slabs above the mmap threshold, and gives a big record its own buffer', () => {
    const a = encodeMsg(1, 'a.b', null, Buffer.alloc(100), 1n);
    const b = encodeDelete(2, 'a.b', a.length);
    const c = encodeSeqState(1, 2, 3n);
    expect(b.buffer).toBe(a.buffer);
    expect(c.buffer).toBe(a.buffer);
    expect(a.buffer.byteLength).toBeGreaterThanOrEqual(128 * 1024);
    expect(readHeader(b, 0).seq).toBe(2);
    const big = encodeMsg(3, 'a.b', null, Buffer.alloc(100_000), 1n);
    expect(big.buffer.byteLength).toBe(big.length);
    expect(checksumOk(a, 0, a.length) && checksumOk(b, 0, b.length) && checksumOk(big, 0, big.length)).toBe(true);
  });
});

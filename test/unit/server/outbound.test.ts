import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Outbound } from '../../../src/server/outbound.ts';
import type { OutboundSink } from '../../../src/server/outbound.ts';

class RecordingSink implements OutboundSink {
  chunks: Buffer[] = [];
  corked = 0;
  writableLength = 0;
  write(chunk: Uint8Array): boolean {
    // Copy: the test checks Outbound never rewrites bytes it already handed over.
    this.chunks.push(Buffer.from(chunk));
    return true;
  }
  cork(): void {
    this.corked++;
  }
  uncork(): void {}
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

describe('Outbound', () => {
  it('delivers every appended byte once, in order, across slab rolls and flushes', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 70_000 }), fc.boolean()), { maxLength: 60 }), (ops) => {
        const out = new Outbound();
        const sink = new RecordingSink();
        const expected: Buffer[] = [];
        let n = 0;
        for (const [size, flush] of ops) {
          const chunk = Buffer.alloc(size, n++ & 0xff);
          out.append(chunk);
          expected.push(chunk);
          if (flush) out.flush(sink);
        }
        out.flush(sink);
        expect(sink.bytes().equals(Buffer.concat(expected))).toBe(true);
      }),
      { seed: 3, numRuns: 100 },
    );
  });

  it('keeps a backlog of many slabs without copying it again, and counts it as pending', () => {
    const out = new Outbound();
    const sink = new RecordingSink();
    const msg = Buffer.alloc(530, 1);
    for (let i = 0; i < 10_000; i++) out.append(msg);
    expect(out.pending).toBe(530 * 10_000);
    expect(out.flush(sink)).toBe(530 * 10_000);
    expect(sink.corked).toBe(1);
    expect(sink.bytes().length).toBe(530 * 10_000);
    expect(out.pending).toBe(0);
  });
});

// Feeding a parser the way sockets do: in pieces cut at given points, each piece a copy that
// is scribbled over once parsed (callers reuse their read buffers), so a parser that keeps a
// view past its callback shows up as corrupted events.

import { expect, it } from 'vitest';
import fc from 'fast-check';

export const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

export function feedPieces(parse: (chunk: Uint8Array) => void, input: Uint8Array, cuts: number[]): void {
  let prev = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    const piece = input.slice(prev, c);
    parse(piece);
    piece.fill(0x21);
    prev = c;
  }
  const last = input.slice(prev);
  parse(last);
  last.fill(0x21);
}

/** Cut points that hand the input over one byte at a time. */
export const everyByte = (input: Uint8Array): number[] => Array.from({ length: input.length }, (_, i) => i);

/**
 * The three ways a stream of operations must parse to the same events: whole, one byte at a
 * time, and cut at random points (seeded).
 */
export function itParsesAnySplit(
  kind: string,
  feed: (input: Uint8Array, cuts: number[]) => { events: unknown[]; errors: unknown[] },
  text: string,
  expected: unknown[],
  seed: number,
): void {
  const input = bytes(text);
  it(`parses every ${kind} operation fed whole`, () => {
    const rec = feed(input, []);
    expect(rec.errors).toEqual([]);
    expect(rec.events).toEqual(expected);
  });

  it('gives the same callbacks fed one byte at a time', () => {
    expect(feed(input, everyByte(input)).events).toEqual(expected);
  });

  it('gives the same callbacks for random split points (seeded)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: input.length }), { maxLength: 40 }), (cuts) => {
        expect(feed(input, cuts).events).toEqual(expected);
      }),
      { seed, numRuns: 300 },
    );
  });
}

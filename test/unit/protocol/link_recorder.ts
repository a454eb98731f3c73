// Records what a link parser (route, gateway, leaf) reports, as comparable events.

import { expect, it } from 'vitest';
import fc from 'fast-check';
import { LinkParser } from '../../../src/protocol/route_parser.ts';
import type { LinkProtocol, RemoteInterest, RouteParserHandler, RoutedMsgArgs } from '../../../src/protocol/route_parser.ts';
import type { ProtocolError } from '../../../src/protocol/errors.ts';
import { bytes, feedPieces } from './feed.ts';

export type Event = readonly (string | number | boolean | null | readonly string[])[];

const text = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('latin1'));
const field = (a: RoutedMsgArgs, start: number, end: number): string | null =>
  start < 0 ? null : Buffer.from(a.src.subarray(start, end)).toString('latin1');

export class Recorder implements RouteParserHandler {
  events: Event[] = [];
  errors: ProtocolError[] = [];
  onInfo(json: Uint8Array): void {
    this.events.push(['info', text(json)]);
  }
  onConnect(json: Uint8Array): boolean {
    this.events.push(['connect', text(json)]);
    return false;
  }
  onPing(): void {
    this.events.push(['ping']);
  }
  onPong(): void {
    this.events.push(['pong']);
  }
  onRemoteSub(i: RemoteInterest): void {
    this.events.push(['rs+', text(i.origin), text(i.account), text(i.subject), text(i.queue), i.weight]);
  }
  onRemoteUnsub(i: RemoteInterest): void {
    this.events.push(['rs-', text(i.account), text(i.subject), text(i.queue)]);
  }
  onAccountInterest(account: Uint8Array, present: boolean): void {
    this.events.push(['a', text(account), present]);
  }
  onRoutedMsg(a: RoutedMsgArgs, headerSize: number, msg: Uint8Array): void {
    const queues: string[] = [];
    for (let q = 0; q < a.queueCount; q++) queues.push(field(a, a.tokStart[a.queueFirst + q]!, a.tokEnd[a.queueFirst + q]!)!);
    this.events.push([
      'msg',
      field(a, a.originStart, a.originEnd),
      field(a, a.accountStart, a.accountEnd),
      field(a, a.subjectStart, a.subjectEnd),
      field(a, a.replyStart, a.replyEnd),
      queues,
      headerSize,
      text(msg),
    ]);
  }
  onProtocolError(err: ProtocolError): void {
    this.errors.push(err);
    this.events.push(['error', err.code]);
  }
}

/** Feeds `input` cut at `cuts` to a fresh parser of `protocol`. */
export function feedLink(protocol: LinkProtocol, input: Uint8Array, cuts: number[]): Recorder {
  const rec = new Recorder();
  const p = new LinkParser(rec, protocol);
  feedPieces((chunk) => p.parse(chunk), input, cuts);
  return rec;
}

/**
 * Fuzzes a link parser: valid ops of `valid` picked at random, a few bytes mutated, the input cut at
 * random places. Splitting never changes what is reported, and an error is reported once, last.
 */
export function itFuzzesSplits(protocol: LinkProtocol, valid: string, seed: number, numRuns: number): void {
  it('reports an error once and nothing after it, for any split of fuzzed input (seeded)', () => {
    const ops = valid.split(/(?<=\r\n)(?=[A-Za-z+-])/);
    fc.assert(
      fc.property(
        fc.array(fc.nat(ops.length - 1), { minLength: 1, maxLength: 12 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (picks, mutations, cutSeeds) => {
          const chars = [...picks.map((i) => ops[i]!).join('')];
          for (const [at, b] of mutations) chars[at % chars.length] = String.fromCharCode(b);
          const input = bytes(chars.join(''));
          const cuts = cutSeeds.map((c) => c % (input.length + 1));
          const split = feedLink(protocol, input, cuts);
          expect(split.events).toEqual(feedLink(protocol, input, []).events);
          expect(split.errors.length).toBeLessThanOrEqual(1);
          if (split.errors.length === 1) expect(split.events.at(-1)![0]).toBe('error');
        },
      ),
      { seed, numRuns },
    );
  });
}

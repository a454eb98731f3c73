// Records what a link parser (route, gateway, leaf) reports, as comparable events.

import { LinkParser } from '../../../src/protocol/route_parser.ts';
import type { LinkProtocol, RemoteInterest, RouteParserHandler, RoutedMsgArgs } from '../../../src/protocol/route_parser.ts';
import type { ProtocolError } from '../../../src/protocol/errors.ts';
import { feedPieces } from './feed.ts';

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
